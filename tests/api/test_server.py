"""`yakuba serve` on loopback, driven by real clients: the official `openai` SDK and an SSE reader."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.api.support import LIBRARY_DOC, Server, corpus_home, start_server, stop_server
from yakuba.api.keys import KeyStore

pytestmark = pytest.mark.server

QUESTION = "南国市立図書館の位置はどこですか？"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # a copy, so that this process never holds the server's embedded Chroma files open
    home = tmp_path_factory.mktemp("served") / "home"
    shutil.copytree(corpus_home(tmp_path_factory.getbasetemp()), home)
    running = start_server(home, home.parent / "serve.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return KeyStore(server.settings.keys_path).create("staff", "nankoku", name="openai sdk")[1]


@pytest.fixture(scope="module")
def client(server: Server, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0, timeout=120)


def test_openai_client_gets_an_answer_with_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="yakuba",
        messages=[{"role": "system", "content": "簡潔に答えてください。"}, {"role": "user", "content": QUESTION}],
        temperature=0,
    )
    assert completion.object == "chat.completion"
    assert completion.model == "yakuba"
    content = completion.choices[0].message.content or ""
    assert "駅前町" in content
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra["yakuba"]  # type: ignore[index]
    assert extra["abstained"] is False
    assert extra["citations"][0]["doc_id"] == LIBRARY_DOC
    assert {"n", "doc_id", "title", "page", "excerpt", "score"} <= set(extra["citations"][0])


def test_openai_client_streams_chunks_and_citations_last(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="yakuba", messages=[{"role": "user", "content": QUESTION}])
    stream = client.chat.completions.create(
        model="yakuba", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["yakuba"]["citations"][0]["doc_id"] == LIBRARY_DOC  # type: ignore[index]
    # evidence first (issue #17): one early chunk carries the extractive evidence; citations come last only
    early = [c.model_extra["yakuba"] for c in chunks[:-1] if "yakuba" in (c.model_extra or {})]
    assert len(early) == 1 and early[0]["evidence"], early
    assert all(not extra.get("citations") for extra in early)


def test_openai_client_sees_auth_and_validation_errors(server: Server, client: openai.OpenAI) -> None:
    stranger = openai.OpenAI(base_url=f"{server.url}/v1", api_key="ykb_0123456789ab_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        stranger.chat.completions.create(model="yakuba", messages=[{"role": "user", "content": QUESTION}])
    assert "API キー" in denied.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="yakuba", messages=[{"role": "assistant", "content": "はい"}])
    assert [m.id for m in client.models.list()] == ["yakuba"]


def test_sse_chat_stream_over_http(server: Server, token: str) -> None:
    events = []
    with httpx.stream(
        "POST", f"{server.url}/v1/chat", headers={"Authorization": f"Bearer {token}"},
        json={"question": QUESTION, "stream": True}, timeout=120,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line[len("data: "):])
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert parsed[0]["type"] == "sources" and parsed[-1]["type"] == "answer"
    assert parsed[-1]["answer"]["citations"][0]["doc_id"] == LIBRARY_DOC


def test_served_openapi_lists_every_route(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    paths = set(spec["paths"])
    assert {
        "/v1/chat", "/v1/chat/completions", "/v1/search", "/v1/drafts/minutes", "/v1/drafts/pr-article",
        "/v1/drafts/export", "/v1/transcribe", "/v1/documents", "/v1/documents/{doc_id}", "/healthz", "/readyz",
        "/metrics", "/v1/me", "/v1/evals/reports",
    } <= paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert Path(server.settings.home, "logs", "api.log").is_file()
