"""API keys in the shared database (YAKUBA_DATABASE_URL): the same tokens and rules as api/keys.py.

Every `verify` reads the key's row, so a key revoked through any replica (or `yakuba keys revoke`
on any machine) is refused by every replica from its next request on: no cache to expire.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import RowMapping

from yakuba.api.keys import (
    _ID_BYTES,
    _SECRET_BYTES,
    KEY_PREFIX,
    ApiKey,
    KeyRequestError,
    _digest,
    _now,
    _stale,
    matching_key,
    parse_token,
    validate_role,
)
from yakuba.core.db import api_keys
from yakuba.core.settings import validate_tenant


class DatabaseKeyStore:
    """KeyStore's interface over the `api_keys` table (SQLAlchemy Core, one short transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, role: str, tenant: str, name: str | None = None) -> tuple[ApiKey, str]:
        checked_role = validate_role(role)
        try:
            checked_tenant = validate_tenant(tenant)
        except ValueError as exc:
            raise KeyRequestError(str(exc), code="invalid_tenant") from exc
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        with self.engine.begin() as db:
            while True:
                key_id = secrets.token_hex(_ID_BYTES)
                if db.execute(select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first() is None:
                    break
            key = ApiKey(
                key_id=key_id, name=name or "", role=checked_role, tenant=checked_tenant, created_at=_now()
            )
            db.execute(
                api_keys.insert().values(
                    secret_sha256=_digest(secret), **key.model_dump(exclude={"revoked_at", "last_used_at"})
                )
            )
        return key, f"{KEY_PREFIX}_{key_id}_{secret}"

    def verify(self, token: str) -> ApiKey | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self.engine.begin() as db:
            row = db.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
            key = matching_key(row, secret, _to_key)
            if key is None:
                return None
            if _stale(key.last_used_at):
                key.last_used_at = _now()
                db.execute(
                    update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=key.last_used_at)
                )
        return key

    def get(self, key_id: str) -> ApiKey | None:
        with self.engine.connect() as db:
            row = db.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        return _to_key(row) if row else None

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        with self.engine.connect() as db:
            rows = (
                db.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id))
                .mappings()
                .all()
            )
        keys = [_to_key(row) for row in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def revoke(self, key_id: str) -> ApiKey | None:
        with self.engine.begin() as db:
            db.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return self.get(key_id)

    def export_rows(self) -> list[dict[str, object]]:
        """Every row including the secret's digest (backups)."""
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(select(api_keys).order_by(api_keys.c.key_id)).mappings()]

    def import_rows(self, rows: list[dict[str, object]]) -> None:
        """Insert or replace rows as `export_rows` gave them."""
        if not rows:
            return
        with self.engine.begin() as db:
            db.execute(delete(api_keys).where(api_keys.c.key_id.in_([r["key_id"] for r in rows])))
            db.execute(api_keys.insert(), rows)


def _to_key(row: RowMapping) -> ApiKey:
    return ApiKey(**{name: row[name] for name in ApiKey.model_fields})
