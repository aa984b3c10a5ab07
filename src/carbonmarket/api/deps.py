"""The services one app serves, and the FastAPI dependencies that hand them to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from carbonmarket.config import Settings
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry


@dataclass(frozen=True)
class Services:
    """Everything a route may call, built once per app over one engine."""

    engine: Engine
    settings: Settings
    registry: Registry
    identity: Identity
    # The Alembic revision the code expects; /health compares the database's with it.
    schema_head: str | None


def services(request: Request) -> Services:
    """The services of the app handling this request."""
    found = request.app.state.services
    assert isinstance(found, Services), "create_app sets app.state.services"
    return found


def registry(request: Request) -> Registry:
    """The registry use cases."""
    return services(request).registry


def identity(request: Request) -> Identity:
    """The identity use cases (users, rights, tokens)."""
    return services(request).identity


ServicesDep = Annotated[Services, Depends(services)]
RegistryDep = Annotated[Registry, Depends(registry)]
IdentityDep = Annotated[Identity, Depends(identity)]
