"""The rule catalogue: the packaged TOML files in `mrv/rules/data/`, read and checked once.

One file per sector plus `common.toml` (DESIGN.md rule 13: rules that regulators read are data,
versioned, with their source). Loading refuses a file that is not well formed — an unknown
category, a check outside the expression language, a `parameters` list that does not match what
the check reads, a duplicate id — so a bad rule fails at start-up and in CI, never at submission.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from carbonmarket.mrv.model import RuleCategory, Sector, Severity
from carbonmarket.mrv.rules.model import (
    DERIVED_CONTEXT,
    FACILITY_CONTEXT,
    STRING_CONTEXT,
    ContextValue,
    Example,
    ExpressionError,
    Rule,
    allowed_names,
    mentions,
    parameter_names,
    parse_check,
    reads,
)

SCHEMA_VERSION = 1
_ID = re.compile(r"^[A-Z]{3}-[A-Z]{3}-[0-9]{3}$")
_FILES = ("common.toml", "power.toml", "steel.toml", "cement.toml", "aluminium.toml")


class CatalogueError(ValueError):
    """A rule file is malformed; the message names the file and the rule."""


@cache
def catalogue() -> tuple[Rule, ...]:
    """Every packaged rule, in file order (common first), checked."""
    folder = resources.files("carbonmarket.mrv.rules") / "data"
    texts = {name: (folder / name).read_text("utf-8") for name in _FILES}
    return load_catalogue(texts)


@cache
def catalogue_version() -> str:
    """The version string of the packaged catalogue (from common.toml)."""
    folder = resources.files("carbonmarket.mrv.rules") / "data"
    return str(tomllib.loads((folder / "common.toml").read_text("utf-8"))["version"])


@cache
def rules_for(sector: Sector) -> tuple[Rule, ...]:
    """The rules that apply to a sector's monthly records."""
    return tuple(r for r in catalogue() if sector in r.sectors)


def rule_by_id(rule_id: str) -> Rule | None:
    """One packaged rule by id, or None."""
    return next((r for r in catalogue() if r.id == rule_id), None)


def load_catalogue(texts: Mapping[str, str]) -> tuple[Rule, ...]:
    """Parse rule files (name → TOML text) into checked rules."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for name, text in texts.items():
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise CatalogueError(f"{name}: not valid TOML: {error}") from None
        if data.get("schema_version") != SCHEMA_VERSION:
            raise CatalogueError(f"{name}: unsupported schema_version {data.get('schema_version')!r}")
        default_sectors = data.get("sectors")
        for entry in data.get("rules", []):
            rule_id = str(entry.get("id", "?"))
            try:
                rule = _rule(entry, default_sectors)
            except (CatalogueError, ExpressionError, KeyError, ValueError, TypeError) as error:
                raise CatalogueError(f"{name}: rule {rule_id}: {error}") from None
            if rule.id in seen:
                raise CatalogueError(f"{name}: rule {rule.id} is defined twice")
            seen.add(rule.id)
            rules.append(rule)
    return tuple(rules)


def _rule(entry: Mapping[str, Any], default_sectors: Any) -> Rule:
    """One rule from its TOML table."""
    rule_id = str(entry["id"])
    if not _ID.match(rule_id):
        raise CatalogueError("id must look like PWR-EXT-001")
    sectors = tuple(Sector(s) for s in entry.get("sectors", default_sectors or []))
    if not sectors:
        raise CatalogueError("no sectors")
    check = str(entry["check"])
    expression = parse_check(check, allowed_names(sectors), parameter_names(sectors))
    declared = tuple(str(p) for p in entry["parameters"])
    mentioned = sorted({n.name for n in mentions(expression)} - set(DERIVED_CONTEXT))
    if sorted(set(declared)) != mentioned:
        raise CatalogueError(f"parameters {sorted(declared)} do not match what the check reads {mentioned}")
    parameter = entry.get("parameter", declared[0] if declared else None)
    if parameter is not None and parameter not in declared:
        raise CatalogueError(f"parameter {parameter!r} is not among the rule's parameters")
    for key in ("message", "rationale", "source"):
        if not str(entry.get(key, "")).strip():
            raise CatalogueError(f"{key} is empty")
    return Rule(
        id=rule_id,
        category=RuleCategory(entry["category"]),
        sectors=sectors,
        parameters=declared,
        check=check,
        expression=expression,
        severity=Severity(entry["severity"]),
        parameter=parameter,
        message=str(entry["message"]),
        rationale=" ".join(str(entry["rationale"]).split()),
        source=str(entry["source"]),
        example_pass=_example(entry["example_pass"]),
        example_fail=_example(entry["example_fail"]),
        needs=reads(expression),
    )


def _example(data: Mapping[str, Any]) -> Example:
    """A rule's pass or fail example record."""
    unknown = set(data) - {"values", "prev", "context", "year", "month", "prev_months_ago"}
    if unknown:
        raise CatalogueError(f"unknown example keys {sorted(unknown)}")
    prev = data.get("prev")
    context: dict[str, ContextValue] = {}
    for key, value in data.get("context", {}).items():
        if key not in FACILITY_CONTEXT:
            raise CatalogueError(f"example context {key!r} is not a facility attribute")
        context[key] = str(value) if key in STRING_CONTEXT else to_decimal(value)
    return Example(
        values={k: to_decimal(v) for k, v in data.get("values", {}).items()},
        prev=None if prev is None else {k: to_decimal(v) for k, v in prev.items()},
        context=context,
        year=int(data.get("year", 2024)),
        month=int(data.get("month", 6)),
        prev_months_ago=int(data.get("prev_months_ago", 1)),
    )


def to_decimal(value: object) -> Decimal:
    """A TOML or JSON number (or numeric string) as a Decimal, through its shortest text form."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
