"""Apply the Alembic migrations shipped inside the package to a database."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from carbonmarket.config import normalise_database_url


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("carbonmarket.db") / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema up to `revision` (every head by default, so parallel branches all apply)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    from carbonmarket.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return revision
