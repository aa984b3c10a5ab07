"""Roster rules: entities and their facilities, power-unit categories, inclusion by the threshold.

Pure: standard library and `carbonmarket.core` only. The numbers regulators read (the 26,000 t
threshold, the coal-unit split of each allocation plan, the fuels and process lines) are data in
`roster.toml` beside this module, each with its source. An entity is never overwritten: every
change is a diff `{field: [old, new]}` that the store appends to the entity's history, and the
current state is what replaying those diffs gives (`replay`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.model import Sector

# Limits (rule 12). Years: EU ETS data starts in 2005 and Kyoto's base year is 1990; nothing
# reported lies outside these bounds.
year_min = 1990
year_max = 2100
name_length_max = 200
place_length_max = 64
reason_length_max = 1000
# No single installation emits a billion tonnes a year (the largest coal plants emit about 40 Mt):
# a bigger figure is a unit slip or a typo.
emissions_t_max = 1_000_000_000
# The largest single generating units are about 1,750 MW; 5,000 MW leaves room without admitting
# a value typed in kW.
capacity_mw_max = Decimal(5000)
capacity_t_per_year_max = 100_000_000
threshold_t_max = 10**10


class EntityStatus(StrEnum):
    """Where an entity stands on the roster: active, suspended for a while, or removed."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


# Removal is not final: an entity that closed or fell below the threshold may be listed again.
_STATUS_MOVES: dict[EntityStatus, frozenset[EntityStatus]] = {
    EntityStatus.ACTIVE: frozenset({EntityStatus.SUSPENDED, EntityStatus.REMOVED}),
    EntityStatus.SUSPENDED: frozenset({EntityStatus.ACTIVE, EntityStatus.REMOVED}),
    EntityStatus.REMOVED: frozenset({EntityStatus.ACTIVE}),
}


class FacilityKind(StrEnum):
    """Power units belong to power entities; process lines to steel, cement and aluminium ones."""

    POWER_UNIT = "power_unit"
    PROCESS_LINE = "process_line"


class FacilityStatus(StrEnum):
    """A facility runs or has closed; a closed one stays on record."""

    ACTIVE = "active"
    CLOSED = "closed"


class UnitCategory(StrEnum):
    """Power-unit categories of the allocation plans (DOMAIN-SOURCES.md §1)."""

    I = "I"  # noqa: E741 - the plans' own name for the category
    II = "II"
    III = "III"
    IV = "IV"


class Cooling(StrEnum):
    """A unit's cooling; the 2019-22 plans gave air-cooled coal units a factor of 1.05."""

    WATER = "water"
    AIR = "air"


# --- the rules as data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryPlan:
    """How one allocation plan splits conventional coal units by rated power."""

    plan: str
    coal_split_mw: Decimal
    split_category: UnitCategory
    source: str


@dataclass(frozen=True)
class RosterRules:
    """Everything of `roster.toml`: threshold, unit categories per plan, fuels, process lines."""

    threshold_t: int
    threshold_source: str
    default_plan: str
    plans: Mapping[str, CategoryPlan]
    fuels: Mapping[str, str]
    not_covered: frozenset[str]
    process_lines: Mapping[Sector, tuple[str, ...]]


@cache
def roster_rules() -> RosterRules:
    """The packaged roster rules."""
    text = (resources.files("carbonmarket.mrv.roster") / "roster.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("mrv/roster/roster.toml: unsupported schema_version")
    units = data["power_units"]
    plans = {
        p["plan"]: CategoryPlan(
            p["plan"], Decimal(p["coal_split_mw"]), UnitCategory(p["split_category"]), p["source"]
        )
        for p in units["plans"]
    }
    assert units["default_plan"] in plans, "roster.toml: default_plan names no plan"
    lines = data["process_lines"]
    return RosterRules(
        threshold_t=int(data["inclusion"]["threshold_t"]),
        threshold_source=data["inclusion"]["source"],
        default_plan=units["default_plan"],
        plans=plans,
        fuels=dict(units["fuels"]),
        not_covered=frozenset(units["not_covered"]),
        process_lines={s: tuple(lines[s.value]) for s in Sector if s is not Sector.POWER},
    )


# --- inclusion ------------------------------------------------------------------------------------


def is_included(emissions_t: int, threshold_t: int) -> bool:
    """Whether annual emissions put an entity on the roster: "26,000 t CO2e or more" (DOMAIN.md §1)."""
    return emissions_t >= threshold_t


def parse_threshold(value: object | None) -> int:
    """The inclusion threshold in whole tonnes; the packaged one (26,000 t [seed]) when none is given."""
    if value is None:
        return roster_rules().threshold_t
    number = _whole(value)
    if number is None or number < 0 or number > threshold_t_max:
        raise Refused(
            Code.ROSTER_INVALID_THRESHOLD,
            f"threshold {value!r} must be whole tonnes CO2e between 0 and {threshold_t_max}",
        )
    return number


def parse_year(value: object, what: str = "year") -> int:
    """A calendar year within the limits, from an int or its digits."""
    number = _whole(value)
    if number is None or not year_min <= number <= year_max:
        raise Refused(
            Code.ROSTER_INVALID_YEAR, f"{what} {value!r} is not a year between {year_min} and {year_max}"
        )
    return number


def _whole(value: object) -> int | None:
    """An int from an int or a string of digits; None for anything else (bools, fractions, words)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


@dataclass(frozen=True)
class BadValue:
    """Why a cell could not be read as emissions, in words for the person who fixes the file."""

    reason: str


_THOUSANDS = re.compile(r"[+-]?\d{1,3}([,\u00a0\u202f ]\d{3})+(\.\d+)?")


def read_tonnes(cell: object, factor: int = 1) -> int | BadValue:
    """Read one emissions cell as whole tonnes CO2e (`factor` converts kt or 万吨), or say why not.

    Annual figures are reported in whole tonnes (the annual report rounds once), so a fraction
    that does not come out whole is refused rather than silently rounded across the threshold.
    """
    if isinstance(cell, str) and cell.isascii() and cell.isdigit():
        # The common case (an EU file has 175,000 such cells): plain digits need no Decimal.
        number_t = int(cell) * factor
        if number_t > emissions_t_max:
            return BadValue(f"{cell} is above the plausible maximum of {emissions_t_max:,} t for one entity")
        return number_t
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return BadValue("blank: no emissions reported")
    if isinstance(cell, bool):
        return BadValue(f"{cell!r} is not a number of tonnes")
    number: Decimal
    if isinstance(cell, int | float | Decimal):
        try:
            number = Decimal(str(cell)) if isinstance(cell, float) else Decimal(cell)
        except InvalidOperation:
            return BadValue(f"{cell!r} is not a number of tonnes")
    else:
        text = str(cell).strip()
        if _THOUSANDS.fullmatch(text):
            text = re.sub(r"[,\u00a0\u202f ]", "", text)
        try:
            number = Decimal(text)
        except InvalidOperation:
            return BadValue(f"{str(cell).strip()!r} is not a number of tonnes")
    if not number.is_finite():
        return BadValue(f"{cell!r} is not a number of tonnes")
    number *= factor
    if number < 0:
        return BadValue(f"negative emissions ({cell}) are impossible")
    if number != number.to_integral_value():
        return BadValue(f"{cell} is not a whole number of tonnes")
    if number > emissions_t_max:
        return BadValue(f"{cell} is above the plausible maximum of {emissions_t_max:,} t for one entity")
    return int(number)


# --- entities -------------------------------------------------------------------------------------


ENTITY_FIELDS = ("name", "sector", "province", "city", "status", "inclusion_year")


@dataclass(frozen=True)
class Entity:
    """A key emitting entity as the roster holds it."""

    id: str
    name: str
    sector: Sector
    province: str
    city: str | None
    status: EntityStatus
    inclusion_year: int | None

    def fields(self) -> dict[str, Any]:
        """The changeable fields as JSON values, in a fixed order."""
        return {
            "name": self.name,
            "sector": self.sector.value,
            "province": self.province,
            "city": self.city,
            "status": self.status.value,
            "inclusion_year": self.inclusion_year,
        }

    def as_dict(self) -> dict[str, Any]:
        """The entity as other contexts and the interfaces see it."""
        return {"entity_id": self.id, **self.fields()}


def parse_sector(value: object) -> Sector:
    """Read a covered sector, refusing unknown words."""
    try:
        return Sector(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Sector)
        raise Refused(Code.ROSTER_INVALID_SECTOR, f"sector {value!r} is not one of: {allowed}") from None


def parse_status(value: object) -> EntityStatus:
    """Read an entity status, refusing unknown words."""
    try:
        return EntityStatus(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in EntityStatus)
        raise Refused(Code.ROSTER_INVALID_STATUS, f"status {value!r} is not one of: {allowed}") from None


def check_text(value: object, what: str, length_max: int) -> str:
    """Non-empty printable text within a length, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(Code.INVALID_TEXT, f"{what} must not be empty")
    text = value.strip()
    if len(text) > length_max or any(ord(c) < 32 for c in text):
        raise Refused(Code.INVALID_TEXT, f"{what} must be at most {length_max} printable characters")
    return text


def _optional_text(value: object, what: str, length_max: int) -> str | None:
    """Like `check_text`, but blank or None means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check_text(value, what, length_max)


def _optional_year(value: object) -> int | None:
    """An optional year: blank or None means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_year(value, "inclusion year")


def new_entity(
    entity_id: str,
    name: object,
    sector: object,
    province: object,
    city: object = None,
    inclusion_year: object = None,
    status: object = EntityStatus.ACTIVE,
) -> Entity:
    """A checked new entity."""
    return Entity(
        id=check_id(entity_id, what="entity id"),
        name=check_text(name, "entity name", name_length_max),
        sector=parse_sector(sector),
        province=check_text(province, "province", place_length_max),
        city=_optional_text(city, "city", place_length_max),
        status=parse_status(status),
        inclusion_year=_optional_year(inclusion_year),
    )


def check_status_move(old: EntityStatus, new: EntityStatus) -> None:
    """Active ↔ suspended, either → removed, removed → active (listed again); nothing else."""
    if new not in _STATUS_MOVES[old]:
        raise Refused(
            Code.ROSTER_STATUS_CHANGE_NOT_ALLOWED,
            f"an entity that is {old.value} cannot become {new.value}",
        )


def change_entity(entity: Entity, updates: Mapping[str, object]) -> tuple[Entity, dict[str, list[Any]]]:
    """The entity after `updates`, and the diff `{field: [old, new]}` to append to its history.

    A removed entity keeps its record as it was; the only change it accepts is being listed again.
    """
    unknown = sorted(set(updates) - set(ENTITY_FIELDS))
    if unknown or not updates:
        raise Refused(
            Code.ROSTER_INVALID_FIELD,
            f"an entity change sets some of: {', '.join(ENTITY_FIELDS)}"
            + (f"; not {', '.join(unknown)}" if unknown else ""),
        )
    parsers: dict[str, Any] = {
        "name": lambda v: check_text(v, "entity name", name_length_max),
        "sector": parse_sector,
        "province": lambda v: check_text(v, "province", place_length_max),
        "city": lambda v: _optional_text(v, "city", place_length_max),
        "status": parse_status,
        "inclusion_year": _optional_year,
    }
    parsed = {field: parsers[field](value) for field, value in updates.items()}
    changed = replace(entity, **parsed)
    diff = _diff(entity.fields(), changed.fields())
    if not diff:
        raise Refused(Code.ROSTER_NO_CHANGE, f"entity {entity.id!r} already has these values")
    if entity.status is EntityStatus.REMOVED and set(diff) != {"status"}:
        raise Refused(
            Code.ROSTER_ENTITY_REMOVED,
            f"entity {entity.id!r} is removed; list it again (status active) before changing it",
        )
    if "status" in diff:
        check_status_move(entity.status, changed.status)
    return changed, diff


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value differs, as `{field: [old, new]}`."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def creation_diff(fields: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The history entry of a creation: every field from nothing to its first value."""
    return {k: [None, v] for k, v in fields.items()}


def replay(diffs: Iterable[Mapping[str, list[Any]]]) -> dict[str, Any]:
    """The state that a history of diffs leads to; it must equal the stored row (never overwritten)."""
    state: dict[str, Any] = {}
    for diff in diffs:
        for field, (old, new) in diff.items():
            if state.get(field) != old:
                raise ValueError(f"history does not chain at {field!r}: {state.get(field)!r} is not {old!r}")
            state[field] = new
    return state


# --- facilities -----------------------------------------------------------------------------------


FACILITY_FIELDS = (
    "name",
    "fuel",
    "capacity_mw",
    "cooling",
    "category",
    "category_plan",
    "line_type",
    "capacity_t_per_year",
    "status",
)
# What a caller may set; the category follows from fuel, capacity and plan, so it is never set directly.
FACILITY_SETTABLE = (
    "name",
    "fuel",
    "capacity_mw",
    "cooling",
    "plan",
    "line_type",
    "capacity_t_per_year",
    "status",
)


@dataclass(frozen=True)
class Facility:
    """A power unit (with its allocation category) or a process line of an entity."""

    id: str
    entity_id: str
    sector: Sector
    kind: FacilityKind
    name: str | None
    status: FacilityStatus
    fuel: str | None = None
    capacity_kw: int | None = None
    cooling: Cooling | None = None
    category: UnitCategory | None = None
    category_plan: str | None = None
    line_type: str | None = None
    capacity_t_per_year: int | None = None

    @property
    def capacity_mw(self) -> Decimal | None:
        """Rated power in MW, exactly (stored in kW)."""
        return None if self.capacity_kw is None else Decimal(self.capacity_kw) / 1000

    def fields(self) -> dict[str, Any]:
        """The recorded fields as JSON values (capacity as decimal text)."""
        return {
            "name": self.name,
            "fuel": self.fuel,
            "capacity_mw": None if self.capacity_mw is None else _decimal_text(self.capacity_mw),
            "cooling": None if self.cooling is None else self.cooling.value,
            "category": None if self.category is None else self.category.value,
            "category_plan": self.category_plan,
            "line_type": self.line_type,
            "capacity_t_per_year": self.capacity_t_per_year,
            "status": self.status.value,
        }

    def as_dict(self) -> dict[str, Any]:
        """The facility as other contexts see it (`capacity_mw` as a Decimal)."""
        return {
            "facility_id": self.id,
            "entity_id": self.entity_id,
            "sector": self.sector.value,
            "kind": self.kind.value,
            **self.fields(),
            "capacity_mw": self.capacity_mw,
        }


def _decimal_text(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 660.000 → '660', 12.500 → '12.5'."""
    return format(value.normalize(), "f")


def parse_capacity_mw(value: object) -> int:
    """Rated power in MW (to the kW) → kW, refusing zero, negatives and absurd values."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise Refused(Code.ROSTER_INVALID_CAPACITY, f"capacity {value!r} is not a number of MW") from None
    if not number.is_finite() or number <= 0 or number > capacity_mw_max:
        raise Refused(
            Code.ROSTER_INVALID_CAPACITY,
            f"capacity {value!r} MW must be above 0 and at most {capacity_mw_max}",
        )
    kw = number * 1000
    if kw != kw.to_integral_value():
        raise Refused(
            Code.ROSTER_INVALID_CAPACITY, f"capacity {value!r} MW is recorded to the kW (3 decimals)"
        )
    return int(kw)


def parse_cooling(value: object) -> Cooling:
    """Read a cooling kind (water or air)."""
    try:
        return Cooling(str(value).strip().lower())
    except ValueError:
        raise Refused(Code.ROSTER_INVALID_FACILITY, f"cooling {value!r} is not one of: water, air") from None


def classify_power_unit(fuel: str, capacity_mw: Decimal, plan: str | None = None) -> UnitCategory:
    """The unit's category under an allocation plan (DOMAIN-SOURCES.md §1, plan A 附1).

    Conventional coal splits at the plan's rated power (2023-24: ≥ 400 MW is I, below is II;
    2019-22: above 300 MW is I); unconventional coal (incl. CFB) is III; gas is IV. Units the plan
    does not cover (biomass, oil, IGCC, ...) are refused rather than given a category.
    """
    rules = roster_rules()
    chosen = plan or rules.default_plan
    if chosen not in rules.plans:
        raise Refused(
            Code.ROSTER_INVALID_FACILITY,
            f"allocation plan {chosen!r} is not one of: {', '.join(sorted(rules.plans))}",
        )
    key = fuel.strip().lower()
    if key in rules.not_covered:
        raise Refused(
            Code.ROSTER_UNIT_NOT_COVERED,
            f"{key} units are not covered by the national market's power allocation (plan A 表2)",
        )
    family = rules.fuels.get(key)
    if family is None:
        raise Refused(
            Code.ROSTER_INVALID_FACILITY,
            f"fuel {fuel!r} is not one of: {', '.join(sorted(rules.fuels))} "
            f"(not covered: {', '.join(sorted(rules.not_covered))})",
        )
    if family == "gas":
        return UnitCategory.IV
    if family == "unconventional_coal":
        return UnitCategory.III
    split = rules.plans[chosen]
    if capacity_mw > split.coal_split_mw:
        return UnitCategory.I
    if capacity_mw < split.coal_split_mw:
        return UnitCategory.II
    return split.split_category


def new_facility(
    facility_id: str,
    entity: Entity,
    *,
    name: object = None,
    fuel: object = None,
    capacity_mw: object = None,
    cooling: object = None,
    plan: object = None,
    line_type: object = None,
    capacity_t_per_year: object = None,
) -> Facility:
    """A checked new facility of `entity`: a power unit for power, a process line otherwise."""
    check_id(facility_id, what="facility id")
    if entity.status is EntityStatus.REMOVED:
        raise Refused(Code.ROSTER_ENTITY_REMOVED, f"entity {entity.id!r} is removed; list it again first")
    base = Facility(
        id=facility_id,
        entity_id=entity.id,
        sector=entity.sector,
        kind=FacilityKind.POWER_UNIT if entity.sector is Sector.POWER else FacilityKind.PROCESS_LINE,
        name=_optional_text(name, "facility name", name_length_max),
        status=FacilityStatus.ACTIVE,
    )
    return _settle(
        base,
        {
            "fuel": fuel,
            "capacity_mw": capacity_mw,
            "cooling": cooling,
            "plan": plan,
            "line_type": line_type,
            "capacity_t_per_year": capacity_t_per_year,
        },
    )


def change_facility(
    facility: Facility, updates: Mapping[str, object]
) -> tuple[Facility, dict[str, list[Any]]]:
    """The facility after `updates` (category recomputed), and the diff for its history."""
    unknown = sorted(set(updates) - set(FACILITY_SETTABLE))
    if unknown or not updates:
        raise Refused(
            Code.ROSTER_INVALID_FIELD,
            f"a facility change sets some of: {', '.join(FACILITY_SETTABLE)}"
            + (f"; not {', '.join(unknown)}" if unknown else ""),
        )
    current: dict[str, object] = {
        "fuel": facility.fuel,
        "capacity_mw": facility.capacity_mw,
        "cooling": None if facility.cooling is None else facility.cooling.value,
        "plan": facility.category_plan,
        "line_type": facility.line_type,
        "capacity_t_per_year": facility.capacity_t_per_year,
    }
    current.update({k: v for k, v in updates.items() if k not in ("name", "status")})
    changed = _settle(facility, current)
    if "name" in updates:
        changed = replace(changed, name=_optional_text(updates["name"], "facility name", name_length_max))
    if "status" in updates:
        try:
            changed = replace(changed, status=FacilityStatus(str(updates["status"]).strip().lower()))
        except ValueError:
            raise Refused(
                Code.ROSTER_INVALID_STATUS,
                f"facility status {updates['status']!r} is not one of: active, closed",
            ) from None
    diff = _diff(facility.fields(), changed.fields())
    if not diff:
        raise Refused(Code.ROSTER_NO_CHANGE, f"facility {facility.id!r} already has these values")
    return changed, diff


def _settle(facility: Facility, values: Mapping[str, object]) -> Facility:
    """Check the kind-specific fields of a facility and derive a power unit's category."""

    def given(key: str) -> bool:
        value = values.get(key)
        return value is not None and not (isinstance(value, str) and not value.strip())

    if facility.kind is FacilityKind.POWER_UNIT:
        stray = [k for k in ("line_type", "capacity_t_per_year") if given(k)]
        if stray:
            raise Refused(
                Code.ROSTER_FACILITY_SECTOR_MISMATCH,
                f"a power unit has fuel, capacity_mw and cooling, not {', '.join(stray)}",
            )
        missing = [k for k in ("fuel", "capacity_mw", "cooling") if not given(k)]
        if missing:
            raise Refused(Code.ROSTER_INVALID_FACILITY, f"a power unit needs {', '.join(missing)}")
        capacity_kw = parse_capacity_mw(values["capacity_mw"])
        fuel = str(values["fuel"]).strip().lower()
        plan = str(values["plan"]).strip() if given("plan") else roster_rules().default_plan
        category = classify_power_unit(fuel, Decimal(capacity_kw) / 1000, plan)
        return replace(
            facility,
            fuel=fuel,
            capacity_kw=capacity_kw,
            cooling=parse_cooling(values["cooling"]),
            category=category,
            category_plan=plan,
        )
    stray = [k for k in ("fuel", "capacity_mw", "cooling", "plan") if given(k)]
    if stray:
        raise Refused(
            Code.ROSTER_FACILITY_SECTOR_MISMATCH,
            f"a {facility.sector.value} process line has a line type and an output capacity, "
            f"not {', '.join(stray)} (those are for power units)",
        )
    lines = roster_rules().process_lines[facility.sector]
    line_type = str(values.get("line_type") or "").strip().lower()
    if line_type not in lines:
        raise Refused(
            Code.ROSTER_INVALID_FACILITY,
            f"a {facility.sector.value} process line is one of: {', '.join(lines)}; "
            f"not {values.get('line_type')!r}",
        )
    output: int | None = None
    if given("capacity_t_per_year"):
        output = _whole(values["capacity_t_per_year"])
        if output is None or not 0 < output <= capacity_t_per_year_max:
            raise Refused(
                Code.ROSTER_INVALID_CAPACITY,
                f"output capacity {values['capacity_t_per_year']!r} must be whole tonnes a year, "
                f"above 0 and at most {capacity_t_per_year_max}",
            )
    return replace(facility, line_type=line_type, capacity_t_per_year=output)
