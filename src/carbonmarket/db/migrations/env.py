"""Alembic environment: the URL comes from the caller (carbonmarket init / migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from carbonmarket.db.engine import make_engine
from carbonmarket.db.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    """Run the migrations on an open connection; batch mode lets SQLite alter tables."""
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the database named by the `sqlalchemy.url` option or a passed connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as fresh:
        run_with(fresh)
    engine.dispose()


run_online()
