"""The audit log in the shared database (YAKUBA_DATABASE_URL): every replica appends to one table,
so `yakuba audit export` on any machine shows the requests of all of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from yakuba.api.audit import AuditLog, AuditRow
from yakuba.core.db import audit


def _no_nul(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL (SQLite can): keep the row, escaped like a lone surrogate."""
    return None if value is None else value.replace("\x00", "\\x00")


class DatabaseAuditLog(AuditLog):
    """AuditLog's record/rows over the `audit` table; masking and row shaping are inherited."""

    def __init__(self, engine: Engine, *, mask_questions: bool = True) -> None:  # noqa: D107
        self.engine = engine
        self.mask_questions = mask_questions

    def _insert(self, row: AuditRow) -> int | None:
        values = row.model_dump(exclude={"id"})
        for name in ("key_id", "tenant", "role", "method", "route", "path", "question"):
            values[name] = _no_nul(values[name])
        values["doc_ids"] = _no_nul(json.dumps(row.doc_ids, ensure_ascii=False))
        with self.engine.begin() as db:
            return db.execute(audit.insert().values(**values).returning(audit.c.id)).scalar_one()

    def rows(self, since: datetime | None = None, until: datetime | None = None) -> list[AuditRow]:
        query = select(audit).order_by(audit.c.time, audit.c.id)
        if since is not None:
            query = query.where(audit.c.time >= since.astimezone(UTC).isoformat(timespec="milliseconds"))
        if until is not None:
            query = query.where(audit.c.time < until.astimezone(UTC).isoformat(timespec="milliseconds"))
        with self.engine.connect() as db:
            found = db.execute(query).mappings().all()
        return [AuditRow(**{**dict(r), "doc_ids": json.loads(r["doc_ids"])}) for r in found]
