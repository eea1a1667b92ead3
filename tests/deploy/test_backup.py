"""`yakuba backup` → wipe → `yakuba restore` gives the same documents, search results and keys,
on the SQLite default (embedded Chroma) and on PostgreSQL with a Chroma server."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import DATA
from yakuba.api.audit import open_audit_log
from yakuba.api.keys import open_key_store
from yakuba.cli.backup import BackupError, create_backup, read_manifest, restore_backup
from yakuba.core.settings import Settings, get_settings
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings
from yakuba.retriever.library import DocumentLibrary
from yakuba.retriever.search import HybridSearcher
from yakuba.retriever.store import TenantStore

pytestmark = pytest.mark.integration

QUERIES = ["自治体DXの推進", "行政手続のオンライン化", "情報システムの標準化"]


def _fill(settings: Settings, embeddings: SentenceTransformerEmbeddings) -> None:
    for tenant, files in {"alpha": ["soumu_dx_excerpt.md"], "beta": ["soumu_dx_excerpt.md"]}.items():
        library = DocumentLibrary(settings, tenant, embeddings=embeddings)
        with (DATA / files[0]).open("rb") as stream:
            outcome = library.add_uploads([(files[0], stream)])
        assert outcome[0].result.status == "added"
    keys = open_key_store(settings)
    keys.create("admin", "alpha", name="管理者")
    keys.revoke(keys.create("staff", "alpha", name="失効済み")[0].key_id)
    keys.create("staff", "beta")
    open_audit_log(settings).record(
        key_id=None,
        tenant="alpha",
        role="staff",
        method="POST",
        route="/v1/search",
        path="/v1/search",
        status=200,
        latency_ms=3.0,
        question="DXとは",
    )


def _observe(settings: Settings, embeddings: SentenceTransformerEmbeddings, tenant: str) -> dict[str, object]:
    docs = [r.model_dump(exclude={"source_path"}) for r in DocumentLibrary(settings, tenant).list()]
    store = TenantStore.open(settings, tenant)
    try:
        searcher = HybridSearcher(store, embeddings)
        found = {
            (query, mode): [
                (p.chunk_id, round(p.score, 6)) for p in searcher.search(query, k=5, mode=mode).passages
            ]
            for query in QUERIES
            for mode in ("bm25", "dense", "hybrid")
        }
    finally:
        store.close()
    keys = [
        k.model_dump(exclude={"last_used_at"}) for k in open_key_store(settings).list() if k.tenant == tenant
    ]
    audit = [(r.tenant, r.route, r.question) for r in open_audit_log(settings).rows() if r.tenant == tenant]
    return {"docs": docs, "search": found, "keys": keys, "audit": audit}


def _round_trip(settings: Settings, embeddings: SentenceTransformerEmbeddings, wipe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _fill(settings, embeddings)
    before = {t: _observe(settings, embeddings, t) for t in ("alpha", "beta")}
    assert before["alpha"]["docs"] and all(before["alpha"]["search"].values())
    archive = tmp_path / "backup.tar.gz"
    manifest = create_backup(settings, archive)
    assert manifest.tenants == ["alpha", "beta"] and manifest.counts["alpha"]["uploads"] == 1
    wipe()
    assert DocumentLibrary(settings, "alpha").list() == []
    restore_backup(settings, archive)
    after = {t: _observe(settings, embeddings, t) for t in ("alpha", "beta")}
    assert after == before
    assert (settings.home / "uploads" / "alpha" / "soumu_dx_excerpt.md").is_file()
    # one tenant alone: beta is replaced from the archive, alpha is left as it is
    restore_backup(settings, archive, ["beta"])
    assert _observe(settings, embeddings, "beta")["docs"] == before["beta"]["docs"]


def test_round_trip_on_the_sqlite_default(settings: Settings, embeddings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def wipe() -> None:
        shutil.rmtree(settings.home)
        from yakuba.retriever import store as store_module

        store_module._EMBEDDED._clients.pop(str(settings.chroma_path), None)  # the folder is gone
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(settings.chroma_path), None)

    _round_trip(settings, embeddings, wipe, tmp_path)


def test_round_trip_on_postgres_and_a_chroma_server(  # type: ignore[no-untyped-def]
    settings: Settings, embeddings, tmp_path: Path, pg_cluster, chroma_url: str
) -> None:
    shared = settings.model_copy(
        update={"database_url": pg_cluster.create_database(), "chroma_url": chroma_url}
    )
    for tenant in ("alpha", "beta"):  # the Chroma server lives for the session: start from nothing
        TenantStore.open(shared, tenant, check_model=False).drop()

    def wipe() -> None:
        for tenant in ("alpha", "beta"):
            TenantStore.open(shared, tenant, check_model=False).drop()
        from sqlalchemy import text

        from yakuba.core.db import engine_for

        with engine_for(shared.database_url).begin() as conn:  # type: ignore[arg-type]
            conn.execute(text("TRUNCATE api_keys, audit, bm25_chunks, bm25_tenants"))
        shutil.rmtree(shared.home)

    _round_trip(shared, embeddings, wipe, tmp_path)


def test_an_archive_of_another_model_or_tenant_is_refused(settings: Settings, tmp_path: Path) -> None:
    archive = tmp_path / "empty.tar.gz"
    create_backup(settings, archive, ["alpha"])
    assert read_manifest(archive).counts == {"alpha": {"chunks": 0, "documents": 0, "bm25": 0, "uploads": 0}}
    with pytest.raises(BackupError, match="テナント"):
        restore_backup(settings, archive, ["gamma"])
    with pytest.raises(BackupError, match="埋め込みモデル"):
        restore_backup(settings.model_copy(update={"embedding_model": "multilingual-e5-small"}), archive)
    with tarfile.open(archive, "r:gz") as tar:
        assert {"manifest.json", "keys.jsonl", "audit.jsonl"} <= set(tar.getnames())


def test_backup_and_restore_commands(settings: Settings, tmp_path: Path) -> None:
    from yakuba.cli.app import app

    get_settings.cache_clear()
    open_key_store(settings).create("admin", "alpha")
    runner = CliRunner()
    archive = tmp_path / "out" / "all.tar.gz"
    made = runner.invoke(app, ["backup", str(archive), "--tenant", "alpha"])
    assert made.exit_code == 0, made.output
    open_key_store(settings)  # keys survive a wipe of the key file through the restore
    (settings.keys_path).unlink()
    restored = runner.invoke(app, ["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert [k.tenant for k in open_key_store(settings).list()] == ["alpha"]
    missing = runner.invoke(app, ["restore", str(tmp_path / "nope.tar.gz")])
    assert missing.exit_code == 2
