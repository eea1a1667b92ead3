"""POST /v1/surveys/analyze through the real app: roles, JSON and report formats, clear errors."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.support import make_settings
from tests.assistant.surveys_support import SATISFACTION, csv_bytes, small_frame, xlsx_two_row_header
from yakuba.api.app import create_app

COLUMNS = ["性別", "年代", "満足度（旅行全体）", "訪問目的", "おすすめ度"]
XLSX_COLUMNS = ["性別", "年代"] + [f"満足度（{s}）" for s in SATISFACTION]


def _csv(rows: int = 200) -> bytes:
    return csv_bytes(small_frame(rows, COLUMNS), "cp932")


def test_analysis_as_json_with_charts(fresh_api) -> None:
    frame = small_frame(200, COLUMNS)
    response = fresh_api.client.post(
        "/v1/surveys/analyze", headers=fresh_api.headers("pr"),
        files={"file": ("アンケート.csv", _csv(), "text/csv")},
        data={"by": ["年代"], "options": json.dumps({"themes": False})},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant"] == "nankoku"
    analysis = body["analysis"]
    assert analysis["overview"]["encoding"] == "cp932" and analysis["overview"]["respondents"] == 200
    ages = next(t for t in analysis["tables"] if t["question"] == "年代")
    assert {r["label"]: r["count"] for r in ages["rows"]} == frame["年代"].value_counts().to_dict()
    assert analysis["settings"]["by"] == ["年代"] and analysis["crosses"]
    assert body["charts"] and base64.b64decode(body["charts"][0]["png_base64"])[:4] == b"\x89PNG"


def test_reports_download_as_word_excel_powerpoint_markdown(fresh_api) -> None:
    for fmt, magic in (("docx", b"PK"), ("xlsx", b"PK"), ("pptx", b"PK"), ("md", "# 観光".encode())):
        response = fresh_api.client.post(
            "/v1/surveys/analyze", headers=fresh_api.headers("staff"),
            files={"file": ("survey.csv", _csv(80), "text/csv")},
            data={"format": fmt, "options": json.dumps({"themes": False, "title": "観光アンケート"})},
        )
        assert response.status_code == 200, response.text
        assert response.content.startswith(magic)
        assert "attachment" in response.headers["content-disposition"]
        assert f".{fmt}" in response.headers["content-disposition"]
        if fmt in {"docx", "pptx"}:  # the charts are in the file
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                assert any(n.endswith(".png") for n in archive.namelist())


def test_control_characters_in_a_file_do_not_break_the_office_reports(fresh_api) -> None:
    """Found by schemathesis: one control character in a header made python-docx refuse the report (500)."""
    text = "性別\x16,年代,満足度\x00\n" + "".join(f"{'男性' if i % 2 else '女性'},{20 + i % 5 * 10}代,{i % 5 + 1}\x1f\n"
                                                  for i in range(30))
    for fmt in ("docx", "xlsx", "pptx"):
        response = fresh_api.client.post(
            "/v1/surveys/analyze", headers=fresh_api.headers("staff"),
            files={"file": ("survey.csv", text.encode("utf-8"), "text/csv")},
            data={"format": fmt, "options": json.dumps({"themes": False})},
        )
        assert response.status_code == 200, (fmt, response.text)
        assert response.content.startswith(b"PK")

def test_an_xlsx_zip_bomb_is_refused_before_it_is_expanded(fresh_api) -> None:
    """#18: archive limits hold for every zip-based upload, survey workbooks included."""
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))  # ~1000x
    response = fresh_api.client.post(
        "/v1/surveys/analyze", headers=fresh_api.headers("staff"),
        files={"file": ("回答.xlsx", bomb.getvalue(), "application/octet-stream")},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "archive_bomb" and "圧縮率" in error["message"]

def test_evaluators_may_not_analyse_and_keys_are_required(fresh_api) -> None:
    files = {"file": ("survey.csv", _csv(20), "text/csv")}
    assert fresh_api.client.post("/v1/surveys/analyze", files=files).status_code == 401
    response = fresh_api.client.post("/v1/surveys/analyze", headers=fresh_api.headers("evaluator"), files=files)
    assert response.status_code == 403
    response = fresh_api.client.post("/v1/surveys/analyze", headers=fresh_api.headers("admin"), files=files,
                                     data={"options": json.dumps({"themes": False})})
    assert response.status_code == 200


def test_bad_inputs_are_400s_with_japanese_and_english(fresh_api) -> None:
    cases = [
        (("a.csv", b"1,2,3\n4,5,6\n7,8,9\n"), {}, "survey_no_header"),
        (("a.csv", "Größe\nä\n".encode("latin-1")), {}, "survey_encoding"),
        (("a.xlsx", xlsx_two_row_header(small_frame(10, XLSX_COLUMNS))), {}, "survey_choose_sheet"),
        (("a.csv", _csv(20)), {"by": ["居住地"]}, "survey_no_column"),
        (("a.csv", _csv(20)), {"options": "{not json"}, "survey_bad_settings"),
        (("a.pdf", b"%PDF-1.7"), {}, "survey_unsupported_type"),
    ]
    for (name, content), data, code in cases:
        response = fresh_api.client.post("/v1/surveys/analyze", headers=fresh_api.headers("staff"),
                                         files={"file": (name, content, "application/octet-stream")}, data=data)
        assert response.status_code == 400, (code, response.text)
        error = response.json()["error"]
        assert error["code"] == code
        assert " / " in error["message"]
    sheets = fresh_api.client.post(
        "/v1/surveys/analyze", headers=fresh_api.headers("staff"),
        files={"file": ("a.xlsx", xlsx_two_row_header(small_frame(10, XLSX_COLUMNS)), "application/octet-stream")},
        data={"sheet": "回答", "options": json.dumps({"themes": False})},
    )
    assert sheets.status_code == 200, sheets.text


def test_files_over_the_limit_get_413(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "home", max_upload_mb=0.01))
    _, token = app.state.keys.create("staff", "nankoku", name="t")
    with TestClient(app) as client:
        response = client.post("/v1/surveys/analyze", headers={"Authorization": f"Bearer {token}"},
                               files={"file": ("big.csv", _csv(400), "text/csv")})
    assert response.status_code == 413
    assert "大きすぎ" in response.json()["error"]["message"]
