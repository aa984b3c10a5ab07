"""Shared MRV vocabulary: sectors, the monthly parameter catalogue, a monthly record.

Pure: standard library and `carbonmarket.core` only. The catalogue is data
(`mrv/data/parameters.toml`); every MRV module (records, accounting, the validation model, import,
the generator) names parameters exactly as it does.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources


class Sector(StrEnum):
    """Covered sectors (DOMAIN.md §1): power since 2021; steel, cement, aluminium since 2025."""

    POWER = "power"
    STEEL = "steel"
    CEMENT = "cement"
    ALUMINIUM = "aluminium"


@dataclass(frozen=True)
class ParameterSpec:
    """One monthly key parameter: name (unit last), unit, meaning, whether a record must have it."""

    name: str
    unit: str
    description: str
    required: bool


@dataclass(frozen=True)
class MonthlyRecord:
    """One facility's key parameters for one month, with evidence references (file hash, lab report)."""

    entity_id: str
    facility_id: str
    sector: Sector
    year: int
    month: int
    values: dict[str, Decimal]
    evidence: dict[str, str] = field(default_factory=dict)


@cache
def parameter_catalogue() -> dict[Sector, tuple[ParameterSpec, ...]]:
    """The packaged parameter list per sector."""
    text = (resources.files("carbonmarket.mrv") / "data" / "parameters.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("mrv/data/parameters.toml: unsupported schema_version")
    return {
        Sector(key): tuple(
            ParameterSpec(p["name"], p["unit"], p["description"], bool(p["required"]))
            for p in sector["parameters"]
        )
        for key, sector in data["sectors"].items()
    }


def parameters_of(sector: Sector) -> tuple[ParameterSpec, ...]:
    """The monthly key parameters of one sector."""
    return parameter_catalogue()[sector]


class RuleCategory(StrEnum):
    """The validation model's four rule families (Progress Report §7 [seed])."""

    EXTREME = "theoretical_extreme"
    THRESHOLD = "threshold"
    STANDARD = "standard_value"
    LOGIC = "logic"


class Severity(StrEnum):
    """How bad a finding is: an error blocks acceptance, a warning goes to review, info is noted."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one monthly record: which rule, how bad, on which parameter, why."""

    rule_id: str
    category: RuleCategory
    severity: Severity
    parameter: str | None
    message: str
