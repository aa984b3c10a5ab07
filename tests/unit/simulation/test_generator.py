"""The market generator: seeded, scaled with N, shaped like the seeds' market, and its calibration.

The emissions checks run the real accounting engines over the generated monthly parameters in
memory (no database), at full size: about 45,000-64,000 records, a few seconds each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from carbonmarket.mrv.model import Sector
from carbonmarket.mrv.sectors import account
from carbonmarket.simulation.generator import generate_market, scaled_counts
from carbonmarket.simulation.spec import Market, ScenarioError, load_scenario
from carbonmarket.simulation.stage_mrv import (
    account_records,
    monthly_records,
    mrv_settings,
    unit_category,
    verified_figures,
)
from carbonmarket.voluntary import methodologies

PUBLISHED_VERIFIED_2023_T = 5_240_000_000  # Progress Report §5 [seed]
DEMO_COVERED_T = 8_000_000_000  # about 8 billion t after the expansion [seed]


def verified_total(market: Market, scenario_name: str) -> int:
    """Verified emissions of a market as the MRV stage makes them, in memory."""
    reported = account_records(monthly_records(market))
    return sum(verified_figures(market, reported, mrv_settings(load_scenario(scenario_name))).values())


@pytest.fixture(scope="module")
def demo_full() -> Market:
    return generate_market(load_scenario("demo"))


def test_same_seed_same_market_and_another_seed_another() -> None:
    scenario = load_scenario("demo")
    first = generate_market(scenario, entities=120, seed=5)
    assert generate_market(scenario, entities=120, seed=5) == first
    other = generate_market(scenario, entities=120, seed=6)
    assert other != first
    assert [e.units for e in other.entities] != [e.units for e in first.entities]
    # The same seed also gives the same monthly parameters.
    assert (
        monthly_records(first)[:24] == monthly_records(generate_market(scenario, entities=120, seed=5))[:24]
    )


def test_seed_and_size_default_to_the_scenario(demo_full: Market) -> None:
    assert demo_full.seed == 0
    assert demo_full.year == 2024
    assert len(demo_full.entities) == 3500
    cn = generate_market(load_scenario("cn-2023"), entities=50)
    assert cn.seed == 2023 and cn.year == 2023
    assert {e.sector for e in cn.entities} == {"power"}


def test_full_size_demo_has_the_seeds_shape(demo_full: Market) -> None:
    sectors = Counter(e.sector for e in demo_full.entities)
    assert sectors == {"power": 2166, "steel": 440, "cement": 800, "aluminium": 94}
    ids = [e.entity_id for e in demo_full.entities]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "E-PWR-0001" and "E-ALU-0094" in ids
    facilities = [u.facility_id for e in demo_full.entities for u in e.units]
    assert len(set(facilities)) == len(facilities)
    assert all(len(f) <= 64 for f in facilities)
    power = [e for e in demo_full.entities if e.sector == "power"]
    assert {len(e.units) for e in power} == {1, 2, 3, 4}
    assert {unit_category(u) for e in power for u in e.units} == {"I", "II", "III", "IV"}
    # Many provinces, the big coal provinces first.
    provinces = Counter(e.province for e in power)
    assert len(provinces) >= 25
    assert provinces.most_common(1)[0][0] in {"Shandong", "Inner Mongolia", "Jiangsu"}
    assert len(demo_full.institutions) == 20 and demo_full.institutions[0] == "F-1"
    strategies = Counter(e.traits.strategy for e in demo_full.entities)
    assert strategies["complier"] > strategies["seller"] > strategies["hoarder"] > 0
    assert 0.01 < sum(e.traits.uses_ccer for e in demo_full.entities) / 3500 < 0.05


def test_sizes_and_shares_scale_with_n() -> None:
    scenario = load_scenario("demo")
    small = generate_market(scenario, entities=350)
    counts = Counter(e.sector for e in small.entities)
    assert sum(counts.values()) == 350
    assert counts == {"power": 217, "steel": 44, "cement": 80, "aluminium": 9}
    units_small = sum(len(e.units) for e in small.entities)
    units_full = sum(len(e.units) for e in generate_market(scenario).entities)
    assert units_full / units_small == pytest.approx(10, rel=0.05)
    # Every sector keeps an entity in a tiny market.
    assert set(scaled_counts({"power": 2166, "steel": 440, "cement": 800, "aluminium": 94}, 4).values()) == {
        1
    }


def test_ccer_projects_use_methodologies_the_voluntary_service_knows(demo_full: Market) -> None:
    known = {m.code for m in methodologies.published()}
    assert len(demo_full.projects) == 12
    assert {p.methodology for p in demo_full.projects} <= known
    assert all(p.owner_id.startswith("P-") and p.reductions_t > 0 for p in demo_full.projects)
    assert len({p.project_id for p in demo_full.projects}) == 12


def test_monthly_records_make_each_units_output() -> None:
    market = generate_market(load_scenario("demo"), entities=60, seed=3)
    records = monthly_records(market)
    basis = {
        Sector.POWER: "electricity_generated_mwh",
        Sector.STEEL: "crude_steel_output_t",
        Sector.CEMENT: "clinker_output_t",
        Sector.ALUMINIUM: "molten_aluminium_output_t",
    }
    made: dict[str, float] = defaultdict(float)
    for record in records:
        made[record.facility_id] += float(record.values[basis[record.sector]])
    units = [u for e in market.entities for u in e.units]
    assert len(records) == 12 * len(units)
    for unit in units:
        assert made[unit.facility_id] == pytest.approx(unit.output, rel=0.01)


def test_full_size_demo_emissions_near_8_billion_t_with_realistic_intensities(demo_full: Market) -> None:
    records = monthly_records(demo_full)
    by_facility = defaultdict(list)
    for record in records:
        by_facility[record.facility_id].append(record)
    emissions: dict[str, float] = defaultdict(float)
    generated: dict[str, float] = defaultdict(float)
    for facility, group in by_facility.items():
        tonnes = float(account(group[0].sector, group).total)
        emissions[group[0].sector.value] += tonnes
        if group[0].sector is Sector.POWER:
            kind = "gas" if facility_fuel(demo_full, facility) == "gas" else "coal"
            emissions[kind] += tonnes
            generated[kind] += sum(float(r.values["electricity_generated_mwh"]) for r in group)
    total = sum(emissions[s] for s in ("power", "steel", "cement", "aluminium"))
    assert total == pytest.approx(DEMO_COVERED_T, rel=0.05)
    assert 0.60 < emissions["power"] / total < 0.75  # power, then about 3 Gt of the new sectors [seed]
    # t CO2 per MWh generated, heat supplied included: coal about 0.9-1.0, gas about 0.4.
    assert 0.85 < emissions["coal"] / generated["coal"] < 1.05
    assert 0.35 < emissions["gas"] / generated["gas"] < 0.45


def facility_fuel(market: Market, facility_id: str) -> str | None:
    entity = market.by_id()[facility_id.rsplit("-", 1)[0]]
    return next(u.fuel for u in entity.units if u.facility_id == facility_id)


def test_cn_2023_full_size_verified_emissions_within_2_percent_of_published() -> None:
    scenario = load_scenario("cn-2023")
    market = generate_market(scenario)
    assert len(market.entities) == 2096
    verified = verified_total(market, "cn-2023")
    assert verified == pytest.approx(PUBLISHED_VERIFIED_2023_T, rel=0.02)
    # The figure comes from the inputs: 5% more output moves it by about 5%.
    scale = scenario.section("market")["output_scale"]
    moved = generate_market(scenario.with_values("market", output_scale=scale * 1.05))
    assert verified_total(moved, "cn-2023") / verified == pytest.approx(1.05, abs=0.01)


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("market", {"entities": -5}, "entities"),
        ("market", {"sectors": {"power": 10, "shipping": 3}}, "sectors.shipping"),
        ("market", {"output_scale": 0}, "output_scale"),
        ("market", {"year": "2024"}, "year"),
        ("market", {"power": {"capacities_mw": {"I": [300]}}}, "capacities_mw.I"),
        ("market", {"traits": {"strategies": {"gambler": 1.0}}}, "strategies.gambler"),
        ("ccer", {"methodologies": {"CCER-99-999-V01": 1.0}}, "methodologies"),
        ("ccer", {"projects": -1}, "projects"),
    ],
)
def test_bad_scenario_values_are_refused_naming_the_key(
    section: str, values: dict[str, Any], key: str
) -> None:
    scenario = load_scenario("demo").with_values(section, **values)
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        generate_market(scenario, entities=10)


def test_entities_argument_is_checked() -> None:
    with pytest.raises(ScenarioError, match="entities"):
        generate_market(load_scenario("demo"), entities=0)


def test_a_seed_gives_the_same_market_in_every_process_whatever_the_hash_seed() -> None:
    """Set iteration order follows PYTHONHASHSEED: a generator that iterated a set would differ by process."""
    import os
    import subprocess
    import sys

    program = (
        "from carbonmarket.simulation.generator import generate_market;"
        "from carbonmarket.simulation.spec import load_scenario;"
        "m = generate_market(load_scenario('demo'), entities=300, seed=4);"
        "print(repr(m.entities))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        ).stdout
        for hash_seed in (1, 2, 3)
    }
    assert len(outputs) == 1
