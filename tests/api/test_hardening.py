"""Issue #18's reproductions through the real app: each was a 500 (or a wrong answer) and must now be a
clear 4xx in the API's error shape, leave an audit row, and leave stored data as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.support import TENANT, make_settings
from yakuba.api.app import create_app
from yakuba.api.audit import AuditLog
from yakuba.ingest.pipeline import Ingestor

PLAN = "# 防災計画\n本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n"
NOTICE = "# お知らせ\n図書館は月曜日を休館日とし、祝日の場合は翌日を休館日とします。\n"


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "detail"} <= set(body["error"]), body
    return body["error"]


# --- 1. minutes from a transcript that is not VTT/SRT --------------------------------------------


@pytest.mark.parametrize("source_format", ["vtt", "srt"])
def test_minutes_from_a_transcript_without_cues_is_a_400_with_the_transcript_message(
    corpus_api, source_format: str
) -> None:
    response = corpus_api.client.post(
        "/v1/drafts/minutes", headers=corpus_api.headers(), json={"transcript": "a", "source_format": source_format}
    )
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == "bad_transcript" and source_format.upper() in error["message"]


# --- 2. upload file names over 255 bytes: rejected whole, nothing stored -------------------------


def test_a_file_name_over_255_bytes_fails_the_request_before_anything_is_stored(fresh_api) -> None:
    env = fresh_api
    long_name = "あ" * 90 + ".md"  # 90 characters, 273 bytes
    files = [
        ("files", ("防災計画.md", PLAN.encode(), "text/markdown")),
        ("files", (long_name, NOTICE.encode(), "text/markdown")),
    ]
    response = env.client.post("/v1/documents", headers=env.headers(), files=files)
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["code"] == "filename_too_long" and "バイト" in error["message"]
    assert error["detail"]["bytes"] == 273 and error["detail"]["max_bytes"] == 255
    listed = env.client.get("/v1/documents", headers=env.headers()).json()["documents"]
    assert listed == []  # the valid file of the same request was not ingested either
    uploads = env.settings.home / "uploads" / TENANT
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_a_name_of_exactly_255_bytes_is_stored_under_a_name_the_file_system_takes(fresh_api) -> None:
    env = fresh_api
    name = "あ" * 84 + ".md"  # 252 + 3 bytes; NFKC keeps it, the stored name must stay within 255 bytes
    response = env.client.post("/v1/documents", headers=env.headers(), files=[("files", (name, PLAN.encode(), "text/markdown"))])
    assert response.status_code == 200, response.text
    saved = response.json()["results"][0]["saved_as"]
    assert len(saved.encode("utf-8")) <= 255 and (env.settings.home / "uploads" / TENANT / saved).is_file()


@pytest.mark.parametrize("name", ["㍻" * 84 + ".md", "あ" * 300 + ".pdf", "あ" * 300, "x" * 400 + ".日本語拡張子"])
def test_stored_names_fit_one_file_system_name_even_after_nfkc(name: str) -> None:
    from yakuba.retriever.library import safe_filename

    stored = safe_filename(name)
    assert 0 < len(stored.encode("utf-8")) <= 255
    assert stored.encode("utf-8").decode("utf-8") == stored  # never cut inside a character


def test_a_request_that_fails_midway_takes_back_what_it_ingested(fresh_api, monkeypatch: pytest.MonkeyPatch) -> None:
    """All or nothing for a request that fails. No input can make the second file fail now that
    names are checked first, so the ingest of that one file is made to raise (a test double for an
    internal fault such as a full disk); everything else is the real app, store and files."""
    env = fresh_api
    first = env.client.post("/v1/documents", headers=env.headers(), files=[("files", ("お知らせ.md", NOTICE.encode(), "text/markdown"))])
    assert first.status_code == 200 and first.json()["succeeded"] == 1
    real_ingest = Ingestor.ingest_file

    def failing_ingest(self, item):  # type: ignore[no-untyped-def]
        if item.doc_id == "壊れる.md":
            raise OSError(28, "No space left on device")
        return real_ingest(self, item)

    monkeypatch.setattr(Ingestor, "ingest_file", failing_ingest)
    changed = "# お知らせ\n図書館は火曜日を休館日とします。\n"
    files = [
        ("files", ("防災計画.md", PLAN.encode(), "text/markdown")),  # new: must be removed again
        ("files", ("お知らせ.md", changed.encode(), "text/markdown")),  # replaces: must be restored
        ("files", ("壊れる.md", b"# x\n", "text/markdown")),
    ]
    response = env.client.post("/v1/documents", headers=env.headers(), files=files)
    assert response.status_code == 500 and _error(response)["code"] == "internal_error"
    monkeypatch.setattr(Ingestor, "ingest_file", real_ingest)
    listed = {d["doc_id"] for d in env.client.get("/v1/documents", headers=env.headers()).json()["documents"]}
    assert listed == {"お知らせ.md"}
    uploads = env.settings.home / "uploads" / TENANT
    assert (uploads / "お知らせ.md").read_text(encoding="utf-8") == NOTICE
    assert sorted(p.name for p in uploads.iterdir() if p.is_file()) == ["お知らせ.md"]
    assert [p for p in (uploads / ".incoming").iterdir()] == []  # no orphan temporary or backup
    found = env.client.post("/v1/search", headers=env.headers(), json={"query": "休館日", "k": 3}).json()
    assert any("月曜日" in p["text"] for p in found["passages"])
    assert not any("火曜日" in p["text"] for p in found["passages"])


# --- 3. history messages are bounded --------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/chat", "/v1/chat/completions"])
def test_a_17000_character_history_message_is_a_422_not_a_500(corpus_api, route: str) -> None:
    long = "あ" * 17_000
    if route == "/v1/chat":
        body = {"question": "図書館の位置は？", "history": [{"role": "user", "content": long}]}
    else:
        body = {"messages": [{"role": "user", "content": long}, {"role": "assistant", "content": "はい"},
                             {"role": "user", "content": "図書館の位置は？"}]}
    response = corpus_api.client.post(route, headers=corpus_api.headers(), json=body)
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "validation_error"


def test_too_many_history_messages_are_a_422(corpus_api) -> None:
    history = [{"role": "user", "content": "こんにちは"}] * 41
    response = corpus_api.client.post("/v1/chat", headers=corpus_api.headers(),
                                      json={"question": "図書館は？", "history": history})
    assert response.status_code == 422 and "history" in _error(response)["message"]


# --- 4. and 10. filters: years in range, strict types -------------------------------------------


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"years": [2147483648]}, "filters.years.0"),
        ({"years": [False]}, "filters.years.0"),
        ({"years": ["2024"]}, "filters.years.0"),
        ({"years": [0]}, "filters.years.0"),
        ({"years": list(range(1900, 2020))}, "filters.years"),
        ({"doc_types": 5}, "filters.doc_types"),
        ({"speaker": "あ" * 400}, "filters.speaker"),
    ],
)
def test_filters_out_of_range_or_of_the_wrong_type_are_a_422(corpus_api, filters: dict, field: str) -> None:
    for route, body in (("/v1/search", {"query": "図書館"}), ("/v1/chat", {"question": "図書館の位置は？"})):
        response = corpus_api.client.post(route, headers=corpus_api.headers(), json={**body, "filters": filters})
        assert response.status_code == 422, (route, response.text)
        assert field in _error(response)["message"]


@pytest.mark.parametrize(("field", "value"), [("stream", 0), ("stream", "true"), ("k", True), ("k", 2.5)])
def test_booleans_and_integers_are_strict(corpus_api, field: str, value: object) -> None:
    response = corpus_api.client.post("/v1/chat", headers=corpus_api.headers(),
                                      json={"question": "図書館の位置は？", field: value})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/drafts/minutes", {"transcript": "議長：開会します。", "include_timestamps": 0}),
        ("/v1/drafts/minutes", {"transcript": "議長：開会します。", "summary_chars": True}),
        ("/v1/drafts/minutes", {"transcript": "議長：開会します。", "attendees": ["あ"] * 201}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "図書館は？"}], "stream": 1}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "図書館は？"}] * 101}),
        ("/v1/chat", {"question": "図書館は？", "engine": "openai"}),
    ],
)
def test_other_bodies_are_bounded_and_strict_too(corpus_api, route: str, body: dict) -> None:
    response = corpus_api.client.post(route, headers=corpus_api.headers(), json=body)
    assert response.status_code == 422, response.text
    _error(response)


def test_a_valid_year_filter_still_searches(corpus_api) -> None:
    response = corpus_api.client.post("/v1/search", headers=corpus_api.headers(),
                                      json={"query": "図書館", "filters": {"years": [9999]}})
    assert response.status_code == 200 and response.json()["passages"] == []


def test_the_bm25_filter_survives_a_year_its_column_cannot_hold() -> None:
    """Defence in depth under the schema (which stops such years first): the year column is int32,
    and a year it cannot hold matches no chunk instead of raising OverflowError."""
    import numpy as np

    from yakuba.retriever.bm25 import _Built
    from yakuba.retriever.filters import SearchFilters

    columns = _Built.__new__(_Built)
    object.__setattr__(columns, "ids", ["a", "b", "c"])
    object.__setattr__(columns, "year", np.asarray([2022, 2023, -1], dtype=np.int32))
    filters = SearchFilters.model_construct(years=[2_147_483_648, 2022])  # bypasses validation on purpose
    assert columns.mask(filters).tolist() == [True, False, False]


# --- 5. lone surrogates: a 422, and an audit row ---------------------------------------------------


@pytest.mark.parametrize("body", [b'{"question": "\\ud800abc"}', b'{"question": "\xed\xa0\x80abc"}'])
def test_a_lone_surrogate_question_is_a_422_and_leaves_an_audit_row(fresh_api, body: bytes) -> None:
    """As a JSON escape, or as raw bytes (json.loads decodes them with "surrogatepass")."""
    env = fresh_api
    response = env.client.post("/v1/chat", headers={**env.headers(), "Content-Type": "application/json"}, content=body)
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "invalid_text"
    rows = AuditLog(env.settings.audit_path).rows()
    assert rows[-1].route == "/v1/chat" and rows[-1].status == 422 and rows[-1].key_id is not None


def test_the_audit_log_stores_unencodable_text_escaped(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite", mask_questions=False)
    audit.record(key_id="k", tenant="t", role="staff", method="POST", route="/v1/chat", path="/v1/chat\udcff",
                 status=200, latency_ms=1.0, question="\ud800abc", doc_ids=["a\udfffb"])
    row = audit.rows()[-1]
    assert row.question == "\\ud800abc" and row.path == "/v1/chat\\udcff" and row.doc_ids == ["a\\udfffb"]


# --- 8. every unexpected exception becomes the JSON 500, and the connection stays usable ----------


@pytest.fixture
def raising_app(tmp_path: Path) -> TestClient:
    app = create_app(make_settings(tmp_path / "home"))

    @app.get("/v1/test-raise")
    def boom() -> None:  # a route of the real app, so every real middleware and handler is in the way
        raise RuntimeError("forced failure")

    _, token = app.state.keys.create("staff", TENANT)
    client = TestClient(app, raise_server_exceptions=True)  # an exception reaching the server would raise here
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_an_unexpected_exception_is_the_json_500_and_never_reaches_the_server(raising_app: TestClient) -> None:
    with raising_app as client:
        for _ in range(3):  # the same client (connection) keeps working
            response = client.get("/v1/test-raise")
            assert response.status_code == 500
            assert _error(response)["code"] == "internal_error" and " / " in _error(response)["message"]
            assert client.get("/v1/me").status_code == 200
        rows = AuditLog(client.app.state.settings.audit_path).rows()  # type: ignore[attr-defined]
    assert [r.status for r in rows if r.path == "/v1/test-raise"] == [500, 500, 500]


def test_a_failure_after_a_stream_started_ends_the_stream_cleanly(tmp_path: Path) -> None:
    from fastapi.responses import StreamingResponse

    app = create_app(make_settings(tmp_path / "home"))

    @app.get("/v1/test-stream")
    def stream() -> StreamingResponse:
        def events():  # type: ignore[no-untyped-def]
            yield "data: 1\n\n"
            raise RuntimeError("forced failure mid-stream")

        return StreamingResponse(events(), media_type="text/event-stream")

    _, token = app.state.keys.create("staff", TENANT)
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/v1/test-stream", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.text == "data: 1\n\n"
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# --- 9. the key is checked before the body -------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "kwargs"),
    [
        ("/v1/chat", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("/v1/chat", {"json": {"question": 5}}),
        ("/v1/search", {"json": {}}),
        ("/v1/documents", {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}),
        ("/v1/drafts/export", {"json": {"markdown": ""}}),
    ],
)
def test_no_key_and_a_bad_body_is_a_401(corpus_api, route: str, kwargs: dict) -> None:
    response = corpus_api.client.post(route, **kwargs)
    assert response.status_code == 401, response.text
    assert _error(response)["code"] == "unauthorized" and response.headers["WWW-Authenticate"] == "Bearer"
    bad_key = corpus_api.client.post(route, **{**kwargs, "headers": {**kwargs.get("headers", {}),
                                                                     "Authorization": "Bearer ykb_nope_nope"}})
    assert bad_key.status_code == 401 and _error(bad_key)["code"] == "invalid_api_key"


def test_health_and_docs_need_no_key(corpus_api) -> None:
    assert corpus_api.client.get("/openapi.json").status_code == 200
    assert corpus_api.client.get("/healthz").status_code in (200, 503)


# --- 10. OpenAPI documents what routes return; OPTIONS and 405 name every method -----------------


def test_openapi_documents_400_401_403_413_422_on_routes_with_a_body(corpus_api) -> None:
    paths = corpus_api.client.get("/openapi.json").json()["paths"]
    body_routes = [("/v1/chat", "post"), ("/v1/chat/completions", "post"), ("/v1/search", "post"),
                   ("/v1/documents", "post"), ("/v1/drafts/minutes", "post"), ("/v1/drafts/export", "post"),
                   ("/v1/surveys/analyze", "post"), ("/v1/transcribe", "post")]
    for path, method in body_routes:
        documented = set(paths[path][method]["responses"])
        assert {"400", "401", "403", "413", "422"} <= documented, (path, documented)
    for path, operations in paths.items():
        if path not in {"/healthz", "/readyz"}:  # the probes a load balancer calls without a key
            for method, operation in operations.items():
                assert "401" in operation["responses"], (path, method)


def test_openapi_booleans_and_years_are_strict_types(corpus_api) -> None:
    schema = corpus_api.client.get("/openapi.json").json()["components"]["schemas"]
    years = schema["SearchFilters"]["properties"]["years"]["anyOf"][0]
    assert years["items"] == {"type": "integer", "minimum": 1, "maximum": 9999}
    assert schema["ChatRequest"]["properties"]["stream"]["type"] == "boolean"


def test_options_lists_every_method_of_a_path(corpus_api) -> None:
    response = corpus_api.client.options("/v1/documents")
    assert response.status_code == 204
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    one = corpus_api.client.options("/v1/documents/some-id.pdf")
    assert set(one.headers["Allow"].split(", ")) == {"DELETE", "OPTIONS"}
    wrong = corpus_api.client.put("/v1/documents", headers=corpus_api.headers("admin"))
    assert wrong.status_code == 405 and {"GET", "POST"} <= set(wrong.headers["Allow"].split(", "))
    assert corpus_api.client.options("/v1/no-such-route").status_code in (401, 404)


def test_export_drops_characters_word_cannot_hold(corpus_api) -> None:
    response = corpus_api.client.post("/v1/drafts/export", headers=corpus_api.headers(),
                                      json={"markdown": "# 題\x00名\n本文\x0bです。\ufffe", "title": "t\x01"})
    assert response.status_code == 200 and response.content[:2] == b"PK"


def test_a_deeply_nested_body_is_a_4xx(corpus_api) -> None:
    body = b'{"question": "a", "filters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = corpus_api.client.post("/v1/chat", headers={**corpus_api.headers(), "Content-Type": "application/json"},
                                      content=body)
    assert response.status_code in (400, 422), response.text
    _error(response)


@pytest.mark.parametrize("title", [None, "題" * 200])
def test_export_with_a_heading_longer_than_a_document_property_is_a_docx(corpus_api, title: str | None) -> None:
    """Found by the long schemathesis run: a `# heading` over 255 characters became the .docx title
    property, which python-docx refuses (a 500)."""
    response = corpus_api.client.post("/v1/drafts/export", headers=corpus_api.headers(),
                                      json={"markdown": "# " + "見出し" * 120 + "\n本文です。", "title": title})
    assert response.status_code == 200 and response.content[:2] == b"PK"


def test_invalid_utf8_json_is_a_4xx(corpus_api) -> None:
    response = corpus_api.client.post("/v1/search", headers={**corpus_api.headers(), "Content-Type": "application/json"},
                                      content=b'{"query": "\xf6\xff"}')
    assert response.status_code in (400, 422), response.text
    _error(response)
    assert json.loads(response.text)
