"""The FastAPI application: `create_app(settings)` wires keys, audit, metrics, errors and routes.

Creating the app loads no model: each tenant's Assistant is opened on its first request and loads
its models on first use, so `yakuba serve` starts in about a second and tests stay fast.
"""

from __future__ import annotations

from fastapi import FastAPI

from yakuba import __version__
from yakuba.api.audit import open_audit_log
from yakuba.api.errors import install_error_handlers
from yakuba.api.keys import open_key_store
from yakuba.api.logs import RequestIdMiddleware
from yakuba.api.metrics import Metrics
from yakuba.api.middleware import (
    AllowedMethodsMiddleware,
    AuthGateMiddleware,
    BodyLimitMiddleware,
    ErrorGuardMiddleware,
    ObserveMiddleware,
)
from yakuba.api.routes import (
    chat,
    documents,
    drafts,
    evals,
    openai_compat,
    search,
    surveys,
    system,
    transcribe,
)
from yakuba.core.db import ensure_schema
from yakuba.core.settings import Settings, get_settings

DESCRIPTION = """\
Yakuba（役場）: 自治体の文書に基づいて回答する RAG アシスタントの API です。
Every route except `/healthz` and `/readyz` needs `Authorization: Bearer <key>` (`yakuba keys create`).
Errors always have the shape `{"error": {"code", "message", "detail"}}`; see docs/api.md.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_home()
    app = FastAPI(
        title="Yakuba API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "chat", "description": "資料に基づく回答 / grounded answers"},
            {"name": "openai", "description": "OpenAI 互換 / OpenAI-compatible"},
            {"name": "search", "description": "検索 / retrieval"},
            {"name": "drafts", "description": "議事録・広報記事の下書き / drafting"},
            {"name": "transcribe", "description": "文字起こし / transcription"},
            {"name": "documents", "description": "文書の登録・一覧・削除 / documents"},
            {"name": "evals", "description": "評価レポート / evaluation reports"},
            {"name": "system", "description": "死活監視・メトリクス / health, metrics"},
        ],
    )
    app.state.settings = settings
    if settings.database_url:  # replicas share one schema: bring it up to date (they wait for each other)
        ensure_schema(settings.database_url)
    app.state.keys = open_key_store(settings)
    app.state.audit = open_audit_log(settings)
    app.state.metrics = Metrics()

    install_error_handlers(app)
    for module in (chat, openai_compat, search, drafts, transcribe, surveys, documents, evals, system):
        app.include_router(module.router)

    # The last added is the outermost. Outermost first: turn any exception into the JSON 500, observe
    # and audit everything (401s, 413s and 500s included), answer OPTIONS / complete 405s, check the
    # key before any body is read, then enforce the body limit.
    limit = int(settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limit, limit_mb=settings.max_upload_mb)
    app.add_middleware(AuthGateMiddleware, keys=app.state.keys)
    app.add_middleware(AllowedMethodsMiddleware, routes=app.router.routes)
    app.add_middleware(ObserveMiddleware, metrics=app.state.metrics, audit=app.state.audit)
    app.add_middleware(ErrorGuardMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every line a request causes carries its id
    return app
