"""The instruments `init` defines, read from the versioned data file with their sources."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class InstrumentSpec:
    """One instrument to define: its id, issuance cap (None for none) and the cap's source."""

    id: str
    cap: int | None
    source: str


@cache
def default_instruments() -> tuple[InstrumentSpec, ...]:
    """The packaged list (registry/data/instruments.toml)."""
    text = (resources.files("carbonmarket.registry") / "data" / "instruments.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("registry/data/instruments.toml: unsupported schema_version")
    return tuple(InstrumentSpec(item["id"], item.get("cap"), item["source"]) for item in data["instrument"])


@dataclass(frozen=True)
class CentralAccount:
    """A central account `init` opens: its id, holder, holder's name and kind, and account type."""

    id: str
    holder_id: str
    holder_name: str
    holder_kind: str
    type: str


@cache
def central_accounts() -> tuple[CentralAccount, ...]:
    """The packaged central holders and accounts (registry/data/central_accounts.toml)."""
    text = (resources.files("carbonmarket.registry") / "data" / "central_accounts.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("registry/data/central_accounts.toml: unsupported schema_version")
    return tuple(
        CentralAccount(account["id"], holder["id"], holder["name"], holder["kind"], account["type"])
        for holder in data["holder"]
        for account in holder["accounts"]
    )
