"""/v1/documents: upload (→ ingest), list and delete the caller's tenant's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_metrics, get_settings
from yakuba.api.errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES, ApiError, ErrorResponse
from yakuba.api.keys import ApiKey
from yakuba.api.limits import MAX_SHORT_FIELD_CHARS, check_file_count, check_filename
from yakuba.api.metrics import Metrics
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import (
    DeleteResponse,
    DocumentInfo,
    DocumentList,
    UploadedDocument,
    UploadResponse,
    UploadResult,
)
from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.retriever.library import DocumentLibrary, SavedUpload

router = APIRouter(tags=["documents"], responses=ERROR_RESPONSES, route_class=YakubaRoute)


@router.get("/v1/documents", response_model=DocumentList, summary="登録文書の一覧 / list documents")
def list_documents(
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_READ))],
    settings: Annotated[Settings, Depends(get_settings)],
) -> DocumentList:
    return DocumentList(
        tenant=key.tenant,
        documents=[
            DocumentInfo(
                doc_id=r.doc_id, title=r.title, doc_type=r.doc_type.value, file_format=r.file_format,
                pages=r.pages, chunks=r.chunks, ingested_at=r.ingested_at, warnings=r.warnings,
            )
            for r in DocumentLibrary(settings, key.tenant).list()
        ],
    )


@router.post(
    "/v1/documents",
    response_model=UploadResponse,
    summary="文書をアップロードして登録 / upload and ingest",
    responses=BODY_ERROR_RESPONSES,
)
def upload_documents(
    files: Annotated[list[UploadFile], File(description="登録するファイル（複数可） / files to ingest")],
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_WRITE))],
    settings: Annotated[Settings, Depends(get_settings)],
    note: Annotated[AuditNote, Depends(audit_note)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    doc_type: Annotated[
        str | None, Form(max_length=MAX_SHORT_FIELD_CHARS, description="文書種別（省略時は自動判定） / document type")
    ] = None,
) -> UploadResponse:
    # Every name is checked before anything is stored: a request that fails leaves no document behind.
    check_file_count(len(files))
    for upload in files:
        check_filename(upload.filename)
    forced = None
    if doc_type and doc_type.strip():
        try:
            forced = DocType.parse(doc_type)
        except ValueError as exc:
            raise ApiError(422, "invalid_doc_type", str(exc), detail={"doc_type": doc_type}) from exc
    saved = DocumentLibrary(settings, key.tenant).add_uploads(((f.filename, f.file) for f in files), doc_type=forced)
    results = [_upload_result(upload) for upload in saved]
    for result in results:
        metrics.ingested.labels(result.status).inc()
        note.cite([d.doc_id for d in result.documents])
    failed = sum(1 for r in results if r.status == "failed")
    return UploadResponse(tenant=key.tenant, results=results, succeeded=len(results) - failed, failed=failed)


def _upload_result(upload: SavedUpload) -> UploadResult:
    result = upload.result
    return UploadResult(
        filename=upload.filename,
        saved_as=upload.saved_as,
        status=result.status,
        documents=[
            UploadedDocument(
                doc_id=d.doc_id, title=d.title, status=d.status,  # type: ignore[arg-type]
                doc_type=d.doc_type, pages=d.pages, chunks=d.chunks, warnings=d.warnings,
            )
            for d in result.documents
        ],
        error_code=result.error_code,
        message=result.message_ja,
        message_en=result.message_en,
    )


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=DeleteResponse,
    summary="文書を削除 / delete a document",
    responses={404: {"model": ErrorResponse, "description": "文書がない / no such document"}},
)
def delete_document(
    doc_id: str,
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_WRITE))],
    settings: Annotated[Settings, Depends(get_settings)],
    note: Annotated[AuditNote, Depends(audit_note)],
) -> DeleteResponse:
    # DocumentNotFoundError (a NotFoundError) becomes the 404 in api/errors.py
    removed = DocumentLibrary(settings, key.tenant).delete(doc_id)
    note.cite([doc_id])
    return DeleteResponse(doc_id=doc_id, deleted_chunks=removed)
