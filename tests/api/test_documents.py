"""Upload → searchable → delete through the real app, with per-file errors and the size limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.support import CORPORA, LIBRARY_DOC, make_settings
from tests.helpers import DATA
from yakuba.api.app import create_app
from yakuba.retriever.library import safe_filename

PLAN = "# 防災計画\n本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n"


def _docs(env) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    response = env.client.get("/v1/documents", headers=env.headers("pr"))
    assert response.status_code == 200
    return {d["doc_id"]: d for d in response.json()["documents"]}


def _search(env, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = env.client.post("/v1/search", headers=env.headers(), json={"query": query, "k": 5})
    assert response.status_code == 200, response.text
    return [p["doc_id"] for p in response.json()["passages"]]


def test_upload_search_delete(fresh_api) -> None:
    env = fresh_api
    pdf = CORPORA / "南国市" / LIBRARY_DOC
    files = [
        ("files", ("防災計画.md", PLAN.encode(), "text/markdown")),
        ("files", (pdf.name, pdf.read_bytes(), "application/pdf")),
        ("files", ("壊れた.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")),
        ("files", ("memo.xyz", b"hello", "application/octet-stream")),
    ]
    response = env.client.post("/v1/documents", headers=env.headers(), files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant"] == "nankoku" and body["succeeded"] == 2 and body["failed"] == 2
    plan, library, broken, unknown = body["results"]
    assert plan["status"] == "added" and plan["documents"][0]["doc_id"] == "防災計画.md"
    assert plan["documents"][0]["chunks"] >= 1
    assert library["documents"][0]["pages"] == 7
    assert broken["status"] == "failed" and broken["saved_as"] is None
    assert "壊れ" in broken["message"] or "PDF" in broken["message"]
    assert broken["error_code"]
    assert unknown["status"] == "failed" and unknown["message"]  # the loader's Japanese message, not a 500

    uploads = env.settings.home / "uploads" / "nankoku"
    assert sorted(p.name for p in uploads.iterdir() if p.is_file()) == sorted(["防災計画.md", LIBRARY_DOC])
    assert set(_docs(env)) == {"防災計画.md", LIBRARY_DOC}
    assert _docs(env)["防災計画.md"]["doc_type"] == "計画"
    assert _search(env, "避難所の耐震化")[0] == "防災計画.md"
    answer = env.client.post("/v1/chat", headers=env.headers(), json={"question": "避難所の耐震化はいつ完了しますか"})
    assert answer.json()["citations"][0]["doc_id"] == "防災計画.md"

    again = env.client.post("/v1/documents", headers=env.headers(), files=files[:1]).json()
    assert again["results"][0]["status"] == "unchanged"

    deleted = env.client.delete("/v1/documents/防災計画.md", headers=env.headers())
    assert deleted.status_code == 200
    assert deleted.json() == {"doc_id": "防災計画.md", "deleted_chunks": plan["documents"][0]["chunks"]}
    assert "防災計画.md" not in _search(env, "避難所の耐震化")
    assert set(_docs(env)) == {LIBRARY_DOC}
    assert not (uploads / "防災計画.md").exists()
    missing = env.client.delete("/v1/documents/防災計画.md", headers=env.headers())
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "document_not_found"


def test_jsonl_records_with_slashes_in_ids(fresh_api) -> None:
    env = fresh_api
    records = [
        {"id": "soumu/dx/2026-03", "title": "自治体DX", "text": "自治体DXの推進に向けて、総務省は手順書を改定した。"},
        {"id": "kiryu/r4/ippan-001", "title": "一般質問", "text": "桐生市の空き家対策について質問します。"},
    ]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    body = env.client.post(
        "/v1/documents", headers=env.headers("admin"), files=[("files", ("records.jsonl", data, "application/jsonl"))]
    ).json()
    assert [d["doc_id"] for d in body["results"][0]["documents"]] == ["soumu/dx/2026-03", "kiryu/r4/ippan-001"]
    assert _search(env, "空き家対策")[0] == "kiryu/r4/ippan-001"
    response = env.client.delete("/v1/documents/kiryu/r4/ippan-001", headers=env.headers("admin"))
    assert response.status_code == 200, response.text
    assert set(_docs(env)) == {"soumu/dx/2026-03"}


def test_failed_reupload_keeps_the_earlier_file(fresh_api) -> None:
    env = fresh_api
    first = env.client.post("/v1/documents", headers=env.headers(), files=[("files", ("plan.md", PLAN.encode()))])
    assert first.json()["results"][0]["status"] == "added"
    # same name, but a binary blob the loader refuses: the stored file and document stay as they were
    bad = env.client.post(
        "/v1/documents", headers=env.headers(), files=[("files", ("plan.md", (DATA / "binary.txt").read_bytes()))]
    )
    result = bad.json()["results"][0]
    assert result["status"] == "failed" and "テキストファイルではありません" in result["message"]
    stored = env.settings.home / "uploads" / "nankoku" / "plan.md"
    assert stored.read_text(encoding="utf-8") == PLAN
    assert set(_docs(env)) == {"plan.md"}
    assert _search(env, "避難所の耐震化") == ["plan.md"]
    assert not list((env.settings.home / "uploads" / "nankoku" / ".incoming").iterdir())


def test_upload_names_are_sanitised(fresh_api) -> None:
    assert safe_filename("../../etc/passwd.md") == "passwd.md"
    assert safe_filename("C:\\Users\\職員\\会議録.PDF") == "会議録.pdf"
    assert safe_filename("..") == "upload"
    assert safe_filename("a\x00b<c>.txt") == "a_b_c_.txt"
    assert safe_filename("ＡＢＣ議事録.txt") == "ABC議事録.txt"
    env = fresh_api
    response = env.client.post(
        "/v1/documents", headers=env.headers(), files=[("files", ("../../../escape.md", PLAN.encode()))]
    )
    assert response.json()["results"][0]["saved_as"] == "escape.md"
    assert (env.settings.home / "uploads" / "nankoku" / "escape.md").is_file()
    assert not (env.settings.home.parent / "escape.md").exists()


def test_doc_type_and_missing_files(fresh_api) -> None:
    env = fresh_api
    forced = env.client.post(
        "/v1/documents", headers=env.headers(), files=[("files", ("plan.md", PLAN.encode()))],
        data={"doc_type": "その他"},
    )
    assert forced.json()["results"][0]["documents"][0]["doc_type"] == "その他"
    unknown = env.client.post(
        "/v1/documents", headers=env.headers(), files=[("files", ("plan.md", PLAN.encode()))],
        data={"doc_type": "小説"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "invalid_doc_type"
    assert "不明な文書種別" in unknown.json()["error"]["message"]
    nothing = env.client.post("/v1/documents", headers=env.headers(), data={"doc_type": "計画"})
    assert nothing.status_code == 422
    assert nothing.json()["error"]["code"] == "validation_error"


@pytest.mark.integration
def test_uploads_over_the_limit_get_413(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "home", max_upload_mb=0.01))  # 10 KB
    _, token = app.state.keys.create("staff", "nankoku")
    headers = {"Authorization": f"Bearer {token}"}
    big = b"# big\n" + "あ".encode() * 8000
    with TestClient(app) as client:
        response = client.post("/v1/documents", headers=headers, files=[("files", ("big.md", big))])
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert "大きすぎ" in error["message"] and error["detail"] == {"max_upload_mb": 0.01}

        def chunks():  # no Content-Length: the limit is enforced while reading
            for _ in range(20):
                yield b"x" * 1024

        streamed = client.post(
            "/v1/chat", headers={**headers, "Content-Type": "application/json"}, content=chunks()
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "payload_too_large"
        small = client.post("/v1/documents", headers=headers, files=[("files", ("small.md", PLAN.encode()))])
        assert small.status_code == 200
    assert not (tmp_path / "home" / "uploads" / "nankoku" / "big.md").exists()
