"""Allocation rules: plans as data, the benchmark formulas, caps, pre-allocation and the true-up settlement.

Pure: standard library and `carbonmarket.core` only. Every number of a plan (benchmarks, factors,
shares, bands) comes from a versioned TOML file under `allocation/data/` with its DOMAIN-SOURCES tag;
this module only knows the *shapes* of the formulas:

- power (plans A and B, the 2019-22 plans): `A = Ae + Ah`, `Ae = Qe × Be × F…`, `Ah = Qh × Bh`, each
  part floored to whole tonnes (DOMAIN-SOURCES.md §1-2, test vector 4);
- steel, cement, aluminium: `A = E` (2024) or `A = E × (1 + α)`, `α` from the intensity band (§2);
- an absolute cap: cap → free share by benchmark, paid (auction) share, reserve share;
- the entity caps of plan A §五(三): gas top-up to verified emissions and the 20% gap cap;
- the settlement of vector 8: pre-allocation, final allocation, deductions owed, withdrawals.

Arithmetic is `Decimal` throughout and rounds once per term, where the plans say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

from carbonmarket.core.ids import check_id
from carbonmarket.core.instruments import InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Refused

# Limits (rule 12). The plans of the national market start in 2019; 2100 is far beyond any draft.
year_min = 2019
year_max = 2100
# A benchmark above 2 t CO2/MWh or 1 t CO2/GJ is beyond any fossil unit (lignite is about 1.2 t/MWh):
# a typo or a unit slip (kg for t).
electricity_benchmark_max_t_per_mwh = Decimal(2)
heat_benchmark_max_t_per_gj = Decimal(1)
product_benchmark_max_t_per_t = Decimal(100)
# Activity of one unit in one year: 5,000 MW (roster's largest rating) × 8,784 h is 43.9 TWh; heat of
# the largest CHP units is a few 10^7 GJ; one entity's output stays below 10^8 t (roster limit).
electricity_max_mwh = Decimal(50_000_000)
heat_max_gj = Decimal(500_000_000)
output_max_t = Decimal(100_000_000)
emissions_max_t = 1_000_000_000
cap_max_t = 100_000_000_000
plan_years_max = 10
factor_pieces_max = 10
decimals_max = 12
title_length_max = 200
source_length_max = 1000
bisection_steps_max = 200

COAL_CATEGORIES = ("I", "II", "III")
GAS_CATEGORY = "IV"
CATEGORIES = (*COAL_CATEGORIES, GAS_CATEGORY)
INDUSTRY_SECTORS = ("steel", "cement", "aluminium")
SECTORS = ("power", *INDUSTRY_SECTORS)


class PlanKind(StrEnum):
    """What a plan computes: benchmarks per unit, verified emissions, an intensity band, or a cap."""

    POWER_BENCHMARK = "power_benchmark"
    VERIFIED_EMISSIONS = "verified_emissions"
    INDUSTRY_INTENSITY = "industry_intensity"
    ABSOLUTE_CAP = "absolute_cap"


class PreallocationBasis(StrEnum):
    """What the pre-allocation share applies to: last year's verified emissions or output × benchmark."""

    PREVIOUS_YEAR_VERIFIED = "previous_year_verified"
    PREVIOUS_YEAR_OUTPUT = "previous_year_output"


class ElectricityBasis(StrEnum):
    """Generated electricity (plans from 2023) or supplied electricity (2019-22)."""

    GENERATED = "generated"
    SUPPLIED = "supplied"


# --- plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One row of a piecewise load factor: applies for F ≥ `lower` (the rows are tried top-down)."""

    lower: Decimal
    kind: str
    params: Mapping[str, Decimal]


@dataclass(frozen=True)
class LoadFactor:
    """The load (peak-shaving) factor of a plan: which categories, its rows, and its rounding."""

    applies_to: frozenset[str]
    pieces: tuple[Piece, ...]
    decimals: int | None


@dataclass(frozen=True)
class Benchmark:
    """A unit category's electricity (t CO2/MWh) and heat (t CO2/GJ) benchmarks."""

    electricity_t_per_mwh: Decimal
    heat_t_per_gj: Decimal


@dataclass(frozen=True)
class PowerRules:
    """Everything a power benchmark plan says about units."""

    coal_split_mw: Decimal
    split_category: str
    electricity_basis: ElectricityBasis
    benchmarks: Mapping[str, Benchmark]
    load: LoadFactor | None
    cooling: Mapping[str, Decimal]
    heat_coal_slope: Decimal | None
    heat_gas_slope: Decimal | None


@dataclass(frozen=True)
class Band:
    """The surplus/deficit band of plan B: α = slope·X inside (lower, upper), `above`/`below` outside."""

    slope: Decimal
    lower: Decimal
    upper: Decimal
    above: Decimal
    below: Decimal


@dataclass(frozen=True)
class IndustryRules:
    """Intensity plans: the band, the output each sector's intensity is measured on, balance values."""

    band: Band
    intensity_basis: Mapping[str, str]
    # None means "solve from the balance equation".
    balance: Mapping[str, Decimal | None]


@dataclass(frozen=True)
class CapRules:
    """An absolute cap: shares of the cap and the benchmark that divides the free share."""

    free_share: Decimal
    auction_share: Decimal
    reserve_share: Decimal
    benchmark_t_per_t: Decimal
    basis: str


@dataclass(frozen=True)
class PlanYear:
    """One year a plan covers: the vintage it allocates, a cap (absolute plans) and a registry ceiling."""

    year: int
    vintage: str
    cap_t: int | None = None
    vintage_ceiling_t: int | None = None


@dataclass(frozen=True)
class Plan:
    """A parsed, validated allocation plan."""

    id: str
    title: str
    kind: PlanKind
    sectors: tuple[str, ...]
    status: str
    source: str
    years: tuple[PlanYear, ...]
    preallocation_share: Decimal
    preallocation_basis: PreallocationBasis
    gas_topup: bool
    gap_share: Decimal | None
    gap_rate_decimals: int | None
    power: PowerRules | None = None
    industry: IndustryRules | None = None
    cap: CapRules | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def year(self, year: int) -> PlanYear:
        """The plan's entry for a year; refuses a year the plan does not cover."""
        for entry in self.years:
            if entry.year == year:
                return entry
        raise Refused(
            Code.ALLOCATION_NO_PLAN_FOR_YEAR,
            f"plan {self.id!r} covers {', '.join(str(y.year) for y in self.years)}, not {year}",
        )


def _invalid(plan_id: str, message: str) -> Refused:
    return Refused(Code.ALLOCATION_PLAN_INVALID, f"plan {plan_id}: {message}")


def _decimal(
    value: object, what: str, plan_id: str, low: Decimal | None = None, high: Decimal | None = None
) -> Decimal:
    """A decimal written as a string (never a binary float), within [low, high]."""
    if isinstance(value, bool | float):
        raise _invalid(plan_id, f'{what} must be written as a decimal string such as "0.7950", not {value!r}')
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str | int) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _invalid(plan_id, f"{what} {value!r} is not a decimal number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _invalid(plan_id, f"{what} {number} is outside [{low}, {high}]")
    return number


def _whole(value: object, what: str, plan_id: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(plan_id, f"{what} must be a whole number in [{low}, {high}], not {value!r}")
    return value


def _table(data: Mapping[str, Any], key: str, plan_id: str) -> Mapping[str, Any]:
    found = data.get(key)
    if not isinstance(found, Mapping):
        raise _invalid(plan_id, f"the [{key}] table is missing")
    return found


def _text(data: Mapping[str, Any], key: str, plan_id: str, length_max: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > length_max:
        raise _invalid(plan_id, f"{key} must be text of 1-{length_max} characters")
    return value.strip()


def parse_plan(data: Mapping[str, Any]) -> Plan:
    """Validate a plan file's data and build the Plan (refusing unknown categories, missing benchmarks...)."""
    if data.get("schema_version") != 1:
        raise Refused(Code.ALLOCATION_PLAN_INVALID, "a plan file needs schema_version = 1")
    raw_id = data.get("id")
    plan_id = check_id(raw_id if isinstance(raw_id, str) else "", what="plan id")
    try:
        kind = PlanKind(str(data.get("kind")))
    except ValueError:
        allowed = ", ".join(k.value for k in PlanKind)
        raise _invalid(plan_id, f"kind {data.get('kind')!r} is not one of: {allowed}") from None
    sectors = _sectors(data.get("sectors"), kind, plan_id)
    status = data.get("status")
    if status not in ("final", "draft"):
        raise _invalid(plan_id, f"status must be final or draft, not {status!r}")
    years = _years(data.get("year"), kind, plan_id)
    pre = _table(data, "preallocation", plan_id)
    try:
        basis = PreallocationBasis(str(pre.get("basis")))
    except ValueError:
        allowed = ", ".join(b.value for b in PreallocationBasis)
        raise _invalid(
            plan_id, f"preallocation basis {pre.get('basis')!r} is not one of: {allowed}"
        ) from None
    caps = _table(data, "caps", plan_id)
    gap = caps.get("entity_gap_share")
    gap_decimals = caps.get("gap_rate_decimals")
    plan = Plan(
        id=plan_id,
        title=_text(data, "title", plan_id, title_length_max),
        kind=kind,
        sectors=sectors,
        status=str(status),
        source=_text(data, "source", plan_id, source_length_max),
        years=years,
        preallocation_share=_decimal(
            pre.get("share"), "preallocation share", plan_id, Decimal(0), Decimal(1)
        ),
        preallocation_basis=basis,
        gas_topup=bool(caps.get("gas_topup", False)),
        gap_share=None if gap is None else _decimal(gap, "entity_gap_share", plan_id, Decimal(0), Decimal(1)),
        gap_rate_decimals=None
        if gap_decimals is None
        else _whole(gap_decimals, "gap_rate_decimals", plan_id, 0, decimals_max),
        power=_power(data, plan_id) if kind is PlanKind.POWER_BENCHMARK else None,
        industry=_industry(data, sectors, plan_id) if kind is PlanKind.INDUSTRY_INTENSITY else None,
        cap=_cap(data, plan_id) if kind is PlanKind.ABSOLUTE_CAP else None,
        data=dict(data),
    )
    if basis is PreallocationBasis.PREVIOUS_YEAR_OUTPUT and kind is not PlanKind.POWER_BENCHMARK:
        raise _invalid(plan_id, "a pre-allocation on previous-year output needs a power benchmark plan")
    return plan


def _sectors(value: object, kind: PlanKind, plan_id: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _invalid(plan_id, "sectors must be a non-empty list")
    unknown = [s for s in value if s not in SECTORS]
    if unknown:
        raise _invalid(plan_id, f"unknown sector {unknown[0]!r}; sectors are {', '.join(SECTORS)}")
    if kind is PlanKind.POWER_BENCHMARK and value != ["power"]:
        raise _invalid(plan_id, "a power benchmark plan covers the power sector only")
    if kind is not PlanKind.POWER_BENCHMARK and "power" in value and kind is not PlanKind.ABSOLUTE_CAP:
        raise _invalid(plan_id, f"a {kind.value} plan covers industrial sectors, not power")
    if len(set(value)) != len(value):
        raise _invalid(plan_id, "a sector is listed twice")
    return tuple(str(s) for s in value)


def _years(value: object, kind: PlanKind, plan_id: str) -> tuple[PlanYear, ...]:
    if not isinstance(value, list) or not value or len(value) > plan_years_max:
        raise _invalid(plan_id, f"a plan lists 1-{plan_years_max} [[year]] entries")
    years: list[PlanYear] = []
    for entry in value:
        if not isinstance(entry, Mapping):
            raise _invalid(plan_id, "each [[year]] is a table")
        year = _whole(entry.get("year"), "year", plan_id, year_min, year_max)
        vintage_text = entry.get("vintage")
        try:
            vintage = parse_instrument(vintage_text if isinstance(vintage_text, str) else "")
        except Refused:
            raise _invalid(plan_id, f"year {year}: vintage {vintage_text!r} is not an allowance id") from None
        if vintage.kind is not InstrumentKind.ALLOWANCE or vintage.vintage is None:
            raise _invalid(plan_id, f"year {year}: vintage {vintage_text!r} is not an allowance id")
        if not vintage.vintage.first_year <= year <= vintage.vintage.last_year:
            raise _invalid(plan_id, f"year {year} is not in the vintage {vintage.text}")
        cap = entry.get("cap_t")
        ceiling = entry.get("vintage_ceiling_t")
        years.append(
            PlanYear(
                year,
                vintage.text,
                None if cap is None else _whole(cap, f"year {year} cap_t", plan_id, 1, cap_max_t),
                None
                if ceiling is None
                else _whole(ceiling, f"year {year} vintage_ceiling_t", plan_id, 1, cap_max_t),
            )
        )
        if kind is PlanKind.ABSOLUTE_CAP and years[-1].cap_t is None:
            raise _invalid(plan_id, f"year {year}: an absolute-cap plan needs cap_t")
    listed = [y.year for y in years]
    if len(set(listed)) != len(listed):
        raise _invalid(plan_id, "a year is listed twice")
    return tuple(sorted(years, key=lambda y: y.year))


def _power(data: Mapping[str, Any], plan_id: str) -> PowerRules:
    categories = _table(data, "categories", plan_id)
    split_category = categories.get("split_category")
    if split_category not in ("I", "II"):
        raise Refused(
            Code.ALLOCATION_UNKNOWN_CATEGORY,
            f"plan {plan_id}: split_category {split_category!r} must be I or II "
            "(the coal categories split by size)",
        )
    electricity = _table(data, "electricity", plan_id)
    try:
        basis = ElectricityBasis(str(electricity.get("basis")))
    except ValueError:
        raise _invalid(
            plan_id, f"electricity basis {electricity.get('basis')!r} is generated or supplied"
        ) from None
    table = _table(data, "benchmarks", plan_id)
    benchmarks: dict[str, Benchmark] = {}
    for key, value in table.items():
        if key in ("tag", "source"):
            continue
        if key not in CATEGORIES:
            raise Refused(
                Code.ALLOCATION_UNKNOWN_CATEGORY,
                f"plan {plan_id}: unit category {key!r} is not one of {', '.join(CATEGORIES)}",
            )
        if not isinstance(value, Mapping):
            raise _invalid(plan_id, f"benchmark {key} must be a table")
        benchmarks[key] = _benchmark(value, key, plan_id)
    missing = [c for c in CATEGORIES if c not in benchmarks]
    if missing:
        raise Refused(
            Code.ALLOCATION_MISSING_BENCHMARK,
            f"plan {plan_id}: no benchmark for unit category {missing[0]}; every category I-IV needs one",
        )
    cooling_table = data.get("cooling_factor", {})
    cooling = {
        k: _decimal(cooling_table[k], f"cooling factor {k}", plan_id, Decimal("0.5"), Decimal(2))
        for k in ("water", "air")
        if k in cooling_table
    }
    heat = data.get("heat_factor", {})
    return PowerRules(
        coal_split_mw=_decimal(
            categories.get("coal_split_mw"), "coal_split_mw", plan_id, Decimal(1), Decimal(5000)
        ),
        split_category=str(split_category),
        electricity_basis=basis,
        benchmarks=benchmarks,
        load=_load_factor(data.get("load_factor"), plan_id),
        cooling=cooling,
        heat_coal_slope=None
        if "coal_slope" not in heat
        else _decimal(heat["coal_slope"], "heat coal_slope", plan_id, Decimal(0), Decimal(1)),
        heat_gas_slope=None
        if "gas_slope" not in heat
        else _decimal(heat["gas_slope"], "heat gas_slope", plan_id, Decimal(0), Decimal(1)),
    )


def _benchmark(value: Mapping[str, Any], key: str, plan_id: str) -> Benchmark:
    for name in ("electricity_t_per_mwh", "heat_t_per_gj"):
        if name not in value:
            raise Refused(Code.ALLOCATION_MISSING_BENCHMARK, f"plan {plan_id}: category {key} has no {name}")
    return Benchmark(
        _decimal(
            value["electricity_t_per_mwh"],
            f"{key} electricity benchmark",
            plan_id,
            Decimal(0),
            electricity_benchmark_max_t_per_mwh,
        ),
        _decimal(
            value["heat_t_per_gj"], f"{key} heat benchmark", plan_id, Decimal(0), heat_benchmark_max_t_per_gj
        ),
    )


_PIECE_PARAMS = {
    "constant": ("value",),
    "linear": ("intercept", "slope", "reference_percent"),
    "power": ("base", "constant", "slope"),
    "double_exponential": ("a", "b", "c", "d", "e"),
}


def _load_factor(value: object, plan_id: str) -> LoadFactor | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid(plan_id, "[load_factor] must be a table")
    applies = value.get("applies_to")
    if not isinstance(applies, list) or any(c not in CATEGORIES for c in applies):
        raise Refused(
            Code.ALLOCATION_UNKNOWN_CATEGORY,
            f"plan {plan_id}: load_factor applies_to {applies!r} must list categories of "
            f"{', '.join(CATEGORIES)}",
        )
    raw_pieces = value.get("pieces")
    if not isinstance(raw_pieces, list) or not 0 < len(raw_pieces) <= factor_pieces_max:
        raise _invalid(plan_id, f"load_factor needs 1-{factor_pieces_max} pieces")
    pieces = []
    for raw in raw_pieces:
        kind = raw.get("kind") if isinstance(raw, Mapping) else None
        if kind not in _PIECE_PARAMS:
            raise _invalid(
                plan_id, f"load_factor piece kind {kind!r} is not one of {', '.join(_PIECE_PARAMS)}"
            )
        params = {p: _decimal(raw.get(p), f"load_factor {kind} {p}", plan_id) for p in _PIECE_PARAMS[kind]}
        pieces.append(
            Piece(
                _decimal(raw.get("lower"), "load_factor lower", plan_id, Decimal(0), Decimal(1)), kind, params
            )
        )
    lowers = [p.lower for p in pieces]
    if lowers != sorted(lowers, reverse=True) or lowers[-1] != 0:
        raise _invalid(plan_id, "load_factor pieces go from the highest lower bound down to 0")
    decimals = value.get("decimals")
    return LoadFactor(
        frozenset(applies),
        tuple(pieces),
        None if decimals is None else _whole(decimals, "load_factor decimals", plan_id, 0, decimals_max),
    )


def _industry(data: Mapping[str, Any], sectors: tuple[str, ...], plan_id: str) -> IndustryRules:
    band = _table(data, "band", plan_id)
    parsed = Band(
        *(
            _decimal(band.get(name), f"band {name}", plan_id, Decimal(-1), Decimal(1))
            for name in ("slope", "lower", "upper", "above", "below")
        )
    )
    if not parsed.lower < 0 < parsed.upper:
        raise _invalid(plan_id, "band lower < 0 < upper")
    intensity = _table(data, "intensity", plan_id)
    balance = _table(data, "balance", plan_id)
    bases: dict[str, str] = {}
    values: dict[str, Decimal | None] = {}
    for sector in sectors:
        basis = intensity.get(sector)
        if not isinstance(basis, str) or not basis:
            raise _invalid(plan_id, f"[intensity] needs the output parameter of {sector}")
        bases[sector] = basis
        given = balance.get(sector)
        values[sector] = (
            None
            if given == "solve"
            else _decimal(
                given, f"balance value of {sector}", plan_id, Decimal(0), product_benchmark_max_t_per_t
            )
        )
        if values[sector] == 0:
            raise _invalid(plan_id, f"balance value of {sector} must be above 0")
    return IndustryRules(parsed, bases, values)


def _cap(data: Mapping[str, Any], plan_id: str) -> CapRules:
    shares = _table(data, "shares", plan_id)
    free, auction, reserve = (
        _decimal(shares.get(n), f"{n} share", plan_id, Decimal(0), Decimal(1))
        for n in ("free", "auction", "reserve")
    )
    if free + auction + reserve != 1:
        raise _invalid(
            plan_id, f"free, auction and reserve shares add up to {free + auction + reserve}, not 1"
        )
    benchmark = _table(data, "benchmark", plan_id)
    basis = benchmark.get("basis")
    if not isinstance(basis, str) or not basis:
        raise _invalid(plan_id, "[benchmark] needs the output parameter (basis)")
    return CapRules(
        free,
        auction,
        reserve,
        _decimal(
            benchmark.get("t_per_t"), "benchmark t_per_t", plan_id, Decimal(0), product_benchmark_max_t_per_t
        ),
        basis,
    )


# --- unit categories ------------------------------------------------------------------------------


def classify(fuel_family: str, capacity_mw: Decimal, rules: PowerRules) -> str:
    """A unit's category under a plan (plan A 附1): coal by size at the plan's split, III, IV gas."""
    if fuel_family == "gas":
        return GAS_CATEGORY
    if fuel_family == "unconventional_coal":
        return "III"
    if fuel_family != "conventional_coal":
        raise Refused(
            Code.ALLOCATION_UNIT_NOT_COVERED, f"fuel family {fuel_family!r} is not covered by the plan"
        )
    if capacity_mw > rules.coal_split_mw:
        return "I"
    if capacity_mw < rules.coal_split_mw:
        return "II"
    return rules.split_category


# --- the factors ----------------------------------------------------------------------------------


def _piece_value(piece: Piece, load_rate: Decimal) -> Decimal:
    p = piece.params
    if piece.kind == "constant":
        return p["value"]
    if piece.kind == "linear":
        return p["intercept"] + p["slope"] * (p["reference_percent"] - 100 * load_rate)
    if piece.kind == "power":
        exponent = p["constant"] - p["slope"] * load_rate
        return p["base"] ** exponent
    assert piece.kind == "double_exponential", piece.kind
    percent = 100 * load_rate
    return p["a"] - p["b"] * (1 - (-percent / p["c"]).exp()) - p["d"] * (1 - (-percent / p["e"]).exp())


def load_factor(factor: LoadFactor, load_rate: Decimal) -> Decimal:
    """The load/peak-shaving factor at load rate F (a fraction): the first row with F ≥ its lower bound.

    Plan A 附3 表1: F < 65% → 1.015^(16 − 20F); plan B (GB 21258-2024): F < 50% → 7.254 − 0.633(1 −
    e^(−F/29.822)) − 5.643(1 − e^(−F/6.871)) with F in %; rounded as the plan says (6 decimals).
    """
    with localcontext() as context:
        context.prec = 34
        for piece in factor.pieces:
            if load_rate >= piece.lower:
                value = _piece_value(piece, load_rate)
                break
        else:  # pragma: no cover - parse_plan guarantees a last row from 0
            raise AssertionError("no load factor row applies")
        if factor.decimals is not None:
            value = value.quantize(Decimal(1).scaleb(-factor.decimals), rounding=ROUND_HALF_UP)
        return +value


def floor_t(value: Decimal) -> int:
    """Whole tonnes, rounded down (plan B: allocations are floored; vector 7: 1,789.70 → 1,789)."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


# --- power units ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitActivity:
    """A power unit's year: generated and supplied electricity (MWh), heat supplied (GJ), load rate."""

    facility_id: str
    category: str
    cooling: str | None
    generated_mwh: Decimal | None
    supplied_mwh: Decimal | None
    heat_gj: Decimal
    load_rate: Decimal | None
    heat_ratio: Decimal | None = None


@dataclass(frozen=True)
class UnitResult:
    """A power unit's allocation: its parts in whole tonnes and every term that made them."""

    facility_id: str
    category: str
    electricity_t: int
    heat_t: int
    terms: Mapping[str, str]

    @property
    def total_t(self) -> int:
        """Ae + Ah."""
        return self.electricity_t + self.heat_t


def _missing(facility_id: str, what: str, rule: str) -> Refused:
    return Refused(
        Code.ALLOCATION_MISSING_ACTIVITY,
        f"unit {facility_id}: {what} is needed by {rule}",
        facility=facility_id,
    )


def power_unit(rules: PowerRules, unit: UnitActivity, plan_id: str = "the plan") -> UnitResult:
    """`A = Qe × Be × F… + Qh × Bh` for one unit (plan A 附3/附4; 2019-22 factors; plan B's Ff).

    Coal: `Ae = Qe × Be × Ff` (plan A), or `× F_cool × F_heat × F_load` (2019-22); gas: `Ae = Qe × Be`,
    or `× (1 − 0.6 × heat ratio)` (2019-22). Each part is floored to whole tonnes.
    """
    benchmark = rules.benchmarks.get(unit.category)
    if benchmark is None:
        raise Refused(
            Code.ALLOCATION_UNKNOWN_CATEGORY,
            f"unit {unit.facility_id}: category {unit.category!r} has no benchmark in {plan_id}",
        )
    generated = rules.electricity_basis is ElectricityBasis.GENERATED
    qe = unit.generated_mwh if generated else unit.supplied_mwh
    if qe is None:
        raise _missing(unit.facility_id, f"{rules.electricity_basis.value} electricity", plan_id)
    terms: dict[str, str] = {
        "Qe_mwh": str(qe),
        "electricity_basis": rules.electricity_basis.value,
        "Be_t_per_mwh": str(benchmark.electricity_t_per_mwh),
        "Qh_gj": str(unit.heat_gj),
        "Bh_t_per_gj": str(benchmark.heat_t_per_gj),
    }
    factor = Decimal(1)
    needs_ratio = (unit.category == GAS_CATEGORY and rules.heat_gas_slope is not None) or (
        unit.category != GAS_CATEGORY and rules.heat_coal_slope is not None
    )
    ratio = unit.heat_ratio
    if needs_ratio and ratio is None:
        if unit.heat_gj != 0:
            raise _missing(unit.facility_id, "the heat-supply ratio", f"{plan_id}'s heat factor")
        ratio = Decimal(0)
    if unit.category == GAS_CATEGORY:
        if rules.heat_gas_slope is not None:
            assert ratio is not None
            gas_factor = 1 - rules.heat_gas_slope * ratio
            terms["F_gas_heat"] = str(gas_factor)
            factor *= gas_factor
    else:
        if rules.load is not None and unit.category in rules.load.applies_to:
            if unit.load_rate is None:
                raise _missing(unit.facility_id, "the load rate", f"{plan_id}'s load factor")
            ff = load_factor(rules.load, unit.load_rate)
            terms["F_load_rate"] = str(unit.load_rate)
            terms["Ff"] = str(ff)
            factor *= ff
        if rules.cooling:
            f_cool = rules.cooling.get(unit.cooling or "water", Decimal(1))
            terms["F_cool"] = str(f_cool)
            factor *= f_cool
        if rules.heat_coal_slope is not None:
            assert ratio is not None
            f_heat = 1 - rules.heat_coal_slope * ratio
            terms["F_heat"] = str(f_heat)
            factor *= f_heat
    if ratio is not None and needs_ratio:
        terms["heat_ratio"] = str(ratio)
    electricity = floor_t(qe * benchmark.electricity_t_per_mwh * factor)
    heat = floor_t(unit.heat_gj * benchmark.heat_t_per_gj)
    terms["Ae_t"] = str(electricity)
    terms["Ah_t"] = str(heat)
    return UnitResult(unit.facility_id, unit.category, electricity, heat, terms)


# --- entity caps (plan A §五(三)) ---------------------------------------------------------------------


@dataclass(frozen=True)
class EntityFinal:
    """An entity's allocation after the gas top-up and the 20% gap cap, with the steps shown."""

    initial_t: int
    gas_topup_t: int
    gap_rate: Decimal | None
    gap_topup_t: int

    @property
    def final_t(self) -> int:
        """Initial allocation plus both top-ups."""
        return self.initial_t + self.gas_topup_t + self.gap_topup_t

    def terms(self) -> dict[str, str | None]:
        """The steps as text, for the allocation lines."""
        return {
            "initial_t": str(self.initial_t),
            "gas_topup_t": str(self.gas_topup_t),
            "gap_rate": None if self.gap_rate is None else str(self.gap_rate),
            "gap_topup_t": str(self.gap_topup_t),
            "final_t": str(self.final_t),
        }


def apply_caps(
    units: Sequence[tuple[int, bool, int | None]],
    verified_t: int,
    plan: Plan,
) -> EntityFinal:
    """Gas units below their verified emissions are topped up to them; then an entity below 80% of its
    verified emissions is topped up to 0.8 × verified (plan A §五(三), DOMAIN-SOURCES.md vector 5).

    `units` are (allocation, is_gas, unit verified emissions or None). The gap rate is
    (verified − allocation)/verified, rounded as the plan says (plan B: 2 decimals).
    """
    initial = sum(a for a, _, _ in units)
    gas_topup = 0
    if plan.gas_topup:
        for allocation, is_gas, unit_verified in units:
            if is_gas and unit_verified is not None and allocation < unit_verified:
                gas_topup += unit_verified - allocation
    after_gas = initial + gas_topup
    gap_rate: Decimal | None = None
    gap_topup = 0
    if plan.gap_share is not None and verified_t > 0:
        gap_rate = Decimal(verified_t - after_gas) / Decimal(verified_t)
        if plan.gap_rate_decimals is not None:
            gap_rate = gap_rate.quantize(Decimal(1).scaleb(-plan.gap_rate_decimals), rounding=ROUND_HALF_UP)
        if gap_rate > plan.gap_share:
            floor_allocation = floor_t((1 - plan.gap_share) * verified_t)
            gap_topup = max(0, floor_allocation - after_gas)
    return EntityFinal(initial, gas_topup, gap_rate, gap_topup)


# --- industry -------------------------------------------------------------------------------------


def alpha(band: Band, deviation: Decimal) -> Decimal:
    """Plan B's α: 0.15·X for −20% < X < 20%; +0.03 at or above 20%; −0.03 at or below −20%."""
    if deviation >= band.upper:
        return band.above
    if deviation <= band.lower:
        return band.below
    return band.slope * deviation


def deviation(balance_value: Decimal, intensity: Decimal) -> Decimal:
    """X = (BP − I)/BP: how far below the sector balance value the enterprise's intensity lies."""
    return (balance_value - intensity) / balance_value


@dataclass(frozen=True)
class IndustryResult:
    """An industrial entity's allocation `A = E × (1 + α)` with its terms."""

    allocation_t: int
    terms: Mapping[str, str]


def industry_allocation(
    band: Band, emissions_t: int, intensity: Decimal, balance_value: Decimal
) -> IndustryResult:
    """`A = ⌊E × (1 + α)⌋`, α from X = (BP − I)/BP (plan B, DOMAIN-SOURCES.md §2 and vector 10)."""
    x = deviation(balance_value, intensity)
    a = alpha(band, x)
    allocation = floor_t(Decimal(emissions_t) * (1 + a))
    return IndustryResult(
        allocation,
        {
            "E_t": str(emissions_t),
            "I": str(intensity),
            "BP": str(balance_value),
            "X": str(x.quantize(Decimal("0.000001"))),
            "alpha": str(a.quantize(Decimal("0.000001"))),
            "A_t": str(allocation),
        },
    )


def _sector_total(band: Band, members: Sequence[tuple[Decimal, Decimal]], balance_value: Decimal) -> Decimal:
    return sum((e * (1 + alpha(band, deviation(balance_value, i))) for e, i in members), Decimal(0))


def solve_balance_value(band: Band, members: Sequence[tuple[int, Decimal]], decimals: int = 8) -> Decimal:
    """The BP at which Σ E_i(1 + α_i) = Σ E_i: the balance equation of plan B (DOMAIN-SOURCES.md §2).

    The sector total rises with BP (every X rises) and is continuous (α is continuous at ±20%:
    0.15 × 0.2 = 0.03), from 0.97 ΣE for small BP to 1.03 ΣE for large, so bisection finds it.
    """
    usable = [(Decimal(e), i) for e, i in members if e > 0 and i > 0]
    if not usable:
        raise Refused(
            Code.ALLOCATION_MISSING_ACTIVITY, "the balance value needs entities with emissions and output"
        )
    target = sum((e for e, _ in usable), Decimal(0))
    low = min(i for _, i in usable) / 2
    high = max(i for _, i in usable) * 2
    step = Decimal(1).scaleb(-decimals)
    with localcontext() as context:
        context.prec = 34
        for _ in range(bisection_steps_max):
            middle = (low + high) / 2
            if _sector_total(band, usable, middle) < target:
                low = middle
            else:
                high = middle
            if high - low < step:
                break
    return high.quantize(step, rounding=ROUND_HALF_UP)


# --- absolute cap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapSplit:
    """A cap divided into its free, auction and reserve parts (whole tonnes; they add up to the cap)."""

    free_t: int
    auction_t: int
    reserve_t: int


def split_cap(cap_t: int, rules: CapRules) -> CapSplit:
    """Cap → free share, paid (auction) share, reserve share; the reserve takes the rounding remainder."""
    free = floor_t(rules.free_share * cap_t)
    auction = floor_t(rules.auction_share * cap_t)
    return CapSplit(free, auction, cap_t - free - auction)


def cap_correction(free_t: int, demands: Iterable[Decimal]) -> Decimal:
    """The uniform factor that keeps Σ output × benchmark within the free share (1 when it fits)."""
    total = sum(demands, Decimal(0))
    if total <= free_t or total == 0:
        return Decimal(1)
    return Decimal(free_t) / total


# --- pre-allocation, apportioning, load rate -------------------------------------------------------------


def preallocation_t(share: Decimal, basis_t: Decimal | int) -> int:
    """`⌊share × basis⌋`: 70% of previous-year verified emissions (plan A §五(一)), ≤ 50% in plan B."""
    return floor_t(share * Decimal(basis_t))


def apportion(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Split whole tonnes by weights, largest remainder first, so the parts add up to `total` exactly."""
    if total < 0:
        raise ValueError("apportion needs a non-negative total")
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum <= 0:
        shares = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    else:
        shares = list(weights)
    exact = [Decimal(total) * w / weight_sum for w in shares]
    parts = [floor_t(x) for x in exact]
    left = total - sum(parts)
    order = sorted(range(len(parts)), key=lambda k: (-(exact[k] - parts[k]), k))
    for k in order[:left]:
        parts[k] += 1
    return parts


def annual_load_rate(months: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """The year's load rate from monthly (load rate, operating hours): the hour-weighted mean."""
    pairs = list(months)
    hours = sum((h for _, h in pairs), Decimal(0))
    if hours <= 0:
        return None
    return sum((f * h for f, h in pairs), Decimal(0)) / hours


# --- settlement (true-up, deductions) --------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What one allocation step moves for an entity and where its deductions stand afterwards."""

    deliver_t: int
    withdraw_t: int
    shortfall_t: int
    deducted_delta_t: int
    delivered_after_t: int
    deducted_after_t: int
    owed_after_t: int


def settle(entitled_t: int, delivered_t: int, deducted_t: int, owed_t: int, available_t: int) -> Settlement:
    """Bring an entity's delivered allowances to its entitlement, net of deductions it owes.

    Deductions owed (a penalty's cut, a withdrawal it could not cover) are taken from the year's
    entitlement, never beyond it; what a smaller final allocation no longer needs to deduct is
    returned to the debt (DOMAIN-SOURCES.md vector 8: pre 50,000, final 30,000, owed 70,000 → 50,000
    deducted, 0 issued; then 20,000 returned, 0 issued). An excess is withdrawn ("多退少补"), but never
    beyond what the entity holds: the rest is recorded as owed, not overdrawn.
    """
    for name, value in (("entitled", entitled_t), ("delivered", delivered_t), ("deducted", deducted_t)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if owed_t < 0 or available_t < 0:
        raise ValueError("owed and available must not be negative")
    deducted_target = min(entitled_t, deducted_t + owed_t)
    delivered_target = entitled_t - deducted_target
    deducted_delta = deducted_target - deducted_t
    change = delivered_target - delivered_t
    deliver = max(change, 0)
    excess = max(-change, 0)
    withdraw = min(excess, available_t)
    shortfall = excess - withdraw
    return Settlement(
        deliver_t=deliver,
        withdraw_t=withdraw,
        shortfall_t=shortfall,
        deducted_delta_t=deducted_delta,
        delivered_after_t=delivered_t + deliver - withdraw,
        deducted_after_t=deducted_target,
        owed_after_t=owed_t - deducted_delta + shortfall,
    )


# --- activity limits ---------------------------------------------------------------------------------


def check_activity(name: str, value: Decimal, row_label: str) -> Decimal:
    """Refuse negative or absurd activity data (beyond the largest unit or plant), naming the row."""
    limits = {
        "electricity_generated_mwh": electricity_max_mwh,
        "electricity_supplied_mwh": electricity_max_mwh,
        "heat_supplied_gj": heat_max_gj,
        "load_rate_fraction": Decimal(1),
        "heat_supply_ratio_fraction": Decimal(1),
        "output_t": output_max_t,
        "verified_emissions_t": Decimal(emissions_max_t),
    }
    if not value.is_finite() or value < 0:
        raise Refused(
            Code.ALLOCATION_ACTIVITY_INVALID, f"{row_label}: {name} {value} is negative or not a number"
        )
    limit = limits.get(name)
    if limit is not None and value > limit:
        raise Refused(
            Code.ALLOCATION_ACTIVITY_INVALID,
            f"{row_label}: {name} {value} is above the plausible maximum of {limit}",
        )
    return value
