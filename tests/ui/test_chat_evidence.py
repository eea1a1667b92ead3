"""The chat screen's evidence (AppTest against the real API of test_app.py): a stopped or interrupted
answer keeps the evidence already shown as the answer, and a kept model answer shows its evidence."""

from __future__ import annotations

from tests.ui import test_app as shared
from tests.ui.test_app import SCREENS, _key, _screen, _texts
from yakuba.ui.client import YakubaClient

home = shared.home  # the real API under uvicorn over an extractive home, as in test_app.py
api = shared.api

PLAN = "# 防災計画\n\n本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n"


def test_a_stopped_answer_keeps_the_evidence(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    key = _key(app, "staff", tenant="evidencetown")
    with YakubaClient(url, key) as client:
        client.upload_documents([("防災計画.md", PLAN.encode())])
        events = list(client.chat_stream("防災行政無線の更新はいつまでに完了しますか"))
    evidence = next(e.evidence for e in events if e.type == "evidence")
    sources = next(e.sources for e in events if e.type == "sources")
    assert evidence is not None and "令和5年度" in evidence.text

    at = _screen(SCREENS[0], url=url, key=key)
    # What the stream had left in the session when the stop button (or another click) ended the run.
    at.session_state["chat_pending"] = {
        "question": "防災行政無線の更新はいつまでに完了しますか",
        "sources": [c.model_dump(mode="json") for c in sources or []],
        "evidence": evidence.model_dump(mode="json"),
        "stopped": True,
    }
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    messages = at.session_state["chat_messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    kept = messages[1]["answer"]
    assert kept["answer"] == evidence.text and kept["citations"] and kept["fallback"] == "stopped"
    assert "令和5年度" in "\n".join(str(m.value) for m in at.markdown)
    assert "回答の作成を停止しました" in _texts(at.caption)
    assert "chat_pending" not in at.session_state


def test_a_question_shows_the_answer_with_its_sources(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    key = _key(app, "staff", tenant="evidencetown2")
    with YakubaClient(url, key) as client:
        client.upload_documents([("防災計画.md", PLAN.encode())])
    at = _screen(SCREENS[0], url=url, key=key)
    at.chat_input[0].set_value("防災行政無線の更新はいつまでに完了しますか").run()
    assert not at.exception, [e.message for e in at.exception]
    answer = at.session_state["chat_messages"][-1]["answer"]
    assert "令和5年度" in answer["answer"] and answer["evidence"]["text"]
    assert "chat_pending" not in at.session_state  # a finished answer leaves nothing to settle
