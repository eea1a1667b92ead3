"""Passage vectors remembered by (model identity, passage prompt, text hash).

Embedding is ~96% of ingest time, and much of what gets embedded was embedded before: a re-ingest
after a chunking change keeps most chunk texts, a reindex of a tenant with the same model keeps all
of them, a JSONL corpus repeats procedural one-liners (「○議長（…） 市民生活部長。」) hundreds of
times, and the same PDF goes into several tenants. `CachedEmbeddings` wraps any LangChain
`Embeddings`: texts repeated within a call are embedded once, and texts embedded before (by any
process sharing the cache file) are not embedded again.

The cache is one SQLite file (WAL, so ingest workers and the CLI share it); vectors are float32
blobs. A key names the model *identity* (weights hash included, `retriever.embeddings.model_identity`)
and the backend, so vectors of another model or of the int8 ONNX export are never mixed up with
these. Queries are not cached: they are short, cheap and mostly unique.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

CACHE_FILE = "embedding-cache.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    key BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID
"""
_LOOKUP_BATCH = 500  # SQLite's default limit on bound parameters is 999


def text_key(text: str) -> bytes:
    """The cache key of one passage text (the prompt is part of the model key, not of this)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """Vectors on disk, per model key. Safe across threads and processes (SQLite WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `keys` (missing keys are left out)."""
        db = self._connection()
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_BATCH):
            part = unique[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            rows = db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})", (model, *part)
            ).fetchall()
            found.update((bytes(key), np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put_many(self, model: str, items: Sequence[tuple[bytes, Sequence[float]]]) -> None:
        if not items:
            return
        rows = [(model, key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        with self._connection() as db:  # one transaction per batch
            db.executemany("INSERT OR REPLACE INTO vectors (model, key, vector) VALUES (?, ?, ?)", rows)

    def count(self, model: str | None = None) -> int:
        db = self._connection()
        if model is None:
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (model,)).fetchone()[0])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class CachedEmbeddings(Embeddings):
    """`inner` with a passage-vector cache; everything else (query form, dimension, …) is `inner`'s.

    `model_key` must change whenever the vectors would: model identity, backend, passage prompt.
    `embedded` and `reused` count passages for benchmarks and logs.
    """

    def __init__(self, inner: Embeddings, cache: EmbeddingCache, model_key: str) -> None:
        self.inner = inner
        self.cache = cache
        self.model_key = model_key
        self.embedded = 0
        self.reused = 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        # Only reached for attributes this wrapper lacks: query_form, dimension, model_name, …
        if name == "inner":  # not set yet (during unpickling): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        keys = [text_key(text) for text in texts]
        known = self.cache.get_many(self.model_key, keys)
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in known:
                missing.setdefault(key, text)  # a text repeated within the call is embedded once
        if missing:
            vectors = self.inner.embed_documents(list(missing.values()))
            fresh = list(zip(missing, vectors, strict=True))
            self.cache.put_many(self.model_key, fresh)
            known.update((key, np.asarray(vector, dtype=np.float32)) for key, vector in fresh)
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        return [known[key].tolist() for key in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)
