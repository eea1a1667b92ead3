"""Drafting: minutes (議事録) from a transcript, PR articles (広報記事) from notes, and export of an
edited draft as a Word (.docx) or Markdown file."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_assistant, get_settings
from yakuba.api.errors import BODY_ERROR_RESPONSES, too_large
from yakuba.api.keys import ApiKey
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import ExportRequest
from yakuba.assistant.drafts.export import to_docx
from yakuba.assistant.drafts.interview import draft_from_transcript, interview_events
from yakuba.assistant.drafts.minutes import MinutesDraft, MinutesRequest
from yakuba.assistant.drafts.pr_article import PRArticleDraft, PRArticleRequest
from yakuba.assistant.service import Assistant
from yakuba.assistant.transcribe import transcribe
from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings

router = APIRouter(tags=["drafts"], responses=BODY_ERROR_RESPONSES, route_class=YakubaRoute)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


@router.post("/v1/drafts/minutes", response_model=MinutesDraft, summary="議事録の下書き / minutes draft")
def draft_minutes(
    body: MinutesRequest,
    key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
) -> MinutesDraft:
    return assistant.draft_minutes(body)


_PR_FORM_FIELDS = ("target_chars", "style", "title_hint", "contact", "use_corpus", "speaker_name")
_PR_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PRArticleRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "audio": {"type": "string", "format": "binary", "description": "取材の録音 / interview recording"},
                        "transcript": {"type": "string", "description": "文字起こし（録音の代わり） / transcript"},
                        "stream": {"type": "boolean", "description": "進捗を NDJSON で返す / NDJSON progress events"},
                        **{name: {"type": "string"} for name in _PR_FORM_FIELDS},
                    },
                }
            },
        },
    }
}


@router.post(
    "/v1/drafts/pr-article",
    response_model=PRArticleDraft,
    summary="広報記事の下書き（メモ・文字起こし・録音から） / PR article draft",
    openapi_extra=_PR_OPENAPI,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "The draft (or NDJSON events)."}},
)
async def draft_pr_article(
    request: Request,
    key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    settings: Annotated[Settings, Depends(get_settings)],
    note: Annotated[AuditNote, Depends(audit_note)],
) -> Any:
    """JSON `PRArticleRequest`, or multipart with a recording (`audio`) or a `transcript` field.

    A recording is transcribed by Whisper, its lines marked 聞き手 / 話し手, and drafted; the response
    carries that transcript for the officer to correct. With `stream=true` the response is NDJSON:
    progress events while Whisper runs, then the transcript, then the draft.
    """
    if not request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        body = _pr_request(await request.json())
        return _cited(await run_in_threadpool(assistant.draft_pr_article, body), note)
    form = await request.form()
    fields = {name: form[name] for name in _PR_FORM_FIELDS if isinstance(form.get(name), str) and form[name] != ""}
    upload = form.get("audio")
    text = form.get("transcript") or form.get("notes")
    if isinstance(upload, StarletteUpload):
        audio = await upload.read()
        if len(audio) > settings.max_upload_mb * 1024 * 1024:
            raise too_large(settings.max_upload_mb)
        _pr_request({**fields, "notes": "録音"})  # the other fields are checked before Whisper runs
        if str(form.get("stream", "")).lower() in ("1", "true", "on", "yes"):
            events = interview_events(audio, upload.filename, fields, settings, assistant.draft_pr_article)
            lines = (json.dumps(event, ensure_ascii=False) + "\n" for event in events)
            return StreamingResponse(lines, media_type="application/x-ndjson")
        transcript = await run_in_threadpool(transcribe, audio, settings, filename=upload.filename)
        draft = await run_in_threadpool(draft_from_transcript, transcript, fields, assistant.draft_pr_article)
        return _cited(draft, note)
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(
            "録音（audio）か文字起こし（transcript）を指定してください。", "send an audio file or a transcript field",
            code="missing_interview",
        )
    body = _pr_request({**fields, "notes": text})
    return _cited(await run_in_threadpool(assistant.draft_pr_article, body), note)


def _pr_request(data: Any) -> PRArticleRequest:
    try:
        return PRArticleRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def _cited(draft: PRArticleDraft, note: AuditNote) -> PRArticleDraft:
    citations = getattr(draft, "citations", None) or []
    note.cite(list(dict.fromkeys(str(c.doc_id) for c in citations if getattr(c, "doc_id", None))))
    return draft


def download_name(title: str | None, suffix: str) -> str:
    """A file name from the title (Japanese kept, path and control characters removed)."""
    name = _UNSAFE_IN_NAME.sub(" ", unicodedata.normalize("NFKC", title or "")).strip(" .")
    return f"{(name or 'draft')[:80]}{suffix}"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name (Japanese titles) for current browsers."""
    fallback = filename if filename.isascii() else "draft" + filename[filename.rfind("."):]
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@router.post(
    "/v1/drafts/export",
    summary="下書きを Word / Markdown で出力 / export a draft",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}, "text/markdown": {}}, "description": "The file."}},
)
def export_draft(body: ExportRequest, key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))]) -> Response:
    if body.format == "md":
        filename = download_name(body.title, ".md")
        content = body.markdown if body.markdown.endswith("\n") else body.markdown + "\n"
        return Response(content.encode("utf-8"), media_type="text/markdown; charset=utf-8",
                        headers={"Content-Disposition": content_disposition(filename)})
    filename = download_name(body.title, ".docx")
    return Response(to_docx(body.markdown, title=body.title), media_type=DOCX_TYPE,
                    headers={"Content-Disposition": content_disposition(filename)})
