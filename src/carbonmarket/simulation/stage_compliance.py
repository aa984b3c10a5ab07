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
from carbonmarket.compliance.service import Compliance
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.db.command import run_read
from carbonmarket.registry import postings
from carbonmarket.registry.postings import holding_account
from carbonmarket.simulation.spec import Market, Position, Scenario, StageProgress, TradingYear
from carbonmarket.simulation.stage_allocation import accepted

REGULATOR = Actor("mee", Role.REGULATOR)
# Lines per surrender batch: well inside the service's batch limit, so one batch is one transaction.
lines_per_batch = 2_000


def vintage_of(year: int) -> str:
    """The allowance vintage of a compliance year (CEA23 for 2023)."""
    return f"CEA{year % 100:02d}"


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
    lines = surrender_lines(engine, market, positions, sorted(set(ccer.values())), year)
    batches = [lines[i : i + lines_per_batch] for i in range(0, len(lines), lines_per_batch)]
    progress.start("compliance: open, surrender, close", len(batches) + 2)
    accepted(compliance.open_year(REGULATOR, f"{prefix}-open-{year}", year), f"opening {year}")
    progress.advance()
    for number, batch in enumerate(batches):
        accepted(
            # The entities' own surrenders, sent together: the local operator holds every entity's right.
            compliance.surrender_batch(LOCAL_OPERATOR, f"{prefix}-surrender-{year}-{number}", year, batch),
            f"surrender batch {number}",
        )
        progress.advance()
    clock._now = datetime(year + 2, 1, 5, 2, 0, tzinfo=UTC)
    closed = accepted(compliance.close_year(REGULATOR, f"{prefix}-close-{year}", year), f"closing {year}")
    progress.advance()
    offsets = _offsets(lines, set(ccer.values()))
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


def surrender_lines(
    engine: Engine, market: Market, positions: dict[str, Position], ccer_instruments: Sequence[str], year: int
) -> list[tuple[str, str, int]]:
    """(entity, instrument, quantity) for everything each entity holds towards its obligation."""
    vintage = vintage_of(year)
    instruments = [*ccer_instruments, vintage]
    wanted = [(holding_account(e.entity_id), i) for e in market.entities for i in instruments]
    held = run_read(engine, lambda c: postings.balances(c, wanted))
    offset_share = market_offset_share()
    lines = []
    for entity in market.entities:
        owed = positions[entity.entity_id].verified
        account = holding_account(entity.entity_id)
        room = owed * offset_share // 100
        for instrument in instruments:
            available = held[(account, instrument)].available
            limit = min(room, owed) if instrument != vintage else owed
            quantity = min(available, limit)
            if quantity > 0:
                lines.append((entity.entity_id, instrument, quantity))
                owed -= quantity
                if instrument != vintage:
                    room -= quantity
    return lines


def market_offset_share() -> int:
    """The CCER limit in percent of the obligation, from the compliance rules (M Art. 29 [reg])."""
    return rules().offsets.ratio_percent


def _offsets(lines: Sequence[tuple[str, str, int]], ccer_instruments: set[str]) -> dict[str, int]:
    used: dict[str, int] = {}
    for entity, instrument, quantity in lines:
        if instrument in ccer_instruments:
            used[entity] = used.get(entity, 0) + quantity
    return used
