"""Who may call what: `Authorization: Bearer <key>` → the key's role and tenant.

The tenant always comes from the key, never from the request, so a key only ever sees its own
municipality's documents.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from yakuba.api.errors import ApiError
from yakuba.api.keys import ApiKey, KeyStore


class Permission(StrEnum):
    CHAT = "chat"
    SEARCH = "search"
    DRAFTS = "drafts"
    TRANSCRIBE = "transcribe"
    DOCUMENTS_READ = "documents:read"
    DOCUMENTS_WRITE = "documents:write"
    EVALS = "evals"
    ME = "me"  # /v1/me and /metrics: any valid key


_READ_AND_ASK = {Permission.CHAT, Permission.SEARCH, Permission.DOCUMENTS_READ, Permission.ME}
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "staff": frozenset(
        _READ_AND_ASK | {Permission.DRAFTS, Permission.TRANSCRIBE, Permission.DOCUMENTS_WRITE}
    ),
    "pr": frozenset(_READ_AND_ASK | {Permission.DRAFTS, Permission.TRANSCRIBE}),
    "evaluator": frozenset(_READ_AND_ASK | {Permission.EVALS}),
    "admin": frozenset(Permission),
}

ROLE_LABELS_JA = {"staff": "職員", "pr": "広報", "admin": "管理者", "evaluator": "評価担当"}

bearer = HTTPBearer(auto_error=False, description="`yakuba keys create` で発行した API キー / API key")


def key_store(request: Request) -> KeyStore:
    return request.app.state.keys


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def missing_key() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "API キーが必要です。`Authorization: Bearer <キー>` ヘッダーを付けてください / API key required",
        headers=_CHALLENGE,
    )


def invalid_key() -> ApiError:
    return ApiError(
        401,
        "invalid_api_key",
        "API キーが無効です（存在しないか、失効しています） / invalid or revoked API key",
        headers=_CHALLENGE,
    )


def authenticate(keys: KeyStore, authorization: str | None) -> ApiKey:
    """The active key of an `Authorization: Bearer <key>` header, else the 401 to answer."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not token:
        raise missing_key()
    key = keys.verify(token)
    if key is None:
        raise invalid_key()
    return key


def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    keys: Annotated[KeyStore, Depends(key_store)],
) -> ApiKey:
    """401 unless the request carries an active key; the key is remembered for the audit log.

    Under /v1 the key was already checked by AuthGateMiddleware, before the body was read (a request
    without a key gets 401 whatever its body); that check is reused, not repeated."""
    checked = getattr(request.state, "api_key", None)
    if isinstance(checked, ApiKey):
        return checked
    if credentials is None or not credentials.credentials:
        raise missing_key()
    key = keys.verify(credentials.credentials)
    if key is None:
        raise invalid_key()
    request.state.api_key = key
    return key


def require(permission: Permission) -> Callable[..., ApiKey]:
    """Dependency: the caller's key, or 403 when its role lacks `permission`."""

    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if permission not in ROLE_PERMISSIONS.get(key.role, frozenset()):
            raise ApiError(
                403,
                "forbidden",
                f"このキーのロール（{key.role}: {ROLE_LABELS_JA.get(key.role, key.role)}）では実行できません / "
                f"role {key.role!r} may not do this",
                detail={"role": key.role, "required": permission.value},
            )
        return key

    check.__name__ = f"require_{permission.name.lower()}"
    return check
