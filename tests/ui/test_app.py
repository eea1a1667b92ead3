"""The Streamlit screens without a browser (Streamlit's AppTest) against a real API on loopback.

The browser test (test_e2e.py) covers the main path in chromium; these cover what a browser
test would make slow: every screen with the API down, a wrong key, role limits, abstention,
deleting with confirmation, the PR draft, the evaluation report and the survey tables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.assistant.surveys_support import csv_bytes, small_frame
from tests.helpers import extractive_home, free_port
from yakuba.core.settings import Settings
from yakuba.ui.client import YakubaClient

pytest.importorskip("streamlit.testing.v1")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "ui" / "app.py")
SCREENS = [
    "views/chat.py",
    "views/library.py",
    "views/minutes.py",
    "views/pr_article.py",
    "views/evals.py",
    "views/survey.py",
]
TIMEOUT_S = 120



@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with extractive_home(tmp_path_factory, "ui-app") as path:
        yield path


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[tuple[str, object]]:
    """The real app under uvicorn in a thread; yields its URL and the app (for keys)."""
    import uvicorn

    from yakuba.api.app import create_app

    app = create_app(Settings())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url, app
    server.should_exit = True
    thread.join(timeout=10)


def _key(app, role: str, tenant: str = "apptest") -> str:  # type: ignore[no-untyped-def]
    return app.state.keys.create(role=role, tenant=tenant, name=f"ui-app-{role}")[1]


def _screen(page: str, *, url: str, key: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.session_state["yakuba_api_url"] = url
    at.session_state["yakuba_api_key"] = key
    at.run()
    if page != SCREENS[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _texts(elements) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(e.value) for e in elements)


@pytest.mark.parametrize("page", SCREENS)
def test_every_screen_says_plainly_when_the_api_is_down(page: str, home: Path) -> None:
    at = _screen(page, url=f"http://127.0.0.1:{free_port()}", key="ykb_000000000000_x")
    assert "サーバー（API）に接続できません" in _texts(at.error)
    assert at.button  # 再接続する


def test_wrong_key_is_explained(api) -> None:  # type: ignore[no-untyped-def]
    url, _ = api
    at = _screen(SCREENS[0], url=url, key="ykb_000000000000_wrong")
    assert "APIキーが正しくありません" in _texts(at.error)


def test_unanswerable_question_is_an_info_not_an_error(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    at = _screen(SCREENS[0], url=url, key=_key(app, "staff", tenant="emptytown"))
    at.chat_input[0].set_value("来年度の除雪車の購入台数は？").run()
    assert not at.exception
    assert not at.error, _texts(at.error)
    assert "確認できませんでした" in _texts(at.info)
    assert any("回答をコピー" in e.label for e in at.expander)


def test_delete_asks_for_confirmation(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    key = _key(app, "staff")
    with YakubaClient(url, key) as client:
        [result] = client.upload_documents([("削除予定.md", "# 削除予定の資料\n\n古い案内です。\n".encode())])
        doc_id = result.documents[0].doc_id
    at = _screen(SCREENS[1], url=url, key=key)
    at.selectbox(key="delete-choice").set_value(doc_id).run()
    at.button(key="delete-start").click().run()
    assert "元に戻せません" in _texts(at.warning)
    with YakubaClient(url, key) as client:
        assert doc_id in {d.doc_id for d in client.list_documents()}  # nothing happens before the second click
    at.button(key="delete-yes").click().run()
    assert "削除しました" in _texts(at.success)
    with YakubaClient(url, key) as client:
        assert doc_id not in {d.doc_id for d in client.list_documents()}


def test_pr_article_draft_flags_unsupported_numbers(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    at = _screen(SCREENS[3], url=url, key=_key(app, "pr"))
    notes = "・市立図書館が5月1日にリニューアルオープン\n・開館時間は午前9時から午後8時\n・新しく学習室を設けた"
    at.text_area(key="pr_notes").input(notes)
    at.text_area(key="pr_contact").input("生涯学習課 電話 088-000-0000")
    at.checkbox(key="pr_use_corpus").uncheck()
    at.run()
    at.button[0].click().run()  # 記事の下書きを作成
    assert not at.exception and not at.error, _texts(at.error)
    draft = at.text_area(key="pr_draft").value
    assert "図書館" in draft and "088-000-0000" in draft
    assert any("ダウンロード" in b.proto.label for b in at.get("download_button"))


def test_evals_screen_is_polite_to_other_roles_and_shows_reports(api, home: Path) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    at = _screen(SCREENS[4], url=url, key=_key(app, "staff"))
    assert "評価担当" in _texts(at.info)

    folder = home / "reports" / "jsquad-extractive"
    folder.mkdir(parents=True)
    report = {
        "kind": "answers",
        "dataset": "jsquad-mini",
        "created_at": "2026-11-27T05:00:00+00:00",
        "config": {"engine": "extractive", "mode": "hybrid"},
        "aggregate": {"char_f1": 0.41, "citation_precision": 0.9, "total_p50_ms": 35.0},
        "counts": {"char_f1": 2, "citation_precision": 2, "total_p50_ms": 2},
        "n_questions": 2,
        "n_unanswerable": 0,
        "n_errors": 0,
        "questions": [
            {"id": "q1", "question": "問1", "answer": "答え1", "abstained": False, "should_abstain": False,
             "group": "wiki", "scores": {"char_f1": 0.5}, "total_ms": 30.0},
            {"id": "q2", "question": "問2", "answer": "答え2", "abstained": False, "should_abstain": False,
             "group": "wiki", "scores": {"char_f1": 0.32}, "total_ms": 40.0},
        ],
    }  # fmt: skip
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    at = _screen(SCREENS[4], url=url, key=_key(app, "evaluator"))
    assert not at.error, _texts(at.error)
    assert at.selectbox(key="report-choice").value == "jsquad-extractive"
    frames = at.dataframe
    assert len(frames) >= 3  # quality, latency, per question
    assert "文字 F1" in frames[0].value["指標"].tolist()
    assert frames[2].value["ID"].tolist() == ["q1", "q2"]


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_survey_page_tabulates_an_upload_with_charts_and_cross_tables(api) -> None:  # type: ignore[no-untyped-def]
    """Upload → 集計する → counts equal pandas', charts shown; then a cross table by 年代 and the reports."""
    url, app = api
    frame = small_frame(120, ["性別", "年代", "満足度（旅行全体）", "訪問目的", "おすすめ度"])
    at = _screen(SCREENS[5], url=url, key=_key(app, "staff"))
    upload = ("アンケート.csv", csv_bytes(frame, "cp932"), "text/csv")
    at.file_uploader(key="survey_upload").set_value(upload).run()
    _button(at, "集計する").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    assert "回答者 120人" in _texts(at.success)
    [ages] = [e for e in at.expander if e.label.startswith("年代（n=")]
    shown = ages.dataframe[0].value
    assert dict(zip(shown["選択肢"], shown["人数"], strict=True)) == frame["年代"].value_counts().to_dict()
    assert ages.image, "年代 has its bar chart"
    assert len(at.image) >= 4  # a chart for each tabulated question
    [kinds] = at.data_editor
    assert "年代" in kinds.value["列"].tolist()  # the detected kinds, for staff to check

    [by] = [m for m in at.multiselect if m.label == "クロス集計する属性"]
    by.set_value(["年代"]).run()
    _button(at, "集計する").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    crosses = [e for e in at.expander if " × 年代" in e.label]
    assert crosses and set(crosses[0].dataframe[0].value["年代"]) <= set(frame["年代"].dropna())
    _button(at, "まとめ資料（Word・Excel）を作成").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(".docx" in label for label in labels) and any(".xlsx" in label for label in labels)
