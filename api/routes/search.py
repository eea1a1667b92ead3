"""POST /v1/search: the retriever's passages with citation data and scores, no answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_assistant
from yakuba.api.errors import BODY_ERROR_RESPONSES
from yakuba.api.keys import ApiKey
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import SearchPassage, SearchRequest, SearchResponse
from yakuba.assistant.service import Assistant

router = APIRouter(tags=["search"], responses=BODY_ERROR_RESPONSES, route_class=YakubaRoute)


@router.post("/v1/search", response_model=SearchResponse, summary="登録文書の検索 / search passages")
def search(
    body: SearchRequest,
    key: Annotated[ApiKey, Depends(require(Permission.SEARCH))],
    assistant: Annotated[Assistant, Depends(get_assistant)],
    note: Annotated[AuditNote, Depends(audit_note)],
) -> SearchResponse:
    note.question = body.query
    result = assistant.search(body.query, k=body.k, mode=body.mode, filters=body.filters)
    note.cite(list(dict.fromkeys(p.doc_id for p in result.passages)))
    labelled = [SearchPassage(**p.model_dump(), label=p.citation) for p in result.passages]
    return SearchResponse(**result.model_dump(exclude={"passages"}), passages=labelled)
