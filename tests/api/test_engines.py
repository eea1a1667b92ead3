"""Model engines behind the API: how streamed model text meets the checked answer, and the real
local model (Qwen2.5-Coder-1.5B GGUF via llama.cpp) answering through the app."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tests.api.support import LIBRARY_DOC, TENANT, corpus_home, make_settings, sse_data
from yakuba.api.app import create_app
from yakuba.api.deps import get_assistant
from yakuba.api.routes.openai_compat import REPLACED_NOTE, closing_text
from yakuba.assistant.schemas import ABSTENTION_MESSAGE
from yakuba.assistant.service import Assistant

QUESTION = "南国市立図書館の位置はどこですか？"


def test_closing_text() -> None:
    assert closing_text("図書館は", "図書館は駅前町にあります[1]。") == "駅前町にあります[1]。"
    assert closing_text("駅前町です[3]。", "駅前町です。") == ""  # only a dropped marker
    assert closing_text("駅前町です。", "駅前町です[1]。") == ""  # only an attached marker
    replaced = closing_text("月曜は休館です[1]。", "駅前町にあります[2]。")
    assert replaced == f"\n\n{REPLACED_NOTE}\n駅前町にあります[2]。"


def _scripted_app(corpus_api, reply: str) -> TestClient:  # type: ignore[no-untyped-def]
    """The real app and answer pipeline over the corpus, with a chat model that says `reply`."""
    searcher = Assistant.open(corpus_api.settings, TENANT).searcher
    app = create_app(corpus_api.settings)
    app.dependency_overrides[get_assistant] = lambda: Assistant(
        corpus_api.settings, TENANT, searcher=searcher, engine="local",
        chat_model=GenericFakeChatModel(messages=iter([AIMessage(reply)])),
    )
    return TestClient(app)


def _openai_stream(client: TestClient, headers: dict[str, str]) -> tuple[str, dict]:
    response = client.post("/v1/chat/completions", headers=headers,
                           json={"messages": [{"role": "user", "content": QUESTION}], "stream": True})
    assert response.status_code == 200, response.text
    payloads = sse_data(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    return text, chunks[-1]


def test_model_answer_with_a_wrong_marker_streams_unchanged(corpus_api) -> None:
    reply = "南国市立図書館の位置は、南国市駅前町三丁目1番2号です[9]。"
    client = _scripted_app(corpus_api, reply)
    text, last = _openai_stream(client, corpus_api.headers())
    assert text == reply  # nothing was taken back: only the invented marker differs
    assert REPLACED_NOTE not in text
    citations = last["yakuba"]["citations"]
    assert citations and citations[0]["doc_id"] == LIBRARY_DOC and 9 not in {c["n"] for c in citations}

    answer = _scripted_app(corpus_api, reply).post("/v1/chat", headers=corpus_api.headers(),
                                                   json={"question": QUESTION}).json()
    assert answer["engine"] == "local" and "[9]" not in answer["answer"]
    assert re.search(r"\[\d+\]", answer["answer"])


def test_unsupported_model_answer_is_replaced_visibly(corpus_api) -> None:
    reply = "南国市立図書館は毎週月曜日と祝日に休館し、入館料は大人500円です[1]。"
    text, last = _openai_stream(_scripted_app(corpus_api, reply), corpus_api.headers())
    assert text.startswith(reply)
    assert REPLACED_NOTE in text
    final = text.split(REPLACED_NOTE, 1)[1].strip()
    assert "駅前町" in final and "500円" not in final
    assert last["choices"][0]["finish_reason"] == "stop" and last["yakuba"]["abstained"] is False

    events = _scripted_app(corpus_api, reply).post(
        "/v1/chat", headers=corpus_api.headers(), json={"question": QUESTION, "stream": True}
    )
    answer = json.loads(sse_data(events.text)[-2])["answer"]
    # 500円 is in no passage: the fact check drops the sentence and the evidence stands as the answer.
    assert answer["engine"] == "extractive" and answer["fallback"] == "facts"
    assert answer["answer"] == answer["evidence"]["text"]


# ----------------------------------------------------------------------------- the real local model


@pytest.fixture(scope="module")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    home = tmp_path_factory.mktemp("local-engine") / "home"
    shutil.copytree(corpus_home(tmp_path_factory.getbasetemp()), home)
    settings = make_settings(home, chat_engine="local", llm_max_tokens=96, llm_temperature=0.0, llm_context=2048)
    app = create_app(settings)
    _, token = app.state.keys.create("staff", TENANT)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    shutil.rmtree(home / "models", ignore_errors=True)  # the assembled 1.1 GB GGUF


@pytest.mark.slow
def test_local_engine_answers_through_the_api(local_api) -> None:  # type: ignore[no-untyped-def]
    client, headers = local_api
    grounded = client.post("/v1/chat", headers=headers, json={"question": QUESTION})
    assert grounded.status_code == 200, grounded.text
    body = grounded.json()
    assert not body["abstained"] and "駅前町" in body["answer"]
    assert body["citations"][0]["doc_id"] == LIBRARY_DOC
    assert body["engine"] in {"local", "extractive"}  # extractive only as the checked fallback

    purpose = client.post("/v1/chat", headers=headers,
                          json={"question": "南国市手話言語条例は何を目的としていますか？", "stream": True})
    events = [json.loads(p) for p in sse_data(purpose.text)[:-1]]
    assert [e["type"] for e in events][0] == "sources" and events[-1]["type"] == "answer"
    assert sum(e["type"] == "token" for e in events) > 1  # the model streamed, token by token
    assert "議案第18号_南国市手話言語条例.pdf" in {c["doc_id"] for c in events[-1]["answer"]["citations"]}

    unknown = client.post("/v1/chat", headers=headers,
                          json={"question": "火星探査機の打ち上げ予定日と搭載カメラの画素数を教えてください。"}).json()
    assert unknown["abstained"] and unknown["answer"].startswith(ABSTENTION_MESSAGE)


class _BrokenSearcher:
    def search(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire at /srv/yakuba/chroma")


def test_unexpected_errors_are_generic_500s_with_a_logged_traceback(corpus_api, caplog) -> None:
    app = create_app(corpus_api.settings)
    app.dependency_overrides[get_assistant] = lambda: Assistant(
        corpus_api.settings, TENANT, searcher=_BrokenSearcher(), chat_model=None, engine="extractive"  # type: ignore[arg-type]
    )
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level("ERROR", logger="yakuba.api"):
        for body in ({"question": QUESTION}, {"question": QUESTION, "stream": True}):
            response = client.post("/v1/chat", headers=corpus_api.headers(), json=body)
            assert response.status_code == 500
            assert response.json()["error"]["code"] == "internal_error"
            assert "管理者" in response.json()["error"]["message"]
            assert "disk on fire" not in response.text  # no internals leak to the client
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text
    assert app.state.audit.rows()[-1].status == 500
