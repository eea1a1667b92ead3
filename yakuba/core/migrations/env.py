"""Alembic environment: online migrations only, on the engine of the configured URL."""

from __future__ import annotations

from alembic import context

from yakuba.core.db import engine_for, metadata

url = context.config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is set by yakuba.core.db.alembic_config"
with engine_for(url).connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
