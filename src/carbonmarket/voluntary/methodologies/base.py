"""What every CCER methodology module shares: its data file, its input specs and the calculation's shape.

A methodology is a versioned module (`offshore_wind_v01.py`) with a data file of the same name under
`data/` giving its code, field, crediting period, the fixed parameters with their source and tag,
and the specs of its inputs — the design document's project parameters and the monitoring report's
monitored parameters. The module computes ER = BE − PE − LE in `Decimal` and the result is rounded
once: floored to whole tonnes (DESIGN.md rule 2), never below zero.

Pure: standard library and `carbonmarket.core` only.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from importlib import resources
from typing import Any

from carbonmarket.core.results import Code, Refused

_SCHEMA_VERSION = 1
_TAGS = ("[reg]", "[seed]", "[sec]", "[?]", "[P]", "[C]")
# One kind per input: a number with bounds, a word from a list, or a yes/no.
_KINDS = ("decimal", "choice", "bool")
_DECIMAL_TEXT_MAX = 40

Value = Decimal | str | bool


@dataclass(frozen=True)
class InputSpec:
    """One input of a design document or monitoring report: its unit, bounds or choices."""

    name: str
    kind: str
    unit: str
    description: str
    required: bool = True
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    choices: tuple[str, ...] = ()
    default: Value | None = None

    def read(self, raw: object) -> Value:
        """Parse one raw value (JSON number or text) into a Decimal, a choice or a bool; refuse bad ones."""
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            raise _bad(self.name, f"must be true or false, not {raw!r}")
        if self.kind == "choice":
            if isinstance(raw, str) and raw in self.choices:
                return raw
            raise _bad(self.name, f"must be one of {', '.join(self.choices)}, not {raw!r}")
        return self._read_decimal(raw)

    def _read_decimal(self, raw: object) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, (int, str, float)):
            raise _bad(self.name, f"must be a number, not {raw!r}")
        text = str(raw).strip()
        if len(text) > _DECIMAL_TEXT_MAX:
            raise _bad(self.name, f"has more than {_DECIMAL_TEXT_MAX} characters")
        try:
            # Floats arrive from JSON; str() keeps their shortest decimal form, not the binary noise.
            value = Decimal(text)
        except InvalidOperation:
            raise _bad(self.name, f"is not a number: {raw!r}") from None
        if not value.is_finite():
            raise _bad(self.name, f"is not a finite number: {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise _bad(self.name, f"is {value} {self.unit}, below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise _bad(self.name, f"is {value} {self.unit}, above the maximum {self.maximum}")
        return value


@dataclass(frozen=True)
class Constant:
    """A fixed parameter of a methodology with its unit, tag and source."""

    name: str
    value: Decimal
    unit: str
    tag: str
    source: str


@dataclass(frozen=True)
class MethodologyData:
    """A methodology's data file, parsed."""

    code: str
    title: str
    field: str
    version: str
    energy: bool
    crediting_years_max: int
    networked_metering: bool
    source: str
    constants: dict[str, Constant]
    project_inputs: tuple[InputSpec, ...]
    monitored_inputs: tuple[InputSpec, ...]
    tables: dict[str, dict[str, dict[str, Constant]]] = dataclasses.field(default_factory=dict)

    def constant(self, name: str) -> Decimal:
        """The value of a fixed parameter."""
        return self.constants[name].value

    def table(self, name: str, key: str, column: str) -> Decimal:
        """A value of a keyed table (fuel defaults, species parameters)."""
        return self.tables[name][key][column].value


@dataclass(frozen=True)
class Calculation:
    """The emission-reduction calculation of one monitoring period, with every intermediate step."""

    baseline_t: Decimal
    project_t: Decimal
    leakage_t: Decimal
    steps: dict[str, str]

    @property
    def reduction(self) -> Decimal:
        """ER = BE − PE − LE, unrounded."""
        return self.baseline_t - self.project_t - self.leakage_t

    @property
    def reduction_t(self) -> int:
        """ER rounded once, floored to whole tonnes, never below zero (DESIGN.md rule 2)."""
        floored = int(self.reduction.to_integral_value(rounding=ROUND_FLOOR))
        return max(0, floored)

    def as_json(self) -> dict[str, Any]:
        """The calculation as text a person can re-do: each step and the result."""
        return {
            "baseline_t": str(self.baseline_t),
            "project_t": str(self.project_t),
            "leakage_t": str(self.leakage_t),
            "reduction": str(self.reduction),
            "reduction_t": self.reduction_t,
            "steps": dict(self.steps),
        }


@dataclass(frozen=True)
class Period:
    """A monitoring period, inclusive, and the reporting year its grid factors come from."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """Days in the period, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def year(self) -> int:
        """The vintage year (a period lies within one calendar year)."""
        return self.start.year


def load_data(file_name: str) -> MethodologyData:
    """Read a methodology's packaged data file."""
    text = (
        resources.files("carbonmarket.voluntary.methodologies").joinpath("data", file_name).read_text("utf-8")
    )
    return parse_data(tomllib.loads(text), file_name)


def parse_data(document: Mapping[str, Any], where: str) -> MethodologyData:
    """Build MethodologyData from a TOML document, refusing untagged or unsourced values."""
    if document.get("schema_version") != _SCHEMA_VERSION:
        raise ValueError(f"{where}: schema_version must be {_SCHEMA_VERSION}")
    head = document["methodology"]
    constants = {name: _constant(name, entry, where) for name, entry in document.get("constants", {}).items()}
    tables = {
        table: {
            key: {col: _constant(f"{table}.{key}.{col}", spec, where) for col, spec in row.items()}
            for key, row in rows.items()
        }
        for table, rows in document.get("tables", {}).items()
    }
    inputs = document.get("inputs", {})
    return MethodologyData(
        code=str(head["code"]),
        title=str(head["title"]),
        field=str(head["field"]),
        version=str(head["version"]),
        energy=bool(head["energy"]),
        crediting_years_max=int(head["crediting_years_max"]),
        networked_metering=bool(head.get("networked_metering", False)),
        source=str(head["source"]),
        constants=constants,
        project_inputs=tuple(_spec(n, e, where) for n, e in inputs.get("project", {}).items()),
        monitored_inputs=tuple(_spec(n, e, where) for n, e in inputs.get("monitored", {}).items()),
        tables=tables,
    )


def read_inputs(specs: tuple[InputSpec, ...], raw: Mapping[str, object], what: str) -> dict[str, Value]:
    """Parse raw inputs against specs, refusing unknown names, missing required ones, bad values."""
    if not isinstance(raw, Mapping):
        raise Refused(Code.CCER_METHODOLOGY_INPUT_INVALID, f"{what} must be an object of name: value")
    known = {spec.name: spec for spec in specs}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise Refused(
            Code.CCER_METHODOLOGY_INPUT_INVALID,
            f"{what}: unknown parameter(s) {', '.join(map(str, unknown))}; expected {', '.join(known)}",
        )
    values: dict[str, Value] = {}
    for spec in specs:
        if spec.name in raw:
            values[spec.name] = spec.read(raw[spec.name])
        elif spec.default is not None:
            values[spec.name] = spec.default
        elif spec.required:
            raise Refused(
                Code.CCER_METHODOLOGY_INPUT_INVALID, f"{what}: {spec.name} ({spec.unit}) is required"
            )
    return values


def number(values: Mapping[str, Value], name: str) -> Decimal:
    """A decimal input (absent optional inputs count as zero)."""
    value = values.get(name, Decimal(0))
    assert isinstance(value, Decimal), f"{name} is not a number input"
    return value


def text(values: Mapping[str, Value], name: str) -> str:
    """A choice input."""
    value = values[name]
    assert isinstance(value, str), f"{name} is not a choice input"
    return value


def _constant(name: str, entry: Mapping[str, Any], where: str) -> Constant:
    tag = str(entry.get("tag", ""))
    if tag not in _TAGS or not entry.get("source"):
        raise ValueError(f"{where}: {name} needs a tag ({', '.join(_TAGS)}) and a source")
    return Constant(name, Decimal(str(entry["value"])), str(entry.get("unit", "")), tag, str(entry["source"]))


def _spec(name: str, entry: Mapping[str, Any], where: str) -> InputSpec:
    kind = str(entry.get("kind", "decimal"))
    if kind not in _KINDS:
        raise ValueError(f"{where}: input {name} has unknown kind {kind!r}")
    default: Value | None = None
    if "default" in entry:
        raw = entry["default"]
        default = raw if isinstance(raw, (bool, str)) and kind != "decimal" else Decimal(str(raw))
    return InputSpec(
        name=name,
        kind=kind,
        unit=str(entry.get("unit", "")),
        description=str(entry["description"]),
        required=bool(entry.get("required", True)),
        minimum=Decimal(str(entry["min"])) if "min" in entry else None,
        maximum=Decimal(str(entry["max"])) if "max" in entry else None,
        choices=tuple(str(c) for c in entry.get("choices", ())),
        default=default,
    )


def _bad(name: str, problem: str) -> Refused:
    return Refused(Code.CCER_METHODOLOGY_INPUT_INVALID, f"{name} {problem}")
