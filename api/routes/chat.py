"""POST /v1/chat: a grounded answer as JSON, or as Server-Sent Events with `stream: true`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_assistant, get_metrics, get_settings
from yakuba.api.errors import BODY_ERROR_RESPONSES, ApiError
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import ChatRequest
from yakuba.assistant.schemas import Answer, AnswerEvent, AnswerRequest
from yakuba.assistant.service import Assistant
from yakuba.core.errors import YakubaError
from yakuba.core.settings import Settings

log = logging.getLogger("yakuba.api")
router = APIRouter(tags=["chat"], responses=BODY_ERROR_RESPONSES, route_class=YakubaRoute)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# One Server-Sent Event, as OpenAPI 3.1 tools read a `text/event-stream` schema (per event): its
# `data` line is JSON (an AnswerEvent, or a chat.completion.chunk) or the closing `[DONE]`.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "description": "JSON of one event, or `[DONE]` at the end."},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}
STREAM_FAILED = "回答の生成中にエラーが発生しました。もう一度お試しください / the answer failed, please retry"


def check_engine(engine: str | None, settings: Settings) -> None:
    """A request may name the configured engine or the extractive one (always there); any other
    would load a model per request on a server not set up for it, so it is the caller's error."""
    if engine in (None, "extractive", settings.chat_engine):
        return
    raise ApiError(
        422,
        "engine_not_available",
        f"このサーバーでは回答エンジン {engine!r} を使えません（使えるのは {settings.chat_engine} と extractive） / "
        f"engine {engine!r} is not served here; use {settings.chat_engine!r} or 'extractive'",
        detail={"engine": engine, "available": sorted({settings.chat_engine, "extractive"})},
    )


def to_answer_request(body: ChatRequest) -> AnswerRequest:
    return AnswerRequest(
        question=body.question, history=body.history, filters=body.filters, k=body.k, engine=body.engine
    )


def cited_doc_ids(answer: Answer) -> list[str]:
    return list(dict.fromkeys(c.doc_id for c in answer.citations))


def start_stream(assistant: Assistant, request: AnswerRequest) -> Iterator[AnswerEvent]:
    """Run the stream up to its first event here, so that a bad question is a 4xx response and not
    an error event inside a 200 stream."""
    events = assistant.stream(request)
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    return chain([first], events)


def stream_error(exc: Exception) -> tuple[str, str]:
    """(code, Japanese message) for a failure after the stream started."""
    if isinstance(exc, YakubaError):
        return exc.code, exc.message
    log.exception("answer stream failed", exc_info=exc)
    return "internal_error", STREAM_FAILED


def sse_events(events: Iterable[AnswerEvent], note: AuditNote, metrics: Metrics) -> Iterator[str]:
    """`data: <AnswerEvent JSON>` per event, then `data: [DONE]`. A sync generator: Starlette runs
    it in its thread pool, so a slow model never blocks the event loop."""
    try:
        for event in events:
            if event.type == "answer" and event.answer is not None:
                note.cite(cited_doc_ids(event.answer))
                metrics.observe_answer(event.answer.engine, event.answer.abstained)
            yield f"data: {event.model_dump_json()}\n\n"
    except Exception as exc:  # noqa: BLE001 - the status line is sent; report in-band
        code, message = stream_error(exc)
        yield f"data: {AnswerEvent(type='error', error=message, data={'code': code}).model_dump_json()}\n\n"
    yield "data: [DONE]\n\n"


@router.post(
    "/v1/chat",
    response_model=Answer,
    summary="質問に資料に基づいて回答 / grounded answer",
    responses={
        200: {
            "description": "JSON Answer, or with `stream: true` an SSE stream: `data: <AnswerEvent>` lines "
            "(sources → evidence → token* → answer), then `data: [DONE]`. The evidence (quoted passage "
            "sentences with their [n]) arrives as soon as retrieval ends, before the model writes.",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        }
    },
)
def chat(
    body: ChatRequest,
    key: Annotated[ApiKey, Depends(require(Permission.CHAT))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    note: Annotated[AuditNote, Depends(audit_note)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Answer | StreamingResponse:
    note.question = body.question
    check_engine(body.engine, settings)
    request = to_answer_request(body)
    if body.stream:
        events = start_stream(assistant, request)
        return StreamingResponse(sse_events(events, note, metrics), media_type="text/event-stream",
                                 headers=SSE_HEADERS)
    answer = assistant.answer(request)
    note.cite(cited_doc_ids(answer))
    metrics.observe_answer(answer.engine, answer.abstained)
    return answer
