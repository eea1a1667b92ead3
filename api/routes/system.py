"""/healthz and /readyz (no key), /metrics (any key) and /v1/me (the caller's key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from yakuba import __version__
from yakuba.api.auth import ROLE_PERMISSIONS, Permission, current_key, require
from yakuba.api.deps import get_metrics, get_settings
from yakuba.api.errors import ERROR_RESPONSES
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import HealthResponse, MeResponse, ReadyResponse
from yakuba.core.settings import Settings

router = APIRouter(tags=["system"], route_class=YakubaRoute)


def _store_health(settings: Settings) -> dict[str, object]:
    from yakuba.retriever.store import make_client

    where = settings.chroma_url or "embedded"
    try:
        make_client(settings).heartbeat()
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        return {"ok": False, "backend": where, "error": str(exc)[:300]}
    return {"ok": True, "backend": where}


def _models(settings: Settings) -> dict[str, object]:
    from yakuba.retriever.embeddings import EmbeddingModelError, resolve_model

    try:
        resolve_model(settings.embedding_model, build=False, model_cache=settings.model_cache)
        embedding_ok = True
    except EmbeddingModelError:
        embedding_ok = False
    return {
        "chat_engine": settings.chat_engine,
        "chat_model": settings.chat_model if settings.chat_engine != "extractive" else None,
        "openai_base_url": settings.openai_base_url if settings.chat_engine == "openai" else None,
        "embedding_model": settings.embedding_model,
        "embedding_model_ok": embedding_ok,
        "whisper_model": settings.whisper_model,
    }


@router.get("/healthz", response_model=HealthResponse, summary="死活監視（キー不要） / health check",
            responses={503: {"model": HealthResponse, "description": "ストアに接続できない / store down"}})
def healthz(settings: Annotated[Settings, Depends(get_settings)]) -> JSONResponse:
    store = _store_health(settings)
    models = _models(settings)
    ok = bool(store["ok"]) and bool(models["embedding_model_ok"])
    body = HealthResponse(status="ok" if ok else "degraded", version=__version__, store=store, models=models)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _database_health(settings: Settings) -> dict[str, object]:
    if not settings.database_url:
        return {"ok": True, "backend": "sqlite"}
    from yakuba.core.db import ping

    try:
        ping(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        return {"ok": False, "backend": "postgresql", "error": str(exc)[:300]}
    return {"ok": True, "backend": "postgresql"}


def _model_on_disk(settings: Settings) -> bool:
    """A model given as a folder must exist: a replica started with a wrong path is not ready (a hub
    name cannot be checked offline and counts as loadable)."""
    from yakuba.retriever.embeddings import EmbeddingModelError, resolve_model

    try:
        resolved = resolve_model(settings.embedding_model, build=False, model_cache=settings.model_cache)
    except EmbeddingModelError:
        return False
    looks_like_path = resolved.startswith(("/", ".", "~")) or "\\" in resolved
    return not looks_like_path or Path(resolved).expanduser().exists()


@router.get("/readyz", response_model=ReadyResponse, summary="受付可能か（キー不要） / readiness",
            responses={503: {"model": ReadyResponse, "description": "DB・ストア・モデルのいずれかが使えない"}})
def readyz(settings: Annotated[Settings, Depends(get_settings)]) -> JSONResponse:
    """Whether this replica can serve now: the database, Chroma, and the embedding model present
    (loaded or loadable without a download). A load balancer sends traffic only to ready replicas;
    /healthz stays the liveness probe."""
    checks = {"database": _database_health(settings), "store": _store_health(settings)}
    models = _models(settings)
    checks["models"] = {"ok": bool(models["embedding_model_ok"]) and _model_on_disk(settings), **models}
    ok = all(bool(check["ok"]) for check in checks.values())
    body = ReadyResponse(status="ready" if ok else "not_ready", version=__version__, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus メトリクス / metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}, **ERROR_RESPONSES})
def metrics(
    key: Annotated[ApiKey, Depends(require(Permission.ME))], registry: Annotated[Metrics, Depends(get_metrics)]
) -> Response:
    return Response(registry.render(), media_type=registry.content_type)


@router.get("/v1/me", response_model=MeResponse, summary="このキーのロールとテナント / who am I",
            responses=ERROR_RESPONSES)
def me(key: Annotated[ApiKey, Depends(current_key)]) -> MeResponse:
    permissions = sorted(p.value for p in ROLE_PERMISSIONS.get(key.role, frozenset()))
    return MeResponse(key_id=key.key_id, name=key.name, role=key.role, tenant=key.tenant, permissions=permissions)
