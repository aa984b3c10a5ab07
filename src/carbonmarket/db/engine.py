"""Engines for the two supported databases, with the settings each needs to be safe under load."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event

from carbonmarket.config import normalise_database_url

# How long a SQLite writer waits for the file lock before giving up (and being retried).
sqlite_busy_timeout_ms = 30_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and immediate write transactions, PostgreSQL psycopg 3."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # No ping before every checkout (a round trip per transaction, bench/README.md): connections
    # are recycled after a while, and the unit of work retries a transaction whose connection died.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


@cache
def cached_engine(url: str) -> Engine:
    """One engine per URL per process, so CLI commands and the API share a pool."""
    return make_engine(url)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    """SQLite in WAL mode; every transaction takes the write lock at BEGIN so two writers never
    deadlock upgrading a read lock (the busy timeout makes the second one wait instead)."""
    engine = create_engine(url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL (row locks) rather than SQLite (one file lock)."""
    return engine.dialect.name == "postgresql"
