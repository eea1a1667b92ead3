"""Where BM25's rows live: one SQLite file per tenant (the default) or the shared PostgreSQL database.

retriever/bm25.py builds its in-memory score matrix from these rows and rebuilds it when the
tenant's generation moves; the two backends differ only in storage:
- `SqliteRows`: `<bm25_path>/<tenant>/tokens.sqlite3` (WAL; writers serialised by BEGIN IMMEDIATE).
- `PostgresRows`: tables `bm25_chunks` / `bm25_tenants` (yakuba/core/db.py). A write locks the
  tenant's version row (SELECT … FOR UPDATE), so two replicas writing one tenant take turns, and
  bumps the generation in the same transaction, so every replica sees rows and version change at once.

A row is `(id, doc_id, doc_type, year, date, speaker, role, tokens)`; `tokens` joins words with \\x1f.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger("yakuba.retriever.bm25")

SCHEMA_VERSION = 1
Row = tuple[str, str, str | None, int | None, str | None, str | None, str | None, str]
_COLUMNS = ("id", "doc_id", "doc_type", "year", "date", "speaker", "role", "tokens")
_INSERT = "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


class RowWriter(Protocol):
    """The writes of one transaction (the generation is bumped when it commits)."""

    def upsert(self, rows: Sequence[Row]) -> None: ...
    def remove(self, ids: Sequence[str]) -> int: ...
    def remove_document(self, doc_id: str) -> int: ...
    def clear(self) -> None: ...
    def count(self) -> int: ...


class RowStore(Protocol):
    """One tenant's BM25 rows and version; `instance` names this store (snapshots are tagged with it)."""

    instance: str

    def generation(self) -> int: ...
    def write(self) -> contextlib.AbstractContextManager[RowWriter]: ...
    def count(self) -> int: ...
    def ids(self) -> list[str]: ...
    def doc_ids(self) -> list[str]: ...
    def speakers(self) -> list[str]: ...
    def tokens(self, chunk_id: str) -> str | None: ...
    def read(self, *, tokens: bool = True) -> tuple[int, list[tuple[Any, ...]]]: ...
    def close(self) -> None: ...


def _last_wins(rows: Sequence[Row]) -> list[Row]:
    """Rows with repeated ids reduced to the last one, in the order of last appearance (as SQLite's
    INSERT OR REPLACE leaves them)."""
    by_id: dict[str, Row] = {}
    for row in rows:
        by_id.pop(row[0], None)
        by_id[row[0]] = row
    return list(by_id.values())


# -- SQLite ------------------------------------------------------------------------------------
class _SqliteWriter:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def upsert(self, rows: Sequence[Row]) -> None:
        self.db.executemany(_INSERT, rows)

    def remove(self, ids: Sequence[str]) -> int:
        before = self.db.total_changes
        self.db.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in ids))
        return self.db.total_changes - before

    def remove_document(self, doc_id: str) -> int:
        return self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,)).rowcount

    def clear(self) -> None:
        self.db.execute("DELETE FROM chunks")

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]


class SqliteRows:
    """`tokens.sqlite3` in the tenant's folder: a `chunks` table and a `meta` table (generation,
    tokenizer, schema, instance). A killed process leaves the old or the new state, never a torn file."""

    def __init__(self, path: Path, signature: str) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "PRAGMA synchronous=NORMAL"
        )  # WAL + NORMAL: atomic; may lose the last commit on power loss
        self._init_schema(path, signature)

    def _init_schema(self, path: Path, signature: str) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, "
                    "doc_type TEXT, year INTEGER, date TEXT, speaker TEXT, role TEXT, tokens TEXT NOT NULL)"
                )
                db.execute("CREATE INDEX IF NOT EXISTS chunks_doc_id ON chunks (doc_id)")
                db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                # identifies this database file, so a snapshot left by a deleted one never matches
                db.execute("INSERT OR IGNORE INTO meta VALUES ('instance', ?)", (uuid.uuid4().hex,))
                stored = db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
                if stored is None or stored[0] != signature:
                    if db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]:
                        _warn_tokenizer(path, stored[0] if stored else "?", signature)
                        db.execute("DELETE FROM chunks")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (signature,))
                    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                self.instance = db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()[0]
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def write(self) -> Iterator[RowWriter]:
        """BEGIN IMMEDIATE … COMMIT, bumping the generation so every reader rebuilds."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteWriter(db)
                db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def _column(self, query: str, *params: object) -> list[Any]:
        with self._lock:
            return [row[0] for row in self._db.execute(query, params)]

    def count(self) -> int:
        return self._column("SELECT COUNT(*) FROM chunks")[0]

    def ids(self) -> list[str]:
        return self._column("SELECT id FROM chunks ORDER BY id")

    def doc_ids(self) -> list[str]:
        return self._column("SELECT DISTINCT doc_id FROM chunks ORDER BY doc_id")

    def speakers(self) -> list[str]:
        return self._column("SELECT DISTINCT speaker FROM chunks WHERE speaker IS NOT NULL ORDER BY speaker")

    def tokens(self, chunk_id: str) -> str | None:
        found = self._column("SELECT tokens FROM chunks WHERE id = ?", chunk_id)
        return found[0] if found else None

    def read(self, *, tokens: bool = True) -> tuple[int, list[tuple[Any, ...]]]:
        """All rows in insertion order, with the generation they belong to (one read transaction)."""
        columns = ", ".join(_COLUMNS if tokens else _COLUMNS[:-1])
        with self._lock:
            self._db.execute("BEGIN")
            try:
                generation = int(
                    self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
                )
                rows = self._db.execute(f"SELECT {columns} FROM chunks ORDER BY rowid").fetchall()
            finally:
                self._db.execute("COMMIT")
        return generation, rows

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _warn_tokenizer(where: object, stored: str, signature: str) -> None:
    # Tokens of another tokenizer cannot be mixed with ours: empty the index, so that
    # `len(index) != store.count()` makes the caller run `rebuild_from`.
    log.warning(
        "BM25 index %s was built with tokenizer %s, now %s: emptied, rebuild it", where, stored, signature
    )


# -- PostgreSQL --------------------------------------------------------------------------------
class _PostgresWriter:
    def __init__(self, conn: Connection, tenant: str) -> None:
        self.conn = conn
        self.tenant = tenant

    def upsert(self, rows: Sequence[Row]) -> None:
        rows = _last_wins(rows)
        if not rows:
            return
        # delete + insert with a fresh seq: a replaced chunk moves to the end, as with SQLite's rowid
        self.remove([r[0] for r in rows])
        self.conn.execute(
            text(
                "INSERT INTO bm25_chunks (tenant, id, seq, doc_id, doc_type, year, date, speaker, role, tokens) "
                "VALUES (:tenant, :id, nextval('bm25_chunk_seq'), :doc_id, :doc_type, :year, :date, :speaker, "
                ":role, :tokens)"
            ),
            [
                {"tenant": self.tenant, **dict(zip(_COLUMNS, (_no_nul(v) for v in r), strict=True))}
                for r in rows
            ],
        )

    def remove(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        result = self.conn.execute(
            text("DELETE FROM bm25_chunks WHERE tenant = :t AND id = ANY(:ids)"),
            {"t": self.tenant, "ids": list(ids)},
        )
        return result.rowcount

    def remove_document(self, doc_id: str) -> int:
        result = self.conn.execute(
            text("DELETE FROM bm25_chunks WHERE tenant = :t AND doc_id = :d"), {"t": self.tenant, "d": doc_id}
        )
        return result.rowcount

    def clear(self) -> None:
        self.conn.execute(text("DELETE FROM bm25_chunks WHERE tenant = :t"), {"t": self.tenant})

    def count(self) -> int:
        return self.conn.execute(
            text("SELECT COUNT(*) FROM bm25_chunks WHERE tenant = :t"), {"t": self.tenant}
        ).scalar_one()


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL; a chunk id or token with one would fail the whole write."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class PostgresRows:
    """One tenant's rows in the shared database; thread-safe (pooled connections, one per call)."""

    def __init__(self, url: str, tenant: str, signature: str) -> None:
        from yakuba.core.db import engine_for, ensure_schema

        ensure_schema(url)
        self.engine = engine_for(url)
        self.tenant = tenant
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO bm25_tenants (tenant, generation, tokenizer, instance) "
                    "VALUES (:t, 0, '', :i) ON CONFLICT (tenant) DO NOTHING"
                ),
                {"t": tenant, "i": uuid.uuid4().hex},
            )
            stored, self.instance = conn.execute(
                text("SELECT tokenizer, instance FROM bm25_tenants WHERE tenant = :t FOR UPDATE"),
                {"t": tenant},
            ).one()
            if stored != signature:
                writer = _PostgresWriter(conn, tenant)
                if writer.count():
                    _warn_tokenizer(f"tenant {tenant}", stored or "?", signature)
                    writer.clear()
                conn.execute(
                    text(
                        "UPDATE bm25_tenants SET tokenizer = :s, generation = generation + 1 WHERE tenant = :t"
                    ),
                    {"s": signature, "t": tenant},
                )

    @contextlib.contextmanager
    def write(self) -> Iterator[RowWriter]:
        """One transaction holding the tenant's version row: other writers of the tenant wait."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT 1 FROM bm25_tenants WHERE tenant = :t FOR UPDATE"), {"t": self.tenant})
            yield _PostgresWriter(conn, self.tenant)
            conn.execute(
                text("UPDATE bm25_tenants SET generation = generation + 1 WHERE tenant = :t"),
                {"t": self.tenant},
            )

    def generation(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT generation FROM bm25_tenants WHERE tenant = :t"), {"t": self.tenant}
            ).scalar_one()

    def _column(self, query: str, **params: object) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(query), {"t": self.tenant, **params}).scalars())

    def count(self) -> int:
        return self._column("SELECT COUNT(*) FROM bm25_chunks WHERE tenant = :t")[0]

    def ids(self) -> list[str]:
        return self._column('SELECT id FROM bm25_chunks WHERE tenant = :t ORDER BY id COLLATE "C"')

    def doc_ids(self) -> list[str]:
        return self._column(
            'SELECT DISTINCT doc_id COLLATE "C" FROM bm25_chunks WHERE tenant = :t ORDER BY 1'
        )

    def speakers(self) -> list[str]:
        return self._column(
            'SELECT DISTINCT speaker COLLATE "C" FROM bm25_chunks WHERE tenant = :t AND speaker IS NOT NULL '
            "ORDER BY 1"
        )

    def tokens(self, chunk_id: str) -> str | None:
        found = self._column("SELECT tokens FROM bm25_chunks WHERE tenant = :t AND id = :i", i=chunk_id)
        return found[0] if found else None

    def read(self, *, tokens: bool = True) -> tuple[int, list[tuple[Any, ...]]]:
        """All rows in insertion order and their generation, from one snapshot (REPEATABLE READ)."""
        columns = ", ".join(_COLUMNS if tokens else _COLUMNS[:-1])
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            generation = conn.execute(
                text("SELECT generation FROM bm25_tenants WHERE tenant = :t"), {"t": self.tenant}
            ).scalar_one()
            rows = conn.execute(
                text(f"SELECT {columns} FROM bm25_chunks WHERE tenant = :t ORDER BY seq"), {"t": self.tenant}
            ).all()
        return int(generation), [tuple(r) for r in rows]

    def close(self) -> None:
        """Nothing to close: the engine's pool is shared by every store of the process."""
