"""Property: whatever sealed bids a session receives, clearing it moves exactly the awarded units and
their price, within the quantity and each bidder's cap, resolves every hold, creates and destroys
nothing (funds and units conserved, ledger reconciled), on SQLite and PostgreSQL.

The examples share one database (each its own session, topped up with units and funds first), so
every property is checked on what the example changed."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.command import run_command
from carbonmarket.exchange.settlement import exchange_rules
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from integration.exchange.sessions_market import (
    AFTER,
    APPLIED,
    APPROVED,
    BIDDERS,
    CLOSES,
    DURING,
    MEMBERS,
    OPENS,
    OPERATOR,
    SELLER,
    attach_market,
    done,
    market_engine,
    market_template,
)

__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test

QUANTITY = 100_000
CAP = 60_000
FLOOR, CEILING = 9_749, 10_723  # the reference 97.49 and 97.49 + 10% rounded down
KEYS = [(a, i) for a in ["S-T", *(f"{h}-T" for h in BIDDERS), "CN-FEES"] for i in ("CEA24", "CNY")]
examples = itertools.count(1)

bids = st.lists(
    st.tuples(st.sampled_from(BIDDERS), st.integers(FLOOR, CEILING), st.integers(1, CAP)), max_size=8
)


def snapshot(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    with engine.connect() as connection:
        return {k: (b.total, b.held) for k, b in postings.balances(connection, KEYS).items()}


def top_up(engine: Engine, n: int) -> None:
    """The seller gets the session's 100,000 t and each bidder CNY 10 million more, so no example starves."""

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.issue(connection, LOCAL_OPERATOR, f"prop-iss-{n}", "CEA24", QUANTITY, "CN-ISSUANCE", at)
        postings.move(
            connection,
            LOCAL_OPERATOR,
            f"prop-mv-{n}",
            "allocation",
            [Move("CN-ISSUANCE", "S-T", "CEA24", QUANTITY)],
            at,
        )
        for holder in BIDDERS:
            postings.deposit_funds(connection, OPERATOR, f"prop-dep-{n}-{holder}", f"{holder}-T", 10**9, at)
        return {}

    done(
        run_command(
            engine, attach_market(engine, APPLIED).clock, LOCAL_OPERATOR, "test.top_up", f"top-{n}", {}, work
        )
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bids=bids, mode=st.sampled_from(["uniform", "pay_as_bid"]), minimum=st.integers(0, QUANTITY))
def test_clearing_moves_exactly_what_it_awards_and_nothing_else(
    market_engine: Engine, bids: list[tuple[str, int, int]], mode: str, minimum: int
) -> None:
    n = next(examples)
    session_id = f"P{n}"
    top_up(market_engine, n)
    before = snapshot(market_engine)
    market = attach_market(market_engine, APPLIED)  # each example on its own clock, 1 to 16 July
    done(
        market.sessions.apply(
            SELLER,
            session_id,
            account="S-T",
            side="sell",
            instrument="CEA24",
            quantity=QUANTITY,
            limit_price_fen=FLOOR,
            opens_at=OPENS,
            closes_at=CLOSES,
            price_mode=mode,
            bidder_cap_t=CAP,
            minimum_t=minimum,
        )
    )
    market.at(APPROVED)
    done(market.sessions.approve(OPERATOR, f"approve-{n}", session_id, seed=n))
    market.at(DURING)
    placed = {}
    for k, (holder, price, quantity) in enumerate(bids):
        bid_id = f"p{n}-{k}"
        outcome = market.sessions.bid(
            MEMBERS[holder], bid_id, session_id, account=f"{holder}-T", price_fen=price, quantity=quantity
        )
        if getattr(outcome, "code", None) is None:
            placed[bid_id] = (holder, price, quantity)
        else:  # only the per-bidder cap may refuse these bids
            assert outcome.code.value == "exchange_bid_over_bidder_cap"  # type: ignore[union-attr]
    market.at(AFTER)
    session = done(market.sessions.close(OPERATOR, f"close-{n}", session_id))["session"]
    result = session["result"]
    awards = {b["bid"]: b for b in result["bids"]}
    assert set(awards) == set(placed)
    won = dict.fromkeys(BIDDERS, 0)
    paid = dict.fromkeys(BIDDERS, 0)
    for bid_id, (holder, price, quantity) in placed.items():
        award = awards[bid_id]
        assert 0 <= award["awarded_quantity"] <= quantity
        if award["awarded_quantity"]:
            expected = price if mode == "pay_as_bid" else result["clearing_price_fen"]
            assert award["awarded_price_fen"] == expected <= price
            won[holder] += award["awarded_quantity"]
            value = award["awarded_quantity"] * award["awarded_price_fen"]
            paid[holder] += value + exchange_rules().fee("bidding", value, 0)
    cleared = sum(won.values())
    assert all(total <= CAP for total in won.values())
    assert cleared == result["cleared_quantity"] <= QUANTITY
    if session["status"] == "cancelled":
        asked = sum(min(CAP, sum(q for h, _, q in placed.values() if h == holder)) for holder in BIDDERS)
        assert cleared == 0 and asked < minimum
    after = snapshot(market_engine)
    # Units: the seller lost exactly what the winners gained; funds: each winner paid value + fee.
    assert after[("S-T", "CEA24")] == (before[("S-T", "CEA24")][0] - cleared, before[("S-T", "CEA24")][1])
    for holder in BIDDERS:
        assert after[(f"{holder}-T", "CEA24")][0] == before[(f"{holder}-T", "CEA24")][0] + won[holder]
        assert after[(f"{holder}-T", "CNY")] == (before[(f"{holder}-T", "CNY")][0] - paid[holder], 0)
    # Nothing created or destroyed: the totals of units and of funds over the parties and fees stand.
    for instrument in ("CEA24", "CNY"):
        assert sum(v[0] for k, v in after.items() if k[1] == instrument) == sum(
            v[0] for k, v in before.items() if k[1] == instrument
        )
    assert market.registry.reconcile().ok
