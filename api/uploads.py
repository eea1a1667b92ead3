"""Uploaded files → `<home>/uploads/<tenant>/<safe name>` → the same ingest pipeline as `yakuba ingest`.

A file that fails to load leaves nothing behind and does not replace an earlier upload of the same
name; writes of one tenant are serialised (one ingest at a time per tenant).
"""

from __future__ import annotations

import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.ingest.pipeline import FileResult, Ingestor, InputPath
from yakuba.retriever.store import TenantStore

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_COPY_BLOCK = 1 << 20


class TenantLocks:
    """One lock per tenant, so two uploads to the same tenant never interleave their writes."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, tenant: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(tenant, threading.Lock())


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
        return f"{stem[: MAX_NAME_CHARS - len(suffix) - 1]}.{suffix.lower()}"
    return cleaned[:MAX_NAME_CHARS]


def is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class UploadIngestor:
    """Saves and ingests one request's files for one tenant."""

    def __init__(self, settings: Settings, tenant: str, locks: TenantLocks, *, doc_type: DocType | None = None):
        self.settings = settings
        self.tenant = tenant
        self.locks = locks
        self.doc_type = doc_type
        self.folder = uploads_dir(settings, tenant)

    def ingest(self, files: Iterable[tuple[str | None, BinaryIO]]) -> list[tuple[str, str, FileResult]]:
        """(client name, stored name, result) per file, in order."""
        from yakuba.retriever.embeddings import embeddings_from_settings

        self.folder.mkdir(parents=True, exist_ok=True)
        incoming = self.folder / ".incoming"
        incoming.mkdir(exist_ok=True)
        results = []
        with self.locks(self.tenant):
            store = TenantStore.open(self.settings, self.tenant)
            try:
                ingestor = Ingestor(self.settings, store, embeddings_from_settings(self.settings),
                                    doc_type=self.doc_type)
                for client_name, stream in files:
                    name = safe_filename(client_name)
                    results.append((client_name or name, name, self._one(ingestor, name, stream, incoming)))
            finally:
                store.close()
        return results

    def _one(self, ingestor: Ingestor, name: str, stream: BinaryIO, incoming: Path) -> FileResult:
        """Write to a temporary name, move into place (keeping any earlier file as a backup), ingest,
        and put the backup back if the new file fails."""
        target = self.folder / name
        temporary = incoming / f"{uuid.uuid4().hex}{Path(name).suffix}"
        backup = incoming / f"{uuid.uuid4().hex}.previous"
        with temporary.open("wb") as out:
            shutil.copyfileobj(stream, out, _COPY_BLOCK)
        had_previous = target.exists()
        if had_previous:
            target.replace(backup)
        temporary.replace(target)
        try:
            result = ingestor.ingest_file(InputPath(path=target, doc_id=name))
        except BaseException:
            self._restore(target, backup, had_previous)
            raise
        if result.status == "failed":
            self._restore(target, backup, had_previous)
        elif had_previous:
            backup.unlink(missing_ok=True)
        return result

    @staticmethod
    def _restore(target: Path, backup: Path, had_previous: bool) -> None:
        if had_previous:
            backup.replace(target)
        else:
            target.unlink(missing_ok=True)


def remove_uploaded_file(settings: Settings, tenant: str, source_path: str | None) -> None:
    """Delete the stored upload behind a document (never anything outside the tenant's folder)."""
    if not source_path:
        return
    path = Path(source_path)
    if path.is_file() and is_inside(path, uploads_dir(settings, tenant)):
        path.unlink(missing_ok=True)
