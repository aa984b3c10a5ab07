"""The trading agents' plan, pure: seeded, rules of the exchange respected, shortages covered, and
inputs that move the outcome the way they should."""

from __future__ import annotations

import random
from datetime import date

import pytest

from carbonmarket.core.calendar import MarketCalendar
from carbonmarket.simulation.agents import (
    BULK_MIN_T,
    LISTED_ORDER_MAX_T,
    AgentParams,
    TradingPlan,
    plan_year,
)
from carbonmarket.simulation.spec import Entity, Market, Position, ScenarioError, Traits

DAYS = MarketCalendar.load().trading_days_between(date(2024, 1, 1), date(2024, 12, 31))
STRATEGIES = ("complier", "seller", "hoarder", "late", "defaulter")


def market(
    n: int = 200, seed: int = 7, deficit: float = 0.0, spread: float = 0.03
) -> tuple[Market, dict[str, Position]]:
    rng = random.Random(seed)
    entities = []
    positions = {}
    for k in range(n):
        entity_id = f"E-PWR-{k:04d}"
        strategy = STRATEGIES[k % len(STRATEGIES)]
        traits = Traits(strategy, 60 + rng.random() * 60, 0.02, 0.2 + 0.6 * rng.random(), k % 7 == 0)
        entities.append(Entity(entity_id, entity_id, "power", "Guangdong", (), traits))
        verified = int(1_700_000 * rng.lognormvariate(0, 0.8))
        positions[entity_id] = Position(
            entity_id, int(verified * (1 - deficit + rng.gauss(0, spread))), verified
        )
    return Market(2023, seed, tuple(entities), (), ("F-1", "F-2")), positions


def plan(
    params: AgentParams | None = None, **kwargs: float
) -> tuple[Market, dict[str, Position], TradingPlan]:
    m, positions = market(**kwargs)  # type: ignore[arg-type]
    return m, positions, plan_year(m, positions, {}, DAYS, params or AgentParams(), opening_fen=9_749)


def volume(p: TradingPlan) -> int:
    listed = sum(o.quantity for d in p.days for o in d.listed if o.side == "buy")
    return listed + sum(b.quantity for d in p.days for b in d.bulk)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    _, _, first = plan()
    _, _, again = plan()
    _, _, other = plan(seed=8)
    assert first == again
    assert first != other


def test_short_entities_buy_their_shortage_except_defaulters_and_hoarders_never_sell() -> None:
    m, positions, p = plan(deficit=-0.01)  # a long market: every shortage can be covered
    traits = {e.entity_id: e.traits for e in m.entities}
    defaulters_short = 0
    for e, position in positions.items():
        shortage = position.verified - position.allocated
        net = p.buys.get(e, 0) - p.sells.get(e, 0)
        if traits[e].strategy == "hoarder":
            assert p.sells.get(e, 0) == 0, e
        if shortage > 0 and traits[e].strategy != "defaulter":
            assert net >= shortage, (e, net, shortage)
        if shortage > 0 and traits[e].strategy == "defaulter":
            defaulters_short += net < shortage
    assert defaulters_short > 0


def test_orders_respect_the_size_rules_and_prices_the_daily_bands() -> None:
    _, _, p = plan()
    listed = [o for d in p.days for o in d.listed]
    bulk = [b for d in p.days for b in d.bulk]
    assert listed and bulk
    assert all(0 < o.quantity <= LISTED_ORDER_MAX_T for o in listed)
    assert all(b.quantity >= BULK_MIN_T for b in bulk)
    previous = 9_749
    for d in p.days:
        assert abs(d.price_fen - previous) <= previous * 0.10
        for o in d.listed:
            assert abs(o.price_fen - d.price_fen) <= d.price_fen * 0.10
            # Buys at or above the day's price, sells at or below: every pair crosses.
            assert (o.price_fen >= d.price_fen) if o.side == "buy" else (o.price_fen <= d.price_fen)
        for b in d.bulk:
            assert abs(b.price_fen - d.price_fen) <= d.price_fen * 0.30
        previous = d.price_fen


def test_no_holder_buys_and_sells_listed_on_the_same_day() -> None:
    _, _, p = plan()
    for d in p.days:
        buyers = {o.holder for o in d.listed if o.side == "buy"}
        sellers = {o.holder for o in d.listed if o.side == "sell"}
        assert not buyers & sellers, d.day


def test_volume_gathers_before_the_deadline() -> None:
    _, _, p = plan()
    by_quarter = [0, 0, 0, 0]
    for d in p.days:
        tonnes = sum(o.quantity for o in d.listed if o.side == "buy") + sum(b.quantity for b in d.bulk)
        by_quarter[(d.day.month - 1) // 3] += tonnes
    assert by_quarter[3] > 0.5 * sum(by_quarter)
    assert by_quarter[3] > by_quarter[2] > by_quarter[0]


def test_no_bidding_before_it_opens_and_sessions_after() -> None:
    m, positions = market()
    params = AgentParams(bidding_share=0.5)
    closed = plan_year(m, positions, {}, DAYS, params, opening_fen=9_749, bidding_from=date(2025, 7, 1))
    assert not any(d.bidding for d in closed.days)
    opened = plan_year(m, positions, {}, DAYS, params, opening_fen=9_749, bidding_from=date(2024, 7, 1))
    sessions = [(d.day, s) for d in opened.days for s in d.bidding]
    assert sessions and all(day >= date(2024, 7, 1) for day, _ in sessions)
    assert all(s.quantity >= BULK_MIN_T and sum(q for _, q, _ in s.bids) == s.quantity for _, s in sessions)


def test_more_liquidity_or_turnover_trades_more_and_more_shortage_costs_more() -> None:
    _, _, base = plan()
    _, _, busier = plan(AgentParams(turnover_share=0.1))
    assert volume(busier) > volume(base)
    _, _, loose = plan(deficit=-0.02)
    _, _, tight = plan(deficit=0.02)
    assert tight.tightness > loose.tightness
    assert tight.fundamental_fen > loose.fundamental_fen
    assert tight.days[-1].price_fen > loose.days[-1].price_fen
    _, _, hoarding = plan(AgentParams(participation=0.1))
    assert hoarding.fundamental_fen >= base.fundamental_fen


def test_ccer_goes_to_entities_that_use_it_within_five_percent() -> None:
    m, positions = market()
    from carbonmarket.simulation.spec import Project

    projects = (Project("P1", "OWN-1", "Owner 1", "CCER-01-002-V01", "Fujian", 5_000_000),)
    m = Market(m.year, m.seed, m.entities, projects, m.institutions)
    p = plan_year(m, positions, {"P1": 5_000_000}, DAYS, AgentParams(), opening_fen=9_749)
    users = {e.entity_id for e in m.entities if e.traits.uses_ccer}
    bought: dict[str, int] = {}
    for sale in p.ccer_sales:
        assert sale.buyer in users and sale.owner == "OWN-1"
        bought[sale.buyer] = bought.get(sale.buyer, 0) + sale.quantity
    assert bought
    assert all(q <= 0.05 * positions[e].verified for e, q in bought.items())


def test_unknown_or_bad_agent_keys_are_refused() -> None:
    with pytest.raises(ScenarioError):
        AgentParams.from_section({"turnover": 0.1})
    with pytest.raises(ScenarioError):
        AgentParams.from_section({"participation": 1.5})
    with pytest.raises(ScenarioError):
        AgentParams.from_section({"daily_move_max": 0.2})
    assert AgentParams.from_section({"bulk_ticket_t": 500_000}).bulk_ticket_t == 500_000


def test_block_holders_deal_largest_with_largest_and_small_remainders_wait_for_the_listed_market() -> None:
    """A 300,000 t buyer meets the 300,000 t seller in one agreement, not pieces of the 60,000 t one;
    a remainder under the bulk minimum is never made into a block."""
    from carbonmarket.simulation.agents import AgentParams, _pair

    params = AgentParams(bulk_preference=1.0)
    buys = [("B1", 300_000), ("B2", 150_000), ("B3", 40_000)]
    sells = [("S1", 60_000), ("S2", 300_000), ("S3", 130_000)]
    chunks = _pair(buys, sells, params, random.Random(1))
    assert ("B1", "S2", 300_000) in chunks
    assert ("B2", "S3", 130_000) in chunks
    assert sum(q for *_, q in chunks) == 490_000
    # What is left of B2 (20,000 t) and B3 pair with S1 below the bulk minimum: listed-sized chunks.
    assert sorted(q for b, s, q in chunks if s == "S1") == [20_000, 40_000]
