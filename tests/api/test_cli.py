"""`yakuba keys …` and `yakuba audit export`, and the audit rows the API writes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.support import make_settings
from yakuba.api.app import create_app
from yakuba.api.audit import AuditLog, parse_since
from yakuba.cli.app import app as cli
from yakuba.core.settings import get_settings

runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return runner.invoke(cli, list(args))


def test_keys_create_list_revoke(settings) -> None:  # conftest's isolated YAKUBA_HOME
    created = _run("keys", "create", "--role", "staff", "--tenant", "tobetsu", "--name", "窓口端末")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("ykb_") and " " not in token
    key_id = token.split("_")[1]

    listed = _run("keys", "list", "--json")
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [(r["key_id"], r["role"], r["tenant"], r["name"], r["revoked_at"]) for r in rows] == [
        (key_id, "staff", "tobetsu", "窓口端末", None)
    ]
    assert token not in listed.stdout and token.split("_", 2)[2] not in _run("keys", "list").stdout

    client = TestClient(create_app(get_settings()))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/me", headers=headers).json()["tenant"] == "tobetsu"

    revoked = _run("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and "失効" in revoked.stdout
    assert client.get("/v1/me", headers=headers).status_code == 401
    assert json.loads(_run("keys", "list", "--json").stdout.strip().splitlines()[-1])[0]["revoked_at"]

    unknown = _run("keys", "revoke", "ffffffffffff")
    assert unknown.exit_code == 1 and "見つかりません" in unknown.output
    bad_role = _run("keys", "create", "--role", "mayor", "--tenant", "tobetsu")
    assert bad_role.exit_code == 2 and "不明なロール" in bad_role.output
    bad_tenant = _run("keys", "create", "--role", "pr", "--tenant", "当別町")
    assert bad_tenant.exit_code == 2 and "テナント名" in bad_tenant.output


def test_audit_rows_mask_personal_data(corpus_api) -> None:
    question = "山田太郎（電話 090-1234-5678、taro.yamada@example.jp）ですが、南国市立図書館の位置はどこですか？"
    response = corpus_api.client.post("/v1/chat", headers=corpus_api.headers("pr"), json={"question": question})
    assert response.status_code == 200
    key_id = corpus_api.client.get("/v1/me", headers=corpus_api.headers("pr")).json()["key_id"]
    audit: AuditLog = corpus_api.client.app.state.audit
    row = next(r for r in reversed(audit.rows()) if r.route == "/v1/chat")
    assert row.key_id == key_id and row.tenant == "nankoku" and row.role == "pr"
    assert row.status == 200 and row.latency_ms > 0 and row.method == "POST"
    assert row.pii_masked
    assert "090-1234-5678" not in row.question and "taro.yamada@example.jp" not in row.question
    assert "南国市立図書館の位置" in row.question
    assert row.doc_ids == list(dict.fromkeys(c["doc_id"] for c in response.json()["citations"]))
    raw = corpus_api.settings.audit_path.read_bytes()
    assert b"090-1234-5678" not in raw

    streamed = corpus_api.client.post(
        "/v1/chat", headers=corpus_api.headers(), json={"question": "南国市立図書館の位置は？", "stream": True}
    )
    assert streamed.status_code == 200
    last = audit.rows()[-1]
    assert last.route == "/v1/chat" and last.doc_ids  # the stream's citations reach the audit row

    denied = corpus_api.client.get("/v1/evals/reports", headers=corpus_api.headers("pr"))
    assert denied.status_code == 403
    assert audit.rows()[-1].status == 403 and audit.rows()[-1].key_id == key_id


@pytest.mark.integration
def test_audit_log_can_keep_questions_verbatim(tmp_path) -> None:
    client = TestClient(create_app(make_settings(tmp_path / "home", pii_mask_logs=False)))
    _, token = client.app.state.keys.create("staff", "nankoku")
    client.post("/v1/search", headers={"Authorization": f"Bearer {token}"}, json={"query": "電話 090-1234-5678"})
    row = client.app.state.audit.rows()[-1]
    assert row.question == "電話 090-1234-5678" and not row.pii_masked


def test_audit_export(settings) -> None:
    log = AuditLog(settings.audit_path)
    now = datetime.now(UTC)
    log.record(key_id="aaaaaaaaaaaa", tenant="tobetsu", role="staff", method="POST", route="/v1/chat",
               path="/v1/chat", status=200, latency_ms=12.3, question="古い質問", doc_ids=["old.pdf"],
               at=now - timedelta(days=10))
    log.record(key_id="bbbbbbbbbbbb", tenant="tobetsu", role="pr", method="POST", route="/v1/chat",
               path="/v1/chat", status=200, latency_ms=45.6, question="ごみの日は？ 連絡先 03-1234-5678",
               doc_ids=["gomi.pdf", "calendar/2026.md"], at=now - timedelta(hours=1))
    since = (now - timedelta(days=2)).date().isoformat()

    as_csv = _run("audit", "export", "--since", since)
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["key_id"] for r in rows] == ["bbbbbbbbbbbb"]
    assert rows[0]["doc_ids"] == "gomi.pdf|calendar/2026.md"
    assert "03-1234-5678" not in rows[0]["question"] and rows[0]["question"].startswith("ごみの日は？")

    as_jsonl = _run("audit", "export", "--since", (now - timedelta(days=30)).date().isoformat(), "--format", "jsonl")
    records = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert [r["question"] for r in records][0] == "古い質問" and len(records) == 2
    assert records[1]["doc_ids"] == ["gomi.pdf", "calendar/2026.md"]

    out = settings.home / "audit.csv"
    written = _run("audit", "export", "--since", since, "--output", str(out))
    assert written.exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel needs the BOM for Japanese

    bad = _run("audit", "export", "--since", "先週")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    assert _run("audit", "export", "--since", since, "--format", "xml").exit_code == 2
    assert parse_since("2026-01-31T09:00:00+09:00") == datetime(2026, 1, 31, 0, 0, tzinfo=UTC)
