"""Fixtures of the API tests: the app over a shared corpus home or an empty home of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import ApiEnv, corpus_home, make_settings, open_env


@pytest.fixture(scope="module")
def corpus_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """The app over the shared corpus home (read-only use: chat, search, auth)."""
    home = corpus_home(tmp_path_factory.getbasetemp())
    yield from open_env(make_settings(home))


@pytest.fixture
def fresh_api(tmp_path: Path) -> Iterator[ApiEnv]:
    """The app over an empty home of its own (uploads, deletes, audit)."""
    yield from open_env(make_settings(tmp_path / "home"))
