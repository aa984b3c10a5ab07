"""PostgreSQL helpers shared by the test tiers: the admin URL, create and drop a database per test.

Kept out of `conftest.py` so test modules import them by a name no other file has (a folder's own
`conftest.py` would shadow the root one under `from conftest import ...`).
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("CARBONMARKET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _require_pg() -> None:
    if not _pg_available():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but is not reachable at " + PG_ADMIN_URL)
        pytest.skip("PostgreSQL not reachable at " + PG_ADMIN_URL)


def create_pg_database(prefix: str = "cmtest") -> str:
    """Create an empty PostgreSQL database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    """Drop a database made by `create_pg_database`, closing its other connections first."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
