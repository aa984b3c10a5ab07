"""The multi-year what-if engine (simulation/policy.py): levers move outcomes the expected way,
Monte Carlo is deterministic per seed with ordered bands, bad levers are refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonmarket.simulation.policy import (
    Demand,
    Solver,
    build_fleet,
    draw_seed,
    path_value,
    read_levers,
    run_policy,
    simulate,
)
from carbonmarket.simulation.spec import Entity, Market, Scenario, ScenarioError, Traits, Unit, load_scenario

# Small levers for fast tests: 5 seeds, 2025-2032.
BASE_POLICY: dict[str, Any] = {"first_year": 2025, "horizon": 2032, "seeds": 5, "seed": 3}


def hand_market(n_power: int = 24, n_steel: int = 12, ccer_all: bool = False, seed: int = 5) -> Market:
    """A small market built by hand: coal and gas plants, steel mills, a couple of defaulters."""
    rng = np.random.default_rng(seed)
    entities = []
    for k in range(n_power + n_steel):
        power = k < n_power
        sector = "power" if power else "steel"
        fuel = "gas" if power and k % 6 == 0 else ("coal" if power else None)
        output = int(rng.uniform(1e6, 5e6)) if power else int(rng.uniform(1e6, 4e6))
        unit = Unit(f"E{k}-U1", fuel=fuel, capacity_mw=600 if power else None, output=output)
        strategy = "defaulter" if k in (3, n_power + 2) else "complier"
        traits = Traits(
            strategy=strategy,
            mac_cny_per_t=float(rng.lognormal(np.log(100.0), 0.5)),
            abatement_share=float(rng.uniform(0.01, 0.05)),
            liquidity=0.5,
            uses_ccer=ccer_all or k % 10 == 0,
        )
        entities.append(Entity(f"E-{sector.upper()}-{k}", f"entity {k}", sector, "Hebei", (unit,), traits))
    return Market(year=2024, seed=seed, entities=tuple(entities))


def scenario(name: str = "t", sectors: dict[str, Any] | None = None, **policy: Any) -> Scenario:
    section: dict[str, Any] = {**BASE_POLICY, **policy}
    if sectors:
        section["sectors"] = sectors
    return Scenario(name, {"market": {"year": 2024}, "policy": section})


def run(market: Market | None = None, name: str = "t", **policy: Any) -> dict[str, Any]:
    sc = scenario(name, **policy)
    return simulate(sc, read_levers(sc), market or hand_market())


def p50(result: dict[str, Any], metric: str) -> np.ndarray:
    return np.array(result["metrics"][metric]["p50"])


def test_an_earlier_absolute_cap_raises_the_price_and_the_abatement() -> None:
    early = run(sectors={"power": {"absolute_cap_year": 2026, "cap_decline": 0.03}})
    late = run(sectors={"power": {"absolute_cap_year": 2031, "cap_decline": 0.03}})
    assert early["headline"]["price_first_cny"] > late["headline"]["price_first_cny"]
    assert early["headline"]["abatement_total_t"] > late["headline"]["abatement_total_t"]
    # The cap binds: the total quantity falls 3% a year from 2026.
    cap = p50(early, "cap_t")
    assert cap[3] / cap[2] == pytest.approx(0.97, rel=0.02)


def test_a_higher_offset_ratio_lowers_the_price_when_the_users_can_use_it() -> None:
    market = hand_market(ccer_all=True)
    scarce = {"power": {"benchmark_tightening": 0.015}, "steel": {"benchmark_tightening": 0.015}}
    big_supply = {"ccer_supply_t": 2_000_000_000, "ccer_price_cny": 1.0, "sectors": scarce}
    low = run(market, offset_ratio=0.02, **big_supply)
    high = run(market, offset_ratio=0.04, **big_supply)
    assert np.all(p50(high, "offsets_t") > p50(low, "offsets_t"))
    assert np.all(p50(high, "price_cny") < p50(low, "price_cny"))


def test_a_higher_paid_share_raises_auction_revenue() -> None:
    none = run(paid_share=0.0)
    some = run(paid_share={"2026": 0.0, "2028": 0.10})
    more = run(paid_share={"2026": 0.0, "2028": 0.30})
    assert none["headline"]["auction_revenue_total_cny"] == 0
    assert 0 < some["headline"]["auction_revenue_total_cny"] < more["headline"]["auction_revenue_total_cny"]
    # Before the paid share starts nothing is auctioned.
    assert p50(some, "auction_offered_t")[0] == 0


def test_banking_rules_change_the_price_path() -> None:
    allowed = run(banking="allowed")
    none = run(banking="none")
    limited = run(banking="limited", bank_limit_share=0.001)
    assert np.all(p50(none, "bank_t") == 0)
    assert not np.allclose(p50(allowed, "price_cny"), p50(none, "price_cny"))
    # With a tightening supply, banking moves scarcity forward: a dearer start.
    assert allowed["headline"]["price_first_cny"] > none["headline"]["price_first_cny"]
    offered = p50(limited, "free_t") + p50(limited, "auction_offered_t")
    assert np.all(p50(limited, "bank_t") <= 0.001 * offered * 1.05 + 1)


def test_with_banking_the_price_rises_at_the_discount_rate_while_a_bank_is_held() -> None:
    sc = scenario(discount_rate=0.07, sectors={"power": {"benchmark_tightening": 0.03}})
    levers = read_levers(sc)
    fleet = build_fleet(hand_market(), levers)
    year, supply = draw_seed(fleet, levers, 0)
    path = Solver(Demand(year, fleet), supply, levers).solve(0, 0.0)
    held = np.flatnonzero(path.bank[:-1] > 1e3)
    assert held.size > 0
    for t in held:
        assert path.price[t + 1] == pytest.approx(path.price[t] * 1.07, rel=1e-6)
    assert np.all(path.bank >= -1.0)


def test_the_reserve_takes_in_part_of_the_bank_above_its_trigger() -> None:
    tight = {"power": {"benchmark_tightening": 0.04}, "steel": {"benchmark_tightening": 0.04}}
    free = run(sectors=tight)
    reserve = {"start_year": 2026, "intake_above_share": 0.001, "release_below_share": 0.0}
    held = run(sectors=tight, reserve=reserve)
    assert free["headline"]["bank_max_t"] > 0.001 * p50(free, "emissions_bau_t")[0]
    intake = p50(held, "reserve_intake_t")
    assert intake.sum() > 0 and intake[0] == 0
    first = int(np.flatnonzero(intake > 0)[0])
    offered = p50(held, "free_t") + p50(held, "auction_offered_t")
    offered_free = p50(free, "free_t") + p50(free, "auction_offered_t")
    assert offered[first] < offered_free[first]
    assert p50(held, "reserve_t")[-1] > 0


def test_a_reserve_price_leaves_auction_volume_unsold_below_it() -> None:
    result = run(paid_share=0.2, reserve_price_cny=5_000.0, price_max_cny=4_000.0)
    assert p50(result, "auction_sold_t").sum() == 0
    assert p50(result, "auction_unsold_t").sum() > 0
    assert result["headline"]["auction_revenue_total_cny"] == 0


def test_entering_sectors_add_their_emissions_from_their_year() -> None:
    result = run(entry={"aviation": {"year": 2028, "emissions_t": 100_000_000, "entities": 10}})
    aviation = np.array(result["by_sector"]["aviation"]["emissions_bau_t"]["p50"])
    assert np.all(aviation[:3] == 0)
    assert aviation[3] == pytest.approx(100_000_000, rel=0.15)
    assert p50(result, "covered_entities")[3] == p50(result, "covered_entities")[2] + 10


def test_same_seed_same_result_and_another_seed_differs() -> None:
    first = run()
    again = run()
    other = run(seed=4)
    first.pop("seconds")
    again.pop("seconds")
    other.pop("seconds")
    assert first == again
    assert first["metrics"]["price_cny"] != other["metrics"]["price_cny"]


def test_monte_carlo_bands_are_ordered() -> None:
    result = run(seeds=9)
    for metric, bands in result["metrics"].items():
        for low, mid, high in zip(bands["p10"], bands["p50"], bands["p90"], strict=True):
            assert low <= mid <= high, metric
    price = result["metrics"]["price_cny"]
    assert price["p90"][-1] > price["p10"][-1]  # the seeds do differ


def test_compliance_fails_in_part_for_defaulters_when_the_price_is_high() -> None:
    cheap = run(sectors={"power": {"benchmark_tightening": 0.0, "initial_gap": -0.05}})
    dear = run(sectors={"power": {"benchmark_tightening": 0.05}}, defaulter_budget_cny_per_t=[0.0, 0.1])
    assert min(p50(cheap, "compliance_rate")) > min(p50(dear, "compliance_rate"))
    assert max(p50(dear, "noncompliant_entities")) >= 1
    assert p50(dear, "shortfall_t").sum() > 0


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ({"discount_rate": "high"}, "discount_rate"),
        ({"discount_rate": 0.9}, "discount_rate"),
        ({"banking": "sometimes"}, "banking"),
        ({"horizon": 2020}, "horizon"),
        ({"offset_ratio": {"20x5": 0.1}}, "offset_ratio"),
        ({"paid_share": {"2030": 1.5}}, "paid_share"),
        ({"seeds": 0}, "seeds"),
        ({"price_cap": 1}, "price_cap"),
        ({"sectors": {"power": {"absolute_cap_year": 1990}}}, "absolute_cap_year"),
        ({"sectors": {"power": {"cap_decline": True}}}, "cap_decline"),
        ({"reserve": {"intake_rate": 2}}, "intake_rate"),
        ({"entry": {"aviation": {"year": 2027}}}, "emissions_t"),
        ({"entry": {"power": {"year": 2027, "emissions_t": 1}}}, "power"),
        ({"defaulter_budget_cny_per_t": [3, 1]}, "defaulter_budget_cny_per_t"),
    ],
)
def test_bad_levers_are_refused_naming_the_key(policy: dict[str, Any], key: str) -> None:
    with pytest.raises(ScenarioError, match=key):
        read_levers(scenario(**policy))


def test_paths_interpolate_between_years_and_hold_outside() -> None:
    levers = read_levers(scenario(paid_share={"2027": 0.0, "2031": 0.2}))
    assert path_value(levers.paid_share, 2025) == 0.0
    assert path_value(levers.paid_share, 2029) == pytest.approx(0.1)
    assert path_value(levers.paid_share, 2035) == pytest.approx(0.2)


def test_run_policy_runs_the_named_baseline_beside_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(
        "[market]\nyear = 2024\n[policy]\nfirst_year = 2025\nhorizon = 2030\nseeds = 3\n", encoding="utf-8"
    )
    (tmp_path / "cap.toml").write_text(
        '[market]\nyear = 2024\n[policy]\nfirst_year = 2025\nhorizon = 2030\nseeds = 3\nbaseline = "base"\n'
        "[policy.sectors.power]\nabsolute_cap_year = 2026\ncap_decline = 0.04\n",
        encoding="utf-8",
    )
    market = hand_market()
    result = run_policy(
        load_scenario(str(tmp_path / "cap.toml")), seeds=2, market_factory=lambda sc, n, seed: market
    )
    assert result["seeds"] == 2 and result["baseline"]["seeds"] == 2
    assert result["baseline"]["scenario"] == "base"
    price = result["comparison"]["headline"]["price_last_cny"]
    assert price["scenario"] > price["baseline"]
    assert len(result["comparison"]["p50_difference"]["price_cny"]) == 6


def test_the_packaged_what_ifs_load_and_name_their_baseline() -> None:
    for name in ("whatif-absolute-cap-2027", "whatif-paid-share", "whatif-offset-ratio"):
        levers = read_levers(load_scenario(name))
        assert levers.baseline == "whatif-baseline"
        assert levers.years[0] == 2025 and levers.years[-1] == 2035
    base = read_levers(load_scenario("whatif-baseline"))
    assert {e.sector for e in base.entry} == {"chemicals", "petrochemicals", "aviation"}


def test_the_generated_market_runs_fast() -> None:
    sc = load_scenario("whatif-absolute-cap-2027")
    result = run_policy(sc, seeds=3, entities=80)
    assert result["entities"] == 80
    assert result["comparison"]["headline"]["price_2030_cny"]["difference"] > 0
    assert result["seconds"] < 10
