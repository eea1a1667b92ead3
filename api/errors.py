"""One error shape for every failure: `{"error": {"code", "message", "detail"}}`.

`message` is Japanese first (staff read it in the UI), `code` is what programs branch on. The shape
also satisfies OpenAI clients, which read `error.message`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from yakuba.core.errors import ErrorKind, YakubaError

log = logging.getLogger("yakuba.api")

# Messages for errors raised by the framework itself (unknown route, wrong method, …).
_STATUS_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "リクエストが正しくありません / bad request"),
    401: ("unauthorized", "API キーが必要です / API key required"),
    403: ("forbidden", "この操作は許可されていません / forbidden"),
    404: ("not_found", "見つかりません / not found"),
    405: ("method_not_allowed", "この操作（HTTP メソッド）には対応していません / method not allowed"),
    406: ("not_acceptable", "応答形式に対応していません / not acceptable"),
    413: (
        "payload_too_large",
        "送信データが大きすぎます / request body too large",
    ),
    415: ("unsupported_media_type", "この形式のデータには対応していません / unsupported media type"),
    422: ("validation_error", "リクエストの形式が正しくありません / invalid request"),
    429: ("too_many_requests", "リクエストが多すぎます。しばらく待ってから再実行してください / too many requests"),
    500: ("internal_error", "サーバー内部でエラーが発生しました。管理者に連絡してください / internal server error"),
    503: ("unavailable", "一時的に利用できません。しばらく待ってから再実行してください / service unavailable"),
}


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code (e.g. `unauthorized`, `validation_error`).")
    message: str = Field(description="What happened, in Japanese (with English after ` / `).")
    detail: Any = Field(None, description="Extra data: validation errors, the role, the limit, …")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(StarletteHTTPException):
    """An error with a machine code and a Japanese message; raise it from routes and dependencies."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code
        self.message = message
        self.extra = detail


def error_response(
    status_code: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, detail=jsonable_encoder(detail)))
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def too_large(limit_mb: float) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"送信データが大きすぎます（上限 {limit_mb:g} MB） / request body exceeds {limit_mb:g} MB",
        detail={"max_upload_mb": limit_mb},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.code, exc.message, exc.extra, headers)
    code, message = _STATUS_DEFAULTS.get(exc.status_code, ("http_error", "リクエストを処理できません / request failed"))
    if exc.status_code == 413:
        limit = getattr(request.app.state, "settings", None)
        if limit is not None:
            too = too_large(limit.max_upload_mb)
            return error_response(413, too.code, too.message, too.extra, headers)
    return error_response(exc.status_code, code, message, exc.detail, headers)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """pydantic's errors without the echoed input (it may be a large upload or personal data)."""
    details = []
    for error in exc.errors():
        item = {k: v for k, v in error.items() if k in {"type", "loc", "msg"}}
        ctx = error.get("ctx")
        if ctx:
            item["ctx"] = {k: str(v) for k, v in ctx.items()}
        details.append(item)
    return details


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_detail(exc)
    fields = "、".join(
        ".".join(str(p) for p in d.get("loc", ()) if p not in ("body", "query", "path")) or "body" for d in details
    )
    message = f"リクエストの形式が正しくありません（{fields}） / invalid request ({fields})"
    return error_response(422, "validation_error", message, details)


def internal_error() -> JSONResponse:
    """The 500 every unexpected exception becomes (api.middleware.ErrorGuardMiddleware sends it)."""
    code, message = _STATUS_DEFAULTS[500]
    return error_response(500, code, message)


# The one place where an error's kind becomes an HTTP status (yakuba.core.errors knows no HTTP).
STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Any `YakubaError` from the layers below: its code, its "ja / en" message, its kind's status."""
    assert isinstance(exc, YakubaError)
    status = STATUS_BY_KIND[exc.kind]
    if status >= 500:  # an operator's problem: leave a trace in the server log, not only in the client
        log.warning("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return error_response(status, exc.code, exc.message, exc.detail)


async def _json_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON read by a route itself (FastAPI's own body parser already answers 422)."""
    assert isinstance(exc, json.JSONDecodeError)
    detail = [{"type": "json_invalid", "loc": ["body", exc.pos], "msg": exc.msg}]
    return error_response(422, "validation_error", "JSON として読めません / invalid JSON body", detail)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(json.JSONDecodeError, _json_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(YakubaError, _domain_error)
    # No handler for `Exception`: Starlette would answer and then re-raise it to the server, which
    # closes the connection. ErrorGuardMiddleware (outermost) answers instead and raises nothing.


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API キーがない・無効 / missing or invalid key"},
    403: {"model": ErrorResponse, "description": "ロールに権限がない / role not allowed"},
    422: {"model": ErrorResponse, "description": "リクエストの形式が正しくない / validation error"},
    500: {"model": ErrorResponse, "description": "サーバー内部エラー / internal error"},
    503: {"model": ErrorResponse, "description": "ストアやモデルを使えない / store or model unavailable"},
}

# Routes that take a body also answer 400 (a body that cannot be parsed, an input the assistant
# rejects) and 413 (over settings.max_upload_mb).
BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {"model": ErrorResponse, "description": "読めない本文・入力 / unreadable body or unusable input"},
    413: {"model": ErrorResponse, "description": "送信データが大きすぎる / body too large"},
}
