"""The allocation stage's pure parts: which plans a year uses, benchmark stringency, levers."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from carbonmarket.allocation.service import packaged_plan_text, read_plan
from carbonmarket.simulation.spec import ScenarioError, parse_scenario
from carbonmarket.simulation.stage_allocation import plans_for, read_levers, scaled_plan_text


def test_the_year_uses_the_final_plans_of_its_sectors() -> None:
    assert plans_for({"power"}, 2023) == ["power-2023"]
    assert sorted(plans_for({"power", "steel", "cement"}, 2024)) == ["industry-2024", "power-2024"]


def test_a_year_no_final_plan_covers_is_refused_naming_the_sector() -> None:
    with pytest.raises(ScenarioError, match="no final allocation plan covers power"):
        plans_for({"power"}, 2031)


def test_stringency_multiplies_every_benchmark_and_the_plan_stays_valid() -> None:
    text = packaged_plan_text("power-2023")
    scaled = scaled_plan_text(text, Decimal("0.98"))
    before = tomllib.loads(text)["benchmarks"]
    after = tomllib.loads(scaled)["benchmarks"]
    assert Decimal(after["I"]["electricity_t_per_mwh"]) == Decimal("0.7791")  # 0.7950 × 0.98
    assert Decimal(after["IV"]["heat_t_per_gj"]) == (
        Decimal(before["IV"]["heat_t_per_gj"]) * Decimal("0.98")
    ).quantize(Decimal("0.0001"))
    assert read_plan(scaled).id == "power-2023"
    assert scaled_plan_text(text, Decimal(1)) == text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('benchmark_factor = "lots"', "benchmark_factor must be a decimal"),
        ('benchmark_factor = "3"', "between 0.5 and 1.5"),
        ("previous_year_ratio = -1", "previous_year_ratio must be"),
        ('preallocate = "yes"', "preallocate must be true or false"),
    ],
)
def test_bad_allocation_levers_are_refused_naming_the_key(body: str, words: str) -> None:
    scenario = parse_scenario(f"[allocation]\n{body}\n", "bad")
    with pytest.raises(ScenarioError, match=words):
        read_levers(scenario)
