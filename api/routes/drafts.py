"""Drafting: minutes (議事録) from a transcript, PR articles (広報記事) from notes, and export of an
edited draft as a Word (.docx) or Markdown file."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_assistant
from yakuba.api.errors import ERROR_RESPONSES
from yakuba.api.keys import ApiKey
from yakuba.api.schemas import ExportRequest
from yakuba.assistant.drafts.export import to_docx
from yakuba.assistant.drafts.minutes import MinutesDraft, MinutesRequest
from yakuba.assistant.drafts.pr_article import PRArticleDraft, PRArticleRequest
from yakuba.assistant.service import Assistant

router = APIRouter(tags=["drafts"], responses=ERROR_RESPONSES)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


@router.post("/v1/drafts/minutes", response_model=MinutesDraft, summary="議事録の下書き / minutes draft")
def draft_minutes(
    body: MinutesRequest,
    key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
) -> MinutesDraft:
    return assistant.draft_minutes(body)


@router.post("/v1/drafts/pr-article", response_model=PRArticleDraft, summary="広報記事の下書き / PR article draft")
def draft_pr_article(
    body: PRArticleRequest,
    key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    note: Annotated[AuditNote, Depends(audit_note)],
) -> PRArticleDraft:
    draft = assistant.draft_pr_article(body)
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
