"""What every sector engine shares: versioned default values, traceable lines, and rounding once.

Pure: standard library and `carbonmarket` only. Each engine turns one facility's monthly records of
one year into `Line`s — one per emission source per month — that carry the formula, every value that
went into it (measured, filled or default, with the default's source and confidence tag) and the
tonnes. `trace` and the annual report print them as they are.

Where and how the figures are rounded (house rule 2: emissions use Decimal and round once):
- Inputs arrive as `Decimal` (records) or decimal strings (the data files) and are turned into exact
  rationals (`fractions.Fraction(Decimal)` is exact), so products, the molar-mass ratios 44/12 and
  44/56, the GWP weighting and the mean of measured months lose nothing.
- Nothing is rounded per line, per month or per facility. `round_once` turns the entity's annual sum
  of every line into whole tonnes, half away from zero (四舍五入, as ST table C.5 note *1 prescribes
  for the annual total: "四舍五入保留整数"). It is the only rounding that changes a figure.
- Numbers shown in a trace (`shown`) are the exact value written to `display_places` decimals for
  reading only; no total is ever computed from them.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from carbonmarket.mrv.model import MonthlyRecord, Sector

# Ratios of molar masses (stoichiometry, not regulation): t CO2 per t C, and t CO2 per t CaO, as the
# guidelines write them.
CO2_PER_C = Fraction(44, 12)
CO2_PER_CAO = Fraction(44, 56)
KG_PER_T = 1000
# Decimals shown in a trace: enough to check any line by hand; the exact value stays underneath.
display_places = 6


class Origin(StrEnum):
    """Where a value used in a formula came from."""

    MEASURED = "measured"  # reported in the monthly record
    DEFAULT = "default"  # a default value from a versioned data file
    FILLED = "filled"  # a gap filled from other months' measurements (power coal carbon content)
    CONSTANT = "constant"  # a ratio of molar masses (44/12, 44/56): physics, exact


@dataclass(frozen=True)
class Factor:
    """One default value from a sector's data file, valid for a range of reporting years."""

    name: str
    value: Decimal
    unit: str
    tag: str
    source: str
    first_year: int | None = None
    last_year: int | None = None

    def applies_to(self, year: int) -> bool:
        """Whether the entry's year range holds the reporting year."""
        return (self.first_year is None or year >= self.first_year) and (
            self.last_year is None or year <= self.last_year
        )


@dataclass(frozen=True)
class FactorSet:
    """A sector's default values as one versioned file holds them."""

    sector: str
    version: str
    entries: tuple[Factor, ...]

    def find(self, name: str, year: int) -> Factor | None:
        """The entry of `name` for the year, or None when the file has none for that year."""
        found = [f for f in self.entries if f.name == name and f.applies_to(year)]
        assert len(found) <= 1, f"{self.sector}.toml: {len(found)} entries of {name} hold {year}"
        return found[0] if found else None

    def get(self, name: str, year: int) -> Factor:
        """The entry of `name` for the year; a missing one is a defect of the data file."""
        factor = self.find(name, year)
        if factor is None:
            raise KeyError(f"mrv/sectors/data/{self.sector}.toml has no {name} for {year}")
        return factor


TAGS = frozenset({"P", "S", "C", "?"})


def _decimal(text: object, where: str) -> Decimal:
    """A decimal string from a data file; floats are refused so no value is ever rounded by TOML."""
    if not isinstance(text, str):
        raise ValueError(f"{where}: values must be decimal strings, got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: {text!r} is not a decimal") from None
    if not value.is_finite():
        raise ValueError(f"{where}: {text!r} is not finite")
    return value


def parse_factor_file(text: str, expected_sector: str) -> FactorSet:
    """Read a sector data file's text, checking its schema, sector, tags and values."""
    data = tomllib.loads(text)
    where = f"mrv/sectors/data/{expected_sector}.toml"
    if data.get("schema_version") != 1 or data.get("sector") != expected_sector:
        raise ValueError(f"{where}: unsupported schema_version or wrong sector")
    entries = []
    for raw in data.get("factors", []):
        name = raw["name"]
        if raw["tag"] not in TAGS:
            raise ValueError(f"{where}: {name} has tag {raw['tag']!r}, not one of {sorted(TAGS)}")
        if not str(raw.get("source", "")).strip():
            raise ValueError(f"{where}: {name} has no source")
        entries.append(
            Factor(
                name=name,
                value=_decimal(raw["value"], f"{where} {name}"),
                unit=raw["unit"],
                tag=raw["tag"],
                source=raw["source"],
                first_year=raw.get("first_year"),
                last_year=raw.get("last_year"),
            )
        )
    return FactorSet(expected_sector, str(data["version"]), tuple(entries))


@cache
def factor_set(sector: Sector) -> FactorSet:
    """The packaged default values of a sector (mrv/sectors/data/<sector>.toml)."""
    path = resources.files("carbonmarket.mrv.sectors") / "data" / f"{sector.value}.toml"
    return parse_factor_file(path.read_text("utf-8"), sector.value)


@dataclass(frozen=True)
class GwpTable:
    """One version of the global warming potentials (100-year), with its source."""

    version: str
    values: Mapping[str, Decimal]
    tag: str
    source: str


@cache
def gwp_tables() -> tuple[str, dict[str, GwpTable]]:
    """The packaged GWP versions (mrv/data/gwp.toml) and the name of the default one."""
    text = (resources.files("carbonmarket.mrv") / "data" / "gwp.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("mrv/data/gwp.toml: unsupported schema_version")
    tables = {
        name: GwpTable(
            name,
            {gas: _decimal(v, f"gwp.toml {name}.{gas}") for gas, v in version["gases"].items()},
            version["tag"],
            version["source"],
        )
        for name, version in data["versions"].items()
    }
    default = data["default_version"]
    assert default in tables, "gwp.toml: default_version names no table"
    return default, tables


def gwp_table(version: str | None = None) -> GwpTable:
    """A GWP table by version name (AR5, AR4), the default one when None; KeyError if unknown."""
    default, tables = gwp_tables()
    return tables[version or default]


def decimal_text(value: Fraction, places: int = display_places) -> str:
    """An exact value written with `places` decimals for reading (half away from zero), trailing zeros cut."""
    scaled = abs(value) * 10**places
    whole = math.floor(scaled + Fraction(1, 2))
    text = f"{whole // 10**places}.{whole % 10**places:0{places}d}" if places else str(whole)
    if places:
        text = text.rstrip("0").rstrip(".")
    return ("-" if value < 0 and whole != 0 else "") + text


def round_once(total: Fraction) -> int:
    """The annual figure in whole tonnes, half away from zero — the one rounding of the accounts."""
    magnitude = math.floor(abs(total) + Fraction(1, 2))
    return -magnitude if total < 0 else magnitude


@dataclass(frozen=True)
class Input:
    """One value a formula used: what, how much, in which unit, where it came from."""

    name: str
    value: Fraction
    unit: str
    origin: Origin
    shown: str
    tag: str | None = None
    source: str | None = None

    @classmethod
    def measured(cls, name: str, value: Decimal, unit: str) -> Input:
        """A value reported in the month's record."""
        return cls(name, Fraction(value), unit, Origin.MEASURED, _plain(value))

    @classmethod
    def default(cls, factor: Factor) -> Input:
        """A default value from a data file, with its source and tag."""
        return cls(
            factor.name,
            Fraction(factor.value),
            factor.unit,
            Origin.DEFAULT,
            _plain(factor.value),
            factor.tag,
            factor.source,
        )

    @classmethod
    def filled(cls, name: str, value: Fraction, unit: str, how: str) -> Input:
        """A gap filled from other months; `how` says from which."""
        return cls(name, value, unit, Origin.FILLED, decimal_text(value, 10), None, how)

    def as_json(self) -> dict[str, Any]:
        """The input as a trace shows it."""
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.shown,
            "unit": self.unit,
            "origin": self.origin.value,
        }
        if self.tag is not None:
            out["tag"] = self.tag
        if self.source is not None:
            out["source"] = self.source
        return out


def _plain(value: Decimal) -> str:
    """A Decimal without exponent notation (1E+3 → 1000)."""
    return format(value, "f")


@dataclass(frozen=True)
class Line:
    """One emission source of one facility in one month: its formula, inputs and tonnes CO2e.

    `in_total` is False for figures reported beside the total (purchased electricity from 2023).
    `gas_kg` is the mass of a non-CO2 gas (CF4, C2F6) before GWP weighting.
    """

    facility_id: str
    month: int
    source: str
    gas: str
    formula: str
    inputs: tuple[Input, ...]
    tonnes: Fraction
    in_total: bool = True
    gas_kg: Fraction | None = None
    note: str | None = None

    def working(self) -> str:
        """The formula with the numbers put in, so a reader can redo it by hand."""
        return " × ".join(i.shown for i in self.inputs)

    def as_json(self) -> dict[str, Any]:
        """The line as a trace shows it (tonnes written to `display_places` decimals)."""
        out: dict[str, Any] = {
            "facility_id": self.facility_id,
            "month": self.month,
            "source": self.source,
            "gas": self.gas,
            "formula": self.formula,
            "inputs": [i.as_json() for i in self.inputs],
            "tco2e": decimal_text(self.tonnes),
            "in_total": self.in_total,
        }
        if self.gas_kg is not None:
            out["gas_kg"] = decimal_text(self.gas_kg)
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class SectorResult:
    """An engine's account of one facility's year: lines, notes, and the exact (unrounded) total."""

    sector: Sector
    facility_id: str
    year: int
    factor_version: str
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Fraction:
        """Exact tonnes CO2e of the lines that count in the total."""
        return sum((line.tonnes for line in self.lines if line.in_total), Fraction(0))

    @property
    def reported_beside(self) -> Fraction:
        """Exact tonnes reported beside the total and not in it (purchased electricity from 2023)."""
        return sum((line.tonnes for line in self.lines if not line.in_total), Fraction(0))


def check_facility_year(records: Iterable[MonthlyRecord], sector: Sector) -> tuple[str, int]:
    """The facility and year of a batch of records; a mixed or duplicated batch is a caller's bug."""
    batch = list(records)
    assert batch, "an engine needs at least one monthly record"
    facility, year = batch[0].facility_id, batch[0].year
    months = [r.month for r in batch]
    assert all(r.facility_id == facility and r.year == year for r in batch), "one facility-year per call"
    assert all(r.sector is sector for r in batch), f"records of another sector given to the {sector} engine"
    assert len(set(months)) == len(months), "one record per month (the current version)"
    return facility, year


def required(record: MonthlyRecord, name: str) -> Decimal:
    """A required parameter of the record; records are validated before accounting, so absence is a bug."""
    value = record.values.get(name)
    assert value is not None, f"{record.facility_id} {record.year}-{record.month:02d} lacks {name}"
    return value


def product(inputs: Iterable[Input]) -> Fraction:
    """The exact product of the inputs' values."""
    result = Fraction(1)
    for i in inputs:
        result *= i.value
    return result


def ratio_input(name: str, value: Fraction, shown: str, source: str) -> Input:
    """A stoichiometric constant (44/12, 44/56) as an input of a formula."""
    return Input(name, value, "1", Origin.CONSTANT, shown, None, source)


def co2_per_c() -> Input:
    """44/12: tonnes of CO2 from a tonne of carbon burned or released."""
    return ratio_input("co2_per_carbon", CO2_PER_C, "44/12", "molar masses CO2/C = 44/12")
