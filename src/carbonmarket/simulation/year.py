"""One compliance year of a generated national market through the real platform, and its summary.

Stages in order (docs/simulation-contract.md): generate → MRV (roster, monthly data, validation,
verification) → allocation → CCER issuance → trading on every trading day → compliance. Every figure
of the summary is read from what the run left in the database or returned by the services; none is
computed beside the platform.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.registry.service import Registry
from carbonmarket.simulation.generator import generate_market
from carbonmarket.simulation.spec import Market, Scenario, StageProgress
from carbonmarket.simulation.stage_allocation import accepted, run_allocation
from carbonmarket.simulation.stage_ccer import run_ccer
from carbonmarket.simulation.stage_compliance import run_compliance
from carbonmarket.simulation.stage_mrv import run_mrv
from carbonmarket.simulation.stage_trading import run_trading

T = TypeVar("T")
fen_per_cny = 100


class RichStageProgress(StageProgress):
    """Stage progress on one Rich bar per stage phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, description: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)
        self.task = self.progress.add_task(description, total=max(total, 1))

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, steps)


@dataclass
class Timer:
    """Seconds per stage, in the order run."""

    seconds: dict[str, float]

    def stage(self, name: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self.seconds[name] = round(time.perf_counter() - started, 2)
        return result


@contextmanager
def stage_progress(show: bool) -> Iterator[StageProgress]:
    """Rich bars for every stage when `show`, else a silent progress."""
    if not show:
        yield StageProgress()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bars:
        yield RichStageProgress(bars)


def run_year(
    url: str,
    scenario: Scenario,
    *,
    entities: int | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Build the market on the database at `url`, run its year, and return the summary (issue 7)."""
    started = time.perf_counter()
    timer = Timer({})
    upgrade(url)
    engine = make_engine(url)
    try:
        with stage_progress(progress) as bars:
            timer.stage("set-up", lambda: open_central_accounts(engine))
            market = timer.stage("generate", lambda: generate_market(scenario, entities=entities, seed=seed))
            mrv = timer.stage("mrv", lambda: run_mrv(engine, market, scenario, bars))
            positions = timer.stage("allocation", lambda: run_allocation(engine, market, mrv, scenario, bars))
            ccer = timer.stage("ccer", lambda: run_ccer(engine, market, scenario, bars))
            trading = timer.stage(
                "trading", lambda: run_trading(engine, market, positions, ccer, scenario, bars)
            )
            closed = timer.stage(
                "compliance",
                lambda: run_compliance(engine, market, positions, trading, ccer, scenario, bars),
            )
            reconciled = timer.stage("reconcile", lambda: Registry(engine).reconcile().ok)
    finally:
        engine.dispose()
    verified = sum(mrv.verified.values())
    # Final allocation per entity as the allocation part records it (after the true-up).
    issued = sum(p.allocated for p in positions.values())
    closes = [fen for _, fen in trading.closes_fen]
    return {
        "scenario": scenario.name,
        "year": market.year,
        "seed": market.seed,
        "entities": len(market.entities),
        "entities_by_sector": _by_sector(market),
        "sample_entity": market.entities[0].entity_id,
        "monthly_records": mrv.records,
        "verified_emissions_t": verified,
        "allowances_issued_t": issued,
        "deficit_ratio": round((verified - issued) / verified, 6) if verified else 0.0,
        "compliance_rate": (closed["rate_ppm"] or 0) / 1_000_000,
        "entities_not_compliant": closed["entities_not_met"],
        "ccer_projects": len(ccer),
        "ccer_offset_entities": closed["ccer_offset_entities"],
        "ccer_offset_t": closed["ccer_offset_t"],
        "trading_days": trading.trading_days,
        "traded_volume_t": sum(trading.volume_t.values()),
        "traded_value_cny": round(sum(trading.value_fen.values()) / fen_per_cny),
        "listed_volume_t": trading.volume_t.get("listed", 0),
        "bulk_volume_t": trading.volume_t.get("bulk", 0),
        "bidding_volume_t": trading.volume_t.get("bidding", 0),
        "traders": trading.traders,
        "close_min_cny": min(closes) / fen_per_cny if closes else None,
        "close_max_cny": max(closes) / fen_per_cny if closes else None,
        "close_year_end_cny": closes[-1] / fen_per_cny if closes else None,
        "fines_cny": round((closed["fines_fen"] or 0) / fen_per_cny),
        "reconcile_ok": reconciled,
        "stage_seconds": timer.seconds,
        "seconds": round(time.perf_counter() - started, 2),
    }


def open_central_accounts(engine: Engine) -> None:
    """What `carbonmarket init` does: default instruments and the central accounts."""
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    accepted(registry.open_central_accounts(LOCAL_OPERATOR), "opening the central accounts")


def _by_sector(market: Market) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entity in market.entities:
        counts[entity.sector] = counts.get(entity.sector, 0) + 1
    return counts
