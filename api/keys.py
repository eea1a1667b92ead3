"""API keys: random tokens `ykb_<id>_<secret>`, stored as id + sha256(secret) in SQLite.

The id is public (it appears in `yakuba keys list` and the audit log); the secret is shown once
when the key is created and never stored, so a copied keys.sqlite does not leak usable keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel

from yakuba.api.sqlite import connect
from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings, validate_tenant

Role = Literal["staff", "pr", "admin", "evaluator"]
ROLES: tuple[str, ...] = get_args(Role)
KEY_PREFIX = "ykb"
_ID_BYTES = 6  # 12 hex characters: unique enough for a municipality's keys, short enough to type
_SECRET_BYTES = 32
_TOUCH_EVERY_S = 60.0  # last_used_at is a hint for admins; do not write on every request

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
)
"""


class KeyRequestError(InvalidInputError, ValueError):
    """A key request the operator must fix (unknown role, bad tenant)."""

    code = "invalid_key_request"


class ApiKey(BaseModel):
    """A stored key without its secret."""

    key_id: str
    name: str = ""
    role: Role
    tenant: str
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matching_key(row: Any, secret: str, to_key: Callable[[Any], ApiKey]) -> ApiKey | None:
    """The active key of a stored row whose secret matches (every store checks a token the same way)."""
    if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
        return None
    key = to_key(row)
    return key if key.active else None


def parse_token(token: str) -> tuple[str, str] | None:
    """`ykb_<id>_<secret>` → (id, secret); None for anything else."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != _ID_BYTES * 2 or any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


def validate_role(role: str) -> Role:
    value = role.strip().lower()
    if value not in ROLES:
        raise KeyRequestError(
            f"不明なロールです: {role!r}（指定できる値: {', '.join(ROLES)}）", f"unknown role {role!r}", code="unknown_role"
        )
    return value  # type: ignore[return-value]


class KeyStore:
    """Create, verify, list and revoke keys; one short SQLite connection per call (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(_SCHEMA)

    def _db(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.path, rows=True)

    def create(self, role: str, tenant: str, name: str | None = None) -> tuple[ApiKey, str]:
        """Returns the stored key and the full token (the only time the secret exists in clear)."""
        checked_role = validate_role(role)
        try:
            checked_tenant = validate_tenant(tenant)
        except ValueError as exc:
            raise KeyRequestError(str(exc), code="invalid_tenant") from exc
        with self._db() as db:
            while True:
                key_id = secrets.token_hex(_ID_BYTES)
                if not db.execute("SELECT 1 FROM api_keys WHERE key_id = ?", (key_id,)).fetchone():
                    break
            secret = secrets.token_urlsafe(_SECRET_BYTES)
            key = ApiKey(key_id=key_id, name=name or "", role=checked_role, tenant=checked_tenant, created_at=_now())
            db.execute(
                "INSERT INTO api_keys (key_id, secret_sha256, name, role, tenant, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key.key_id, _digest(secret), key.name, key.role, key.tenant, key.created_at),
            )
        return key, f"{KEY_PREFIX}_{key_id}_{secret}"

    def verify(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or None (unknown, malformed, wrong secret, revoked)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._db() as db:
            row = db.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
            key = matching_key(row, secret, _row_to_key)
            if key is None:
                return None
            if _stale(key.last_used_at):
                key.last_used_at = _now()
                db.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (key.last_used_at, key_id))
        return key

    def get(self, key_id: str) -> ApiKey | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return _row_to_key(row) if row else None

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM api_keys ORDER BY created_at, key_id").fetchall()
        keys = [_row_to_key(row) for row in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke a key (idempotent); None when no such key exists."""
        with self._db() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (_now(), key_id)
            )
        return self.get(key_id)


    def export_rows(self) -> list[dict[str, object]]:
        """Every row including the secret's digest (backups: restored keys keep working)."""
        with self._db() as db:
            return [dict(row) for row in db.execute("SELECT * FROM api_keys ORDER BY key_id").fetchall()]

    def import_rows(self, rows: list[dict[str, object]]) -> None:
        """Insert or replace rows as `export_rows` gave them."""
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO api_keys (key_id, secret_sha256, name, role, tenant, created_at, "
                "revoked_at, last_used_at) VALUES (:key_id, :secret_sha256, :name, :role, :tenant, :created_at, "
                ":revoked_at, :last_used_at)",
                rows,
            )


def _row_to_key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        role=row["role"],
        tenant=row["tenant"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _stale(last_used_at: str | None) -> bool:
    if not last_used_at:
        return True
    try:
        seen = datetime.fromisoformat(last_used_at)
    except ValueError:
        return True
    return (datetime.now(UTC) - seen).total_seconds() >= _TOUCH_EVERY_S


def open_key_store(settings: Settings) -> KeyStore:
    """The deployment's keys: the shared database when YAKUBA_DATABASE_URL is set, else keys.sqlite."""
    if settings.database_url:
        from yakuba.api.keys_db import DatabaseKeyStore
        from yakuba.core.db import engine_for, ensure_schema

        ensure_schema(settings.database_url)
        return DatabaseKeyStore(engine_for(settings.database_url))  # type: ignore[return-value]
    return KeyStore(settings.keys_path)
