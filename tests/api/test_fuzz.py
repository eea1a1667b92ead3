"""Schemathesis against a real `yakuba serve` over a small real corpus (extractive engine, no LLM).

Bounded for CI: a fixed number of examples per operation and pass, and a time cap for each run
(about 2.5 minutes for all three on two idle cores). The long measured run is benchmarks/fuzz_api.py.

- with an admin key, every route but transcription: no 5xx, every status and body as documented;
- transcription alone (a real Whisper model, random uploads): the same;
- without a key: 401 everywhere except /healthz and the OpenAPI documents, never a 5xx.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.fuzzing import PUBLIC_ROUTES, TRANSCRIBE, run_schemathesis
from tests.api.support import Server, corpus_home, start_server, stop_server
from yakuba.api.audit import AuditLog
from yakuba.api.keys import KeyStore

pytest.importorskip("schemathesis", reason="schemathesis is in the test extra")
pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzzed") / "home"
    shutil.copytree(corpus_home(tmp_path_factory.getbasetemp()), home)
    running = start_server(home, home.parent / "serve.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def admin(server: Server) -> str:
    token = KeyStore(server.settings.keys_path).create("admin", "nankoku", name="schemathesis")[1]
    # Load the models before the time caps start: the first answer loads the embedding model and the
    # tokenizer, which on a busy machine could take a run's whole budget.
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{server.url}/v1/chat", headers=headers, json={"question": "図書館の位置は？"}, timeout=300)
    assert answer.status_code == 200, answer.text
    return token


def test_admin_run_finds_no_server_error_and_no_schema_violation(server: Server, admin: str, tmp_path: Path) -> None:
    run = run_schemathesis(server.url, tmp_path, token=admin, counter_token=admin, max_examples=8, max_time=60,
                           exclude_paths=[TRANSCRIBE])
    assert run.total_requests >= 100, run.summary()
    assert run.server_errors == 0 and run.failures() == 0, f"{run.summary()}\n{run.output[-6000:]}"
    # The exit code also counts schemathesis's own runtime errors (seen once: a CPython AST error inside
    # hypothesis while describing a strategy); the run must have finished and reported, and found nothing.
    assert run.report.get("test_cases"), run.output[-6000:]
    routes = {route for _, route, _ in run.requests}
    assert {"/v1/chat", "/v1/search", "/v1/documents", "/v1/chat/completions", "/v1/drafts/minutes"} <= routes


def test_transcription_run_finds_no_server_error(server: Server, admin: str, tmp_path: Path) -> None:
    run = run_schemathesis(server.url, tmp_path, token=admin, counter_token=admin, max_examples=15, max_time=25,
                           include_paths=[TRANSCRIBE], workers=1)
    assert sum(n for (_, route, _), n in run.requests.items() if route == TRANSCRIBE) >= 15, run.summary()
    assert run.server_errors == 0 and run.failures() == 0, f"{run.summary()}\n{run.output[-6000:]}"


def test_without_a_key_everything_but_health_and_docs_is_401(server: Server, admin: str, tmp_path: Path) -> None:
    audit = AuditLog(server.settings.audit_path)
    rows_before = len(audit.rows())
    run = run_schemathesis(server.url, tmp_path, token=None, counter_token=admin, max_examples=5, max_time=20)
    assert run.server_errors == 0 and run.failures() == 0, f"{run.summary()}\n{run.output[-6000:]}"
    # Requests the gate refused never reach a route ("(unmatched)"); the audit log names their paths.
    unexpected = {
        key: n for key, n in run.requests.items() if key[2] != 401 and key[1] not in PUBLIC_ROUTES | {"(unmatched)"}
    }
    assert not unexpected, run.summary()
    rows = audit.rows()[rows_before:]  # every /v1 request
    # OPTIONS stays open, as a CORS preflight must (browsers send it without credentials): 204 + Allow.
    assert {r.status for r in rows if r.method == "OPTIONS"} <= {204}
    rows = [r for r in rows if r.method != "OPTIONS"]
    assert len(rows) >= 30 and {r.status for r in rows} == {401} and {r.key_id for r in rows} == {None}
    assert len({r.path.split("/")[2] for r in rows}) >= 5  # chat, search, documents, drafts, surveys, …
