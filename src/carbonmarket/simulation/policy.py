"""Multi-year policy what-ifs: a yearly reduced-form market-clearing model on the generated entities.

Not the platform: no database, no order book. Each year of the horizon has business-as-usual (BAU)
emissions per entity (output growth and noise per seed), an allowance supply set by the levers of
`[policy]` (free allocation by benchmark until a sector's absolute-cap year, then a declining cap; a
paid share sold at auction with a reserve price; a reserve with intake and release triggers on the
bank), and a demand for allowances: emissions − abatement(price) − CCER offsets − what defaulters
leave unsurrendered. Abatement follows each entity's linear marginal abatement cost (MAC) curve from
its `Traits`: abating q of the potential `abatement_share × E` costs up to `mac_cny_per_t` at the last
tonne. Banking is Hotelling-style: with a discount rate r, a bank is carried from year t to t + 1 only
if the price rises by r; the bank never goes below 0 (no borrowing) nor above its limit (the banking
rule). Prices solve these conditions by bisection over the years ("taut string": a constant discounted
price between the years where the bank's bounds bind). Agents foresee each seed's own path, but not
the reserve's future decisions: the reserve acts once a year on last year's bank, and the market
re-plans from that year (a rolling horizon). Monte Carlo over seeds gives p10 / p50 / p90 per year.

`run_policy` is the entry point (the CLI's `carbonmarket simulate WHATIF.toml`); `write_report` in
`simulation/report.py` draws the result. Every behavioural number is a lever with a tagged default
(DOMAIN.md tags: [seed], [reg], [sec], [?]) listed in `DEFAULTS` and in docs/simulation.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonmarket.simulation.spec import (
    SECTORS,
    Entity,
    Market,
    Scenario,
    ScenarioError,
    StageProgress,
    load_scenario,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
MarketFactory = Callable[[Scenario, int | None, int], Market]

# --- defaults of the levers (each overridable in [policy]) ---------------------------------------
# Tags as in DOMAIN.md. Where no source gives a value, [?] marks a placeholder the user should move.
DEFAULTS: dict[str, Any] = {
    "horizon": 2035,  # the Opinions look to 2030; five more years show the cap's decline [?]
    "seeds": 20,
    "seed": 1,
    "base_emissions_t": 8_000_000_000,  # about 8 Gt covered after the 2025 expansion (DOMAIN §1) [seed]
    "discount_rate": 0.05,  # Hotelling: the bank's required return per year [?]
    "banking": "allowed",  # allowed | limited | none; the 2019-24 conversion rule is "limited" [reg]
    "bank_limit_share": 0.10,  # limited banking: bank ≤ share × the year's supply [?]
    "initial_bank_t": 0,  # allowances banked before the first year [?]
    "price_max_cny": 2000.0,  # the bisection's ceiling; a shortage above it is non-compliance [?]
    "offset_ratio": 0.05,  # CCER ≤ 5% of the allowances due (Measures, Art. 29; DOMAIN §4) [reg]
    # CCER offered in the first year (the first issuance, March 2025, was 9.48 Mt [seed]) [?]
    "ccer_supply_t": 30_000_000,
    "ccer_supply_growth": 0.15,  # a year [?]
    "ccer_price_cny": 60.0,  # allowance price at which the whole CCER supply is offered (linear below) [?]
    # The abatable share widens by this share of the first year's every year (capital turnover) [?]
    "abatement_potential_growth": 0.25,
    "abatement_share_max": 0.50,  # ceiling of any entity's abatable share [?]
    "bau_intensity_decline": 0.005,  # autonomous intensity improvement, a year [?]
    "output_noise": 0.03,  # entity output shock, sd a year [?]
    "sector_noise": 0.02,  # common sector output shock, sd a year [?]
    "mac_noise": 0.15,  # common MAC multiplier per seed, lognormal sd [?]
    "defaulter_budget_cny_per_t": [0.5, 5.0],  # a defaulter pays at most this per t emitted (uniform) [?]
    # Share of each sector's supply auctioned, a number or a {year = share} path ("growing" [seed]) [?]
    "paid_share": 0.0,
    "reserve_price_cny": 0.0,  # auction reserve price; a number or a path [reg: California/RGGI anchor]
}
SECTOR_DEFAULTS: dict[str, dict[str, Any]] = {
    # growth [?]; initial_gap: allocation short of BAU in the first year, power 0.55% (2023, §3) [seed],
    # industry A = E(1 + α) balances each sector (§3) [reg-draft]; tightening [?]; caps none by default.
    "power": {"growth": 0.01, "initial_gap": 0.0055, "benchmark_tightening": 0.01, "cap_decline": 0.02},
    "steel": {"growth": -0.01, "initial_gap": 0.0, "benchmark_tightening": 0.01, "cap_decline": 0.02},
    "cement": {"growth": -0.02, "initial_gap": 0.0, "benchmark_tightening": 0.01, "cap_decline": 0.02},
    "aluminium": {"growth": 0.005, "initial_gap": 0.0, "benchmark_tightening": 0.01, "cap_decline": 0.02},
}
SECTOR_FALLBACK = {"growth": 0.0, "initial_gap": 0.0, "benchmark_tightening": 0.01, "cap_decline": 0.02}
ENTRY_DEFAULTS: dict[str, Any] = {
    "entities": 200,
    "growth": 0.0,
    "mac_cny_per_t": 200.0,  # median of a lognormal, sd 0.5 [?]
    "abatement_share": 0.05,  # mean of uniform(0.5, 1.5) × this [?]
}
RESERVE_DEFAULTS: dict[str, Any] = {
    "start_year": 0,  # 0: no reserve mechanism; the Opinions announce one by 2030 [seed]
    "intake_rate": 0.24,  # EU MSR: 24% of the bank (TNAC) taken in (DOMAIN §5) [reg]
    # EU thresholds 833 Mt (intake) and 400 Mt (release), release 100 Mt [reg], as shares of the EU's
    # 2021 cap of 1,572 Mt [sec], applied to this market's first-year BAU emissions.
    "intake_above_share": 833 / 1572,
    "release_below_share": 400 / 1572,
    "release_share": 100 / 1572,
    "set_aside_share": 0.0,  # of an absolute cap, held back in the reserve (example plan: 0.02) [?]
    "unsold_to_reserve": True,  # unsold auction volume goes to the reserve (else cancelled) [?]
}
# BAU intensity per unit of output when the market does not give one: t CO2 per MWh generated (power,
# close to the 2024 benchmarks 0.791-0.824 coal, 0.329 gas; DOMAIN §3 [reg]) or per t product (steel
# per t crude steel: blast furnace route 1.9, electric arc 0.5 [?]; cement per t clinker [?]; aluminium
# anode 1.424 + PFC 0.1454 = 1.57 (§2) [sec]).
INTENSITY_T_PER_OUTPUT = {
    "power:coal": 0.82,
    "power:gas": 0.36,
    "steel": 1.9,
    "steel:eaf": 0.5,
    "cement": 0.86,
    "aluminium": 1.57,
}
INTENSITY_SPREAD = 0.04  # entity deviation from the sector's intensity, lognormal sd [?]
BANKING_RULES = ("allowed", "limited", "none")
BISECTION_STEPS = 32  # price resolution price_max / 2^32: far below a fen
PERCENTILES = (10, 50, 90)

# Units of the outputs (for the summary and the report).
UNITS = {
    "price_cny": "CNY/t",
    "emissions_bau_t": "t",
    "emissions_t": "t",
    "abatement_t": "t",
    "abatement_cost_cny": "CNY",
    "cap_t": "t",
    "free_t": "t",
    "auction_offered_t": "t",
    "auction_sold_t": "t",
    "auction_unsold_t": "t",
    "auction_revenue_cny": "CNY",
    "reserve_price_cny": "CNY/t",
    "offsets_t": "t",
    "bank_t": "t",
    "reserve_t": "t",
    "reserve_intake_t": "t",
    "reserve_release_t": "t",
    "forfeited_t": "t",
    "shortfall_t": "t",
    "deficit_t": "t",
    "deficit_ratio": "share",
    "compliance_rate": "share",
    "noncompliant_entities": "entities",
    "covered_entities": "entities",
}
SECTOR_UNITS = {
    "emissions_bau_t": "t",
    "emissions_t": "t",
    "abatement_t": "t",
    "free_t": "t",
    "auction_offered_t": "t",
    "deficit_t": "t",
    "deficit_ratio": "share",
}


# --- the levers ------------------------------------------------------------------------------------

Path_ = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class SectorLevers:
    growth: float
    initial_gap: float
    benchmark_tightening: float
    absolute_cap_year: int  # 0: intensity-based to the horizon
    cap_decline: float


@dataclass(frozen=True)
class EntryLevers:
    """A sector entering the market later (chemicals, petrochemicals, aviation...)."""

    sector: str
    year: int
    emissions_t: float  # BAU emissions in the entry year
    entities: int
    growth: float
    mac_cny_per_t: float
    abatement_share: float


@dataclass(frozen=True)
class ReserveLevers:
    start_year: int
    intake_rate: float
    intake_above_share: float
    release_below_share: float
    release_share: float
    set_aside_share: float
    unsold_to_reserve: bool


@dataclass(frozen=True)
class Levers:
    """Every lever of `[policy]`, validated, with defaults filled in."""

    first_year: int
    horizon: int
    seeds: int
    seed: int
    baseline: str
    base_emissions_t: float
    discount_rate: float
    banking: str
    bank_limit_share: float
    initial_bank_t: float
    price_max_cny: float
    offset_ratio: Path_
    ccer_supply_t: float
    ccer_supply_growth: float
    ccer_price_cny: float
    abatement_potential_growth: float
    abatement_share_max: float
    bau_intensity_decline: float
    output_noise: float
    sector_noise: float
    mac_noise: float
    defaulter_budget_cny_per_t: tuple[float, float]
    paid_share: Path_
    reserve_price_cny: Path_
    sectors: dict[str, SectorLevers] = field(default_factory=dict)
    entry: tuple[EntryLevers, ...] = ()
    reserve: ReserveLevers = field(default_factory=lambda: ReserveLevers(**RESERVE_DEFAULTS))

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.horizon + 1))

    def sector(self, name: str) -> SectorLevers:
        if name in self.sectors:
            return self.sectors[name]
        base = SECTOR_DEFAULTS.get(name, SECTOR_FALLBACK)
        return SectorLevers(absolute_cap_year=0, **base)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able levers (paths as {year: value})."""
        data = asdict(self)
        for key in ("offset_ratio", "paid_share", "reserve_price_cny"):
            data[key] = {str(year): value for year, value in getattr(self, key)}
        data["defaulter_budget_cny_per_t"] = list(self.defaulter_budget_cny_per_t)
        data["entry"] = [asdict(e) for e in self.entry]
        return data


def _number(table: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ScenarioError(f"{where} {key} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _year(table: Mapping[str, Any], key: str, where: str, allow_zero: bool = False) -> int:
    value = table[key]
    if allow_zero and value == 0 and not isinstance(value, bool):
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2100:
        never = " (or 0 for never)" if allow_zero else ""
        raise ScenarioError(f"{where} {key} must be a year from 2000 to 2100{never}, got {value!r}")
    return value


def _path(table: Mapping[str, Any], key: str, where: str, low: float, high: float) -> Path_:
    """A number (constant) or a table {year = value}: linear between the years, flat outside them."""
    value = table[key]
    if isinstance(value, dict):
        if not value:
            raise ScenarioError(f"{where} {key} must name at least one year")
        points = []
        for year_text, point in value.items():
            if not str(year_text).isdigit() or not 2000 <= int(year_text) <= 2100:
                raise ScenarioError(f"{where} {key}: {year_text!r} is not a year from 2000 to 2100")
            points.append(
                (int(year_text), _number({key: point}, key, f"{where} {key}.{year_text}:", low, high))
            )
        return tuple(sorted(points))
    return ((0, _number(table, key, where, low, high)),)


def path_value(path: Path_, year: int) -> float:
    """The value of a path in a year (linear interpolation between its points)."""
    years = [p[0] for p in path]
    values = [p[1] for p in path]
    return float(np.interp(year, years, values))


def _known(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(f"{where} unknown key {unknown[0]!r}; known: {', '.join(sorted(allowed))}")


def read_levers(scenario: Scenario) -> Levers:
    """The `[policy]` section, validated: a wrong value raises `ScenarioError` naming its key."""
    raw = scenario.section("policy")
    tables = {"sectors", "entry", "reserve"}
    _known(raw, set(DEFAULTS) | tables | {"first_year", "baseline"}, "[policy]")
    table = {**DEFAULTS, **{k: v for k, v in raw.items() if k not in tables}}
    market_year = scenario.section("market").get("year", 2024)
    table.setdefault("first_year", market_year + 1 if isinstance(market_year, int) else 2025)
    where = "[policy]"
    first_year = _year(table, "first_year", where)
    horizon = _year(table, "horizon", where)
    if not first_year <= horizon <= first_year + 40:
        raise ScenarioError(f"[policy] horizon must be from first_year {first_year} to 40 years after it")
    banking = table["banking"]
    if banking not in BANKING_RULES:
        raise ScenarioError(f"[policy] banking must be one of {', '.join(BANKING_RULES)}, got {banking!r}")
    baseline = table.get("baseline", "")
    if not isinstance(baseline, str):
        raise ScenarioError("[policy] baseline must be a scenario name or a path")
    budget = table["defaulter_budget_cny_per_t"]
    if not isinstance(budget, list) or len(budget) != 2:
        raise ScenarioError("[policy] defaulter_budget_cny_per_t must be [low, high] in CNY per t emitted")
    low = _number({"low": budget[0]}, "low", "[policy] defaulter_budget_cny_per_t", 0, 1e4)
    high = _number({"high": budget[1]}, "high", "[policy] defaulter_budget_cny_per_t", low, 1e4)
    return Levers(
        first_year=first_year,
        horizon=horizon,
        seeds=int(_number(table, "seeds", where, 1, 1000)),
        seed=int(_number(table, "seed", where, 0, 2**31)),
        baseline=baseline,
        base_emissions_t=_number(table, "base_emissions_t", where, 0, 1e11),
        discount_rate=_number(table, "discount_rate", where, 0, 0.5),
        banking=banking,
        bank_limit_share=_number(table, "bank_limit_share", where, 0, 1),
        initial_bank_t=_number(table, "initial_bank_t", where, 0, 1e11),
        price_max_cny=_number(table, "price_max_cny", where, 1, 1e5),
        offset_ratio=_path(table, "offset_ratio", where, 0, 0.5),
        ccer_supply_t=_number(table, "ccer_supply_t", where, 0, 1e10),
        ccer_supply_growth=_number(table, "ccer_supply_growth", where, -0.5, 2),
        ccer_price_cny=_number(table, "ccer_price_cny", where, 0.01, 1e4),
        abatement_potential_growth=_number(table, "abatement_potential_growth", where, 0, 1),
        abatement_share_max=_number(table, "abatement_share_max", where, 0, 1),
        bau_intensity_decline=_number(table, "bau_intensity_decline", where, -0.2, 0.2),
        output_noise=_number(table, "output_noise", where, 0, 0.5),
        sector_noise=_number(table, "sector_noise", where, 0, 0.5),
        mac_noise=_number(table, "mac_noise", where, 0, 2),
        defaulter_budget_cny_per_t=(low, high),
        paid_share=_path(table, "paid_share", where, 0, 1),
        reserve_price_cny=_path(table, "reserve_price_cny", where, 0, 1e4),
        sectors=_read_sectors(raw.get("sectors", {})),
        entry=_read_entry(raw.get("entry", {})),
        reserve=_read_reserve(raw.get("reserve", {})),
    )


def _read_sectors(raw: object) -> dict[str, SectorLevers]:
    if not isinstance(raw, dict):
        raise ScenarioError("[policy.sectors] must be a table of sectors")
    sectors = {}
    for name, values in raw.items():
        where = f"[policy.sectors.{name}]"
        if not isinstance(values, dict):
            raise ScenarioError(f"{where} must be a table")
        defaults = {**SECTOR_DEFAULTS.get(name, SECTOR_FALLBACK), "absolute_cap_year": 0}
        _known(values, set(defaults), where)
        table = {**defaults, **values}
        sectors[name] = SectorLevers(
            growth=_number(table, "growth", where, -0.5, 0.5),
            initial_gap=_number(table, "initial_gap", where, -0.5, 0.5),
            benchmark_tightening=_number(table, "benchmark_tightening", where, -0.2, 0.5),
            absolute_cap_year=_year(table, "absolute_cap_year", where, allow_zero=True),
            cap_decline=_number(table, "cap_decline", where, -0.2, 0.5),
        )
    return sectors


def _read_entry(raw: object) -> tuple[EntryLevers, ...]:
    if not isinstance(raw, dict):
        raise ScenarioError("[policy.entry] must be a table of entering sectors")
    entries = []
    for name, values in sorted(raw.items()):
        where = f"[policy.entry.{name}]"
        if not isinstance(values, dict):
            raise ScenarioError(f"{where} must be a table")
        if name in SECTORS:
            raise ScenarioError(f"{where} {name} is already covered; entry is for sectors not in the market")
        _known(values, set(ENTRY_DEFAULTS) | {"year", "emissions_t"}, where)
        for required in ("year", "emissions_t"):
            if required not in values:
                raise ScenarioError(f"{where} {required} is required")
        table = {**ENTRY_DEFAULTS, **values}
        entries.append(
            EntryLevers(
                sector=name,
                year=_year(table, "year", where),
                emissions_t=_number(table, "emissions_t", where, 0, 1e10),
                entities=int(_number(table, "entities", where, 1, 10_000)),
                growth=_number(table, "growth", where, -0.5, 0.5),
                mac_cny_per_t=_number(table, "mac_cny_per_t", where, 0.01, 1e4),
                abatement_share=_number(table, "abatement_share", where, 0, 0.5),
            )
        )
    return tuple(entries)


def _read_reserve(raw: object) -> ReserveLevers:
    if not isinstance(raw, dict):
        raise ScenarioError("[policy.reserve] must be a table")
    where = "[policy.reserve]"
    _known(raw, set(RESERVE_DEFAULTS), where)
    table = {**RESERVE_DEFAULTS, **raw}
    if not isinstance(table["unsold_to_reserve"], bool):
        raise ScenarioError(f"{where} unsold_to_reserve must be true or false")
    release_below = _number(table, "release_below_share", where, 0, 10)
    return ReserveLevers(
        start_year=_year(table, "start_year", where, allow_zero=True),
        intake_rate=_number(table, "intake_rate", where, 0, 1),
        intake_above_share=_number(table, "intake_above_share", where, release_below, 10),
        release_below_share=release_below,
        release_share=_number(table, "release_share", where, 0, 10),
        set_aside_share=_number(table, "set_aside_share", where, 0, 0.5),
        unsold_to_reserve=table["unsold_to_reserve"],
    )


# --- the fleet: the entities as arrays ---------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """The market's entities (and the entrants) as arrays, fixed across Monte Carlo seeds."""

    sectors: tuple[str, ...]
    sector: Ints  # index into sectors, per entity
    groups: tuple[str, ...]  # benchmark groups ("power:coal", "power:gas", "steel", ...)
    group: Ints
    output0: Floats  # expected output in the first year (units of the sector's benchmark)
    intensity0: Floats  # BAU t CO2 per unit of output in the first year
    entry_year: Ints
    growth: Floats
    mac: Floats
    share: Floats
    uses_ccer: Bools
    defaulter: Bools

    @property
    def size(self) -> int:
        return int(self.sector.size)


def _group(entity: Entity) -> str:
    """The benchmark group: power by fuel (the plans' categories), steel by route, else the sector."""
    if entity.sector == "power":
        gas = all((u.fuel or "").startswith("gas") for u in entity.units)
        return "power:gas" if gas else "power:coal"
    if entity.sector == "steel":
        eaf = all(u.line_type == "steelmaking_eaf" for u in entity.units)
        return "steel:eaf" if eaf else "steel"
    return entity.sector


def build_fleet(market: Market, levers: Levers) -> Fleet:
    """The entities as arrays; outputs scaled so that first-year BAU emissions are `base_emissions_t`
    (the generated market stands for the national one), then the entrants appended."""
    rng = np.random.default_rng([levers.seed, 7])
    entities = [e for e in market.entities if sum(u.output for u in e.units) > 0]
    if not entities:
        raise ScenarioError("the market has no entity with output")
    groups = [_group(e) for e in entities]
    output = np.array([sum(u.output for u in e.units) for e in entities], dtype=np.float64)
    base = np.array([INTENSITY_T_PER_OUTPUT.get(g, 1.0) for g in groups])
    intensity = base * np.exp(rng.normal(0.0, INTENSITY_SPREAD, len(entities)))
    if levers.base_emissions_t > 0:
        output *= levers.base_emissions_t / float(np.sum(output * intensity))
    traits = [e.traits for e in entities]
    names = [e.sector for e in entities]
    columns: dict[str, list[Any]] = {
        "sector": names,
        "group": groups,
        "output0": list(output),
        "intensity0": list(intensity),
        "entry_year": [levers.first_year] * len(entities),
        "growth": [levers.sector(n).growth for n in names],
        "mac": [max(t.mac_cny_per_t, 0.01) for t in traits],
        "share": [min(max(t.abatement_share, 0.0), 1.0) for t in traits],
        "uses_ccer": [t.uses_ccer for t in traits],
        "defaulter": [t.strategy == "defaulter" for t in traits],
    }
    for entry in levers.entry:
        _append_entrants(columns, entry, levers, rng)
    sectors = tuple(dict.fromkeys(columns["sector"]))
    group_names = tuple(dict.fromkeys(columns["group"]))
    return Fleet(
        sectors=sectors,
        sector=np.array([sectors.index(s) for s in columns["sector"]], dtype=np.int64),
        groups=group_names,
        group=np.array([group_names.index(g) for g in columns["group"]], dtype=np.int64),
        output0=np.array(columns["output0"], dtype=np.float64),
        intensity0=np.array(columns["intensity0"], dtype=np.float64),
        entry_year=np.array(columns["entry_year"], dtype=np.int64),
        growth=np.array(columns["growth"], dtype=np.float64),
        mac=np.array(columns["mac"], dtype=np.float64),
        share=np.array(columns["share"], dtype=np.float64),
        uses_ccer=np.array(columns["uses_ccer"], dtype=np.bool_),
        defaulter=np.array(columns["defaulter"], dtype=np.bool_),
    )


# The entrants' traits [?]: lognormal sizes, the same mixes as the fallback market's.
ENTRANT_SIZE_SPREAD = 1.0
ENTRANT_MAC_SPREAD = 0.5
ENTRANT_CCER_SHARE = 0.02
ENTRANT_DEFAULTER_SHARE = 0.005


def _append_entrants(
    columns: dict[str, list[Any]], entry: EntryLevers, levers: Levers, rng: np.random.Generator
) -> None:
    """Synthetic entities of an entering sector: output in t CO2e at intensity 1, sized so that the
    expected BAU emissions in the entry year are `emissions_t`."""
    n = entry.entities
    sizes = rng.lognormal(0.0, ENTRANT_SIZE_SPREAD, n)
    years_before = max(entry.year - levers.first_year, 0)
    at_entry = entry.emissions_t * sizes / sizes.sum()
    decline = (1 - levers.bau_intensity_decline) ** years_before
    columns["sector"] += [entry.sector] * n
    columns["group"] += [entry.sector] * n
    columns["output0"] += list(at_entry / ((1 + entry.growth) ** years_before) / decline)
    columns["intensity0"] += [1.0] * n
    columns["entry_year"] += [entry.year] * n
    columns["growth"] += [entry.growth] * n
    columns["mac"] += list(entry.mac_cny_per_t * rng.lognormal(0.0, ENTRANT_MAC_SPREAD, n))
    columns["share"] += list(entry.abatement_share * rng.uniform(0.5, 1.5, n))
    columns["uses_ccer"] += list(rng.random(n) < ENTRANT_CCER_SHARE)
    columns["defaulter"] += list(rng.random(n) < ENTRANT_DEFAULTER_SHARE)


# --- one seed: supply, demand, prices ----------------------------------------------------------------


@dataclass
class Year:
    """One seed's arrays over the years (rows: years; columns: entities where two-dimensional)."""

    emissions: Floats  # BAU (T, N)
    potential: Floats  # abatable tonnes at the entity's full MAC (T, N)
    free: Floats  # free allocation (T, N)
    cap: Floats  # sector totals (T,) (cap or intensity-based supply incl. the paid share)
    auction: Floats  # offered at auction (T,)
    set_aside: Floats  # into the reserve (T,)
    reserve_price: Floats  # (T,)
    offset_cap: Floats  # ratio × users' BAU emissions (T,)
    ccer_supply: Floats  # (T,)
    budget: Floats  # defaulters' spending limit (T, N), 0 for others
    mac: Floats  # this seed's MAC per entity (N,)
    ccer_price: float  # the allowance price at which the whole CCER supply is offered


class Demand:
    """The market balance of each year as a function of its price, fast for many prices at once:
    abatement sums use the entities sorted by MAC with cumulative sums (a search per price)."""

    def __init__(self, year: Year, fleet: Fleet) -> None:
        self.year = year
        order = np.argsort(year.mac, kind="stable")
        self.mac_sorted = year.mac[order]
        potential = year.potential[:, order]
        zero = np.zeros((potential.shape[0], 1))
        self.cum_potential = np.hstack([zero, np.cumsum(potential, axis=1)])
        self.cum_slope = np.hstack([zero, np.cumsum(potential / self.mac_sorted, axis=1)])
        self.emissions_total = year.emissions.sum(axis=1)
        self.defaulters = np.flatnonzero(fleet.defaulter)
        self.rows = np.arange(potential.shape[0])

    def abatement(self, prices: Floats) -> Floats:
        """Σ potential × min(p / mac, 1) per year, for prices of shape (K, T)."""
        k = np.searchsorted(self.mac_sorted, prices, side="right")
        full = self.cum_potential[self.rows, k]
        partial = prices * (self.cum_slope[self.rows, -1] - self.cum_slope[self.rows, k])
        return np.asarray(full + partial, dtype=np.float64)

    def offsets(self, prices: Floats) -> Floats:
        y = self.year
        offered = y.ccer_supply * np.minimum(prices / y.ccer_price, 1.0)
        return np.asarray(np.minimum(y.offset_cap, offered), dtype=np.float64)

    def shortfall(self, prices: Floats, free: Floats) -> Floats:
        """What defaulters leave unsurrendered: their need beyond what their budget buys."""
        if self.defaulters.size == 0:
            return np.zeros_like(prices)
        d = self.defaulters
        y = self.year
        p = prices[..., None]
        abated = y.potential[:, d] * np.minimum(p / y.mac[d], 1.0)
        need = np.maximum(y.emissions[:, d] - abated - free[:, d], 0.0)
        bought = np.minimum(need, y.budget[:, d] / np.maximum(p, 1e-9))
        return np.asarray((need - bought).sum(axis=-1), dtype=np.float64)

    def net(self, prices: Floats, free_total: Floats, auction: Floats, free: Floats) -> Floats:
        """Allowances left over (supply − surrenders) per year at these prices; (K, T)."""
        sold = np.where(prices >= self.year.reserve_price, auction, 0.0)
        demand = (
            self.emissions_total
            - self.abatement(prices)
            - self.offsets(prices)
            - self.shortfall(prices, free)
        )
        return np.asarray(free_total + sold - demand, dtype=np.float64)


@dataclass
class Supply:
    """One seed's allowance supply over the years; the reserve's decisions change it year by year."""

    free: Floats  # free allocation per entity (T, N)
    auction: Floats  # offered at auction (T,), after intake and release
    intake: Floats  # taken into the reserve (T,)
    release: Floats  # released from the reserve into the auctions (T,)
    to_reserve: Floats  # set aside from caps and what a cap's free share leaves (T,)
    cap: Floats  # the year's total quantity, sector totals summed (T,)

    @property
    def free_total(self) -> Floats:
        return np.asarray(self.free.sum(axis=1), dtype=np.float64)


def draw_seed(fleet: Fleet, levers: Levers, seed_index: int) -> tuple[Year, Supply]:
    """A seed's BAU path (output noise, MAC level, defaulters' budgets) and the supply the rules give."""
    rng = np.random.default_rng([levers.seed, 11, seed_index])
    years = np.array(levers.years)
    steps = years - levers.first_year
    n_years, n = len(years), fleet.size
    covered = years[:, None] >= fleet.entry_year[None, :]
    sector_shock = rng.normal(0.0, levers.sector_noise, (n_years, len(fleet.sectors)))
    entity_shock = rng.normal(0.0, levers.output_noise, (n_years, n))
    # Year 0 carries a shock too: the first year's output is not known when the rules are set.
    growth = 1.0 + fleet.growth[None, :] + sector_shock[:, fleet.sector] + entity_shock
    output = fleet.output0 * np.cumprod(np.maximum(growth, 0.05), axis=0) / (1.0 + fleet.growth)
    intensity = fleet.intensity0 * ((1.0 - levers.bau_intensity_decline) ** steps)[:, None]
    emissions = output * intensity * covered
    share = np.minimum(
        fleet.share[None, :] * (1.0 + levers.abatement_potential_growth * steps[:, None]),
        levers.abatement_share_max,
    )
    mac = fleet.mac * math.exp(rng.normal(0.0, levers.mac_noise))
    low, high = levers.defaulter_budget_cny_per_t
    budget = emissions * (rng.uniform(low, high, n) * fleet.defaulter)[None, :]
    users = emissions[:, fleet.uses_ccer].sum(axis=1)
    ratio = np.array([path_value(levers.offset_ratio, int(y)) for y in years])
    year = Year(
        emissions=emissions,
        potential=emissions * share,
        free=np.zeros_like(emissions),
        cap=np.zeros(n_years),
        auction=np.zeros(n_years),
        set_aside=np.zeros(n_years),
        reserve_price=np.array([path_value(levers.reserve_price_cny, int(y)) for y in years]),
        offset_cap=ratio * users,
        ccer_supply=levers.ccer_supply_t * (1.0 + levers.ccer_supply_growth) ** steps,
        budget=budget,
        mac=mac,
        ccer_price=levers.ccer_price_cny,
    )
    return year, rule_supply(fleet, levers, output, covered)


def benchmarks(fleet: Fleet, levers: Levers) -> Floats:
    """Benchmark per year and group (t per unit of output): the group's expected mean intensity in its
    first covered year less the sector's initial gap, tightened each year after. Set from expected
    output, before any seed's noise: a rule published in advance."""
    years = np.array(levers.years)
    table = np.zeros((len(years), len(fleet.groups)))
    for g, name in enumerate(fleet.groups):
        members = fleet.group == g
        sector = levers.sector(fleet.sectors[int(fleet.sector[members][0])])
        ref = max(levers.first_year, int(fleet.entry_year[members].min()))
        k_ref = ref - levers.first_year
        expected = fleet.output0[members] * (1.0 + fleet.growth[members]) ** k_ref
        intensity = fleet.intensity0[members] * (1.0 - levers.bau_intensity_decline) ** k_ref
        mean = float(np.sum(expected * intensity) / np.sum(expected))
        table[:, g] = mean * (1.0 - sector.initial_gap) * (1.0 - sector.benchmark_tightening) ** (years - ref)
        del name
    return table


def rule_supply(fleet: Fleet, levers: Levers, output: Floats, covered: Bools) -> Supply:
    """Free allocation, auction volume and reserve set-aside per year, from the levers.

    Before a sector's absolute-cap year its supply is output × benchmark (intensity-based: it follows
    the year's real output). From that year, a cap: the expected intensity-based supply of the cap
    year, declining by `cap_decline` a year. A paid share of either is auctioned; within a cap the free
    pool is divided by output × benchmark, scaled down when it cannot cover it, the rest to the reserve
    (`allocation.model.cap_correction` does this for one plan)."""
    years = np.array(levers.years)
    steps = years - levers.first_year
    bench = benchmarks(fleet, levers)[:, fleet.group]
    by_benchmark = output * bench * covered
    expected_output = fleet.output0 * (1.0 + fleet.growth) ** steps[:, None]
    expected = expected_output * bench * covered
    paid = np.array([path_value(levers.paid_share, int(y)) for y in years])
    set_aside_share = levers.reserve.set_aside_share
    n_sectors = len(fleet.sectors)
    free_factor = np.zeros((len(years), n_sectors))
    auction = np.zeros(len(years))
    to_reserve = np.zeros(len(years))
    cap_total = np.zeros(len(years))
    for s, name in enumerate(fleet.sectors):
        members = fleet.sector == s
        demand = by_benchmark[:, members].sum(axis=1)
        cap_year = levers.sector(name).absolute_cap_year
        if cap_year and cap_year <= levers.horizon:
            cap_at = max(cap_year, levers.first_year)
            start = float(expected[cap_at - levers.first_year, members].sum())
            capped = years >= cap_at
            cap = np.where(capped, start * (1.0 - levers.sector(name).cap_decline) ** (years - cap_at), 0.0)
        else:
            capped = np.zeros(len(years), dtype=np.bool_)
            cap = np.zeros(len(years))
        total = np.where(capped, cap, demand)
        set_aside = np.where(capped, set_aside_share * cap, 0.0)
        sold = paid * (total - set_aside)
        pool = total - set_aside - sold
        with np.errstate(divide="ignore", invalid="ignore"):
            within_cap = np.where(demand > 0, np.minimum(1.0, pool / demand), 0.0)
        free_factor[:, s] = np.where(capped, within_cap, 1.0 - paid)
        leftover = np.where(capped, pool - within_cap * demand, 0.0)
        auction += sold
        to_reserve += set_aside + leftover
        cap_total += total
    free = by_benchmark * free_factor[:, fleet.sector]
    zeros = np.zeros(len(years))
    return Supply(free, auction, zeros.copy(), zeros.copy(), to_reserve, cap_total)


# --- the price path ------------------------------------------------------------------------------------


@dataclass
class PricePath:
    """A seed's solved years: prices, auction sales, end-of-year bank, forfeits, shortage."""

    price: Floats
    sold: Floats
    bank: Floats
    forfeited: Floats
    shortage: Floats


def bank_limits(levers: Levers, supply: Supply) -> Floats:
    """The most that may be carried into the next year under the banking rule (∞: allowed)."""
    offered = supply.free_total + supply.auction
    if levers.banking == "none":
        return np.zeros_like(offered)
    if levers.banking == "limited":
        return np.asarray(levers.bank_limit_share * offered, dtype=np.float64)
    return np.full_like(offered, np.inf)


class Solver:
    """The equilibrium price path for one seed (see the module's docstring)."""

    def __init__(self, demand: Demand, supply: Supply, levers: Levers) -> None:
        self.demand = demand
        self.supply = supply
        self.growth = 1.0 + levers.discount_rate
        self.price_max = levers.price_max_cny
        self.limits = bank_limits(levers, supply)
        self.n_years = len(levers.years)

    def _prices(self, start: int, p0: Floats) -> Floats:
        steps = np.arange(self.n_years) - start
        factor = np.where(steps >= 0, self.growth ** np.maximum(steps, 0), 0.0)
        return np.asarray(np.minimum(p0[:, None] * factor[None, :], self.price_max), dtype=np.float64)

    def _net(self, prices: Floats) -> Floats:
        s = self.supply
        return self.demand.net(prices, s.free_total, s.auction, s.free)

    def _cumulative(self, start: int, bank: float, p0: Floats, ends: Ints) -> Floats:
        """Bank at the end of year `ends[k]` if the price starts at `p0[k]` in `start` and rises at r."""
        net = self._net(self._prices(start, p0))
        net[:, :start] = 0.0
        running = np.cumsum(net, axis=1)
        return np.asarray(bank + running[np.arange(p0.size), ends], dtype=np.float64)

    def _bounds(self, start: int, bank: float) -> tuple[Floats, Floats]:
        """For each end year τ ≥ start: the lowest starting price keeping the bank ≥ 0 at τ, and the
        highest keeping it ≤ its limit at τ (bisection on all τ at once)."""
        ends = np.arange(start, self.n_years)
        k = ends.size
        top = self.price_max / self.growth ** (ends - start)
        limit = self.limits[ends]
        both_ends = np.concatenate([ends, ends])
        low, high = np.zeros(2 * k), np.concatenate([top, top])
        at_zero = self._cumulative(start, bank, low, both_ends)
        for _ in range(BISECTION_STEPS):
            mid = (low + high) / 2
            c = self._cumulative(start, bank, mid, both_ends)
            ok = np.concatenate([c[:k] >= 0, c[k:] <= limit])
            # lower bound: smallest p with C ≥ 0 (keep high on ok); upper: largest p with C ≤ limit.
            high = np.where(np.concatenate([ok[:k], ~ok[k:]]), mid, high)
            low = np.where(np.concatenate([ok[:k], ~ok[k:]]), low, mid)
        lower = np.where(at_zero[:k] >= 0, 0.0, high[:k])
        upper = np.where(at_zero[k:] > limit, 0.0, np.where(np.isinf(limit), top, low[k:]))
        return lower, upper

    def solve(self, start: int, bank: float, path: PricePath | None = None) -> PricePath:
        """Prices from `start` on, given the bank carried into it (earlier years kept from `path`)."""
        t = self.n_years
        if path is None:
            path = PricePath(np.zeros(t), np.zeros(t), np.zeros(t), np.zeros(t), np.zeros(t))
        path = PricePath(
            *(a.copy() for a in (path.price, path.sold, path.bank, path.forfeited, path.shortage))
        )
        tolerance = self.price_max * 1e-9
        while start < t:
            lower, upper = self._bounds(start, bank)
            p0, end, upper_binds = self._segment(start, lower, upper, tolerance)
            bank = self._settle(path, start, end, p0, bank, upper_binds)
            start = end + 1
        return path

    def _segment(self, start: int, lower: Floats, upper: Floats, tolerance: float) -> tuple[float, int, bool]:
        """The taut string: one discounted price from `start` until the first year a bound binds."""
        best_low, best_high = -np.inf, np.inf
        at_low = at_high = start
        for k in range(lower.size):
            if lower[k] > best_high + tolerance:
                return float(best_high), at_high, True
            if upper[k] < best_low - tolerance:
                return float(best_low), at_low, False
            if lower[k] >= best_low:
                best_low, at_low = float(lower[k]), start + k
            if upper[k] < best_high:
                best_high, at_high = float(upper[k]), start + k
        if best_low <= 0.0:
            return 0.0, self.n_years - 1, False
        return best_low, at_low, False

    def _settle(
        self, path: PricePath, start: int, end: int, p0: float, bank: float, upper_binds: bool
    ) -> float:
        """Write the segment's years; what a bound leaves over is unsold at auction (years at the
        reserve price), then forfeited; a negative bank is a shortage."""
        prices = self._prices(start, np.array([p0]))
        net = self._net(prices)[0]
        reserve_price = self.demand.year.reserve_price
        sold = np.where(prices[0] >= reserve_price, self.supply.auction, 0.0)
        at_reserve = (sold > 0) & (prices[0] <= reserve_price * (1 + 1e-6) + 1e-6) & (reserve_price > 0)
        target = self.limits[end] if upper_binds else 0.0
        running = bank + np.cumsum(net[start : end + 1])
        excess = running[-1] - target
        for year in range(end, start - 1, -1):
            if excess <= 1.0:
                break
            if at_reserve[year]:
                room = float(np.min(running[year - start :])) - 0.0
                cut = min(excess, float(sold[year]), max(room, 0.0))
                sold[year] -= cut
                running[year - start :] -= cut
                excess -= cut
        for year in range(start, end + 1):
            level = running[year - start]
            limit = self.limits[year]
            if level > limit + 1.0:
                path.forfeited[year] = level - limit
                running[year - start :] -= level - limit
            elif level < -1.0:
                path.shortage[year] = -level
                running[year - start :] -= level
            path.price[year] = prices[0, year]
            path.sold[year] = sold[year]
            path.bank[year] = max(running[year - start], 0.0)  # within a tonne of 0 after a shortage check
        return float(running[-1])


def run_reserve(solver: Solver, levers: Levers, first_year_bank: float) -> tuple[PricePath, Floats]:
    """Solve the path, then let the reserve act year by year on last year's bank: an intake (a share
    of the bank above the upper trigger, out of that year's auctions first, then free allocation) or a
    release (below the lower trigger, into the auctions, as far as the reserve holds). After each
    decision the market re-plans from that year. Returns the path and the reserve's holdings."""
    supply, reserve = solver.supply, levers.reserve
    path = solver.solve(0, first_year_bank)
    first_bau = float(solver.demand.emissions_total[0])
    holdings = np.zeros(solver.n_years)
    held = 0.0
    for t, year in enumerate(levers.years):
        held += float(supply.to_reserve[t])
        if reserve.start_year and year >= reserve.start_year:
            previous = first_year_bank if t == 0 else float(path.bank[t - 1])
            intake = release = 0.0
            if previous > reserve.intake_above_share * first_bau:
                intake = reserve.intake_rate * previous
            elif previous < reserve.release_below_share * first_bau:
                release = min(reserve.release_share * first_bau, held)
            if intake > 0 or release > 0:
                _move_reserve(supply, t, intake, release)
                held += intake - release
                path = solver.solve(t, previous, path)
        if reserve.unsold_to_reserve:
            held += float(supply.auction[t] - path.sold[t])
        holdings[t] = held
    return path, holdings


def _move_reserve(supply: Supply, t: int, intake: float, release: float) -> None:
    from_auction = min(intake, float(supply.auction[t]))
    rest = intake - from_auction
    free_total = float(supply.free[t].sum())
    if rest > 0 and free_total > 0:
        supply.free[t] *= max(1.0 - rest / free_total, 0.0)
        rest = max(rest - free_total, 0.0)
    supply.auction[t] += release - from_auction
    supply.intake[t] = intake - rest
    supply.release[t] = release


# --- one seed's outcomes ----------------------------------------------------------------------------


def simulate_seed(
    fleet: Fleet, levers: Levers, seed_index: int
) -> tuple[dict[str, Floats], dict[str, Floats]]:
    """One Monte Carlo draw: metrics per year (T,) and per sector and year (S, T)."""
    year, supply = draw_seed(fleet, levers, seed_index)
    demand = Demand(year, fleet)
    solver = Solver(demand, supply, levers)
    path, holdings = run_reserve(solver, levers, levers.initial_bank_t)
    return _outcomes(fleet, year, supply, path, holdings, demand)


def _outcomes(
    fleet: Fleet, year: Year, supply: Supply, path: PricePath, holdings: Floats, demand: Demand
) -> tuple[dict[str, Floats], dict[str, Floats]]:
    price = path.price[:, None]
    fraction = np.minimum(price / year.mac[None, :], 1.0)
    abated = year.potential * fraction
    verified = year.emissions - abated
    # Linear MAC: abating q of a potential a costs ∫ mac·x/a dx = ½·price·q below the full potential.
    cost = 0.5 * np.where(price < year.mac[None, :], price * abated, year.mac[None, :] * year.potential)
    offsets = demand.offsets(path.price[None, :])[0]
    users_bau = np.where(fleet.uses_ccer[None, :], year.emissions, 0.0)
    user_share = users_bau / np.maximum(users_bau.sum(axis=1, keepdims=True), 1e-9)
    entity_offsets = user_share * offsets[:, None]
    need = np.maximum(verified - supply.free - entity_offsets, 0.0)
    budget_buys = year.budget / np.maximum(price, 1e-9)
    unpaid = np.where(fleet.defaulter[None, :], np.maximum(need - budget_buys, 0.0), 0.0)
    covered = year.emissions > 0
    failing = (unpaid > 1.0).sum(axis=1).astype(np.float64)
    # A shortage (no allowance left at the price ceiling) falls on the buyers pro rata to their need.
    buyers = (need > 1.0) & ~fleet.defaulter[None, :]
    buyer_need = np.where(buyers, need, 0.0).sum(axis=1)
    short_share = np.where(buyer_need > 0, np.minimum(path.shortage / np.maximum(buyer_need, 1e-9), 1.0), 0.0)
    failing += np.ceil(short_share * buyers.sum(axis=1) - 1e-9)
    n_covered = covered.sum(axis=1).astype(np.float64)
    free_total = supply.free.sum(axis=1)
    verified_total = verified.sum(axis=1)
    metrics = {
        "price_cny": path.price.copy(),
        "emissions_bau_t": year.emissions.sum(axis=1),
        "emissions_t": verified_total,
        "abatement_t": abated.sum(axis=1),
        "abatement_cost_cny": cost.sum(axis=1),
        "cap_t": supply.cap.copy(),
        "free_t": free_total,
        "auction_offered_t": supply.auction.copy(),
        "auction_sold_t": path.sold.copy(),
        "auction_unsold_t": supply.auction - path.sold,
        "auction_revenue_cny": path.sold * np.maximum(path.price, year.reserve_price),
        "reserve_price_cny": year.reserve_price.copy(),
        "offsets_t": offsets,
        "bank_t": path.bank.copy(),
        "reserve_t": holdings,
        "reserve_intake_t": supply.intake.copy(),
        "reserve_release_t": supply.release.copy(),
        "forfeited_t": path.forfeited.copy(),
        "shortfall_t": unpaid.sum(axis=1) + path.shortage,
        "deficit_t": verified_total - free_total,
        "deficit_ratio": (verified_total - free_total) / np.maximum(verified_total, 1e-9),
        "compliance_rate": 1.0 - failing / np.maximum(n_covered, 1.0),
        "noncompliant_entities": failing,
        "covered_entities": n_covered,
    }
    by_sector = {
        "emissions_bau_t": _sector_sum(fleet, year.emissions),
        "emissions_t": _sector_sum(fleet, verified),
        "abatement_t": _sector_sum(fleet, abated),
        "free_t": _sector_sum(fleet, supply.free),
    }
    by_sector["deficit_t"] = by_sector["emissions_t"] - by_sector["free_t"]
    by_sector["deficit_ratio"] = by_sector["deficit_t"] / np.maximum(by_sector["emissions_t"], 1e-9)
    return metrics, by_sector


def _sector_sum(fleet: Fleet, values: Floats) -> Floats:
    """(T, N) → (S, T) sums by sector."""
    out = np.zeros((len(fleet.sectors), values.shape[0]))
    for s in range(len(fleet.sectors)):
        out[s] = values[:, fleet.sector == s].sum(axis=1)
    return out


# --- Monte Carlo and the summary ----------------------------------------------------------------------


def _bands(stack: Floats) -> dict[str, list[float]]:
    """p10 / p50 / p90 over seeds (axis 0) for each year."""
    bands = np.percentile(stack, PERCENTILES, axis=0)
    return {f"p{q}": [float(v) for v in band] for q, band in zip(PERCENTILES, bands, strict=True)}


def simulate(
    scenario: Scenario, levers: Levers, market: Market, progress: StageProgress | None = None
) -> dict[str, Any]:
    """Every seed of one scenario on one market; the JSON-able summary."""
    started = time.perf_counter()
    progress = progress or StageProgress()
    fleet = build_fleet(market, levers)
    progress.start(f"what-if {scenario.name}: {levers.seeds} seeds", levers.seeds)
    runs = []
    for k in range(levers.seeds):
        runs.append(simulate_seed(fleet, levers, k))
        progress.advance()
    metrics = {m: np.stack([r[0][m] for r in runs]) for m in runs[0][0]}
    sectors = {m: np.stack([r[1][m] for r in runs]) for m in runs[0][1]}
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "source": scenario.source,
        "years": levers.years,
        "seeds": levers.seeds,
        "entities": market_size(market),
        "sectors": list(fleet.sectors),
        "levers": levers.as_dict(),
        "metrics": {m: {"unit": UNITS[m], **_bands(v)} for m, v in metrics.items()},
        "by_sector": {
            name: {m: {"unit": SECTOR_UNITS[m], **_bands(v[:, s, :])} for m, v in sectors.items()}
            for s, name in enumerate(fleet.sectors)
        },
        "headline": _headline(levers, metrics),
    }
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def market_size(market: Market) -> int:
    return len(market.entities)


def _headline(levers: Levers, metrics: Mapping[str, Floats]) -> dict[str, float]:
    """A few numbers for the top of the report (p50 over seeds; totals are per-seed sums first)."""
    years = levers.years
    at = {"first": 0, "last": len(years) - 1}
    if 2030 in years:
        at["2030"] = years.index(2030)
    head: dict[str, float] = {}
    for label, t in at.items():
        head[f"price_{label}_cny"] = float(np.median(metrics["price_cny"][:, t]))
    head["abatement_total_t"] = float(np.median(metrics["abatement_t"].sum(axis=1)))
    head["auction_revenue_total_cny"] = float(np.median(metrics["auction_revenue_cny"].sum(axis=1)))
    head["compliance_rate_min"] = float(np.median(metrics["compliance_rate"].min(axis=1)))
    head["emissions_last_t"] = float(np.median(metrics["emissions_t"][:, -1]))
    head["bank_max_t"] = float(np.median(metrics["bank_t"].max(axis=1)))
    return head


def compare(baseline: Mapping[str, Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario against its baseline: p50 differences per common year, and of the headline."""
    years = [y for y in scenario["years"] if y in baseline["years"]]
    at_s = [scenario["years"].index(y) for y in years]
    at_b = [baseline["years"].index(y) for y in years]
    delta = {}
    for name, values in scenario["metrics"].items():
        if name in baseline["metrics"]:
            base = baseline["metrics"][name]["p50"]
            delta[name] = [values["p50"][i] - base[j] for i, j in zip(at_s, at_b, strict=True)]
    headline = {
        key: {
            "baseline": baseline["headline"][key],
            "scenario": value,
            "difference": value - baseline["headline"][key],
        }
        for key, value in scenario["headline"].items()
        if key in baseline["headline"]
    }
    return {"baseline": baseline["scenario"], "years": years, "p50_difference": delta, "headline": headline}


def default_market_factory(scenario: Scenario, entities: int | None, seed: int) -> Market:
    """The generated national market (`simulation.generator`)."""
    from carbonmarket.simulation.generator import generate_market

    return generate_market(scenario, entities=entities, seed=seed)


def resolve_baseline(scenario: Scenario, name: str) -> Scenario:
    """A baseline by name: beside the scenario's file first, then the packaged scenarios."""
    if scenario.source and not scenario.source.startswith("packaged:"):
        beside = Path(scenario.source).parent / f"{name.removesuffix('.toml')}.toml"
        if beside.is_file():
            return load_scenario(str(beside))
    return load_scenario(name)


def run_policy(
    scenario: Scenario,
    *,
    seeds: int | None = None,
    entities: int | None = None,
    market_factory: MarketFactory | None = None,
    out_dir: Path | str | None = None,
    progress: StageProgress | None = None,
    with_baseline: bool = True,
) -> dict[str, Any]:
    """Run a what-if (and its `[policy] baseline` beside it on the same market); write the report
    into `out_dir` when given. Returns the JSON-able summary with `baseline` and `comparison`."""
    levers = read_levers(scenario)
    if seeds is not None:
        levers = _with_seeds(levers, seeds)
    factory = market_factory or default_market_factory
    market = factory(scenario, entities, levers.seed)
    result = simulate(scenario, levers, market, progress)
    result["baseline"] = None
    result["comparison"] = None
    if with_baseline and levers.baseline and levers.baseline != scenario.name:
        base_scenario = resolve_baseline(scenario, levers.baseline)
        base_levers = _with_seeds(read_levers(base_scenario), levers.seeds)
        base = simulate(base_scenario, base_levers, market, progress)
        result["baseline"] = base
        result["comparison"] = compare(base, result)
    if out_dir is not None:
        from carbonmarket.simulation.report import write_report

        result["report"] = {k: str(v) for k, v in write_report(result, Path(out_dir)).items()}
    return result


def _with_seeds(levers: Levers, seeds: int) -> Levers:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 1000:
        raise ScenarioError(f"seeds must be a whole number from 1 to 1000, got {seeds!r}")
    from dataclasses import replace

    return replace(levers, seeds=seeds)
