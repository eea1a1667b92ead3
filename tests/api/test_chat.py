"""/v1/chat, /v1/search and /v1/chat/completions through the real app (extractive engine, real store)."""

from __future__ import annotations

import re

from tests.api.support import LIBRARY_DOC, SIGN_LANGUAGE_DOC, SOUMU_DOC, sse_events
from yakuba.assistant.schemas import ABSTENTION_MESSAGE

LIBRARY_QUESTION = "南国市立図書館の位置はどこですか？"
UNANSWERABLE = "火星探査機の打ち上げ予定日と搭載カメラの画素数を教えてください。"


def _markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_grounded_answer_cites_the_right_document(corpus_api) -> None:
    response = corpus_api.client.post("/v1/chat", headers=corpus_api.headers(), json={"question": LIBRARY_QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"answer", "abstained", "citations", "timings_ms"} <= set(body)
    assert body["abstained"] is False
    assert "駅前町" in body["answer"]
    assert body["citations"], body
    for citation in body["citations"]:
        assert {"n", "doc_id", "title", "page", "excerpt", "score"} <= set(citation)
        assert isinstance(citation["score"], float)
    assert body["citations"][0]["doc_id"] == LIBRARY_DOC
    # the sentence with the address cites the passage that holds it: page 1 of the library ordinance
    address = next(line for line in body["answer"].splitlines() if "駅前町" in line)
    by_n = {c["n"]: c for c in body["citations"]}
    cited = [by_n[n] for n in _markers(address)]
    assert cited and all(c["doc_id"] == LIBRARY_DOC and c["page"] == 1 and "駅前町" in c["excerpt"] for c in cited)
    # every [n] in the text points at a returned citation
    assert _markers(body["answer"]) <= set(by_n)
    assert body["timings_ms"]["total"] > 0


def test_unanswerable_question_abstains(corpus_api) -> None:
    response = corpus_api.client.post("/v1/chat", headers=corpus_api.headers(), json={"question": UNANSWERABLE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is True
    assert ABSTENTION_MESSAGE in body["answer"]
    assert body["citations"] == []


def test_streaming_answer_is_sse_ending_with_done(corpus_api) -> None:
    client = corpus_api.client
    plain = client.post("/v1/chat", headers=corpus_api.headers(), json={"question": LIBRARY_QUESTION}).json()
    response = client.post(
        "/v1/chat", headers=corpus_api.headers("pr"), json={"question": LIBRARY_QUESTION, "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    types = [e["type"] for e in events]
    assert types[0] == "sources" and types[1] == "evidence" and types[-1] == "answer"
    assert set(types[2:-1]) <= {"token"}
    assert events[0]["sources"][0]["doc_id"] == LIBRARY_DOC
    evidence = events[1]["evidence"]
    assert evidence["text"] and evidence["sentences"] and evidence["ms"] > 0
    final = events[-1]["answer"]
    assert final["evidence"] == evidence  # the evidence event is the answer's evidence field
    assert plain["evidence"]["text"] == evidence["text"]  # and the non-streamed answer carries it too
    assert final["answer"] == plain["answer"]
    assert final["citations"][0]["doc_id"] == LIBRARY_DOC


def test_follow_up_question_uses_history(corpus_api) -> None:
    history = [
        {"role": "user", "content": "南国市手話言語条例について教えてください。"},
        {"role": "assistant", "content": "南国市手話言語条例は、手話が言語であるという認識に基づく条例です。"},
    ]
    response = corpus_api.client.post(
        "/v1/chat", headers=corpus_api.headers(), json={"question": "その条例の目的は何ですか？", "history": history}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["abstained"]
    assert "手話" in body["standalone_question"]  # the follow-up was searched with its topic
    assert SIGN_LANGUAGE_DOC in {c["doc_id"] for c in body["citations"]}


def test_filters_restrict_the_sources(corpus_api) -> None:
    response = corpus_api.client.post(
        "/v1/chat",
        headers=corpus_api.headers(),
        json={"question": LIBRARY_QUESTION, "filters": {"doc_ids": [SOUMU_DOC]}},
    )
    assert response.status_code == 200
    body = response.json()
    assert all(c["doc_id"] == SOUMU_DOC for c in body["citations"] + body["sources"])


def test_bad_chat_requests_get_the_error_shape(corpus_api) -> None:
    client, headers = corpus_api.client, corpus_api.headers()
    missing = client.post("/v1/chat", headers=headers, json={"history": []})
    assert missing.status_code == 422
    error = missing.json()["error"]
    assert error["code"] == "validation_error"
    assert "question" in error["message"] and "リクエスト" in error["message"]
    assert error["detail"][0]["loc"] == ["body", "question"]

    bad_filter = client.post("/v1/chat", headers=headers, json={"question": "図書館", "filters": {"doc_types": ["小説"]}})
    assert bad_filter.status_code == 422
    assert "不明な文書種別" in str(bad_filter.json()["error"]["detail"])

    not_json = client.post("/v1/chat", headers={**headers, "Content-Type": "application/json"}, content=b"{oops")
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "validation_error"

    empty = client.post("/v1/chat", headers=headers, json={"question": "   "})
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "empty_question"
    assert "質問を入力" in empty.json()["error"]["message"]

    stream_empty = client.post("/v1/chat", headers=headers, json={"question": "", "stream": True})
    assert stream_empty.status_code == 400  # checked before the stream starts, not inside a 200 stream


def test_search_returns_passages_with_citation_data(corpus_api) -> None:
    response = corpus_api.client.post(
        "/v1/search", headers=corpus_api.headers("evaluator"), json={"query": "手話通訳者の派遣", "k": 3}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "hybrid"
    assert 1 <= len(body["passages"]) <= 3
    top = body["passages"][0]
    assert top["doc_id"] == SIGN_LANGUAGE_DOC
    assert top["label"].startswith(top["title"])
    assert top["score"] > 0 and "手話" in top["text"]
    assert "total" in body["timings_ms"]

    filtered = corpus_api.client.post(
        "/v1/search",
        headers=corpus_api.headers(),
        json={"query": "手話通訳者の派遣", "mode": "bm25", "filters": {"doc_ids": [LIBRARY_DOC]}},
    ).json()
    assert {p["doc_id"] for p in filtered["passages"]} <= {LIBRARY_DOC}

    bad_mode = corpus_api.client.post("/v1/search", headers=corpus_api.headers(), json={"query": "x", "mode": "magic"})
    assert bad_mode.status_code == 422


def test_openai_route_over_asgi_returns_chat_completion(corpus_api) -> None:
    response = corpus_api.client.post(
        "/v1/chat/completions",
        headers=corpus_api.headers(),
        json={
            "model": "yakuba",
            "messages": [{"role": "system", "content": "You are helpful."},
                         {"role": "user", "content": [{"type": "text", "text": LIBRARY_QUESTION}]}],
            "temperature": 0.3,
            "max_tokens": 50,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert "駅前町" in body["choices"][0]["message"]["content"]
    assert body["yakuba"]["abstained"] is False
    assert body["yakuba"]["citations"][0]["doc_id"] == LIBRARY_DOC

    last_not_user = corpus_api.client.post(
        "/v1/chat/completions", headers=corpus_api.headers(),
        json={"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
    )
    assert last_not_user.status_code == 422
    assert last_not_user.json()["error"]["code"] == "last_message_not_user"

    models = corpus_api.client.get("/v1/models", headers=corpus_api.headers()).json()
    assert models["data"][0]["id"] == "yakuba"
