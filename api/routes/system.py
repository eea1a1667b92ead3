"""/healthz (no key), /metrics (any key) and /v1/me (the caller's key)."""

from __future__ import annotations

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
from yakuba.api.schemas import HealthResponse, MeResponse
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
