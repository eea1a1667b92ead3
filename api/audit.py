"""Audit log: one SQLite row per API request — who (key id, tenant), what (route, question,
documents cited), how it went (status, latency).

Questions are stored PII-masked when settings.pii_mask_logs is on (the default): municipalities
must be able to show who asked what without the log itself becoming a store of personal data.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from yakuba.api.sqlite import connect
from yakuba.core.settings import Settings

ExportFormat = Literal["csv", "jsonl"]
MAX_QUESTION_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    key_id TEXT,
    tenant TEXT,
    role TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    question TEXT,
    doc_ids TEXT NOT NULL DEFAULT '[]',
    pii_masked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
"""


class AuditRow(BaseModel):
    id: int | None = None
    time: str = Field(description="UTC, ISO 8601.")
    key_id: str | None = None
    tenant: str | None = None
    role: str | None = None
    method: str
    route: str = Field(description="The route template, e.g. /v1/documents/{doc_id:path}.")
    path: str = Field(description="The path as requested.")
    status: int
    latency_ms: float
    question: str | None = Field(None, description="Question or query, PII-masked when pii_mask_logs is on.")
    doc_ids: list[str] = Field(default_factory=list, description="Documents cited (or uploaded/deleted).")
    pii_masked: bool = False


@dataclass
class AuditNote:
    """What a route adds to its request's audit row (set on request.state.audit)."""

    question: str | None = None
    doc_ids: list[str] = field(default_factory=list)

    def cite(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            if doc_id not in self.doc_ids:
                self.doc_ids.append(doc_id)


def storable(text: str) -> str:
    """Text SQLite (UTF-8) can store: a lone surrogate ("\\ud800", valid JSON, not a character) is
    written escaped as `\\ud800` instead of failing the row, so every request leaves its trace."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def parse_since(value: str) -> datetime:
    """`2026-01-31`, `2026-01-31T09:00` or a full ISO timestamp → aware UTC datetime."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"日付は YYYY-MM-DD または ISO 8601 形式で指定してください: {value!r} / expected YYYY-MM-DD or ISO 8601"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AuditLog:
    def __init__(self, path: Path, *, mask_questions: bool = True) -> None:
        self.path = Path(path)
        self.mask_questions = mask_questions
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    def _db(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

    def _masked(self, question: str | None) -> tuple[str | None, bool]:
        if not question:
            return question, False
        text = storable(question[:MAX_QUESTION_CHARS])
        if not self.mask_questions:
            return text, False
        from yakuba.assistant.pii import mask_pii

        return mask_pii(text).text, True

    def record(
        self,
        *,
        key_id: str | None,
        tenant: str | None,
        role: str | None,
        method: str,
        route: str,
        path: str,
        status: int,
        latency_ms: float,
        question: str | None = None,
        doc_ids: list[str] | None = None,
        at: datetime | None = None,
    ) -> AuditRow:
        stored_question, masked = self._masked(question)
        row = AuditRow(
            time=(at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds"),
            key_id=key_id,
            tenant=tenant,
            role=role,
            method=storable(method),
            route=storable(route),
            path=storable(path),
            status=status,
            latency_ms=round(latency_ms, 1),
            question=stored_question,
            doc_ids=[storable(d) for d in doc_ids or []],
            pii_masked=masked,
        )
        row.id = self._insert(row)
        return row

    def import_rows(self, rows: list[AuditRow]) -> None:
        """Append rows as `rows()` gave them (restores; they get new ids, keep their times)."""
        for row in rows:
            self._insert(row)

    def _insert(self, row: AuditRow) -> int | None:
        """Store one row; returns its id (api/audit_db.py stores it in the shared database instead)."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO audit (time, key_id, tenant, role, method, route, path, status, latency_ms, "
                "question, doc_ids, pii_masked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.time, row.key_id, row.tenant, row.role, row.method, row.route, row.path, row.status,
                    row.latency_ms, row.question, json.dumps(row.doc_ids, ensure_ascii=False), int(row.pii_masked),
                ),
            )
            return cursor.lastrowid

    def rows(self, since: datetime | None = None, until: datetime | None = None) -> list[AuditRow]:
        clauses, params = [], []
        if since is not None:
            clauses.append("time >= ?")
            params.append(since.astimezone(UTC).isoformat(timespec="milliseconds"))
        if until is not None:
            clauses.append("time < ?")
            params.append(until.astimezone(UTC).isoformat(timespec="milliseconds"))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db() as db:
            found = db.execute(
                "SELECT id, time, key_id, tenant, role, method, route, path, status, latency_ms, question, "
                f"doc_ids, pii_masked FROM audit {where} ORDER BY time, id",
                params,
            ).fetchall()
        return [
            AuditRow(
                id=r[0], time=r[1], key_id=r[2], tenant=r[3], role=r[4], method=r[5], route=r[6], path=r[7],
                status=r[8], latency_ms=r[9], question=r[10], doc_ids=json.loads(r[11]), pii_masked=bool(r[12]),
            )
            for r in found
        ]


def open_audit_log(settings: Settings) -> AuditLog:
    """The deployment's audit log: the shared database when YAKUBA_DATABASE_URL is set, else audit.sqlite."""
    if settings.database_url:
        from yakuba.api.audit_db import DatabaseAuditLog
        from yakuba.core.db import engine_for, ensure_schema

        ensure_schema(settings.database_url)
        return DatabaseAuditLog(engine_for(settings.database_url), mask_questions=settings.pii_mask_logs)
    return AuditLog(settings.audit_path, mask_questions=settings.pii_mask_logs)


def export(rows: list[AuditRow], fmt: ExportFormat) -> str:
    """CSV (one row per request, doc ids joined by `|`) or JSON lines."""
    if fmt == "jsonl":
        return "".join(row.model_dump_json() + "\n" for row in rows)
    if fmt != "csv":
        raise ValueError(f"形式は csv または jsonl です: {fmt!r} / format must be csv or jsonl")
    buffer = io.StringIO()
    columns = list(AuditRow.model_fields)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.model_dump()
        data["doc_ids"] = "|".join(row.doc_ids)
        writer.writerow(data)
    return buffer.getvalue()
