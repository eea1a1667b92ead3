"""The cached evaluation index survives two evaluations of one dataset started at once."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import DATA
from yakuba.core.settings import Settings
from yakuba.evals.datasets import load_dataset
from yakuba.evals.retrieval import READY_MARKER, index_dir, open_index

MINI = DATA / "jsquad-mini"


@pytest.mark.slow
def test_a_second_evaluation_waits_for_the_index_instead_of_deleting_it(settings: Settings) -> None:
    dataset = load_dataset(MINI)
    folder = index_dir(settings, dataset)
    first: dict[str, object] = {}

    def build() -> None:
        try:
            store, built = open_index(settings, dataset)
            first["count"], first["built"] = store.count(), built
            store.close()
        except Exception as exc:  # noqa: BLE001 - reported below
            first["error"] = exc

    builder = threading.Thread(target=build)
    builder.start()
    deadline = time.monotonic() + 120
    while not folder.exists() and builder.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert folder.exists() and not (folder / READY_MARKER).exists(), "the first build should be under way"

    # Before the lock, this call took the half-built folder for an interrupted run and removed it.
    store, built = open_index(settings, dataset)
    try:
        builder.join(timeout=300)
        assert "error" not in first, first.get("error")
        assert first["built"] is not None and built is None  # built once, then opened ready
        assert store.count() == first["count"] > 0
        assert (folder / READY_MARKER).is_file()
    finally:
        store.close()
