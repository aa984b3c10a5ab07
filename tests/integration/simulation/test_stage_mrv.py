"""The MRV stage on a database: roster, a year of monthly records, verification, all through services."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.verification.service import Verification
from carbonmarket.simulation.generator import generate_market
from carbonmarket.simulation.spec import (
    Market,
    MrvYear,
    Scenario,
    ScenarioError,
    StageProgress,
    load_scenario,
)
from carbonmarket.simulation.stage_mrv import account_records, monthly_records, run_mrv


class CountingProgress(StageProgress):
    """Remembers each bar and how far it went."""

    def __init__(self) -> None:
        self.bars: dict[str, list[int]] = {}
        self.current = ""

    def start(self, description: str, total: int) -> None:
        self.current = description
        self.bars[description] = [total, 0]

    def advance(self, steps: int = 1) -> None:
        self.bars[self.current][1] += steps


@pytest.fixture
def scenario() -> Scenario:
    # More corrections than the default 1%, so that a 40-entity market has some.
    return load_scenario("demo").with_values("mrv", correction_share=0.25, bodies=4)


@pytest.fixture
def market(scenario: Scenario) -> Market:
    return generate_market(scenario, entities=40, seed=11)


def test_run_mrv_verifies_every_entity_from_its_annual_report(
    engine: Engine, market: Market, scenario: Scenario
) -> None:
    progress = CountingProgress()
    mrv = run_mrv(engine, market, scenario, progress)

    facilities = [u for e in market.entities for u in e.units]
    assert mrv.records == 12 * len(facilities)
    assert set(progress.bars) == {"roster", "monthly data", "verification"}
    assert all(done == total for total, done in progress.bars.values())
    ids = {e.entity_id for e in market.entities}
    assert set(mrv.verified) == ids == set(mrv.reported)
    # The compliance figure the platform holds is the stage's verified figure, for every entity.
    assert Verification(engine).verified_of_year(market.year) == mrv.verified
    records = Records(engine)
    corrected = 0
    for entity_id in sorted(ids):
        reported = records.annual_report(entity_id, market.year)["emissions_tco2e"]
        assert mrv.reported[entity_id] == reported
        if mrv.verified[entity_id] != reported:
            corrected += 1
            assert 0.004 <= abs(mrv.verified[entity_id] / reported - 1) <= 0.031
    assert 3 <= corrected <= 20
    # The roster holds every entity and facility as generated.
    roster = Roster(engine)
    first = market.entities[0]
    assert roster.entity(first.entity_id)["province"] == first.province
    assert roster.facility(first.units[0].facility_id)["entity_id"] == first.entity_id
    # A verification's figures: reported beside verified, submitted in spring of the next year.
    row = Verification(engine).for_entity_year(first.entity_id, market.year)[0]
    assert row["status"] == "verified"
    assert row["reported_emissions_tco2e"] == mrv.reported[first.entity_id]
    assert row["submitted_at"].startswith(f"{market.year + 1}-05")


def test_rerun_answers_exists_and_changes_nothing(engine: Engine, market: Market, scenario: Scenario) -> None:
    first = run_mrv(engine, market, scenario, StageProgress())
    entity = market.entities[0].entity_id
    versions = len(Records(engine).history(LOCAL_OPERATOR, entity, market.year)["records"])
    again = run_mrv(engine, market, scenario, StageProgress())
    assert again == first
    assert len(Records(engine).history(LOCAL_OPERATOR, entity, market.year)["records"]) == versions
    assert len(Verification(engine).for_entity_year(entity, market.year)) == 1


def test_the_figures_come_from_the_monthly_data(engine: Engine, scenario: Scenario) -> None:
    """Verified emissions follow the output the scenario sets: more output, more emissions."""
    small = generate_market(scenario.with_values("market", output_scale=0.5), entities=8, seed=2)
    full = generate_market(scenario, entities=8, seed=2)
    low = run_mrv(engine, small, scenario, StageProgress())
    assert isinstance(low, MrvYear)
    reported_full = sum(_in_memory(full).values())
    assert sum(low.reported.values()) / reported_full == pytest.approx(0.5, rel=0.05)


def _in_memory(market: Market) -> dict[str, int]:
    return account_records(monthly_records(market))


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"correction_share": 2}, "correction_share"),
        ({"bodies": -1}, "bodies"),
        ({"verifier": "x"}, "verifier"),
        ({"submit_date": "13-40"}, "submit_date"),
    ],
)
def test_bad_mrv_values_are_refused_before_anything_is_written(
    engine: Engine, market: Market, scenario: Scenario, values: dict[str, Any], key: str
) -> None:
    with pytest.raises(ScenarioError, match=key):
        run_mrv(engine, market, scenario.with_values("mrv", **values), StageProgress())
    assert Roster(engine).entities()["total"] == 0
