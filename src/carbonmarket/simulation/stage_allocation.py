"""The allocation stage: publish the year's plans, pre-allocate, true up, through `Allocation` only.

The plans are the packaged, published ones for the market's sectors and year; the scenario's one
lever here is benchmark stringency (`[allocation] benchmark_factor`, every power benchmark multiplied
by it before publication — a calibration input, the allocation itself still comes out of the plan's
formulas on the year's MRV data). Power plans pre-allocate 70% of the previous year's verified
emissions (plan A §五(一)), so the stage first takes each power entity's previous-year verification
through the real verification life, at `previous_year_ratio` × this year's figure with a seeded spread.
"""

from __future__ import annotations

import csv
import io
import random
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.allocation.service import (
    Allocation,
    activity_of_parameters,
    packaged_plan_text,
    packaged_plans,
)
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.instruments import allowance_vintage
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.command import run_command
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.verification.service import Verification
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move, holding_account
from carbonmarket.simulation.spec import Market, MrvYear, Position, Scenario, ScenarioError, StageProgress

REGULATOR = Actor("mee", Role.REGULATOR)
# The previous year's verification body of the simulation (its verifications are history only).
HISTORY_BODY = "VB-HISTORY"
benchmark_keys = ("electricity_t_per_mwh", "heat_t_per_gj")
ISSUANCE = "CN-ISSUANCE"


@dataclass(frozen=True)
class AllocationLevers:
    """The `[allocation]` section, checked."""

    benchmark_factor: Decimal
    previous_year_ratio: float
    previous_year_spread: float
    preallocate: bool
    bank_holders_share: float
    bank_share: float


def read_levers(scenario: Scenario) -> AllocationLevers:
    """`[allocation]`: benchmark_factor ("1"), previous_year_ratio (0.98), spread (0.03), preallocate."""
    section = scenario.section("allocation")
    try:
        factor = Decimal(str(section.get("benchmark_factor", "1")))
    except InvalidOperation:
        raise ScenarioError("[allocation] benchmark_factor must be a decimal number") from None
    if not Decimal("0.5") <= factor <= Decimal("1.5"):
        raise ScenarioError("[allocation] benchmark_factor must be between 0.5 and 1.5")
    ratio = float(section.get("previous_year_ratio", 0.98))
    spread = float(section.get("previous_year_spread", 0.03))
    if not 0.5 <= ratio <= 1.5 or not 0 <= spread < 0.5:
        raise ScenarioError("[allocation] previous_year_ratio must be 0.5–1.5 and previous_year_spread 0–0.5")
    preallocate = section.get("preallocate", True)
    if not isinstance(preallocate, bool):
        raise ScenarioError("[allocation] preallocate must be true or false")
    holders = float(section.get("bank_holders_share", 0.5))
    bank = float(section.get("bank_share", 0.02))
    if not 0 <= holders <= 1 or not 0 <= bank <= 0.5:
        raise ScenarioError("[allocation] bank_holders_share must be 0–1 and bank_share 0–0.5")
    return AllocationLevers(factor, ratio, spread, preallocate, holders, bank)


def plans_for(sectors: set[str], year: int) -> list[str]:
    """The packaged final plans covering the sectors in `year`, by plan id."""
    chosen = []
    for plan_id in packaged_plans():
        document = tomllib.loads(packaged_plan_text(plan_id))
        years = {int(y["year"]) for y in document.get("year", [])}
        if document.get("status") == "final" and year in years and sectors & set(document["sectors"]):
            chosen.append(plan_id)
    covered = {s for p in chosen for s in tomllib.loads(packaged_plan_text(p))["sectors"]}
    missing = sorted(sectors - covered)
    if missing:
        raise ScenarioError(f"[market] year {year}: no final allocation plan covers {', '.join(missing)}")
    return chosen


def scaled_plan_text(text: str, factor: Decimal) -> str:
    """The plan's text with every benchmark of its [benchmarks] table multiplied by `factor`."""
    if factor == 1:
        return text

    def scale(match: re.Match[str]) -> str:
        value = Decimal(match.group(2))
        places = Decimal(1).scaleb(-max(4, -value.as_tuple().exponent))  # type: ignore[operator]
        return f'{match.group(1)}"{(value * factor).quantize(places, ROUND_HALF_EVEN)}"'

    keys = "|".join(benchmark_keys)
    return re.sub(rf'((?:{keys})\s*=\s*)"([0-9.]+)"', scale, text)


def run_allocation(
    engine: Engine, market: Market, mrv: MrvYear, scenario: Scenario, progress: StageProgress
) -> dict[str, Position]:
    """Publish, (history,) pre-allocate and true up `market.year`; each entity's allocation and emissions."""
    levers = read_levers(scenario)
    year = market.year
    plan_ids = plans_for({e.sector for e in market.entities}, year)
    clock = FixedClock(datetime(year + 1, 3, 2, 2, 0, tzinfo=UTC))
    allocation = Allocation(engine, clock=clock)
    prefix = f"{scenario.name}-{market.seed}"
    progress.start("allocation: plans, pre-allocation, true-up, bank", len(plan_ids) + 4)
    for plan_id in plan_ids:
        text = scaled_plan_text(packaged_plan_text(plan_id), levers.benchmark_factor)
        accepted(
            allocation.publish_plan(REGULATOR, f"{prefix}-plan-{plan_id}", text), "publishing " + plan_id
        )
        progress.advance()
    accepted(
        allocation.import_activity(
            REGULATOR, activity_csv(engine, market, mrv), "activity.csv", f"{prefix}-activity"
        ),
        "importing the units' activity data",
    )
    preallocating = levers.preallocate and any(_preallocates(p) for p in plan_ids)
    if preallocating:
        record_previous_year(engine, market, mrv, levers, prefix)
    progress.advance()
    if preallocating:
        accepted(allocation.preallocate(REGULATOR, f"{prefix}-pre-{year}", year), "pre-allocation")
    progress.advance()
    clock.set(datetime(year + 1, 6, 30, 2, 0, tzinfo=UTC))  # the true-up, after verification
    accepted(allocation.true_up(REGULATOR, f"{prefix}-true-up-{year}", year), "true-up")
    progress.advance()
    banked = deliver_opening_bank(engine, market, mrv, levers, prefix)
    progress.advance()
    return {
        e.entity_id: Position(
            e.entity_id,
            allocation.allocated(e.entity_id, year) or 0,
            mrv.verified[e.entity_id],
            banked.get(e.entity_id, 0),
        )
        for e in market.entities
    }


def deliver_opening_bank(
    engine: Engine, market: Market, mrv: MrvYear, levers: AllocationLevers, prefix: str
) -> dict[str, int]:
    """The allowances of earlier vintages the entities still hold when the year starts.

    The national market's earlier cycles left surpluses in the entities' accounts, and those vintages
    settle later years (A §六 [P]); that is how a market 0.55% short in 2023 still complied at 99.98%
    [seed]. The simulation starts from one year, so it issues that carried bank as the previous
    vintage into CN-ISSUANCE and delivers it in one linked batch: `bank_holders_share` of the power
    entities (seeded draw) hold up to 2 × `bank_share` of their verified emissions [?].
    """
    vintage = allowance_vintage(market.year - 1)
    draw = random.Random(f"{prefix}-bank")
    bank = {}
    for entity in market.entities:
        holder = entity.sector == "power" and draw.random() < levers.bank_holders_share
        share = levers.bank_share * draw.uniform(0, 2)
        quantity = round(mrv.verified[entity.entity_id] * share) if holder else 0
        if quantity > 0:
            bank[entity.entity_id] = quantity
    if not bank:
        return {}
    total = sum(bank.values())

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.ensure_instrument(connection, LOCAL_OPERATOR, vintage, at)
        postings.issue(connection, LOCAL_OPERATOR, f"{prefix}-bank-issue", vintage, total, ISSUANCE, at)
        moves = [Move(ISSUANCE, holding_account(e), vintage, q) for e, q in sorted(bank.items())]
        postings.move(connection, LOCAL_OPERATOR, f"{prefix}-bank", "allocation", moves, at)
        return {"vintage": vintage, "entities": len(bank), "quantity": total}

    clock = FixedClock(datetime(market.year, 12, 31, 2, 0, tzinfo=UTC))
    outcome = run_command(
        engine, clock, LOCAL_OPERATOR, "simulation.opening_bank", f"{prefix}-bank", {"t": total}, work
    )
    accepted(outcome, "delivering the opening bank")
    return bank


def activity_csv(engine: Engine, market: Market, mrv: MrvYear) -> bytes:
    """The power units' activity for the year as the allocation import reads it: the MRV records' sums
    (allocation's own `activity_of_parameters`) and each unit's share of the entity's verified
    emissions, in proportion to the unit's reported emissions (the gas top-up compares unit by unit)."""
    facts = Records(engine).year_by_facility(market.year)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ACTIVITY_COLUMNS)
    for entity in market.entities:
        if entity.sector != "power" or entity.entity_id not in facts:
            continue
        found = facts[entity.entity_id]
        activity = activity_of_parameters(found["parameters_used"], market.year, None)
        split = split_whole(mrv.verified[entity.entity_id], found["facility_emissions"])
        for facility, values in sorted(activity.items()):
            writer.writerow(
                [
                    entity.entity_id,
                    facility,
                    market.year,
                    values.generated_mwh,
                    values.supplied_mwh,
                    values.heat_gj,
                    values.load_rate,
                    split.get(facility, 0),
                ]
            )
    return out.getvalue().encode("utf-8")


ACTIVITY_COLUMNS = (
    "entity_id",
    "facility_id",
    "year",
    "electricity_generated_mwh",
    "electricity_supplied_mwh",
    "heat_supplied_gj",
    "load_rate_fraction",
    "verified_emissions_t",
)


def split_whole(total: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """`total` whole tonnes split in proportion to `weights`, largest remainders first, summing exactly."""
    weight_sum = sum(weights.values(), Fraction(0))
    if weight_sum <= 0:
        return {}
    exact = {k: Fraction(total) * w / weight_sum for k, w in weights.items()}
    whole = {k: int(v) for k, v in exact.items()}
    left = total - sum(whole.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - whole[k]), k))[:left]:
        whole[key] += 1
    return whole


def _preallocates(plan_id: str) -> bool:
    document = tomllib.loads(packaged_plan_text(plan_id))
    return Decimal(str(document.get("preallocation", {}).get("share", "0"))) > 0


def record_previous_year(
    engine: Engine, market: Market, mrv: MrvYear, levers: AllocationLevers, prefix: str
) -> None:
    """Each power entity's previous-year verified emissions, through assign → start → submit → accept."""
    year = market.year - 1
    verification = Verification(engine, clock=FixedClock(datetime(year + 1, 4, 1, 2, 0, tzinfo=UTC)))
    if not any(b["body"] == HISTORY_BODY for b in verification.bodies()):
        accepted(verification.apply_body(REGULATOR, HISTORY_BODY, "Verifier of the previous year"), "body")
        accepted(verification.qualify(REGULATOR, f"{prefix}-q-history", HISTORY_BODY, "history"), "body")
    draw = random.Random(f"{prefix}-previous-year")
    for entity in market.entities:
        if entity.sector != "power":
            continue
        figure = round(
            mrv.verified[entity.entity_id]
            * levers.previous_year_ratio
            * draw.gauss(1, levers.previous_year_spread)
        )
        vid = f"{prefix}-prev-{entity.entity_id}"
        outcomes = (
            verification.assign(REGULATOR, vid, entity.entity_id, year, HISTORY_BODY, mode="full"),
            # History, not a verification anyone works on now: the local operator stands in for the body.
            verification.start(LOCAL_OPERATOR, f"{vid}-s", vid),
            verification.submit(LOCAL_OPERATOR, f"{vid}-u", vid, max(figure, 0)),
            verification.accept(REGULATOR, f"{vid}-a", vid),
        )
        for outcome in outcomes:
            accepted(outcome, f"previous-year verification of {entity.entity_id}")


def accepted(outcome: Outcome, doing: str) -> dict[str, Any]:
    """The data of a success (`created`, or `exists` on a rerun); any refusal stops the run in words."""
    if isinstance(outcome, Done):
        return outcome.data
    raise RuntimeError(f"the simulation was refused {doing}: {outcome.message} ({outcome.code.value})")
