"""Configuration from the environment (CARBONMARKET_*), overridable by CLI flags."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings; every field can be set as CARBONMARKET_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="CARBONMARKET_")

    database_url: str = "sqlite:///./carbonmarket.db"
    # Signing key for login tokens. The default is for the local demo only; `serve` warns when a
    # non-SQLite database is used with it.
    jwt_secret: str = "carbonmarket-local-demo-secret-change-me-0123456789"
    jwt_lifetime_s: int = 3600
    host: str = "127.0.0.1"
    port: int = 8000


def normalise_database_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and point them at psycopg 3, our PostgreSQL driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
