"""A full compliance cycle on a small synthetic market, SQLite and PostgreSQL, through every real
part: roster, MRV verification, allocation (plan, true-up), registry transfers, compliance (open,
surrender, mandatory order, close with penalties and the next year's cut), checked against the
ledger's reconciliation."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from compliance_market import Prices, done, refused
from sqlalchemy import Engine

from carbonmarket.compliance.service import Compliance
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "allocation"))
import allocation_helpers


def test_allocation_to_surrender_to_close_keeps_every_tonne_accounted_for(engine: Engine) -> None:
    market = allocation_helpers.market(engine)
    market.industry_entity("S1", "steel", "ironmaking", province="Hebei")
    market.industry_entity("S2", "steel", "ironmaking", province="Hebei")
    market.verify("S1", 2024, 120_000)
    market.verify("S2", 2024, 80_000)
    market.publish("industry-2024")
    # Steel 2024: allocation = verified emissions (DOMAIN.md §3), delivered into <entity>-H.
    done(market.allocation.true_up(LOCAL_OPERATOR, "tu-2024", 2024))
    assert (market.allocation.allocated("S1", 2024), market.holding("S2", "CEA24")) == (120_000, 80_000)
    # S2 sells 10,000 t to S1 outside the exchange.
    done(market.registry.transfer(LOCAL_OPERATOR, "sale", "S2-H", "S1-H", "CEA24", 10_000))

    clock = FixedClock(datetime(2025, 6, 1, tzinfo=UTC))
    compliance = Compliance(engine, clock=clock, prices=Prices({(2025, 12): 8_000}))
    opened = done(compliance.open_year(LOCAL_OPERATOR, "open-2024", 2024))
    assert (opened["entities"], opened["obligation_t"]) == (2, 200_000)
    done(compliance.surrender(LOCAL_OPERATOR, "s1", "S1", 2024, [("CEA24", 120_000)]))
    done(compliance.surrender(LOCAL_OPERATOR, "s2", "S2", 2024, [("CEA24", 70_000)]))
    clock.set(datetime(2026, 1, 3, tzinfo=UTC))
    # After the deadline the authority's order finds nothing left in S2-H.
    refused(compliance.mandatory(LOCAL_OPERATOR, "m2", "S2", 2024), Code.COMPLIANCE_NOTHING_TO_SURRENDER)
    closed = done(compliance.close_year(LOCAL_OPERATOR, "close-2024", 2024))
    # 190,000 / 200,000 = 95.00%; S2 is 10,000 t short: fine 10,000 × CNY 80 × 5 = CNY 4,000,000.
    assert (closed["rate_percent"], closed["fines_fen"], closed["allocation_cut_t"]) == (
        "95.00",
        400_000_000,
        10_000,
    )
    assert compliance.allocation_cut("S2", 2025) == 10_000
    assert market.holding("S1", "CEA24") == 10_000
    assert market.registry.balance(LOCAL_OPERATOR, "CN-SURRENDER")["balances"]["CEA24"] == 190_000
    assert compliance.trace("S1", 2024)["status"] == "met"
    assert market.reconciles()
    _the_trace_runs_from_verification_to_allocation_and_compliance(engine)


def _the_trace_runs_from_verification_to_allocation_and_compliance(engine: Engine) -> None:
    """`carbonmarket trace` links the verified figure to the allocation and compliance figures built on it."""
    from carbonmarket import trace_links
    from carbonmarket.mrv import trace

    trace_links.register()
    chain = trace.trace(engine, "S2", 2024)
    allocation = {figure["id"]: figure for figure in chain["allocation"]}
    assert allocation["2024:position"]["figure"] == 80_000
    compliance = {figure["id"]: figure for figure in chain["compliance"]}
    assert compliance["2024:obligation"]["figure"] == 80_000
    assert compliance["2024:obligation"]["owed_t"] == 10_000
    assert compliance["2024:penalty"]["shortfall_t"] == 10_000
    surrenders = [f for f in chain["compliance"] if ":surrender:" in f["id"]]
    assert [s["figure"] for s in surrenders] == [70_000]
    used = {(edge["to"], edge["kind"]) for edge in chain["edges"]}
    assert ("compliance:2024:obligation", "used_by") in used
    assert ("allocation:2024:position", "used_by") in used
