"""The trading stage on SQLite: a generated market of a few dozen entities traded over the last days
of the year through the real exchange — listed, bulk and (in 2025, from July) one-way bidding —
then every unit back in `-H`, the ledger reconciled, the figures read back from market data."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.instruments import FUNDS_ID, allowance_vintage
from carbonmarket.core.results import Done
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.exchange.marketdata import MarketData
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move, holding_account, trading_account
from carbonmarket.registry.service import Registry
from carbonmarket.simulation.generator import generate_market
from carbonmarket.simulation.spec import Market, Position, Scenario, StageProgress, load_scenario
from carbonmarket.simulation.stage_trading import run_trading

# Verified emissions: lognormal (σ 0.8) with median 1.7 Mt, mean 2.3 Mt (5.24 Gt over ~2,200 power
# entities, DOMAIN.md §3).
TYPICAL_T = 1_700_000


def build_positions(
    engine: Engine, market: Market, *, deficit: float = 0.0055, spread: float = 0.03
) -> tuple[dict[str, Position], dict[str, str]]:
    """What allocation and the CCER stage hand on, made directly for a test: central accounts,
    `-H` accounts with allocated allowances, CCER issued into project owners' `-H`."""
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    registry.open_central_accounts(LOCAL_OPERATOR)
    rng = random.Random(market.seed)
    positions: dict[str, Position] = {}
    for entity in market.entities:
        verified = int(TYPICAL_T * rng.lognormvariate(0, 0.8))
        allocated = int(verified * (1 - deficit + rng.gauss(0, spread)))
        positions[entity.entity_id] = Position(entity.entity_id, allocated, verified)
    instrument = allowance_vintage(market.year)
    ccer = {
        p.project_id: f"CCER-{p.project_id.replace('_', '-')}-{market.year}"[:40] for p in market.projects
    }
    clock = FixedClock(datetime(market.year + 1, 1, 2, 0, 0, tzinfo=UTC))

    def work(connection: Connection, at: str) -> dict[str, Any]:
        holders = [(e.entity_id, e.name) for e in market.entities]
        postings.ensure_entity_accounts(connection, LOCAL_OPERATOR, holders, "holding", at)
        postings.ensure_instrument(connection, LOCAL_OPERATOR, instrument, at)
        total = sum(p.allocated for p in positions.values())
        postings.issue(connection, LOCAL_OPERATOR, "t-iss", instrument, total, "CN-ISSUANCE", at)
        moves = [
            Move("CN-ISSUANCE", holding_account(e), instrument, p.allocated) for e, p in positions.items()
        ]
        postings.move(connection, LOCAL_OPERATOR, "t-alloc", "allocation", moves, at)
        for project in market.projects:
            owner = project.owner_id
            postings.ensure_holder(connection, LOCAL_OPERATOR, owner, project.owner_name, "project_owner", at)
            postings.ensure_account(connection, LOCAL_OPERATOR, holding_account(owner), owner, "holding", at)
            postings.ensure_instrument(connection, LOCAL_OPERATOR, ccer[project.project_id], at)
            postings.issue(
                connection,
                LOCAL_OPERATOR,
                f"t-c-{project.project_id}",
                ccer[project.project_id],
                project.reductions_t,
                "CN-ISSUANCE",
                at,
            )
            postings.move(
                connection,
                LOCAL_OPERATOR,
                f"t-cm-{project.project_id}",
                "ccer_issuance",
                [Move("CN-ISSUANCE", holding_account(owner), ccer[project.project_id], project.reductions_t)],
                at,
            )
        return {}

    outcome = run_command(engine, clock, LOCAL_OPERATOR, "test.positions", f"pos-{market.seed}", {}, work)
    assert isinstance(outcome, Done), outcome
    return positions, ccer


def _scenario(name: str, days: int) -> Scenario:
    return load_scenario(name).with_values("trading", days=days)


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Any:
    url = f"sqlite:///{tmp_path / 'trading.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_a_2025_year_trades_in_every_modality_and_brings_units_home(sqlite_engine: Engine) -> None:
    # Half the entities offset with CCER, so the market has CCER sales to pay for.
    scenario = _scenario("demo", 30).with_values("market", traits={"ccer_share": 0.5})
    market = generate_market(scenario, entities=40, seed=3)
    # A long market overall (surpluses exceed shortages), so every short complier can cover itself.
    positions, ccer = build_positions(sqlite_engine, market, deficit=-0.02)
    # Larger surpluses and more turnover so a 40-entity market reaches bulk lots in 30 days.
    scenario = scenario.with_values("agents", turnover_share=0.2, bidding_share=0.5)
    year = run_trading(sqlite_engine, market, positions, ccer, scenario, StageProgress())

    assert year.trading_days == 30
    assert year.volume_t["listed"] > 0 and year.volume_t["bulk"] > 0 and year.volume_t["bidding"] > 0
    assert all(value > 0 for value in year.value_fen.values())
    assert len(year.closes_fen) == 30
    assert Registry(sqlite_engine).reconcile().ok
    instrument = allowance_vintage(market.year)
    with sqlite_engine.connect() as connection:
        keys = [(trading_account(e), instrument) for e in positions]
        keys += [(trading_account(f), instrument) for f in market.institutions]
        left_in_t = postings.balances(connection, keys)
        held = postings.balances(connection, [(holding_account(e), instrument) for e in positions])
    assert all(b.total == 0 for b in left_in_t.values())
    # Units are conserved: what the entities hold now is what they were allocated, less what they sold net.
    assert sum(b.total for b in held.values()) == sum(p.allocated for p in positions.values())
    # Closes come from market data: the same figures the exchange publishes.
    last_day, last_close = year.closes_fen[-1]
    assert MarketData(sqlite_engine).day(instrument, last_day)["close_fen"] == last_close
    # Short entities (not defaulters) now hold enough for their obligation, CCER aside.
    traits = market.by_id()
    for e, p in positions.items():
        if p.verified > p.allocated and traits[e].traits.strategy != "defaulter":
            have = held[(holding_account(e), instrument)].total + year.ccer_bought.get(e, 0)
            assert have >= p.verified, (e, have, p)
    assert year.traders > 0
    # Every CCER sale was paid for: the owners' trading accounts hold what the buyers paid, in fen.
    owners = sorted({p.owner_id for p in market.projects})
    with sqlite_engine.connect() as connection:
        paid = postings.balances(connection, [(trading_account(o), FUNDS_ID) for o in owners])
    assert sum(year.ccer_bought.values()) > 0
    assert sum(b.total for b in paid.values()) > sum(year.ccer_bought.values())  # above 1 fen/t


def test_a_2024_year_has_no_bidding_and_a_rerun_moves_nothing_twice(sqlite_engine: Engine) -> None:
    scenario = _scenario("cn-2023", 8)
    market = generate_market(scenario, entities=30, seed=5)
    positions, ccer = build_positions(sqlite_engine, market)
    first = run_trading(sqlite_engine, market, positions, ccer, scenario, StageProgress())
    assert first.volume_t["bidding"] == 0
    assert first.volume_t["listed"] > 0
    again = run_trading(sqlite_engine, market, positions, ccer, scenario, StageProgress())
    assert again == first
    assert Registry(sqlite_engine).reconcile().ok
