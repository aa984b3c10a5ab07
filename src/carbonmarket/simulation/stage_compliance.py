"""The compliance stage: open the year, surrender before the deadline, close after it, through
`Compliance` only.

Each entity surrenders from `<entity>-H` what it holds towards its obligation: CCERs first (the
compliance service refuses more than the 5% limit, M Art. 29 [reg]), then allowances of the year's
vintage. An entity that holds less than it owes (a defaulter, or one that did not buy enough) ends
short; the close after the deadline prices its shortfall at the exchange's average of the month
before the deadline (R Art. 24 [reg]) and the national rate is the share of the obligation surrendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from carbonmarket.compliance.model import rules
from carbonmarket.compliance.service import Compliance, page_size_max
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.ids import derived_id
from carbonmarket.db.command import run_read
from carbonmarket.registry import postings
from carbonmarket.registry.postings import holding_account
from carbonmarket.simulation.spec import Market, Position, Scenario, StageProgress, TradingYear
from carbonmarket.simulation.stage_allocation import accepted

REGULATOR = Actor("mee", Role.REGULATOR)
# Lines per surrender batch: well inside the service's batch limit, so one batch is one transaction.
lines_per_batch = 2_000


def run_compliance(
    engine: Engine,
    market: Market,
    positions: dict[str, Position],
    trading: TradingYear,
    ccer: dict[str, str],
    scenario: Scenario,
    progress: StageProgress,
) -> dict[str, Any]:
    """Open, surrender and close `market.year`; the close's figures and the CCER offsets used."""
    year = market.year
    clock = FixedClock(datetime(year + 1, 12, 30, 2, 0, tzinfo=UTC))
    compliance = Compliance(engine, clock=clock)
    prefix = f"{scenario.name}-{market.seed}"
    progress.start("compliance: open, surrender, close", 3)
    accepted(compliance.open_year(REGULATOR, f"{prefix}-open-{year}", year), f"opening {year}")
    progress.advance()
    if compliance.status(REGULATOR, year, limit=1)["year_status"] != "closed":
        # What each entity still owes, from the compliance part: a rerun after a crash sends only
        # what is left, under ids named by the batch's content.
        lines = surrender_lines(
            engine, market, standing(compliance, market, year), sorted(set(ccer.values())), year
        )
        for start in range(0, len(lines), lines_per_batch):
            batch = lines[start : start + lines_per_batch]
            command = derived_id(f"{prefix}-surrender-{year}", *batch)
            # The entities' own surrenders, sent together: the local operator holds every entity's right.
            accepted(compliance.surrender_batch(LOCAL_OPERATOR, command, year, batch), "a surrender batch")
    progress.advance()
    clock.set(datetime(year + 2, 1, 5, 2, 0, tzinfo=UTC))  # past the deadline
    closed = accepted(compliance.close_year(REGULATOR, f"{prefix}-close-{year}", year), f"closing {year}")
    progress.advance()
    offsets = {e: row["ccer_t"] for e, row in standing(compliance, market, year).items() if row["ccer_t"] > 0}
    return {
        "rate_ppm": closed.get("rate_ppm"),
        "entities_not_met": closed.get("entities_not_met"),
        "obligation_t": closed.get("obligation_t"),
        "surrendered_t": closed.get("surrendered_t"),
        "fines_fen": closed.get("fines_fen"),
        "ccer_offset_entities": len(offsets),
        "ccer_offset_t": sum(offsets.values()),
        "traded_ccer_t": sum(trading.ccer_bought.values()),
    }


def standing(compliance: Compliance, market: Market, year: int) -> dict[str, dict[str, Any]]:
    """Each entity's obligation, what it surrendered and its CCER part, as the compliance part has them."""
    rows: dict[str, dict[str, Any]] = {}
    for province in sorted({e.province for e in market.entities}):
        status = compliance.status(REGULATOR, year, province=province, limit=page_size_max)
        rows |= {r["entity_id"]: r for r in status["rows"]}
    return rows


def surrender_lines(
    engine: Engine,
    market: Market,
    owing: dict[str, dict[str, Any]],
    ccer_instruments: Sequence[str],
    year: int,
) -> list[tuple[str, str, int]]:
    """(entity, instrument, quantity) for what each entity holds towards what it still owes: CCERs up to
    the offset limit, then allowances, oldest usable vintage first (the year's rule lists them)."""
    vintages = list(rules().year(year).vintages)
    instruments = [*ccer_instruments, *vintages]
    wanted = [(holding_account(e.entity_id), i) for e in market.entities for i in instruments]
    held = run_read(engine, lambda c: postings.balances(c, wanted))
    offset_share = market_offset_share()
    lines = []
    for entity in market.entities:
        row = owing.get(entity.entity_id)
        if row is None:
            continue
        owed = int(row["owed_t"])
        room = int(row["obligation_t"]) * offset_share // 100 - int(row["ccer_t"])
        account = holding_account(entity.entity_id)
        for instrument in instruments:
            is_offset = instrument not in vintages
            quantity = min(held[(account, instrument)].available, min(room, owed) if is_offset else owed)
            if quantity > 0:
                lines.append((entity.entity_id, instrument, quantity))
                owed -= quantity
                room -= quantity if is_offset else 0
    return lines


def market_offset_share() -> int:
    """The CCER limit in percent of the obligation, from the compliance rules (M Art. 29 [reg])."""
    return rules().offsets.ratio_percent
