"""The first shared schema: API keys, audit log, BM25 rows and each tenant's version row.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40)),
        sa.Column("last_used_at", sa.String(40)),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(32)),
        sa.Column("tenant", sa.String(64)),
        sa.Column("role", sa.String(32)),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("question", sa.Text),
        sa.Column("doc_ids", sa.Text, nullable=False, server_default="[]"),
        sa.Column("pii_masked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_audit_time", "audit", ["time"])
    op.create_table(
        "bm25_tenants",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tokenizer", sa.Text, nullable=False, server_default=""),
        sa.Column("instance", sa.String(32), nullable=False),
    )
    op.create_table(
        "bm25_chunks",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("doc_type", sa.Text),
        sa.Column("year", sa.Integer),
        sa.Column("date", sa.String(10)),
        sa.Column("speaker", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("tokens", sa.Text, nullable=False),
    )
    op.create_index("bm25_chunks_doc", "bm25_chunks", ["tenant", "doc_id"])
    op.create_index("bm25_chunks_seq", "bm25_chunks", ["tenant", "seq"])
    op.execute("CREATE SEQUENCE bm25_chunk_seq")


def downgrade() -> None:
    op.execute("DROP SEQUENCE bm25_chunk_seq")
    op.drop_table("bm25_chunks")
    op.drop_table("bm25_tenants")
    op.drop_table("audit")
    op.drop_table("api_keys")
