"""/v1/documents: upload (→ ingest), list and delete the caller's tenant's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from yakuba.api.audit import AuditNote
from yakuba.api.auth import Permission, require
from yakuba.api.deps import audit_note, get_metrics, get_settings
from yakuba.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.api.schemas import (
    DeleteResponse,
    DocumentInfo,
    DocumentList,
    UploadedDocument,
    UploadResponse,
    UploadResult,
)
from yakuba.api.uploads import UploadIngestor, remove_uploaded_file
from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.retriever.store import TenantStore

router = APIRouter(tags=["documents"], responses=ERROR_RESPONSES)


@router.get("/v1/documents", response_model=DocumentList, summary="登録文書の一覧 / list documents")
def list_documents(
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_READ))],
    settings: Annotated[Settings, Depends(get_settings)],
) -> DocumentList:
    store = TenantStore.open(settings, key.tenant, check_model=False)
    return DocumentList(
        tenant=key.tenant,
        documents=[
            DocumentInfo(
                doc_id=r.doc_id, title=r.title, doc_type=r.doc_type.value, file_format=r.file_format,
                pages=r.pages, chunks=r.chunks, ingested_at=r.ingested_at, warnings=r.warnings,
            )
            for r in store.list_documents()
        ],
    )


@router.post(
    "/v1/documents",
    response_model=UploadResponse,
    summary="文書をアップロードして登録 / upload and ingest",
    responses={413: {"model": ErrorResponse, "description": "送信データが大きすぎる / too large"}},
)
def upload_documents(
    request: Request,
    files: Annotated[list[UploadFile], File(description="登録するファイル（複数可） / files to ingest")],
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_WRITE))],
    settings: Annotated[Settings, Depends(get_settings)],
    note: Annotated[AuditNote, Depends(audit_note)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    doc_type: Annotated[str | None, Form(description="文書種別（省略時は自動判定） / document type")] = None,
) -> UploadResponse:
    forced = None
    if doc_type and doc_type.strip():
        try:
            forced = DocType.parse(doc_type)
        except ValueError as exc:
            raise ApiError(422, "invalid_doc_type", str(exc), detail={"doc_type": doc_type}) from exc
    ingestor = UploadIngestor(settings, key.tenant, request.app.state.write_locks, doc_type=forced)
    outcome = ingestor.ingest((f.filename, f.file) for f in files)
    results = []
    for client_name, stored_name, result in outcome:
        metrics.ingested.labels(result.status).inc()
        documents = [
            UploadedDocument(
                doc_id=d.doc_id, title=d.title, status=d.status,  # type: ignore[arg-type]
                doc_type=d.doc_type, pages=d.pages, chunks=d.chunks, warnings=d.warnings,
            )
            for d in result.documents
        ]
        note.cite([d.doc_id for d in documents])
        results.append(
            UploadResult(
                filename=client_name,
                saved_as=stored_name if result.status != "failed" else None,
                status=result.status,
                documents=documents,
                error_code=result.error_code,
                message=result.message_ja,
                message_en=result.message_en,
            )
        )
    failed = sum(1 for r in results if r.status == "failed")
    return UploadResponse(tenant=key.tenant, results=results, succeeded=len(results) - failed, failed=failed)


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=DeleteResponse,
    summary="文書を削除 / delete a document",
    responses={404: {"model": ErrorResponse, "description": "文書がない / no such document"}},
)
def delete_document(
    doc_id: str,
    request: Request,
    key: Annotated[ApiKey, Depends(require(Permission.DOCUMENTS_WRITE))],
    settings: Annotated[Settings, Depends(get_settings)],
    note: Annotated[AuditNote, Depends(audit_note)],
) -> DeleteResponse:
    with request.app.state.write_locks(key.tenant):
        store = TenantStore.open(settings, key.tenant, check_model=False)
        try:
            record = store.get_document(doc_id)
            if record is None and not store.chunk_ids(doc_id):
                raise ApiError(404, "document_not_found", f"文書が見つかりません: {doc_id} / no such document",
                               detail={"doc_id": doc_id})
            removed = store.delete_document(doc_id)
        finally:
            store.close()
    if record is not None:
        remove_uploaded_file(settings, key.tenant, record.source_path)
    note.cite([doc_id])
    return DeleteResponse(doc_id=doc_id, deleted_chunks=removed)
