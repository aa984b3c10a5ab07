"""Fixtures of the voluntary market's integration tests (helpers in ccer_market.py).

Each test still gets a fresh database on SQLite and on PostgreSQL, but copied from a template
that was migrated and set up once per session (a file copy; `CREATE DATABASE ... TEMPLATE`), so a
test pays milliseconds rather than a migration run: the project's CI stays well under its budget.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ccer_market import Market, make_market, set_up_market
from sqlalchemy import Engine, create_engine, text

from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from pgtest import PG_ADMIN_URL, _require_pg


def _admin(statement: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _prepare(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        set_up_market(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def ccer_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the market set up."""
    path = tmp_path_factory.mktemp("ccer-template") / "template.db"
    _prepare(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def ccer_pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database with the market set up, used only as a template."""
    _require_pg()
    name = f"ccertmpl_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        _prepare(_pg_url(name))
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on PostgreSQL, each a fresh copy of the session's template."""
    if request.param == "sqlite":
        path = tmp_path / "carbonmarket.db"
        shutil.copyfile(request.getfixturevalue("ccer_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("ccer_pg_template")
    name = f"ccer_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def market(engine: Engine) -> Market:
    """A voluntary market on the parametrised database (SQLite and PostgreSQL)."""
    return make_market(engine)
