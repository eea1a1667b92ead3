"""The shared database of a multi-replica deployment (YAKUBA_DATABASE_URL, PostgreSQL).

Unset, every piece of state stays in its SQLite file under YAKUBA_HOME (api/keys.py, api/audit.py,
retriever/bm25.py) exactly as before. Set, API keys, the audit log and the BM25 rows (tokens and filter
columns) with each tenant's version row live in these tables, so any number of `yakuba serve`
processes on any machines answer alike: a key revoked on one is refused by all (every request reads
its row; nothing is cached), and an upload on one bumps the tenant's generation, which every other
replica compares before a search and then rebuilds its in-memory BM25 matrix from the rows.

The schema is created and moved forward by Alembic (`yakuba db upgrade`, core/migrations/); the
tables below are what the migrations create, kept here for SQLAlchemy Core queries.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    text,
)
from sqlalchemy.engine import Connection, make_url

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("role", String(32), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("last_used_at", String(40)),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False, index=True),
    Column("key_id", String(32)),
    Column("tenant", String(64)),
    Column("role", String(32)),
    Column("method", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("question", Text),
    Column("doc_ids", Text, nullable=False, server_default="[]"),
    Column("pii_masked", Boolean, nullable=False, server_default="false"),
)

# One row per tenant: the generation every write bumps (replicas compare it before each search), the
# tokenizer the stored tokens came from, and an instance id that snapshots of the matrix are tagged with.
bm25_tenants = Table(
    "bm25_tenants",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("generation", BigInteger, nullable=False, server_default="0"),
    Column("tokenizer", Text, nullable=False, server_default=""),
    Column("instance", String(32), nullable=False),
)

bm25_chunks = Table(
    "bm25_chunks",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("id", Text, primary_key=True),
    # insertion order (the matrix's row order, as SQLite's rowid is there); a replace gets a new seq
    Column("seq", BigInteger, nullable=False),
    Column("doc_id", Text, nullable=False),
    Column("doc_type", Text),
    Column("year", Integer),
    Column("date", String(10)),
    Column("speaker", Text),
    Column("role", Text),
    Column("tokens", Text, nullable=False),
    Index("bm25_chunks_doc", "tenant", "doc_id"),
    Index("bm25_chunks_seq", "tenant", "seq"),
)

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseURLError(ValueError):
    """YAKUBA_DATABASE_URL names something other than PostgreSQL through psycopg."""


def check_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername not in {"postgresql+psycopg", "postgresql"}:
        raise DatabaseURLError(
            f"YAKUBA_DATABASE_URL は postgresql+psycopg://… で指定してください: {parsed.drivername} / "
            "only PostgreSQL (postgresql+psycopg://) is supported"
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One pooled engine per URL and process (every store, key check and audit row shares it)."""
    return create_engine(check_url(url), pool_pre_ping=True, pool_size=8, max_overflow=16, pool_recycle=1800)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (crc32 of the name, in the 'yakuba' namespace)."""
    return 0x59414B55 << 32 | zlib.crc32(name.encode("utf-8"))


@contextlib.contextmanager
def advisory_lock(engine: Engine, name: str) -> Iterator[Connection]:
    """Hold a session-level advisory lock for the block (one writer per tenant across replicas).

    The lock lives on one pooled connection: a replica killed while holding it loses the connection,
    and PostgreSQL releases the lock, so the next writer never waits on a dead process.
    """
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
        conn.commit()
        try:
            yield conn
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
            conn.commit()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", check_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> str:
    """Bring the schema to the newest migration (idempotent; concurrent callers wait for each other).

    Returns the revision the database is at afterwards.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = engine_for(url)
    with advisory_lock(engine, "migrations"):
        command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() or ""


@lru_cache(maxsize=8)
def ensure_schema(url: str) -> str:
    """`upgrade` once per process and URL: every entry point (serve, keys, ingest, backup) may be the
    first to touch a new database, and none should fail on missing tables."""
    return upgrade(url)


def ping(url: str) -> None:
    """Raise if the database cannot be reached (readiness checks)."""
    with engine_for(url).connect() as conn:
        conn.execute(text("SELECT 1"))
