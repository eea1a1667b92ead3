"""The one place that talks to Chroma; ingest/ writes through it and retriever/ reads through it.

Layout per tenant (municipality):
- `yakuba__<tenant>`: one record per chunk (id, vector, text, citation metadata);
- `yakuba__<tenant>__docs`: one record per document (title, type, pages, chunk count, content hash).
The document record is written last, so an interrupted ingest is detected and repaired on the next run.

One view across processes: an embedded (PersistentClient) Chroma keeps each collection's HNSW index
in memory and never rereads it, so vectors another process wrote (`yakuba ingest` while `yakuba
serve` runs) stayed invisible to dense search while BM25 found them. Every write bumps the tenant's
store version — the BM25 generation in its SQLite, the signal BM25 itself rebuilds on — and every
chunk access compares it (one indexed read) with the version this process's client reflects; a
change this process did not make reopens the client (`_EmbeddedClients`, ~50 ms), so both halves of
hybrid search always agree on what exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from yakuba.core.errors import UnavailableError
from yakuba.core.settings import Settings, validate_tenant
from yakuba.core.types import Chunk, DocumentRecord  # DocumentRecord: also imported from here
from yakuba.retriever.bm25 import BM25Index
from yakuba.retriever.embeddings import model_identity

PREFIX = "yakuba__"
DOCS_SUFFIX = "__docs"
REINDEX_SUFFIX = "__reindex"
_PLACEHOLDER_VECTOR = [1.0]  # document records are looked up by id, never by similarity


class StoreError(UnavailableError, RuntimeError):
    """A store problem an operator can act on (wrong model, server down, no BM25 folder)."""

    code = "store_unavailable"


class ChunkRow(NamedTuple):
    """One stored chunk as written: its text and the citation metadata (`chunk_metadata`)."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]


class DenseHit(NamedTuple):
    """A nearest-neighbour hit: cosine similarity (1 − distance); metadata only when asked for."""

    chunk_id: str
    similarity: float
    metadata: dict[str, Any] | None = None


class _EmbeddedClients:
    """This process's embedded Chroma client per folder, replaced when another process wrote.

    `check` is given a tenant's current store version: the first version seen is taken as what the
    client reflects; a different one later means a write this process did not make (its own writes
    are reported through `wrote`), so a fresh client is opened and every store of that folder moves
    to it. Chroma shares one `System` per folder and process; the stale one is dropped from its
    cache (not stopped: a search on another thread may still be using it) and freed once unused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[int, ClientAPI]] = {}  # folder -> (epoch, client)
        self._seen: dict[tuple[str, str], int] = {}  # (folder, tenant) -> version the client reflects

    def current(self, folder: str) -> tuple[int, ClientAPI]:
        with self._lock:
            return self._clients.get(folder) or self._open(folder, 0)

    def check(self, folder: str, tenant: str, version: int) -> tuple[int, ClientAPI]:
        with self._lock:
            epoch, client = self._clients.get(folder) or self._open(folder, 0)
            seen = self._seen.get((folder, tenant))
            if seen is not None and seen != version:
                _log.info("store of tenant %s changed by another process (%s -> %s): reopening Chroma",
                          tenant, seen, version)
                epoch, client = self._open(folder, epoch + 1)
            self._seen[(folder, tenant)] = version
            return epoch, client

    def wrote(self, folder: str, tenant: str, before: int, after: int) -> None:
        """This process moved the version from `before` to `after`: its client already shows that."""
        with self._lock:
            if self._seen.get((folder, tenant)) == before:
                self._seen[(folder, tenant)] = after

    def _open(self, folder: str, epoch: int) -> tuple[int, ClientAPI]:
        if epoch:
            from chromadb.api.shared_system_client import SharedSystemClient

            # Chroma's per-process cache of Systems has no public way to drop one entry
            SharedSystemClient._identifier_to_system.pop(folder, None)
        Path(folder).mkdir(parents=True, exist_ok=True)
        self._clients[folder] = (epoch, chromadb.PersistentClient(path=folder))
        return self._clients[folder]


_EMBEDDED = _EmbeddedClients()
_log = logging.getLogger(__name__)


def make_client(settings: Settings) -> ClientAPI:
    """Embedded PersistentClient by default (this process's current one for the folder),
    HttpClient when YAKUBA_CHROMA_URL is set."""
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise StoreError(
                f"YAKUBA_CHROMA_URL の形式が正しくありません（例: http://localhost:8000）: {settings.chroma_url} / "
                "invalid Chroma URL"
            )
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
            )
        except Exception as exc:  # noqa: BLE001 - connection failures surface as one message
            raise StoreError(
                f"Chroma サーバーに接続できません: {settings.chroma_url} / cannot reach Chroma server: {exc}"
            ) from exc
    return _EMBEDDED.current(str(settings.chroma_path))[1]


def _clean_metadata(values: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma accepts scalars only; None is dropped, anything else becomes JSON text."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = json.dumps(value, ensure_ascii=False)
    return out


def chunk_metadata(chunk: Chunk) -> dict[str, str | int | float | bool]:
    data = chunk.model_dump(exclude={"text", "extra"})
    data["doc_type"] = chunk.doc_type.value
    if chunk.date:
        data["year"] = int(chunk.date[:4]) if chunk.date[:4].isdigit() else None
    data.update({f"x_{k}": v for k, v in chunk.extra.items()})
    return _clean_metadata(data)


class TenantStore:
    """Chunks and document records of one tenant."""

    def __init__(
        self,
        client: ClientAPI,
        tenant: str,
        *,
        embedding_model: str | None = None,
        bm25_root: Path | None = None,
        database_url: str | None = None,
    ) -> None:
        self.client = client
        self.database_url = database_url  # BM25 rows in the shared database (else SQLite under bm25_root)
        self.tenant = validate_tenant(tenant)
        self.embedding_model = embedding_model
        self.bm25_root = bm25_root
        self._chunks: Collection | None = None
        self._docs: Collection | None = None
        self._bm25: BM25Index | None = None
        # Set by `open` for an embedded client: the folder whose client follows other processes' writes.
        self._folder: str | None = None
        self._epoch = 0

    @classmethod
    def open(cls, settings: Settings, tenant: str, *, check_model: bool = True) -> TenantStore:
        """The usual way in: client from settings, BM25 beside the Chroma data under YAKUBA_HOME."""
        store = cls(
            make_client(settings),
            tenant,
            embedding_model=model_identity(settings.embedding_model) if check_model else None,
            bm25_root=settings.bm25_path,
            database_url=settings.database_url,
        )
        if not settings.chroma_url:  # a Chroma server is one process: every client sees every write
            store._folder = str(settings.chroma_path)
            store._epoch = _EMBEDDED.current(store._folder)[0]
        return store

    # -- one view across processes -------------------------------------------------------------
    def _refresh(self) -> None:
        """Follow another process's writes: a new store version there means a fresh client here."""
        if self._folder is None or self.bm25_root is None:
            return
        epoch, client = _EMBEDDED.check(self._folder, self.tenant, self.bm25.generation())
        if epoch != self._epoch:
            self.client, self._epoch = client, epoch
            self._chunks = self._docs = None

    @contextlib.contextmanager
    def _writing(self):  # type: ignore[no-untyped-def]
        """Around a write that bumps the version: tell the registry the new version is our own."""
        if self._folder is None or self.bm25_root is None:
            yield
            return
        self._refresh()  # never write through a client that misses another process's writes
        before = self.bm25.generation()
        yield
        _EMBEDDED.wrote(self._folder, self.tenant, before, self.bm25.generation())

    # -- BM25 (kept in step with the chunk collection) ----------------------------------------
    @property
    def has_bm25(self) -> bool:
        """False for a store opened without a BM25 folder (dense search only)."""
        return self.bm25_root is not None

    @property
    def bm25(self) -> BM25Index:
        """The tenant's BM25 index; retriever/search.py reads it, everyone else asks the searcher."""
        if self._bm25 is None:
            if self.bm25_root is None:
                raise StoreError("BM25 index folder is not configured for this store")
            rows = None
            if self.database_url:
                from yakuba.retriever.bm25 import default_tokenizer
                from yakuba.retriever.bm25_rows import PostgresRows

                rows = PostgresRows(self.database_url, self.tenant, default_tokenizer().signature)
            self._bm25 = BM25Index(self.bm25_root / self.tenant, rows=rows)
        return self._bm25

    def sync_bm25(self, *, page: int = 2000) -> bool:
        """Rebuild BM25 from Chroma when they disagree (killed ingest, server mode, new tokenizer)."""
        if self.bm25_root is None:
            return False
        if len(self.bm25) == self.count() and set(self.bm25.ids()) == self._all_chunk_ids():
            return False
        with self._writing():
            self.bm25.rebuild_from(self._iter_chunks(page))
        return True

    def warm_bm25(self) -> None:
        """Build (or load) BM25's score matrix now, so that the first query does not pay for it."""
        if self.has_bm25:
            self.bm25.ensure_built()

    def _all_chunk_ids(self) -> set[str]:
        return set(self._chunk_collection.get(include=[])["ids"])

    def _iter_chunks(self, page: int):  # type: ignore[no-untyped-def]
        offset = 0
        while True:
            got = self._chunk_collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            offset += len(got["ids"])

    def reindex(self, embeddings, *, page: int = 256, progress=None) -> int:  # type: ignore[no-untyped-def]
        """Re-embed every stored chunk with `embeddings` (the configured model) and swap collections.

        The new vectors go into a side collection first; the old one is dropped only once the side
        collection is complete, so an interrupted reindex loses nothing (run it again).
        """
        self._refresh()
        name = PREFIX + self.tenant
        side_name = name + REINDEX_SUFFIX
        names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        if name not in names and side_name in names:
            side = self.client.get_collection(side_name, embedding_function=None)
            if (side.metadata or {}).get("complete"):
                return self._swap_in(side, name)
        if side_name in names:
            self.client.delete_collection(side_name)
        if name not in names:
            return 0
        old = self.client.get_collection(name, embedding_function=None)
        side = self.client.create_collection(
            side_name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
            metadata={"tenant": self.tenant},
        )
        done = 0
        offset = 0
        while True:
            got = old.get(include=["documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                break
            vectors = embeddings.embed_documents(got["documents"])
            side.add(ids=got["ids"], embeddings=vectors, documents=got["documents"], metadatas=got["metadatas"])
            done += len(got["ids"])
            offset += len(got["ids"])
            if progress:
                progress(len(got["ids"]))
        side.modify(metadata={"tenant": self.tenant, "complete": True})
        self.client.delete_collection(name)
        return self._swap_in(side, name) or done

    def _swap_in(self, side: Collection, name: str) -> int:
        metadata = {"tenant": self.tenant}
        if self.embedding_model:
            metadata["embedding_model"] = self.embedding_model
        side.modify(name=name, metadata=metadata)
        self._chunks = None
        if self.bm25_root is not None:
            with self._writing():  # the dense collection was swapped: other processes must reopen
                self.bm25.touch()
        return side.count()

    def close(self) -> None:
        if self._bm25 is not None:
            self._bm25.ensure_built()
            self._bm25.close()
            self._bm25 = None

    # -- collections (private: callers use the methods below) ---------------------------------
    @property
    def _chunk_collection(self) -> Collection:
        self._refresh()
        chunks = self._chunks  # a local: another thread's refresh may reset the attribute meanwhile
        if chunks is None:
            metadata = {"tenant": self.tenant}
            if self.embedding_model:
                metadata["embedding_model"] = self.embedding_model
            chunks = self.client.get_or_create_collection(
                PREFIX + self.tenant,
                metadata=metadata,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            self._check_model(chunks)
            self._chunks = chunks
        return chunks

    @property
    def _doc_collection(self) -> Collection:
        docs = self._docs
        if docs is None:
            docs = self._docs = self.client.get_or_create_collection(
                PREFIX + self.tenant + DOCS_SUFFIX, metadata={"tenant": self.tenant}, embedding_function=None
            )
        return docs

    def _check_model(self, collection: Collection) -> None:
        stored = (collection.metadata or {}).get("embedding_model")
        if self.embedding_model and stored and stored != self.embedding_model:
            raise StoreError(
                f"テナント {self.tenant} は別の埋め込みモデル（{stored}）で作成されています。"
                f"現在の設定（{self.embedding_model}）で検索・登録するには `yakuba reindex --tenant {self.tenant}` "
                f"を実行してください / tenant {self.tenant!r} was built with embedding model {stored!r}, "
                f"settings say {self.embedding_model!r}; run `yakuba reindex`"
            )

    # -- documents ---------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        found = self._doc_collection.get(ids=[doc_id], include=["documents"])
        if not found["ids"]:
            return None
        return DocumentRecord.model_validate_json(found["documents"][0])

    def list_documents(self) -> list[DocumentRecord]:
        found = self._doc_collection.get(include=["documents"])
        records = [DocumentRecord.model_validate_json(text) for text in found["documents"] or []]
        return sorted(records, key=lambda r: r.doc_id)

    def put_document(self, record: DocumentRecord) -> None:
        self._doc_collection.upsert(
            ids=[record.doc_id],
            embeddings=[_PLACEHOLDER_VECTOR],
            documents=[record.model_dump_json()],
            metadatas=[{"doc_type": record.doc_type.value, "title": record.title}],
        )

    def delete_document(self, doc_id: str) -> int:
        """Remove every chunk of the document, then its record; returns the chunks removed."""
        ids = self.chunk_ids(doc_id)
        self.delete_chunks(ids)
        self._doc_collection.delete(ids=[doc_id])
        return len(ids)

    # -- chunks ------------------------------------------------------------------------------
    def chunk_ids(self, doc_id: str) -> set[str]:
        return set(self._chunk_collection.get(where={"doc_id": doc_id}, include=[])["ids"])

    def count(self) -> int:
        return self._chunk_collection.count()

    def get_chunks(self, ids: Sequence[str]) -> list[ChunkRow]:
        """The stored chunks among `ids` (unknown ids are left out; order is not `ids`' order)."""
        if not ids:
            return []
        got = self._chunk_collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [
            ChunkRow(chunk_id, text, dict(meta or {}))
            for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def query_dense(
        self,
        vector: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        *,
        with_metadata: bool = False,
    ) -> list[DenseHit]:
        """The `n` chunks nearest to `vector` (restricted by a Chroma `where`), most similar first."""
        include = ["metadatas", "distances"] if with_metadata else ["distances"]
        found = self._chunk_collection.query(
            query_embeddings=[list(vector)], n_results=n, where=where, include=include  # type: ignore[arg-type]
        )
        ids, distances = found["ids"][0], found["distances"][0]
        metadatas = found["metadatas"][0] if with_metadata else [None] * len(ids)
        return [
            DenseHit(chunk_id, 1.0 - float(distance), dict(meta) if meta is not None else None)
            for chunk_id, distance, meta in zip(ids, distances, metadatas, strict=True)
        ]

    def _batches(self, size: int) -> Iterable[slice]:
        limit = max(1, min(size, self.client.get_max_batch_size()))
        return (slice(i, i + limit) for i in range(0, size, limit))

    def add_chunks(
        self, ids: Sequence[str], chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None:
        with self._writing():
            for part in self._batches(len(ids)):
                self._chunk_collection.upsert(
                    ids=list(ids[part]),
                    embeddings=[list(v) for v in embeddings[part]],
                    documents=[c.text for c in chunks[part]],
                    metadatas=[chunk_metadata(c) for c in chunks[part]],
                )
            if self.bm25_root is not None:
                self.bm25.add(list(ids), [c.text for c in chunks], [chunk_metadata(c) for c in chunks])

    def update_chunk_metadata(self, ids: Sequence[str], chunks: Sequence[Chunk]) -> None:
        with self._writing():
            for part in self._batches(len(ids)):
                self._chunk_collection.update(
                    ids=list(ids[part]), metadatas=[chunk_metadata(c) for c in chunks[part]]
                )
            if self.bm25_root is not None and ids:
                self.bm25.add(list(ids), [c.text for c in chunks], [chunk_metadata(c) for c in chunks])

    def delete_chunks(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        with self._writing():
            for part in self._batches(len(ids)):
                self._chunk_collection.delete(ids=ids[part])
            if self.bm25_root is not None and ids:
                self.bm25.remove(ids)

    # -- backup and restore (yakuba/cli/backup.py) -------------------------------------------
    def export_chunks(self, page: int = 1000):  # type: ignore[no-untyped-def]
        """Every chunk as `(id, text, metadata, vector)`, in Chroma's order (backups)."""
        offset = 0
        while True:
            got = self._chunk_collection.get(
                include=["documents", "metadatas", "embeddings"], limit=page, offset=offset
            )
            if not got["ids"]:
                return
            for chunk_id, text, meta, vector in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            ):
                yield chunk_id, text, dict(meta or {}), [float(x) for x in vector]
            offset += len(got["ids"])

    def import_chunks(self, rows: Sequence[tuple[str, str, dict[str, Any], Sequence[float]]]) -> None:
        """Write chunks exactly as exported (vectors included, no embedding model needed); BM25 is
        restored separately from its own rows so that its row order, and so its ties, stay the same."""
        with self._writing():
            for part in self._batches(len(rows)):
                batch = rows[part]
                self._chunk_collection.upsert(
                    ids=[r[0] for r in batch], documents=[r[1] for r in batch],
                    metadatas=[r[2] for r in batch], embeddings=[list(r[3]) for r in batch],
                )

    def import_bm25_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Replace the tenant's BM25 rows with exported ones (`bm25.rows.read()`), keeping their order."""
        with self._writing(), self.bm25.rows.write() as writer:
            writer.clear()
            writer.upsert(rows)  # type: ignore[arg-type]

    def drop(self) -> None:
        """Delete the tenant's collections entirely (reindex, tests)."""
        for name in (PREFIX + self.tenant, PREFIX + self.tenant + DOCS_SUFFIX):
            with contextlib.suppress(Exception):
                self.client.delete_collection(name)
        if self.bm25_root is not None:
            with self._writing():
                self.bm25.clear()
        self._chunks = self._docs = None


def list_tenants(client: ClientAPI) -> list[str]:
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    return sorted(
        name[len(PREFIX) :]
        for name in names
        if name.startswith(PREFIX) and not name.endswith((DOCS_SUFFIX, REINDEX_SUFFIX))
    )
