"""The seeded generator of a national market: entities, their units and lines, traits, CCER projects.

`generate_market(scenario)` reads `[market]` (with its sub-tables `[market.power]`,
`[market.industry]`, `[market.traits]`) and `[ccer]`; every key has a default here, tagged with its
source as DOMAIN.md tags them. The same scenario and seed give the same market, field for field.

`[market]` keys (defaults: the demo market, compliance year 2024 after the 2025 expansion):

- `year` (2024): the compliance year.
- `seed` (0): the default seed when the caller gives none.
- `sectors` ({power = 2166, steel = 440, cement = 800, aluminium = 94}): full-size entity counts
  per sector; a scenario lists only the sectors it covers (cn-2023: power only).
- `entities` (the sum of `sectors`): the total N; every sector is scaled in proportion (largest
  remainder; each listed sector keeps at least one entity when N allows).
- `output_scale` (1.0): multiplies every facility's annual output (MWh, t of product); the lever
  that moves verified emissions. Industrial lines above 1.15 run beyond their rated output.
- `institutions` (20): financial institutions' holder ids `F-<n>`.
- `emissions_target_t`: a note of what the inputs were calibrated to; read by no one.
- `[market.power]`: `category_shares` (I-IV), `capacities_mw` (per category, the rated powers a
  plant's units are drawn from), `hours` (annual utilisation hours per category at scale 1),
  `hours_spread` (± share around them per unit), `units_per_entity` (weights of 1, 2, 3, 4 units).
- `[market.industry]`: per sector, `rated_t` ([low, high] rated output of a line, t a year),
  `utilisation` (share of the rated output made), `lines_per_entity` (weights of 1, 2, 3 lines);
  every steel plant is integrated (blast furnace - converter): the steel engine counts neither
  electrodes nor power, so an electric arc plant's direct emissions would net out below zero.
- `[market.traits]`: `strategies` (weights), `mac_median_cny` (per sector) and `mac_sigma`
  (lognormal marginal abatement cost, CNY/t), `abatement_share` and `liquidity` ([low, high],
  uniform), `ccer_share` (share of entities that offset with CCER).

`[ccer]` keys: `projects` (12), `owners` (as many as projects), `methodologies` (weights by
methodology code), `reductions_t` ([low, high] t of the year per project, uniform).

The monthly parameters are not drawn here: `stage_mrv` makes them from each unit's category,
capacity and annual output with the physics of `carbonmarket.mrv.rules.generator`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from carbonmarket.simulation.spec import (
    SECTORS,
    Entity,
    Market,
    Project,
    Scenario,
    ScenarioError,
    Traits,
    Unit,
)

# --- defaults, each with its source tag ---------------------------------------------------------------

# About 3,500 covered entities after the expansion, 1,334 of them newly listed in 2025 [seed:
# Progress Report §1, DOMAIN.md §1]; power is the rest (3,500 - 1,334). The split of the new
# entities among steel, cement and aluminium is ours [?] (cement has the most firms, aluminium
# smelters are few).
DEFAULT_SECTORS = {"power": 2166, "steel": 440, "cement": 800, "aluminium": 94}
DEFAULT_YEAR = 2024
DEFAULT_INSTITUTIONS = 20  # [?] financial institutions active in the secondary market
entities_max = 100_000
output_scale_max = 5.0

# Power units by category of the 2023-2024 plan (DOMAIN.md §3): I coal >= 400 MW, II coal < 400 MW,
# III unconventional coal (CFB), IV gas. Shares, unit sizes and utilisation hours are ours [?],
# shaped on the fleet (600-1,000 MW class for I; 50-350 MW for II, many of them captive plants;
# CFB 135-300 MW; 9F/9E gas) and on CEC's 2023 utilisation of about 4,700 h for coal and
# 2,300 h for gas [sec].
DEFAULT_POWER: dict[str, Any] = {
    "category_shares": {"I": 0.25, "II": 0.50, "III": 0.12, "IV": 0.13},
    "capacities_mw": {
        "I": [600, 630, 660, 1000, 1050],
        "II": [50, 100, 135, 150, 200, 300, 330, 350],
        "III": [50, 135, 150, 300, 330],
        "IV": [180, 390, 460, 480],
    },
    "hours": {"I": 4700, "II": 4300, "III": 4800, "IV": 2300},
    "hours_spread": 0.15,
    "units_per_entity": [0.56, 0.28, 0.10, 0.06],
}
# The roster's fuel per category (roster.toml: cfb counts as unconventional coal).
FUEL_OF_CATEGORY = {"I": "coal", "II": "coal", "III": "cfb", "IV": "gas"}
# Plan A 附1 split of conventional coal at 400 MW (roster.toml) [P].
COAL_SPLIT_MW = 400
# A unit cannot be asked for more than this many hours at full load (the physics runs units about
# 89% of the hours of the year; above this their load would be capped).
power_hours_max = 7000

# Industrial lines [?]: rated outputs from the guidelines' typical plant sizes; utilisation about
# 75-85% (2024 crude steel about 1.0 Gt, clinker about 1.2-1.4 Gt, aluminium about 43 Mt [sec]).
DEFAULT_INDUSTRY: dict[str, dict[str, Any]] = {
    "steel": {"rated_t": [0.8e6, 4.5e6], "utilisation": 0.85, "lines_per_entity": [1.0]},
    "cement": {"rated_t": [0.6e6, 2.5e6], "utilisation": 0.75, "lines_per_entity": [0.6, 0.3, 0.1]},
    "aluminium": {"rated_t": [1.0e5, 8.0e5], "utilisation": 0.95, "lines_per_entity": [1.0]},
}
# The roster's process line per sector (roster.toml [process_lines]).
LINE_OF = {"steel": "steelmaking_bof", "cement": "clinker", "aluminium": "electrolysis"}

# Agents' traits [?] except the CCER share: 58 of 2,096 entities offset with CCER in 2023
# [seed: Progress Report §5, DOMAIN.md §4]; 4 entities failed to comply [seed] (the defaulters).
DEFAULT_TRAITS: dict[str, Any] = {
    "strategies": {"complier": 0.60, "seller": 0.22, "hoarder": 0.10, "late": 0.078, "defaulter": 0.002},
    "mac_median_cny": {"power": 90.0, "steel": 150.0, "cement": 120.0, "aluminium": 200.0},
    "mac_sigma": 0.5,
    "abatement_share": [0.0, 0.04],
    "liquidity": [0.1, 0.9],
    "ccer_share": 58 / 2096,
}
STRATEGIES = ("complier", "seller", "hoarder", "late", "defaulter")

# CCER projects [?]: the first 9.48 Mt were issued to 9 projects (about 1 Mt each) [seed:
# Progress Report §6]; 29 projects were registered by Aug 2025 [seed]. Methodology codes are those
# the voluntary service knows (voluntary/methodologies/data).
DEFAULT_PROJECTS = 12
DEFAULT_METHODOLOGIES = {
    "CCER-01-002-V01": 0.45,  # grid-connected offshore wind
    "CCER-01-001-V01": 0.15,  # grid-connected solar thermal
    "CCER-14-001-V01": 0.15,  # afforestation
    "CCER-14-002-V01": 0.05,  # mangrove
    "CCER-10-001-V01": 0.15,  # low-concentration coal mine methane
    "CCER-07-001-V01": 0.05,  # highway tunnel lighting
}
DEFAULT_REDUCTIONS_T = [200_000, 1_500_000]
PROJECT_PREFIX = {
    "CCER-01-002-V01": "OWF",
    "CCER-01-001-V01": "CSP",
    "CCER-14-001-V01": "AFF",
    "CCER-14-002-V01": "MGV",
    "CCER-10-001-V01": "CMM",
    "CCER-07-001-V01": "TNL",
}

# Where entities are, by sector [?]: weights shaped on each province's share of thermal capacity,
# crude steel, clinker and aluminium output (NBS yearbooks, rounded [sec]).
PROVINCES: dict[str, dict[str, float]] = {
    "power": {
        "Shandong": 10,
        "Inner Mongolia": 8,
        "Jiangsu": 8,
        "Shanxi": 7,
        "Guangdong": 6,
        "Henan": 6,
        "Hebei": 5.5,
        "Xinjiang": 5,
        "Anhui": 4.5,
        "Zhejiang": 4.5,
        "Shaanxi": 4,
        "Liaoning": 3.5,
        "Heilongjiang": 3,
        "Ningxia": 2.5,
        "Guizhou": 2.5,
        "Jilin": 2.5,
        "Hubei": 2.5,
        "Fujian": 2.5,
        "Hunan": 2,
        "Gansu": 2,
        "Jiangxi": 2,
        "Guangxi": 2,
        "Sichuan": 1.5,
        "Tianjin": 1.2,
        "Chongqing": 1,
        "Yunnan": 1,
        "Shanghai": 1,
        "Hainan": 0.5,
        "Beijing": 0.4,
        "Qinghai": 0.4,
    },
    "steel": {
        "Hebei": 22,
        "Jiangsu": 12,
        "Shandong": 8,
        "Liaoning": 7,
        "Shanxi": 6,
        "Anhui": 4,
        "Hubei": 4,
        "Henan": 3,
        "Guangxi": 3.5,
        "Jiangxi": 2.5,
        "Inner Mongolia": 2.5,
        "Guangdong": 3,
        "Fujian": 2.5,
        "Sichuan": 2.5,
        "Hunan": 2.5,
        "Tianjin": 2,
        "Yunnan": 2,
        "Shaanxi": 1.5,
        "Xinjiang": 1.5,
        "Shanghai": 1.5,
        "Zhejiang": 1.5,
        "Jilin": 1,
        "Gansu": 1,
        "Chongqing": 1,
        "Guizhou": 0.5,
    },
    "cement": {
        "Anhui": 8,
        "Shandong": 7,
        "Guangdong": 7,
        "Sichuan": 6,
        "Jiangsu": 6,
        "Henan": 5,
        "Hubei": 5,
        "Guangxi": 5,
        "Yunnan": 5,
        "Zhejiang": 4.5,
        "Hunan": 4.5,
        "Guizhou": 4,
        "Hebei": 4,
        "Fujian": 3.5,
        "Jiangxi": 3.5,
        "Shaanxi": 3,
        "Xinjiang": 3,
        "Shanxi": 2.5,
        "Chongqing": 2.5,
        "Inner Mongolia": 2,
        "Liaoning": 2,
        "Gansu": 2,
        "Heilongjiang": 1,
        "Jilin": 1,
        "Ningxia": 1,
        "Qinghai": 0.7,
        "Hainan": 0.6,
        "Tibet": 0.4,
        "Tianjin": 0.3,
    },
    "aluminium": {
        "Shandong": 18,
        "Xinjiang": 15,
        "Inner Mongolia": 15,
        "Yunnan": 12,
        "Guangxi": 6,
        "Henan": 5,
        "Gansu": 5,
        "Qinghai": 5,
        "Ningxia": 3,
        "Guizhou": 3,
        "Sichuan": 3,
        "Shanxi": 3,
        "Chongqing": 2,
        "Hubei": 1,
        "Liaoning": 1,
        "Shaanxi": 1,
    },
}
CODES = {"power": "PWR", "steel": "STL", "cement": "CEM", "aluminium": "ALU"}
_GROUPS = (
    "Huaneng",
    "Datang",
    "Huadian",
    "Guoneng",
    "SPIC",
    "China Resources",
    "Zheneng",
    "Yudean",
    "Jingneng",
    "Wanneng",
    "Xinneng",
    "Hengyuan",
    "Jinmei",
    "Lu'an",
    "Shenhua",
)
_PLACES = (
    "Beigang",
    "Dongshan",
    "Xiwan",
    "Nanhe",
    "Qingshui",
    "Longtan",
    "Heping",
    "Changxing",
    "Jinshan",
    "Huaxin",
    "Baiyun",
    "Taiping",
    "Fengyuan",
    "Hongqiao",
    "Yuxi",
    "Anning",
)
_KIND_NAME = {
    "power": "Power Generation Co., Ltd.",
    "steel": "Iron & Steel Co., Ltd.",
    "cement": "Cement Co., Ltd.",
    "aluminium": "Aluminium Co., Ltd.",
}


def generate_market(scenario: Scenario, *, entities: int | None = None, seed: int | None = None) -> Market:
    """The national market of `scenario` with N entities (default `[market] entities`), seeded."""
    market = scenario.section("market")
    year = _integer(market, "year", DEFAULT_YEAR, 2005, 2100)
    chosen_seed = seed if seed is not None else _integer(market, "seed", 0, 0, 2**63 - 1)
    full = _sectors(market)
    configured = _integer(market, "entities", sum(full.values()), 1, entities_max)
    total = entities if entities is not None else configured
    if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= entities_max:
        raise ScenarioError(f"[market] entities must be a whole number 1..{entities_max}, not {total!r}")
    scale = _number(market, "output_scale", 1.0, 0.0, output_scale_max)
    power = _power_settings(market)
    industry = _industry_settings(market)
    traits = _traits_settings(market)
    institutions = _integer(market, "institutions", DEFAULT_INSTITUTIONS, 0, 10_000)
    rng = np.random.default_rng(chosen_seed)
    built: list[Entity] = []
    for sector, count in scaled_counts(full, total).items():
        shapes = _shapes(rng, sector, count, power, industry)
        for n, shape in enumerate(shapes, start=1):
            built.append(_entity(rng, sector, n, count, shape, scale, power, industry, traits))
    projects = _projects(rng, scenario.section("ccer"))
    return Market(
        year=year,
        seed=chosen_seed,
        entities=tuple(built),
        projects=projects,
        institutions=tuple(f"F-{n}" for n in range(1, institutions + 1)),
    )


def scaled_counts(full: Mapping[str, int], total: int) -> dict[str, int]:
    """Entities per sector for N in all, in proportion to the full-size counts (largest remainder).

    Each listed sector keeps one entity when N has room for all of them, so a small test market
    still has every sector.
    """
    listed = [s for s in SECTORS if full.get(s, 0) > 0]
    weight = sum(full[s] for s in listed)
    exact = {s: total * full[s] / weight for s in listed}
    counts = {s: int(exact[s]) for s in listed}
    by_remainder = sorted(listed, key=lambda s: (exact[s] - counts[s], full[s]), reverse=True)
    for s in by_remainder[: total - sum(counts.values())]:
        counts[s] += 1
    if total >= len(listed):
        for s in listed:
            while counts[s] == 0:
                donor = max(listed, key=lambda d: counts[d])
                counts[donor] -= 1
                counts[s] += 1
    return counts


# --- entities ---------------------------------------------------------------------------------------


def _shapes(
    rng: np.random.Generator,
    sector: str,
    count: int,
    power: Mapping[str, Any],
    industry: Mapping[str, Mapping[str, Any]],
) -> list[tuple[Any, ...]]:
    """Each entity's shape: (category, rated MW, units) for power plants, (line type, lines) else.

    Drawn as quotas — a market of N entities has exactly the mix its shares ask for, in random
    order — so the sector totals vary little from seed to seed and scale with N.
    """
    if sector == "power":
        categories = _quota(rng, power["category_shares"], count)
        units = _quota(rng, _numbered(power["units_per_entity"]), count)
        sizes: dict[str, list[Any]] = {}
        for category in sorted(set(categories)):
            options = power["capacities_mw"][category]
            sizes[category] = _quota(rng, {str(o): 1.0 for o in options}, categories.count(category))
        return [(c, int(sizes[c].pop()), int(u)) for c, u in zip(categories, units, strict=True)]
    settings = industry[sector]
    lines = _quota(rng, _numbered(settings["lines_per_entity"]), count)
    return [(LINE_OF[sector], int(n)) for n in lines]


def _numbered(shares: Sequence[float]) -> dict[str, float]:
    """Shares of 1, 2, 3 ... as a table keyed by the count."""
    return {str(k): float(w) for k, w in enumerate(shares, start=1)}


def _quota(rng: np.random.Generator, shares: Mapping[str, float], count: int) -> list[str]:
    """`count` labels in the shares' proportions (largest remainder), shuffled."""
    total = float(sum(shares.values()))
    exact = {k: count * w / total for k, w in shares.items()}
    whole = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - whole[k], reverse=True)[: count - sum(whole.values())]:
        whole[k] += 1
    labels = [k for k, n in whole.items() for _ in range(n)]
    order = rng.permutation(len(labels))
    return [labels[i] for i in order]


def _entity(
    rng: np.random.Generator,
    sector: str,
    n: int,
    count: int,
    shape: tuple[Any, ...],
    scale: float,
    power: Mapping[str, Any],
    industry: Mapping[str, Mapping[str, Any]],
    traits: Mapping[str, Any],
) -> Entity:
    """One entity: id, a plausible name, a province weighted like the real fleet, units, traits."""
    entity_id = f"E-{CODES[sector]}-{n:0{max(4, len(str(count)))}d}"
    province = _pick(rng, PROVINCES[sector])
    name = f"{_pick_one(rng, _GROUPS)} {province} {_pick_one(rng, _PLACES)} {_KIND_NAME[sector]}"
    if sector == "power":
        units = _power_units(rng, entity_id, shape, scale, power)
    else:
        units = _lines(rng, entity_id, shape, scale, industry[sector])
    return Entity(entity_id, name, sector, province, units, _traits(rng, sector, traits))


def _power_units(
    rng: np.random.Generator, entity_id: str, shape: tuple[Any, ...], scale: float, power: Mapping[str, Any]
) -> tuple[Unit, ...]:
    """A plant's 1-4 units of one category and rated power, with utilisation hours drawn per unit."""
    category, capacity, count = shape
    spread = float(power["hours_spread"])
    units = []
    for k in range(1, count + 1):
        hours = float(power["hours"][category]) * rng.uniform(1 - spread, 1 + spread) * scale
        output = round(capacity * min(hours, power_hours_max))
        units.append(
            Unit(f"{entity_id}-U{k}", fuel=FUEL_OF_CATEGORY[category], capacity_mw=capacity, output=output)
        )
    return tuple(units)


def _lines(
    rng: np.random.Generator,
    entity_id: str,
    shape: tuple[Any, ...],
    scale: float,
    settings: Mapping[str, Any],
) -> tuple[Unit, ...]:
    """An industrial entity's process lines with the tonnes of product each makes in the year."""
    low, high = settings["rated_t"]
    line_type, count = shape
    units = []
    for k in range(1, count + 1):
        rated = rng.uniform(float(low), float(high))
        output = round(rated * float(settings["utilisation"]) * rng.uniform(0.9, 1.1) * scale)
        units.append(Unit(f"{entity_id}-L{k}", line_type=line_type, output=output))
    return tuple(units)


def _traits(rng: np.random.Generator, sector: str, settings: Mapping[str, Any]) -> Traits:
    """An entity's agent traits drawn from `[market.traits]`."""
    strategy = _pick(rng, settings["strategies"])
    median = float(settings["mac_median_cny"][sector])
    mac = median * math.exp(float(settings["mac_sigma"]) * rng.standard_normal())
    low, high = settings["abatement_share"]
    abatement = rng.uniform(float(low), float(high))
    low, high = settings["liquidity"]
    liquidity = rng.uniform(float(low), float(high))
    uses_ccer = bool(rng.random() < float(settings["ccer_share"]))
    return Traits(strategy, round(mac, 2), round(abatement, 4), round(liquidity, 4), uses_ccer)


def _projects(rng: np.random.Generator, ccer: Mapping[str, Any]) -> tuple[Project, ...]:
    """CCER projects with their year's reductions, owned by project owners `P-<n>`."""
    count = _integer(ccer, "projects", DEFAULT_PROJECTS, 0, 10_000, where="ccer")
    owners = _integer(ccer, "owners", max(count, 1), 1, 10_000, where="ccer")
    methods = _weights(ccer.get("methodologies", DEFAULT_METHODOLOGIES), "[ccer] methodologies")
    for code in methods:
        if code not in PROJECT_PREFIX:
            known = ", ".join(PROJECT_PREFIX)
            raise ScenarioError(f"[ccer] methodologies: unknown methodology {code!r} (known: {known})")
    low, high = _range(ccer, "reductions_t", DEFAULT_REDUCTIONS_T, "ccer")
    projects = []
    for n in range(1, count + 1):
        code = _pick(rng, methods)
        owner = 1 + int(rng.integers(owners))
        province = _pick(rng, PROVINCES["power"])
        projects.append(
            Project(
                project_id=f"{PROJECT_PREFIX[code]}{n:04d}",
                owner_id=f"P-{owner}",
                owner_name=f"{province} {_pick_one(rng, _PLACES)} New Energy Co., Ltd.",
                methodology=code,
                province=province,
                reductions_t=int(rng.integers(int(low), int(high) + 1)),
            )
        )
    return tuple(projects)


# --- reading the scenario ------------------------------------------------------------------------------


def _sectors(market: Mapping[str, Any]) -> dict[str, int]:
    """The full-size counts per sector: known sectors only, whole numbers ≥ 0, at least one entity."""
    raw = market.get("sectors", DEFAULT_SECTORS)
    if not isinstance(raw, Mapping) or not raw:
        raise ScenarioError("[market] sectors must be a table of entity counts per sector")
    counts: dict[str, int] = {}
    for sector, count in raw.items():
        if sector not in SECTORS:
            raise ScenarioError(f"[market] sectors.{sector}: unknown sector (known: {', '.join(SECTORS)})")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= entities_max:
            raise ScenarioError(f"[market] sectors.{sector} must be a whole number 0..{entities_max}")
        counts[sector] = count
    if sum(counts.values()) < 1:
        raise ScenarioError("[market] sectors must count at least one entity")
    return counts


def _power_settings(market: Mapping[str, Any]) -> dict[str, Any]:
    """`[market.power]` over its defaults, checked: categories I-IV, coal sizes either side of 400 MW."""
    given = _table(market, "power", "market")
    merged = {**DEFAULT_POWER, **given}
    for key in given:
        if key not in DEFAULT_POWER:
            raise ScenarioError(f"[market.power] {key}: unknown key (known: {', '.join(DEFAULT_POWER)})")
    shares = _weights(merged["category_shares"], "[market.power] category_shares")
    for key in ("category_shares", "capacities_mw", "hours"):
        table = merged[key]
        if not isinstance(table, Mapping) or set(table) - set(FUEL_OF_CATEGORY):
            raise ScenarioError(f"[market.power] {key} must be a table with keys among I, II, III, IV")
    for category in shares:
        sizes = merged["capacities_mw"].get(category)
        if not isinstance(sizes, Sequence) or not sizes or not all(_positive(s) for s in sizes):
            raise ScenarioError(f"[market.power] capacities_mw.{category} must be a list of rated MW")
        coal = FUEL_OF_CATEGORY[category] == "coal"
        if coal and any((s >= COAL_SPLIT_MW) != (category == "I") for s in sizes):
            raise ScenarioError(
                f"[market.power] capacities_mw.{category}: category I is coal of {COAL_SPLIT_MW} MW or more, "
                f"II below it (plan 2023-2024)"
            )
        if not _positive(merged["hours"].get(category)):
            raise ScenarioError(f"[market.power] hours.{category} must be a positive number of hours")
    spread = merged["hours_spread"]
    if not isinstance(spread, int | float) or isinstance(spread, bool) or not 0 <= spread < 1:
        raise ScenarioError("[market.power] hours_spread must be a number in [0, 1)")
    units = _weight_list(merged["units_per_entity"], "[market.power] units_per_entity", 4)
    return {**merged, "category_shares": shares, "units_per_entity": units}


def _industry_settings(market: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`[market.industry]` per sector over its defaults, checked."""
    given = _table(market, "industry", "market")
    settings: dict[str, dict[str, Any]] = {}
    for sector, defaults in DEFAULT_INDUSTRY.items():
        own = given.get(sector, {})
        if not isinstance(own, Mapping):
            raise ScenarioError(f"[market.industry] {sector} must be a table")
        for key in own:
            if key not in defaults:
                raise ScenarioError(
                    f"[market.industry.{sector}] {key}: unknown key (known: {', '.join(defaults)})"
                )
        merged = {**defaults, **own}
        where = f"market.industry.{sector}"
        merged["rated_t"] = list(_range(merged, "rated_t", defaults["rated_t"], where))
        merged["utilisation"] = _number(merged, "utilisation", defaults["utilisation"], 0.0, 1.5, where=where)
        merged["lines_per_entity"] = _weight_list(
            merged["lines_per_entity"], f"[{where}] lines_per_entity", 3
        )
        settings[sector] = merged
    for sector in given:
        if sector not in DEFAULT_INDUSTRY:
            raise ScenarioError(
                f"[market.industry] {sector}: unknown sector (known: steel, cement, aluminium)"
            )
    return settings


def _traits_settings(market: Mapping[str, Any]) -> dict[str, Any]:
    """`[market.traits]` over its defaults, checked."""
    given = _table(market, "traits", "market")
    for key in given:
        if key not in DEFAULT_TRAITS:
            raise ScenarioError(f"[market.traits] {key}: unknown key (known: {', '.join(DEFAULT_TRAITS)})")
    merged = {**DEFAULT_TRAITS, **given}
    strategies = _weights(merged["strategies"], "[market.traits] strategies")
    for name in strategies:
        if name not in STRATEGIES:
            raise ScenarioError(
                f"[market.traits] strategies.{name}: unknown strategy ({', '.join(STRATEGIES)})"
            )
    medians = merged["mac_median_cny"]
    if not isinstance(medians, Mapping) or not all(_positive(medians.get(s)) for s in SECTORS):
        raise ScenarioError("[market.traits] mac_median_cny must give a positive CNY/t for every sector")
    where = "market.traits"
    return {
        "strategies": strategies,
        "mac_median_cny": dict(medians),
        "mac_sigma": _number(merged, "mac_sigma", 0.5, 0.0, 3.0, where=where),
        "abatement_share": _range(merged, "abatement_share", [0, 1], where, upper=1.0),
        "liquidity": _range(merged, "liquidity", [0, 1], where, upper=1.0),
        "ccer_share": _number(merged, "ccer_share", 0.0, 0.0, 1.0, where=where),
    }


def _table(section: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    value = section.get(key, {})
    if not isinstance(value, Mapping):
        raise ScenarioError(f"[{name}] {key} must be a table ([{name}.{key}])")
    return value


def _integer(
    section: Mapping[str, Any], key: str, default: int, low: int, high: int | None, *, where: str = "market"
) -> int:
    """A whole-number key within [low, high], or the default when absent."""
    value = section.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"{low}..{high}" if high is not None else f"at least {low}"
        raise ScenarioError(f"[{where}] {key} must be a whole number {bound}, not {value!r}")
    return value


def _number(
    section: Mapping[str, Any], key: str, default: float, low: float, high: float, *, where: str = "market"
) -> float:
    """A number key within [low, high] (low excluded when it is 0 and the key scales output)."""
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ScenarioError(f"[{where}] {key} must be a number from {low} to {high}, not {value!r}")
    if key == "output_scale" and value <= 0:
        raise ScenarioError(f"[{where}] output_scale must be above 0, not {value!r}")
    return float(value)


def _range(
    section: Mapping[str, Any], key: str, default: Sequence[float], where: str, *, upper: float | None = None
) -> tuple[float, float]:
    """A [low, high] pair of numbers ≥ 0 with low ≤ high (and high ≤ `upper` when given)."""
    value = section.get(key, default)
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
        or value[0] > value[1]
        or (upper is not None and value[1] > upper)
    ):
        limit = f" up to {upper}" if upper is not None else ""
        raise ScenarioError(f"[{where}] {key} must be [low, high], numbers from 0{limit} with low <= high")
    return float(value[0]), float(value[1])


def _weights(value: object, where: str) -> dict[str, float]:
    """A table of non-negative weights with a positive sum, normalised to shares."""
    if not isinstance(value, Mapping) or not value:
        raise ScenarioError(f"{where} must be a table of weights")
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ScenarioError(f"{where}.{name} must be a weight >= 0, not {weight!r}")
    total = float(sum(value.values()))
    if total <= 0:
        raise ScenarioError(f"{where}: the weights must not all be 0")
    return {str(name): float(weight) / total for name, weight in value.items()}


def _weight_list(value: object, where: str, length_max: int) -> list[float]:
    """A list of 1..length_max non-negative weights (for 1, 2, ... of something), normalised."""
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not 1 <= len(value) <= length_max
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
        or sum(value) <= 0
    ):
        raise ScenarioError(f"{where} must be a list of 1 to {length_max} weights >= 0, not all 0")
    total = float(sum(value))
    return [float(v) / total for v in value]


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """A key drawn by its weight (normalised here, so raw weights serve too)."""
    names = list(weights)
    shares = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=shares / shares.sum()))]


def _pick_one(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]
