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
from yakuba.api.deps import audit_note, get_assistant, get_metrics
from yakuba.api.errors import ERROR_RESPONSES
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.api.schemas import ChatRequest
from yakuba.assistant.schemas import Answer, AnswerEvent, AnswerRequest
from yakuba.assistant.service import Assistant
from yakuba.core.errors import YakubaError

log = logging.getLogger("yakuba.api")
router = APIRouter(tags=["chat"], responses=ERROR_RESPONSES)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_FAILED = "回答の生成中にエラーが発生しました。もう一度お試しください / the answer failed, please retry"


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
            "(sources → token* → answer), then `data: [DONE]`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
def chat(
    body: ChatRequest,
    key: Annotated[ApiKey, Depends(require(Permission.CHAT))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    note: Annotated[AuditNote, Depends(audit_note)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
) -> Answer | StreamingResponse:
    note.question = body.question
    request = to_answer_request(body)
    if body.stream:
        events = start_stream(assistant, request)
        return StreamingResponse(sse_events(events, note, metrics), media_type="text/event-stream",
                                 headers=SSE_HEADERS)
    answer = assistant.answer(request)
    note.cite(cited_doc_ids(answer))
    metrics.observe_answer(answer.engine, answer.abstained)
    return answer
