"""One tenant's document library: ingest paths, save and ingest uploads, list, delete, re-embed.

The CLI (`yakuba ingest`, `docs`, `reindex`) and the API (/v1/documents) both go through here, so a
document is deleted one way (chunks, record, BM25 rows and the saved upload) and an upload is kept one
way. Writes of one tenant hold a file lock under YAKUBA_HOME, so a server and a `yakuba ingest` run
at the same time never interleave their writes (an in-process lock would only cover one server).
"""

from __future__ import annotations

import logging
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from filelock import FileLock
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel

from yakuba.core.errors import NotFoundError
from yakuba.core.settings import Settings, validate_tenant
from yakuba.core.types import DocType, DocumentRecord
from yakuba.ingest.pipeline import FileResult, Ingestor, IngestSummary, InputPath, ingest_signature
from yakuba.retriever.embeddings import embeddings_from_settings, model_identity
from yakuba.retriever.store import TenantStore, list_tenants

MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 255  # one file-system name; NFKC may lengthen a name (㍻ → 平成), so it is cut by bytes
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_COPY_BLOCK = 1 << 20
INCOMING = ".incoming"

log = logging.getLogger("yakuba.ingest")


class DocumentNotFoundError(NotFoundError):
    """Delete of a document the tenant does not have (no record and no chunks)."""

    code = "document_not_found"

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"文書が見つかりません: {doc_id}", "no such document", detail={"doc_id": doc_id})


class SavedUpload(BaseModel):
    """One uploaded file: the name the client sent, the name it is stored under, the ingest outcome."""

    filename: str
    saved_as: str | None  # None when the file failed: nothing of it was kept
    result: FileResult


@dataclass(frozen=True)
class IngestCallbacks:
    """Progress hooks for long ingests (the CLI's progress bars); every hook is optional."""

    on_file: Callable[[InputPath], None] | None = None
    on_result: Callable[[FileResult], None] | None = None
    on_chunks_embedded: Callable[[int], None] | None = None


def uploads_dir(settings: Settings, tenant: str) -> Path:
    return settings.home / "uploads" / tenant


def safe_filename(name: str | None) -> str:
    """The client's file name made safe to store and to use as a document id.

    Only the last path component is kept (browsers on Windows may send `C:\\…\\a.pdf`), NFKC is
    applied like everywhere else in Yakuba, and control/path characters become `_`. Japanese stays.
    """
    raw = unicodedata.normalize("NFKC", name or "")
    base = PureWindowsPath(PurePosixPath(raw).name).name
    cleaned = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    if not cleaned:
        cleaned = "upload"
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and stem and len(suffix) <= 10:
        suffix = f".{suffix.lower()}"
        stem = stem[: MAX_NAME_CHARS - len(suffix)]
        return _cut_bytes(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))) + suffix
    return _cut_bytes(cleaned[:MAX_NAME_CHARS], MAX_NAME_BYTES)


def _cut_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, never inside a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class DocumentLibrary:
    """The documents of one tenant, for every front end.

    Cheap to create (nothing opens until a method runs); pass `embeddings` to share a loaded model,
    else the configured one is built on first write.
    """

    def __init__(self, settings: Settings, tenant: str, *, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        self.tenant = validate_tenant(tenant)
        self._embeddings = embeddings

    @property
    def embeddings(self) -> Embeddings:
        if self._embeddings is None:
            self._embeddings = embeddings_from_settings(self.settings)
        return self._embeddings

    @property
    def uploads(self) -> Path:
        return uploads_dir(self.settings, self.tenant)

    @property
    def lock_path(self) -> Path:
        return self.settings.home / "locks" / f"{self.tenant}.lock"

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer per tenant, across threads and processes; waits for the one before. With a shared
        database the lock is PostgreSQL's (an advisory lock per tenant), so it spans every replica and
        is released by the server when a replica holding it dies."""
        if self.settings.database_url:
            from yakuba.core.db import advisory_lock, engine_for

            with advisory_lock(engine_for(self.settings.database_url), f"tenant:{self.tenant}"):
                yield
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.lock_path):
            yield

    @contextmanager
    def _store(self, *, check_model: bool = True) -> Iterator[TenantStore]:
        store = TenantStore.open(self.settings, self.tenant, check_model=check_model)
        try:
            yield store
        finally:
            store.close()

    # -- reading -----------------------------------------------------------------------------
    def list(self) -> list[DocumentRecord]:
        """Every document record, sorted by id (no model check: listing works under any model)."""
        with self._store(check_model=False) as store:
            return store.list_documents()

    # -- writing -----------------------------------------------------------------------------
    def ingest(
        self,
        items: Sequence[InputPath],
        *,
        doc_type: DocType | None = None,
        callbacks: IngestCallbacks | None = None,
    ) -> IngestSummary:
        """What `yakuba ingest` does: each file through the pipeline, unchanged files skipped."""
        hooks = callbacks or IngestCallbacks()
        summary = IngestSummary()
        with self._writing(), self._store() as store:
            ingestor = Ingestor(
                self.settings, store, self.embeddings, doc_type=doc_type,
                on_chunks_embedded=hooks.on_chunks_embedded,
            )
            for item in items:
                if hooks.on_file:
                    hooks.on_file(item)
                result = ingestor.ingest_file(item)
                log.info("ingest %s", result.model_dump_json())
                summary.results.append(result)
                if hooks.on_result:
                    hooks.on_result(result)
        return summary

    def add_uploads(
        self, files: Iterable[tuple[str | None, BinaryIO]], *, doc_type: DocType | None = None
    ) -> list[SavedUpload]:
        """Save each (client name, stream) under `<home>/uploads/<tenant>/<safe name>` and ingest it.

        A file that fails leaves nothing behind and does not replace an earlier upload of the same name.

        A request is all or nothing when it *fails* (an exception, not a file the loader rejects):
        the files it already ingested are taken out again and replaced ones restored, so a client that
        got an error finds the library as it was. Nothing is left in `.incoming/` either way.
        """
        incoming = self.uploads / INCOMING
        outcome = []
        staged: list[_Staged] = []
        with self._writing(), self._store() as store:
            incoming.mkdir(parents=True, exist_ok=True)
            ingestor = Ingestor(self.settings, store, self.embeddings, doc_type=doc_type)
            try:
                for client_name, stream in files:
                    name = safe_filename(client_name)
                    step = self._save_and_ingest(ingestor, name, stream, incoming)
                    staged.append(step)
                    log.info("upload %s", step.result.model_dump_json())
                    outcome.append(SavedUpload(
                        filename=client_name or name, saved_as=None if step.result.status == "failed" else name,
                        result=step.result,
                    ))
            except BaseException:
                self._roll_back(ingestor, store, staged)
                raise
            finally:
                for step in staged:
                    if step.backup is not None:
                        step.backup.unlink(missing_ok=True)
        return outcome

    def _save_and_ingest(self, ingestor: Ingestor, name: str, stream: BinaryIO, incoming: Path) -> _Staged:
        """Write to a temporary name, move into place (keeping any earlier file as a backup until the
        request ends), ingest, and put the backup back if the new file fails."""
        target = self.uploads / name
        temporary = incoming / f"{uuid.uuid4().hex}{Path(name).suffix}"
        backup = incoming / f"{uuid.uuid4().hex}.previous"
        had_previous = False
        try:
            with temporary.open("wb") as out:
                shutil.copyfileobj(stream, out, _COPY_BLOCK)
            had_previous = target.exists()
            if had_previous:
                target.replace(backup)
            try:
                temporary.replace(target)
            except BaseException:
                _restore(target, backup, had_previous)
                raise
            try:
                result = ingestor.ingest_file(InputPath(path=target, doc_id=name))
            except BaseException:
                _restore(target, backup, had_previous)
                raise
        finally:
            temporary.unlink(missing_ok=True)
        if result.status == "failed":
            _restore(target, backup, had_previous)
            return _Staged(target=target, name=name, result=result, backup=None)
        return _Staged(target=target, name=name, result=result, backup=backup if had_previous else None)

    def _roll_back(self, ingestor: Ingestor, store: TenantStore, staged: list[_Staged]) -> None:
        """Undo the files a failed request ingested, newest first: added documents are deleted with
        their file, replaced files are put back and ingested again."""
        for step in reversed(staged):
            try:
                if step.result.status == "added":
                    for document in step.result.documents:
                        store.delete_document(document.doc_id)
                    step.target.unlink(missing_ok=True)
                elif step.result.status == "updated" and step.backup is not None:
                    step.backup.replace(step.target)
                    step.backup = None
                    ingestor.ingest_file(InputPath(path=step.target, doc_id=step.name))
            except Exception:  # noqa: BLE001 - keep undoing the rest; the request already failed
                log.exception("could not roll back the upload of %s", step.name)

    def delete(self, doc_id: str) -> int:
        """Remove a document's chunks (Chroma and BM25), its record and its saved upload; returns the
        chunks removed. Raises DocumentNotFoundError when there is nothing of it."""
        with self._writing(), self._store(check_model=False) as store:
            record = store.get_document(doc_id)
            if record is None and not store.chunk_ids(doc_id):
                raise DocumentNotFoundError(doc_id)
            removed = store.delete_document(doc_id)
            if record is not None and record.source_path:
                still_used = any(r.source_path == record.source_path for r in store.list_documents())
                if not still_used:  # a JSONL upload holds many documents: keep it while one is left
                    self._remove_upload(Path(record.source_path))
        return removed

    def _remove_upload(self, path: Path) -> None:
        """Delete a stored upload, never anything outside the tenant's folder (CLI-ingested files stay)."""
        if path.is_file() and is_inside(path, self.uploads):
            path.unlink(missing_ok=True)

    def reindex(
        self,
        *,
        on_start: Callable[[int | None], None] | None = None,
        on_chunks: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every stored chunk with the configured model; returns the chunks re-embedded.

        `on_start` gets the number of chunks to do (None when the tenant has no chunk collection yet,
        e.g. after an interrupted reindex, which the store then completes).
        """
        with self._writing(), self._store(check_model=False) as store:
            if on_start:  # counted before the new model is set: the old collection still names the old one
                on_start(store.count() if self.tenant in list_tenants(store.client) else None)
            store.embedding_model = identity = model_identity(self.settings.embedding_model)
            done = store.reindex(self.embeddings, progress=on_chunks)
            signature = ingest_signature(self.settings, identity)
            for record in store.list_documents():
                store.put_document(record.model_copy(update={"ingest_signature": signature}))
            store.sync_bm25()
        return done


@dataclass
class _Staged:
    """One file of an upload request, until the request ends: where it went and what it replaced."""

    target: Path
    name: str
    result: FileResult
    backup: Path | None


def _restore(target: Path, backup: Path, had_previous: bool) -> None:
    if had_previous:
        backup.replace(target)
    else:
        target.unlink(missing_ok=True)
