"""ui/client.py against the real FastAPI app (Starlette's TestClient): routes, shapes, Japanese errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import extractive_home, free_port
from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.ui.client import (
    DOC_TYPES,
    ApiError,
    ChatFilters,
    YakubaClient,
    error_from_response,
    iter_sse_data,
    japanese_part,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SHUWA_PDF = DATA / "nankoku-gian18-shuwa-jourei.pdf"

# The client passes long timeouts for chat/upload; Starlette's TestClient ignores them and says so.
pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with extractive_home(tmp_path_factory, "ui-client") as path:
        yield path


@pytest.fixture(scope="module")
def app(home: Path):  # type: ignore[no-untyped-def]
    from yakuba.api.app import create_app

    return create_app(Settings())


@pytest.fixture(scope="module")
def http(app) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield client


def _key(app, role: str, tenant: str = "uitest") -> str:  # type: ignore[no-untyped-def]
    return app.state.keys.create(role=role, tenant=tenant, name=f"ui-test-{role}")[1]


@pytest.fixture(scope="module")
def admin(app, http: httpx.Client) -> YakubaClient:  # type: ignore[no-untyped-def]
    return YakubaClient("http://testserver", _key(app, "admin"), http=http)


@pytest.fixture(scope="module")
def shuwa_doc(admin: YakubaClient) -> str:
    """The 手話言語条例 PDF uploaded through the client, as staff do; its document id."""
    [result] = admin.upload_documents([(SHUWA_PDF.name, SHUWA_PDF.read_bytes())])
    assert result.ok, result.message
    assert result.status == "added"
    [document] = result.documents
    assert document.chunks > 0
    return document.doc_id


def test_me_reports_role_and_tenant(admin: YakubaClient) -> None:
    me = admin.me()
    assert (me.role, me.tenant) == ("admin", "uitest")
    assert "evals" in me.permissions


def test_wrong_key_is_a_japanese_401(http: httpx.Client) -> None:
    client = YakubaClient("http://testserver", "ykb_000000000000_not-a-real-secret", http=http)
    with pytest.raises(ApiError) as caught:
        client.me()
    assert caught.value.status == 401
    assert caught.value.code == "invalid_api_key"
    assert "APIキーが正しくありません" in caught.value.message


def test_missing_key_is_a_401(http: httpx.Client) -> None:
    with pytest.raises(ApiError) as caught:
        YakubaClient("http://testserver", None, http=http).list_documents()
    assert caught.value.status == 401


def test_role_without_permission_gets_a_japanese_403(app, http: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    evaluator = YakubaClient("http://testserver", _key(app, "evaluator"), http=http)
    with pytest.raises(ApiError) as caught:
        evaluator.upload_documents([("memo.txt", "市役所の開庁時間は午前8時30分からです。".encode())])
    assert caught.value.status == 403
    assert "権限" in caught.value.message
    assert "/ role" not in caught.value.message  # the English half is for programs, not for staff
    staff = YakubaClient("http://testserver", _key(app, "staff"), http=http)
    with pytest.raises(ApiError) as caught:
        staff.list_reports()
    assert caught.value.status == 403


def test_api_down_is_a_plain_japanese_message() -> None:
    port = free_port()  # nothing listens there
    with YakubaClient(f"http://127.0.0.1:{port}", "any-key") as client, pytest.raises(ApiError) as caught:
        client.me()
    assert caught.value.code == "api_unreachable"
    assert "接続できません" in caught.value.message
    assert f"127.0.0.1:{port}" in caught.value.message


def test_upload_reports_each_file_and_bad_files_in_japanese(admin: YakubaClient, shuwa_doc: str) -> None:
    results = admin.upload_documents(
        [("zero-bytes.pdf", (DATA / "zero-bytes.pdf").read_bytes()), ("notes.txt", "手話は言語である。".encode())]
    )
    by_name = {r.filename: r for r in results}
    bad = by_name["zero-bytes.pdf"]
    assert not bad.ok and bad.status == "failed"
    assert bad.message and not bad.message.isascii()
    assert by_name["notes.txt"].ok
    listed = {d.doc_id: d for d in admin.list_documents()}
    assert shuwa_doc in listed
    assert listed[shuwa_doc].pages == 2 and listed[shuwa_doc].chunks > 0


def test_streamed_answer_cites_the_uploaded_document(admin: YakubaClient, shuwa_doc: str) -> None:
    events = list(admin.chat_stream("南国市手話言語条例の目的は何ですか？"))
    kinds = [e.type for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "answer", kinds
    answer = events[-1].answer
    assert answer is not None and not answer.abstained
    assert shuwa_doc in {c.doc_id for c in answer.citations}
    streamed = "".join(e.text or "" for e in events if e.type == "token")
    assert streamed.strip(), "tokens are streamed before the final answer"


def test_plain_answer_and_filters(admin: YakubaClient, shuwa_doc: str) -> None:
    answer = admin.chat("南国市手話言語条例の目的は何ですか？", filters=ChatFilters(doc_types=["その他", "計画"]))
    assert all(c.doc_type in (None, "その他", "計画") for c in answer.citations)
    follow_up = admin.chat(
        "手話の普及のために市は何をしますか？",
        history=[],
        filters=ChatFilters(speaker=None, date_from=None),
    )
    assert follow_up.answer


def test_the_ui_offers_exactly_the_doc_types_the_api_accepts(admin: YakubaClient, shuwa_doc: str) -> None:
    assert tuple(t.value for t in DocType) == DOC_TYPES
    for doc_type in DOC_TYPES:  # each one is a valid filter (an unknown one is a 422, below)
        admin.search("手話言語条例", k=3, filters=ChatFilters(doc_types=[doc_type]))


def test_invalid_filter_is_a_japanese_validation_error(admin: YakubaClient) -> None:
    with pytest.raises(ApiError) as caught:
        admin.chat("質問", filters=ChatFilters(doc_types=["存在しない種別"]))
    assert caught.value.status == 422
    assert "正しくありません" in caught.value.message


def test_export_docx_returns_a_word_file(admin: YakubaClient) -> None:
    data = admin.export_docx("# 議事録\n\n## 決定事項\n\n- 予算案を承認した。\n", title="第1回 会議")
    assert data[:2] == b"PK"  # a .docx is a zip
    assert len(data) > 1000


def test_delete_removes_the_document(admin: YakubaClient) -> None:
    [result] = admin.upload_documents([("delete-me.md", "# 削除テスト\n\n窓口は午前8時30分に開きます。\n".encode())])
    doc_id = result.documents[0].doc_id
    assert doc_id in {d.doc_id for d in admin.list_documents()}
    admin.delete_document(doc_id)
    assert doc_id not in {d.doc_id for d in admin.list_documents()}
    with pytest.raises(ApiError) as caught:
        admin.delete_document(doc_id)
    assert caught.value.status == 404


def test_reports_list_is_empty_then_readable(admin: YakubaClient, home: Path) -> None:
    assert admin.list_reports() == []
    folder = home / "reports" / "smoke"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text('{"kind": "answers", "aggregate": {"char_f1": 0.5}}', encoding="utf-8")
    [info] = admin.list_reports()
    assert info.name == "smoke" and "report.json" in info.files
    assert admin.get_report("smoke")["report"]["aggregate"] == {"char_f1": 0.5}
    assert admin.report_file("smoke", "report.json").startswith(b"{")


def test_too_large_upload_is_a_japanese_413(home: Path) -> None:
    from fastapi.testclient import TestClient

    from yakuba.api.app import create_app

    small = create_app(Settings(max_upload_mb=0.01))
    with TestClient(small) as http:
        client = YakubaClient("http://testserver", _key(small, "staff"), http=http, max_upload_mb=0.01)
        with pytest.raises(ApiError) as caught:
            client.upload_documents([("big.txt", ("あ" * 20_000).encode())])
    assert caught.value.status == 413
    assert "大きすぎ" in caught.value.message


def test_sse_parsing_follows_the_spec() -> None:
    lines = [": keep-alive", "data: {\"a\": 1}", "", "data: line one", "data: line two", "", "event: x", "data:[DONE]", ""]
    assert list(iter_sse_data(iter(lines))) == ['{"a": 1}', "line one\nline two", "[DONE]"]


@pytest.mark.parametrize(
    ("status", "body", "code", "needle"),
    [
        (401, {"error": {"code": "invalid_api_key", "message": "無効 / invalid"}}, "invalid_api_key", "APIキー"),
        (413, {"error": {"code": "payload_too_large", "message": "送信データが大きすぎます（上限 5 MB） / too big"}},
         "payload_too_large", "上限 5 MB"),
        (422, {"error": {"code": "validation_error", "message": "形式が正しくありません（question） / invalid"}},
         "validation_error", "question"),
        (500, {"error": {"code": "internal_error", "message": "内部エラー / internal"}}, "internal_error", "サーバー"),
        (502, "<html>bad gateway</html>", "server_error", "しばらくしてから"),
    ],
)
def test_error_messages_are_japanese_only(status: int, body: object, code: str, needle: str) -> None:
    response = (
        httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=str(body))
    )
    error = error_from_response(response)
    assert error.code == code and error.status == status
    assert needle in error.message
    assert " / " not in error.message


def test_japanese_part_keeps_japanese_text() -> None:
    assert japanese_part("API キーが無効です / invalid key") == "API キーが無効です"
    assert japanese_part("A / B の比較") == "A / B の比較"  # the tail is not English: nothing to drop
