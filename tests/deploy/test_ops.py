"""/readyz beside /healthz, request ids on every response and log line, JSON logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yakuba.api.app import create_app
from yakuba.api.logs import REQUEST_ID_HEADER, JsonFormatter, RequestIdFilter, configure_logging
from yakuba.api.routes.system import _database_health
from yakuba.core.settings import Settings

pytestmark = pytest.mark.integration


def test_readyz_on_the_sqlite_default(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True, "backend": "sqlite"}
    assert body["checks"]["store"]["ok"] and body["checks"]["models"]["embedding_model_ok"]


def test_readyz_on_postgres_and_a_database_that_is_down(settings: Settings, database_url: str) -> None:
    shared = settings.model_copy(update={"database_url": database_url})
    with TestClient(create_app(shared)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == {
        "ok": True,
        "backend": "postgresql",
    }
    down = settings.model_copy(update={"database_url": "postgresql+psycopg://yakuba@127.0.0.1:1/none"})
    checked = _database_health(down)
    assert checked["ok"] is False and checked["error"]


def test_readyz_is_503_when_the_model_is_missing(settings: Settings, tmp_path: Path) -> None:
    broken = settings.model_copy(update={"embedding_model": str(tmp_path / "no-such-model")})
    with TestClient(create_app(broken)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["models"]["ok"] is False


def test_request_ids_are_echoed_and_logged_as_json(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO, logger="yakuba.access"):
        given = client.get("/healthz", headers={REQUEST_ID_HEADER: "proxy-42"})
        made = client.get("/healthz")
        odd = client.get("/healthz", headers={REQUEST_ID_HEADER: "bad id\nwith newline"})
    assert given.headers[REQUEST_ID_HEADER] == "proxy-42"
    assert len(made.headers[REQUEST_ID_HEADER]) == 32
    assert odd.headers[REQUEST_ID_HEADER] != "bad id\nwith newline"  # never copied into logs
    records = [r for r in caplog.records if r.name == "yakuba.access"]
    tagged = RequestIdFilter()
    lines = []
    for record in records:
        tagged.filter(record)
        lines.append(json.loads(JsonFormatter().format(record)))
    assert [line["request_id"] for line in lines][:1] == ["proxy-42"]
    assert lines[1]["request_id"] == made.headers[REQUEST_ID_HEADER]
    assert lines[0]["path"] == "/healthz" and lines[0]["status"] in (200, 503)
    assert isinstance(lines[0]["latency_ms"], float) and lines[0]["logger"] == "yakuba.access"


def test_configure_logging_writes_json_lines(settings: Settings) -> None:
    settings = settings.model_copy(update={"log_format": "json"})
    settings.ensure_home()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(settings)
        logging.getLogger("yakuba.test").warning("見出し %s", "テスト", extra={"tenant": "nankoku"})
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved[0], saved[1]
    line = (settings.log_path / "api.log").read_text(encoding="utf-8").strip().splitlines()[-1]
    entry = json.loads(line)
    assert (
        entry["message"] == "見出し テスト" and entry["tenant"] == "nankoku" and entry["level"] == "WARNING"
    )
    assert "request_id" in entry
