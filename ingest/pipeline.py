"""Ingest files into a tenant's store: load → clean → detect type → chunk → embed → write.

Per document the order is: add missing chunks, drop stale ones, then write the document record.
The record (with the content hash) is the commit point, so a killed run leaves the document
"not ingested" and the next run finishes it; ids are deterministic, so nothing is duplicated.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, Field

from yakuba.core.settings import Settings
from yakuba.core.types import Chunk, DocType, DocumentLoadError, DocumentRecord, LoadedDocument
from yakuba.core.wareki import wareki_to_iso
from yakuba.ingest.chunk import chunk_document, chunk_ids
from yakuba.ingest.clean import clean_pages
from yakuba.ingest.loaders import SUPPORTED_SUFFIXES, ParseLimits, load_path
from yakuba.ingest.loaders.common import load_error
from yakuba.ingest.minutes import detect_doc_type
from yakuba.ingest.municipality import document_municipality
from yakuba.ingest.tables import is_vote_table

# 2: tables as their own chunks, OCR of scanned pages (issue #15): stored documents re-ingest once.
# 3: a table row is never split from its label; chunks break only between rows (issue #15).
PIPELINE_VERSION = "3"
_log = logging.getLogger(__name__)
EMBED_BATCH = 256
IGNORE_FILE = ".yakubaignore"

Status = Literal["added", "updated", "unchanged", "failed"]


@runtime_checkable
class IngestTarget(Protocol):
    """What the Ingestor needs of a tenant's store (retriever's TenantStore has it); ingest sits below
    the retriever, so it names the methods instead of importing the class."""

    # Identity of the model the stored vectors come from (retriever.embeddings.model_identity).
    embedding_model: str | None

    def get_document(self, doc_id: str) -> DocumentRecord | None: ...

    def put_document(self, record: DocumentRecord) -> None: ...

    def chunk_ids(self, doc_id: str) -> set[str]: ...

    def add_chunks(
        self, ids: Sequence[str], chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> None: ...

    def update_chunk_metadata(self, ids: Sequence[str], chunks: Sequence[Chunk]) -> None: ...

    def delete_chunks(self, ids: Iterable[str]) -> None: ...


class DocumentResult(BaseModel):
    doc_id: str
    title: str = ""
    status: Status
    pages: int = 0
    chunks: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    doc_type: str | None = None
    warnings: list[str] = Field(default_factory=list)


class FileResult(BaseModel):
    """The outcome for one file, as the summary table and the API show it."""

    path: str
    status: Status
    documents: list[DocumentResult] = Field(default_factory=list)
    error_code: str | None = None
    message_ja: str | None = None
    message_en: str | None = None

    @property
    def pages(self) -> int:
        return sum(d.pages for d in self.documents)

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents)

    @property
    def warnings(self) -> list[str]:
        return [w for d in self.documents for w in d.warnings]


class IngestSummary(BaseModel):
    results: list[FileResult] = Field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.results)

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.results)

    @property
    def chunks(self) -> int:
        return sum(r.chunks for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return self.count("unchanged")


@dataclass
class _Prepared:
    """A document chunked and diffed against the store, waiting for its new chunks' vectors."""

    document: LoadedDocument
    doc_type: DocType
    chunks: list[Chunk]
    ids: list[str]
    new_positions: list[int]
    kept_positions: list[int]
    stale: set[str]
    is_update: bool


class InputPath(BaseModel):
    path: Path
    doc_id: str


def _ignore_patterns(directory: Path) -> list[str]:
    ignore = directory / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = ignore.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith("/"):
            if relative.startswith(pattern) or f"/{pattern}" in f"/{relative}":
                return True
        elif fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(Path(relative).name, pattern):
            return True
    return False


def discover(paths: Sequence[Path]) -> list[InputPath]:
    """Expand folders (recursively, honouring .yakubaignore); a folder's files get relative ids."""
    found: list[InputPath] = []
    for path in paths:
        if path.is_dir():
            patterns = _ignore_patterns(path)
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(path).as_posix()
                if (
                    file.is_file()
                    and file.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in file.relative_to(path).parts)
                    and not _ignored(relative, patterns)
                ):
                    found.append(InputPath(path=file, doc_id=relative))
        else:
            # Missing files and unsupported types are reported by the loader, per file.
            found.append(InputPath(path=path, doc_id=path.name))
    return found


def ingest_signature(settings: Settings, embedding_model: str) -> str:
    """What must match for an unchanged file to be skipped: chunking and the embedding model
    (`embedding_model` is its identity, retriever.embeddings.model_identity, weights hash included)."""
    key = json.dumps(
        [PIPELINE_VERSION, settings.chunk_size, settings.chunk_overlap, embedding_model], ensure_ascii=False
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _resolve_doc_type(document: LoadedDocument, forced: DocType | None) -> DocType:
    if forced is not None:
        return forced
    if document.doc_type is not None:
        return document.doc_type
    first_text = "\n".join(p.text for p in document.pages[:2])
    has_vote_table = any(is_vote_table(table) for table in document.tables)
    return detect_doc_type(document.title, first_text, has_vote_table=has_vote_table)


def _minutes_date(document: LoadedDocument) -> None:
    """Records in the eval format carry 「02月21日」 + session 「令和4年…」; make the date ISO."""
    meta = document.metadata
    date = str(meta.get("date") or "")
    if date and not date[:4].isdigit():
        iso = wareki_to_iso(f"{meta.get('session', '')}{date}")
        if iso:
            meta["date_iso"] = iso


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Ingestor:
    """Runs the pipeline for one tenant; the CLI and the API drive it.

    `embedding_model` is the identity of the model `embeddings` runs; by default the store's, which
    `TenantStore.open` sets from the settings and checks against the stored vectors.
    """

    def __init__(
        self,
        settings: Settings,
        store: IngestTarget,
        embeddings: Embeddings,
        *,
        doc_type: DocType | None = None,
        on_chunks_embedded: Callable[[int], None] | None = None,
        embedding_model: str | None = None,
    ) -> None:
        identity = embedding_model or store.embedding_model
        if not identity:
            raise ValueError(
                "埋め込みモデルの識別名がありません / the Ingestor needs the embedding model's identity: "
                "pass embedding_model= or open the store with TenantStore.open(settings, tenant)"
            )
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        self.doc_type = doc_type
        self.signature = ingest_signature(settings, identity)
        self.limits = ParseLimits.from_settings(settings)
        self.on_chunks_embedded = on_chunks_embedded or (lambda n: None)

    def _unchanged(self, doc_id: str, content_hash: str) -> DocumentRecord | None:
        record = self.store.get_document(doc_id)
        if (
            record
            and record.content_hash == content_hash
            and record.ingest_signature == self.signature
            and (self.doc_type is None or record.doc_type is self.doc_type)
        ):
            return record
        return None

    def ingest_file(self, item: InputPath) -> FileResult:
        path = item.path
        if not path.exists():
            return FileResult(
                path=str(path),
                status="failed",
                error_code="not_found",
                message_ja=f"ファイルが見つかりません: {path}",
                message_en=f"file not found: {path}",
            )
        try:
            is_single_document = path.suffix.lower() != ".jsonl" and path.is_file()
            if is_single_document:
                record = self._unchanged(item.doc_id, _file_hash(path))
                if record:
                    return FileResult(
                        path=str(path),
                        status="unchanged",
                        documents=[_unchanged_result(record)],
                    )
            documents = load_path(
                path,
                item.doc_id,
                max_bytes=int(self.settings.max_file_mb * 1024 * 1024),
                limits=self.limits,
            )
        except DocumentLoadError as error:
            return _failed(path, error)
        try:
            results = self.ingest_documents(documents)
        except DocumentLoadError as error:  # a file whose one document has nothing to index
            return _failed(path, error)
        statuses = {r.status for r in results}
        status: Status = "unchanged" if statuses == {"unchanged"} else ("added" if statuses == {"added"} else "updated")
        return FileResult(path=str(path), status=status, documents=results)

    def ingest_document(self, document: LoadedDocument) -> DocumentResult:
        return self.ingest_documents([document])[0]

    def ingest_documents(self, documents: Sequence[LoadedDocument]) -> list[DocumentResult]:
        """Prepare documents and embed their new chunks in shared batches (JSONL corpora have
        thousands of one-chunk records; embedding them one by one wastes most of the time)."""
        results: list[DocumentResult | None] = []
        pending: list[tuple[int, _Prepared]] = []
        pending_chunks = 0
        for document in documents:
            prepared = self._prepare(document)
            if prepared is None:  # nothing searchable in this document
                if len(documents) == 1:  # a file of one document: an error, never a record without chunks
                    raise load_error(
                        "empty",
                        document.doc_id,
                        "整形後に検索できる本文が残りませんでした",
                        "no indexable text after cleaning",
                    )
                _log.info("skipped %s: no indexable text after cleaning", document.doc_id)
                continue  # one empty record of a JSONL corpus must not fail its thousands of others
            if isinstance(prepared, DocumentResult):
                results.append(prepared)
                continue
            results.append(None)
            pending.append((len(results) - 1, prepared))
            pending_chunks += len(prepared.new_positions)
            if pending_chunks >= EMBED_BATCH:
                self._commit(pending, results)
                pending, pending_chunks = [], 0
        self._commit(pending, results)
        return [r for r in results if r is not None]

    def _prepare(self, document: LoadedDocument) -> _Prepared | DocumentResult | None:
        record = self._unchanged(document.doc_id, document.content_hash)
        if record:
            return _unchanged_result(record)
        previous = self.store.get_document(document.doc_id)
        document = document.model_copy(update={"pages": clean_pages(document.pages)})
        doc_type = _resolve_doc_type(document, self.doc_type)
        if doc_type is DocType.COUNCIL_MINUTES:
            _minutes_date(document)
        chunks = chunk_document(
            document, doc_type, size=self.settings.chunk_size, overlap=self.settings.chunk_overlap
        )
        if not chunks:
            return None
        _tag_municipality(document, chunks)
        ids = chunk_ids(chunks)
        existing = self.store.chunk_ids(document.doc_id)
        return _Prepared(
            document=document,
            doc_type=doc_type,
            chunks=chunks,
            ids=ids,
            new_positions=[i for i, chunk_id in enumerate(ids) if chunk_id not in existing],
            kept_positions=[i for i, chunk_id in enumerate(ids) if chunk_id in existing],
            stale=existing - set(ids),
            is_update=previous is not None,
        )

    def _commit(self, pending: list[tuple[int, _Prepared]], results: list[DocumentResult | None]) -> None:
        """Embed all new chunks of the pending documents, then finish each document in order."""
        work = [(prep, i) for _, prep in pending for i in prep.new_positions]
        for start in range(0, len(work), EMBED_BATCH):
            batch = work[start : start + EMBED_BATCH]
            vectors = _embed_unique(self.embeddings, [prep.chunks[i].text for prep, i in batch])
            self.store.add_chunks(
                [prep.ids[i] for prep, i in batch], [prep.chunks[i] for prep, i in batch], vectors
            )
            self.on_chunks_embedded(len(batch))
        for slot, prep in pending:
            results[slot] = self._finish(prep)

    def _finish(self, prep: _Prepared) -> DocumentResult:
        """Kept chunks' metadata, stale chunks out, then the record: the commit point."""
        document, chunks, ids = prep.document, prep.chunks, prep.ids
        if prep.kept_positions:
            self.store.update_chunk_metadata(
                [ids[i] for i in prep.kept_positions], [chunks[i] for i in prep.kept_positions]
            )
        self.store.delete_chunks(prep.stale)
        pages = len([p for p in document.pages if p.text.strip()])
        self.store.put_document(
            DocumentRecord(
                doc_id=document.doc_id,
                title=document.title,
                doc_type=prep.doc_type,
                file_format=document.file_format,
                source_path=document.source_path,
                pages=pages,
                chunks=len(chunks),
                content_hash=document.content_hash,
                ingest_signature=self.signature,
                ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
                warnings=document.warnings,
                metadata={k: v for k, v in document.metadata.items() if isinstance(v, str | int | float)},
            )
        )
        return DocumentResult(
            doc_id=document.doc_id,
            title=document.title,
            status="updated" if prep.is_update else "added",
            pages=pages,
            chunks=len(chunks),
            chunks_added=len(prep.new_positions),
            chunks_removed=len(prep.stale),
            doc_type=prep.doc_type.value,
            warnings=document.warnings,
        )

    def run(self, paths: Sequence[Path]) -> Iterator[FileResult]:
        for item in discover(paths):
            yield self.ingest_file(item)


def _failed(path: Path, error: DocumentLoadError) -> FileResult:
    return FileResult(
        path=str(path), status="failed", error_code=error.code, message_ja=error.message_ja, message_en=error.message_en
    )


def _tag_municipality(document: LoadedDocument, chunks: Sequence[Chunk]) -> None:
    """Every chunk carries its document's town (stored as `x_municipality`), so search can prefer the
    town a question names; a record's own `municipality` field wins over detection."""
    town = document.metadata.get("municipality")
    if not isinstance(town, str) or not town:
        opening = "\n".join(p.text for p in document.pages[:3])
        town = document_municipality(document.title, document.doc_id, opening)
    if town:
        for chunk in chunks:
            chunk.extra.setdefault("municipality", town)


def _embed_unique(embeddings: Embeddings, texts: list[str]) -> list[list[float]]:
    """Embed each distinct text once: minutes repeat procedural one-liners (「○議長（…） 市民生活部長。」)
    hundreds of times, and a batch of them costs one forward pass, not hundreds."""
    unique = list(dict.fromkeys(texts))
    if len(unique) == len(texts):
        return embeddings.embed_documents(texts)
    by_text = dict(zip(unique, embeddings.embed_documents(unique), strict=True))
    return [by_text[text] for text in texts]


def _unchanged_result(record: DocumentRecord) -> DocumentResult:
    return DocumentResult(
        doc_id=record.doc_id,
        title=record.title,
        status="unchanged",
        pages=record.pages,
        chunks=record.chunks,
        doc_type=record.doc_type.value,
    )
