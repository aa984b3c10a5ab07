"""Shared fixtures: a fresh migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL tests create their own database per test session (`createdb`-style, through the
server at CARBONMARKET_TEST_PG, default postgresql://postgres@127.0.0.1:5432/postgres) and drop
it afterwards. When the server is unreachable the tests are skipped locally; in CI
(`CI=true`) the run fails instead, so a PostgreSQL test can never be silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.registry.service import Registry
from pgtest import _require_pg, create_pg_database, drop_pg_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file."""
    url = f"sqlite:///{tmp_path / 'carbonmarket.db'}"
    upgrade(url)
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped after the test."""
    _require_pg()
    url = create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'carbonmarket.db'}"
        upgrade(url)
        yield url
        return
    _require_pg()
    url = create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the parametrised database."""
    built = make_engine(db_url)
    yield built
    built.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    """A registry with the packaged instruments defined."""
    service = Registry(engine)
    service.define_defaults(LOCAL_OPERATOR)
    return service
