"""ASGI middleware, outermost first: the error guard, metrics + audit rows for every request, the
allowed methods (OPTIONS, 405), the key check before any body is read, and the request body limit.

All are plain ASGI (not BaseHTTPMiddleware) so that a streamed answer is measured and audited when
its last byte is sent, with the citations the stream produced, not when the headers go out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yakuba.api.audit import AuditLog, AuditNote
from yakuba.api.auth import authenticate
from yakuba.api.errors import ApiError, error_response, internal_error, too_large
from yakuba.api.keys import KeyStore
from yakuba.api.metrics import Metrics

log = logging.getLogger("yakuba.api")
UNAUDITED_PATHS = frozenset({"/healthz", "/metrics", "/docs", "/redoc", "/openapi.json", "/favicon.ico"})


class ErrorGuardMiddleware:
    """The outermost layer: an exception no handler took becomes the 500 in the API's error shape.

    Starlette's own last resort answers and then re-raises to the server, which logs "Exception in
    ASGI application" and closes the connection under clients that reuse it. Here nothing is
    re-raised: the error is logged once and the connection stays usable. When the response had
    already started (a stream), its body is ended cleanly instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        ended = False

        async def guarded_send(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:  # noqa: BLE001 - the point of this layer
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            try:
                if not started:
                    await internal_error()(scope, receive, send)
                elif not ended:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception:  # noqa: BLE001 - the client is gone; nothing left to tell it
                log.debug("could not send the error response", exc_info=True)


def needs_key(path: str) -> bool:
    """Paths whose routes all need a key: the API under /v1 and the metrics."""
    return path.startswith("/v1/") or path in {"/v1", "/metrics"}


class AuthGateMiddleware:
    """401 for a request to a keyed path without an active key, before its body is read or parsed,
    so a client without a key learns that first (not a 400/422 about a body it may not send).
    The checked key goes to `request.state.api_key`, where `auth.current_key` takes it."""

    def __init__(self, app: ASGIApp, keys: KeyStore) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        try:
            key = await run_in_threadpool(authenticate, self.keys, authorization)
        except ApiError as error:
            response = error_response(error.status_code, error.code, error.message, error.extra, error.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["api_key"] = key
        await self.app(scope, receive, send)


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, with included routers opened (FastAPI keeps them as one entry each)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


class AllowedMethodsMiddleware:
    """`OPTIONS <path>` answers 204 with every method some route offers on that path, and a 405
    lists them all in `Allow`. Starlette alone names only the first route that matched the path
    (GET /v1/documents hides POST)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's live list: routes added later are seen too

    def allowed(self, scope: Scope) -> set[str]:
        path = scope["path"]
        methods: set[str] = set()
        for route in _flat(self.routes):
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(path):
                methods |= set(getattr(route, "methods", None) or ())
        return methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = self.allowed(scope)
            if methods:
                allow = ", ".join(sorted(methods | {"OPTIONS"}))
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return

        async def allow_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = MutableHeaders(scope=message)
                headers["Allow"] = ", ".join(sorted(self.allowed(scope) | {"OPTIONS"}))
            await send(message)

        await self.app(scope, receive, allow_send)


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
        row = {
            "key_id": getattr(key, "key_id", None), "tenant": getattr(key, "tenant", None),
            "role": getattr(key, "role", None), "method": method, "route": route, "path": path,
            "status": status, "latency_ms": seconds * 1000,
        }
        try:
            self.audit.record(**row, question=note.question, doc_ids=note.doc_ids)
        except Exception:  # noqa: BLE001 - a broken audit log must be noticed, but not fail the answer
            log.exception("could not write the audit row for %s %s", method, path)
            try:  # still leave a trace of the request: who, what route, how it ended
                self.audit.record(**row)
            except Exception:  # noqa: BLE001
                log.exception("could not write even the short audit row for %s %s", method, path)
