"""OpenAI-compatible Chat Completions, so existing clients (openai SDK, Open WebUI) can ask Yakuba.

The last user message is the question, earlier user/assistant turns are the history; system
messages are ignored (Yakuba's own grounding rules apply). Sources travel in the extra field
`yakuba` = {"citations", "abstained", "sources", "evidence"}: on the response, and on the last chunk of
a stream. A stream also sends, as soon as retrieval ends, a chunk with no content whose `yakuba` holds
the sources and the extractive evidence (the quoted sentences), so a client can show them while the
model writes.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_assistant, get_metrics
from yakuba.api.errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES, ApiError, ErrorBody
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.api.routes.chat import (
    SSE_EVENT_SCHEMA,
    SSE_HEADERS,
    STREAM_FAILED,
    cited_doc_ids,
    start_stream,
    stream_error,
)
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    CompletionMessage,
    ModelInfo,
    ModelList,
    OpenAIMessage,
    YakubaExtra,
)
from yakuba.assistant.schemas import Answer, AnswerEvent, AnswerRequest, ChatMessage
from yakuba.assistant.service import Assistant

router = APIRouter(tags=["openai"], responses=ERROR_RESPONSES, route_class=YakubaRoute)

MODEL_NAME = "yakuba"
# Shown when the checked answer is not a continuation of what was streamed (an unsupported model
# answer replaced by the extractive fallback): OpenAI streams cannot take text back.
REPLACED_NOTE = "（上の文章は資料で裏付けられなかったため、次の回答に置き換えます）"
_MARKER = re.compile(r"\[\d+\]")


def split_messages(messages: list[OpenAIMessage]) -> tuple[str, list[ChatMessage]]:
    """(question, history) from an OpenAI message list."""
    last = messages[-1]
    if last.role != "user":
        raise ApiError(
            422,
            "last_message_not_user",
            "最後のメッセージは利用者（role: user）の質問にしてください / the last message must have role 'user'",
            detail={"role": last.role},
        )
    history = [
        ChatMessage(role=m.role, content=m.text())  # type: ignore[arg-type]
        for m in messages[:-1]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return last.text(), history


def extra(answer: Answer) -> YakubaExtra:
    return YakubaExtra(
        citations=answer.citations, abstained=answer.abstained, sources=answer.sources, evidence=answer.evidence
    )


def _flat(text: str) -> str:
    return "".join(_MARKER.sub("", text).split())


def closing_text(streamed: str, final: str) -> str:
    """What to send after the streamed tokens so the client ends up with the checked answer."""
    if final.startswith(streamed):
        return final[len(streamed):]
    if _flat(streamed) == _flat(final):
        return ""  # only citation markers were dropped; `yakuba.citations` says which ones count
    return f"\n\n{REPLACED_NOTE}\n{final}"


class _Chunks:
    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def data(self, delta: ChunkDelta, finish: str | None = None, yakuba: YakubaExtra | None = None) -> str:
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],  # type: ignore[arg-type]
        )
        payload = chunk.model_dump(exclude_none=True, exclude={"yakuba"})
        if yakuba is not None:
            payload["yakuba"] = yakuba.model_dump(mode="json")
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def completion_chunks(
    events: Iterable[AnswerEvent], model: str, note: AuditNote, metrics: Metrics
) -> Iterator[str]:
    chunks = _Chunks(model)
    yield chunks.data(ChunkDelta(role="assistant", content=""))
    streamed = ""
    sources: list = []
    try:
        for event in events:
            if event.type == "sources":
                sources = event.sources or []
            elif event.type == "evidence" and event.evidence is not None:
                early = YakubaExtra(citations=[], abstained=False, sources=sources, evidence=event.evidence)
                yield chunks.data(ChunkDelta(), yakuba=early)
            elif event.type == "token" and event.text:
                streamed += event.text
                yield chunks.data(ChunkDelta(content=event.text))
            elif event.type == "answer" and event.answer is not None:
                answer = event.answer
                note.cite(cited_doc_ids(answer))
                metrics.observe_answer(answer.engine, answer.abstained)
                rest = closing_text(streamed, answer.answer)
                if rest:
                    yield chunks.data(ChunkDelta(content=rest))
                yield chunks.data(ChunkDelta(), finish="stop", yakuba=extra(answer))
            elif event.type == "error":
                code = str((event.data or {}).get("code") or "answer_failed")
                yield _error_data(code, event.error or STREAM_FAILED)
                break
    except Exception as exc:  # noqa: BLE001 - headers are sent; OpenAI clients read in-band errors
        yield _error_data(*stream_error(exc))
    yield "data: [DONE]\n\n"


def _error_data(code: str, message: str) -> str:
    error = {"error": ErrorBody(code=code, message=message).model_dump()}
    return f"data: {json.dumps(error, ensure_ascii=False)}\n\n"


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI 互換の Chat Completions / OpenAI-compatible chat",
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
                     "description": "chat.completion, or with `stream: true` chat.completion.chunk events."},
               **BODY_ERROR_RESPONSES},
)
def chat_completions(
    body: ChatCompletionRequest,
    key: Annotated[ApiKey, Depends(require(Permission.CHAT))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    note: Annotated[AuditNote, Depends(audit_note)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
) -> ChatCompletion | StreamingResponse:
    question, history = split_messages(body.messages)
    note.question = question
    request = AnswerRequest(question=question, history=history)
    model = body.model or MODEL_NAME
    if body.stream:
        events = start_stream(assistant, request)
        return StreamingResponse(completion_chunks(events, model, note, metrics),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    answer = assistant.answer(request)
    note.cite(cited_doc_ids(answer))
    metrics.observe_answer(answer.engine, answer.abstained)
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[CompletionChoice(message=CompletionMessage(content=answer.answer))],
        yakuba=extra(answer),
    )


@router.get("/v1/models", response_model=ModelList, summary="OpenAI 互換のモデル一覧 / model list")
def list_models(key: Annotated[ApiKey, Depends(require(Permission.CHAT))]) -> ModelList:
    return ModelList(data=[ModelInfo(id=MODEL_NAME)])
