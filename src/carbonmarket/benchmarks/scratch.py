"""Throw-away databases for benchmarks, so a run never touches the data behind the URL it is given.

On PostgreSQL a scratch database is created on the same server (that the server is the same is
what makes the comparison with pgbench fair) and dropped afterwards, even when the run fails.
On SQLite a scratch file is made in the same directory as the given file, so it sits on the same
disk, and removed afterwards.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from carbonmarket.config import normalise_database_url

scratch_prefix = "cm_bench"


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it, with `postgresql://` pointed at psycopg 3."""
    return make_url(normalise_database_url(url))


def is_sqlite(url: URL) -> bool:
    """Whether the URL names a SQLite database."""
    return url.get_backend_name() == "sqlite"


def url_text(url: URL) -> str:
    """The URL as a string with its password kept (our own engines and Alembic need it)."""
    return url.render_as_string(hide_password=False)


def scratch_name(kind: str) -> str:
    """A fresh database name such as `cm_bench_ledger_3f9c0a1b2d`."""
    return f"{scratch_prefix}_{kind}_{secrets.token_hex(5)}"


def admin_engine(url: URL) -> Engine:
    """An autocommit engine on the given URL's database, for CREATE/DROP DATABASE and CHECKPOINT."""
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@contextlib.contextmanager
def postgres_database(url: URL, kind: str) -> Iterator[URL]:
    """Create an empty database on the server behind `url`, yield its URL, drop it afterwards."""
    name = scratch_name(kind)
    admin = admin_engine(url)
    try:
        with admin.connect() as connection:
            try:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            except DBAPIError as error:
                raise RuntimeError(
                    f"the benchmark needs to create a scratch database on the server, and "
                    f"{url.username or 'this user'!s} may not: {error.orig}. Give the user CREATEDB "
                    "or point --db at a server where it has it."
                ) from error
        try:
            yield url.set(database=name)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def sqlite_file(url: URL) -> Iterator[URL]:
    """A scratch SQLite file beside the given one (or in the temp directory), removed afterwards."""
    given = url.database
    directory: Path | None = None
    if given and given != ":memory:" and not given.startswith("file:"):
        parent = Path(given).expanduser().resolve().parent
        directory = parent if parent.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=f"{scratch_prefix}_", dir=directory) as folder:
        yield url.set(database=str(Path(folder) / "ledger.db"), query={})


def server_facts(url: URL) -> dict[str, Any]:
    """The PostgreSQL settings that decide commit cost, printed beside the figures."""
    admin = admin_engine(url)
    try:
        with admin.connect() as connection:
            facts: dict[str, Any] = {}
            for name in ("server_version", "synchronous_commit", "fsync", "max_connections"):
                facts[name] = connection.execute(text(f"SHOW {name}")).scalar_one()
            return facts
    finally:
        admin.dispose()


def settle(url: URL, analyse: bool = False) -> None:
    """Flush dirty pages (CHECKPOINT) and optionally ANALYZE, so the timed phase starts from rest.

    Both phases (ours and pgbench's) are preceded by this, so neither pays for the other's
    set-up writes. CHECKPOINT needs superuser or pg_checkpoint; without it we skip it quietly.
    """
    admin = admin_engine(url)
    try:
        with admin.connect() as connection:
            if analyse:
                connection.execute(text("VACUUM ANALYZE"))
            with contextlib.suppress(DBAPIError):
                connection.execute(text("CHECKPOINT"))
    finally:
        admin.dispose()
