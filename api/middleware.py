"""ASGI middleware: the request body limit, and metrics + audit rows for every request.

Both are plain ASGI (not BaseHTTPMiddleware) so that a streamed answer is measured and audited when
its last byte is sent, with the citations the stream produced, not when the headers go out.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yakuba.api.audit import AuditLog, AuditNote
from yakuba.api.errors import error_response, too_large
from yakuba.api.metrics import Metrics

log = logging.getLogger("yakuba.api")
UNAUDITED_PATHS = frozenset({"/healthz", "/metrics", "/docs", "/redoc", "/openapi.json", "/favicon.ico"})


class BodyLimitMiddleware:
    """413 in the API's error shape for bodies over `max_bytes`: at once when Content-Length says so,
    mid-stream (chunked uploads) by raising from `receive` — FastAPI re-raises HTTP exceptions
    raised while it reads the body, so the handler renders them."""

    def __init__(self, app: ASGIApp, max_bytes: int, limit_mb: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limit_mb = limit_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            error = too_large(self.limit_mb)
            response = error_response(413, error.code, error.message, error.extra, {"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large(self.limit_mb)
            return message

        await self.app(scope, limited_receive, send)


class ObserveMiddleware:
    """Counts and times every request; writes one audit row per /v1 request when the response ends."""

    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditLog) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["audit"] = AuditNote()
        status = 500
        done = False

        async def observed_send(message: Message) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False) and not done:
                done = True
                self._finish(scope, status, started)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if not done:  # exception, or the client went away mid-stream
                done = True
                self._finish(scope, status, started)

    def _finish(self, scope: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route_obj = scope.get("route")
        route = getattr(route_obj, "path", None) or "(unmatched)"
        method = scope.get("method", "")
        self.metrics.observe_request(method, route, status, seconds)
        path = scope.get("path", "")
        if path in UNAUDITED_PATHS or not path.startswith("/v1/"):
            return
        state = scope.get("state", {})
        key = state.get("api_key")
        note: AuditNote = state.get("audit") or AuditNote()
        try:
            self.audit.record(
                key_id=getattr(key, "key_id", None),
                tenant=getattr(key, "tenant", None),
                role=getattr(key, "role", None),
                method=method,
                route=route,
                path=path,
                status=status,
                latency_ms=seconds * 1000,
                question=note.question,
                doc_ids=note.doc_ids,
            )
        except Exception:  # noqa: BLE001 - a broken audit log must be noticed, but not fail the answer
            log.exception("could not write the audit row for %s %s", method, path)
