"""Alembic migrations of the shared PostgreSQL schema (yakuba/core/db.py); `yakuba db upgrade` runs them."""
