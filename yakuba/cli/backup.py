"""One archive with everything of one tenant or all: documents, vectors, BM25 rows, keys, audit log.

`yakuba backup` / `yakuba restore` go through here, on the SQLite default as on a shared PostgreSQL
(the stores are opened from settings, so both paths run the same code). The archive is a .tar.gz:

    manifest.json                        format, time, tenants, embedding model, tokenizer
    keys.jsonl / audit.jsonl             rows of the chosen tenants (key digests, never secrets)
    tenants/<t>/chunks.jsonl             id, text, metadata, vector: restored without re-embedding
    tenants/<t>/documents.jsonl          the document records
    tenants/<t>/bm25.jsonl               BM25 rows in insertion order (ties rank alike after restore)
    tenants/<t>/uploads/…                the saved upload files

Restoring a tenant replaces it: its chunks, records, BM25 rows and uploads are dropped first; keys
are inserted or replaced by id; audit rows are appended.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from yakuba.api.audit import AuditRow, open_audit_log
from yakuba.api.keys import open_key_store
from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings, validate_tenant
from yakuba.core.types import DocumentRecord
from yakuba.retriever.embeddings import model_identity
from yakuba.retriever.library import uploads_dir
from yakuba.retriever.store import TenantStore, list_tenants, make_client

FORMAT = "yakuba-backup/1"


class BackupError(InvalidInputError, ValueError):
    """An archive that cannot be restored here (another format, another embedding model, no such tenant)."""

    code = "invalid_backup"


class Manifest(BaseModel):
    format: str = FORMAT
    created_at: str
    tenants: list[str]
    embedding_model: str
    counts: dict[str, dict[str, int]]


def _jsonl(items: Iterable[Any]) -> bytes:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _read_jsonl(tar: tarfile.TarFile, name: str) -> list[Any]:
    member = tar.extractfile(name)
    if member is None:
        raise BackupError(f"アーカイブに {name} がありません", f"{name} missing from the archive")
    return [json.loads(line) for line in member.read().decode("utf-8").splitlines() if line]


def create_backup(settings: Settings, output: Path, tenants: Sequence[str] | None = None) -> Manifest:
    """Write the archive of `tenants` (None: every tenant in the store) to `output`."""
    chosen = [validate_tenant(t) for t in tenants] if tenants else list_tenants(make_client(settings))
    keys = [r for r in open_key_store(settings).export_rows() if r["tenant"] in chosen]
    audit = [r.model_dump() for r in open_audit_log(settings).rows() if r.tenant in chosen]
    counts: dict[str, dict[str, int]] = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for tenant in chosen:
            store = TenantStore.open(settings, tenant, check_model=False)
            try:
                chunks = [list(row) for row in store.export_chunks()]
                records = [r.model_dump(mode="json") for r in store.list_documents()]
                _, bm25_rows = store.bm25.rows.read(tokens=True)
            finally:
                store.close()
            _add(tar, f"tenants/{tenant}/chunks.jsonl", _jsonl(chunks))
            _add(tar, f"tenants/{tenant}/documents.jsonl", _jsonl(records))
            _add(tar, f"tenants/{tenant}/bm25.jsonl", _jsonl(list(r) for r in bm25_rows))
            uploads = uploads_dir(settings, tenant)
            files = [p for p in sorted(uploads.rglob("*")) if p.is_file() and ".incoming" not in p.parts]
            for path in files:
                tar.add(path, arcname=f"tenants/{tenant}/uploads/{path.relative_to(uploads).as_posix()}")
            counts[tenant] = {
                "chunks": len(chunks),
                "documents": len(records),
                "bm25": len(bm25_rows),
                "uploads": len(files),
            }
        _add(tar, "keys.jsonl", _jsonl(keys))
        _add(tar, "audit.jsonl", _jsonl(audit))
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tenants=chosen,
            embedding_model=model_identity(settings.embedding_model),
            counts=counts,
        )
        _add(tar, "manifest.json", manifest.model_dump_json(indent=2).encode("utf-8"))
    partial.replace(output)  # a killed backup never leaves a complete-looking archive
    return manifest


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise BackupError("manifest.json がありません", "no manifest.json")
        manifest = Manifest.model_validate_json(member.read())
    if manifest.format != FORMAT:
        raise BackupError(
            f"対応していない形式です: {manifest.format}", f"unsupported format {manifest.format}"
        )
    return manifest


def restore_backup(settings: Settings, archive: Path, tenants: Sequence[str] | None = None) -> Manifest:
    """Restore `tenants` (None: every tenant in the archive) from `archive`, replacing them here."""
    manifest = read_manifest(archive)
    chosen = [validate_tenant(t) for t in tenants] if tenants else manifest.tenants
    missing = sorted(set(chosen) - set(manifest.tenants))
    if missing:
        raise BackupError(
            f"アーカイブにないテナントです: {', '.join(missing)}", f"not in the archive: {missing}"
        )
    current = model_identity(settings.embedding_model)
    if manifest.embedding_model != current:
        raise BackupError(
            f"アーカイブの埋め込みモデル（{manifest.embedding_model}）が現在の設定（{current}）と異なります。"
            "同じモデルを設定してから復元し、必要なら `yakuba reindex` を実行してください",
            f"archive made with {manifest.embedding_model!r}, settings say {current!r}",
        )
    settings.ensure_home()
    with tarfile.open(archive, "r:gz") as tar:
        for tenant in chosen:
            _restore_tenant(settings, tar, tenant)
        keys = [r for r in _read_jsonl(tar, "keys.jsonl") if r["tenant"] in chosen]
        open_key_store(settings).import_rows(keys)
        rows = [AuditRow.model_validate(r) for r in _read_jsonl(tar, "audit.jsonl") if r["tenant"] in chosen]
        open_audit_log(settings).import_rows(rows)
    return manifest


def _restore_tenant(settings: Settings, tar: tarfile.TarFile, tenant: str) -> None:
    base = f"tenants/{tenant}"
    chunks = [(c[0], c[1], c[2], c[3]) for c in _read_jsonl(tar, f"{base}/chunks.jsonl")]
    records = [DocumentRecord.model_validate(r) for r in _read_jsonl(tar, f"{base}/documents.jsonl")]
    bm25_rows = [tuple(r) for r in _read_jsonl(tar, f"{base}/bm25.jsonl")]
    store = TenantStore.open(settings, tenant)
    try:
        store.drop()
        store.import_chunks(chunks)
        for record in records:
            store.put_document(record)
        store.import_bm25_rows(bm25_rows)
    finally:
        store.close()
    uploads = uploads_dir(settings, tenant)
    shutil.rmtree(uploads, ignore_errors=True)
    prefix = f"{base}/uploads/"
    members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.isfile()]
    if members:
        uploads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=uploads.parent) as staging:
            for member in members:
                tar.extract(member, staging, filter="data")  # no absolute paths, links or `..`
            shutil.copytree(Path(staging) / prefix, uploads, dirs_exist_ok=True)
