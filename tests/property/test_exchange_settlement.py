"""Property: after any random stream of listed orders, cancels and amendments (refused or not), on
SQLite and PostgreSQL, every trade is settled exactly once, the ledger holds exactly what the open
orders reserve, the book and the orders table agree, and the ledger reconciles."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from carbonmarket.db.tables import balances, holds
from carbonmarket.exchange import store
from carbonmarket.exchange.model import Modality
from carbonmarket.exchange.settlement import exchange_rules
from integration.exchange import trading_market
from integration.exchange.trading_market import A_UNITS, ALICE, B_UNITS, BOB, CAROL, FUNDS_FEN, Market

market = trading_market.market
market_template = trading_market.market_template

MEMBERS = {"A-T": ALICE, "B-T": BOB, "C-T": CAROL}
_ids = itertools.count()

commands = st.lists(
    st.one_of(
        st.tuples(
            st.just("new"),
            st.sampled_from(sorted(MEMBERS)),
            st.sampled_from(["buy", "sell"]),
            st.integers(8_700, 10_800),  # the band is 87.75-107.23: some prices fall outside it
            st.one_of(st.integers(1, 400), st.just(150_000)),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 40)),
        st.tuples(st.just("amend"), st.integers(0, 40), st.integers(9_600, 9_900), st.integers(1, 500)),
    ),
    min_size=1,
    max_size=25,
)


def apply(market: Market, placed: list[tuple[str, str]], command: tuple[Any, ...]) -> None:
    x = market.exchange
    if command[0] == "new":
        _, account, side, price, quantity = command
        order_id = f"p{next(_ids)}"
        x.place_order(MEMBERS[account], order_id, account, "CEA24", side, price, quantity)
        placed.append((order_id, account))
    elif placed and command[0] == "cancel":
        order_id, account = placed[command[1] % len(placed)]
        x.cancel_order(MEMBERS[account], f"x{next(_ids)}", order_id)
    elif placed:
        order_id, account = placed[command[1] % len(placed)]
        x.amend_order(MEMBERS[account], f"a{next(_ids)}", order_id, command[2], command[3])


def check_invariants(market: Market) -> None:
    rules = exchange_rules()
    with market.engine.connect() as connection:
        trades = store.trades(connection, limit=100_000)
        open_orders = store.open_orders(connection)
        cached = {
            (r.account_id, r.instrument_id): (r.total, r.held) for r in connection.execute(select(balances))
        }
        pending = connection.execute(select(holds).where(holds.c.status == "pending")).all()
    # Every trade settled exactly once: each account's units and funds are its start plus its trades.
    units = {"A-T": A_UNITS, "B-T": B_UNITS, "C-T": 0}
    funds = dict.fromkeys(MEMBERS, FUNDS_FEN)
    fees = 0
    for t in trades:
        value = t["price_fen"] * t["quantity"]
        assert t["buyer_fee_fen"] == rules.fee(Modality.LISTED, value, t["quantity"])
        units[t["buyer_account"]] += t["quantity"]
        units[t["seller_account"]] -= t["quantity"]
        funds[t["buyer_account"]] -= value + t["buyer_fee_fen"]
        funds[t["seller_account"]] += value - t["seller_fee_fen"]
        fees += t["buyer_fee_fen"] + t["seller_fee_fen"]
    for account in MEMBERS:
        assert cached.get((account, "CEA24"), (0, 0))[0] == units[account]
        assert cached.get((account, "CNY"), (0, 0))[0] == funds[account]
    assert cached.get(("CN-FEES", "CNY"), (0, 0))[0] == fees
    # Holds: one pending hold per open order, reserving at least what its remainder needs, and the
    # ledger's held figures are exactly those holds.
    held: dict[tuple[str, str], int] = defaultdict(int)
    by_hold = {h.id: h for h in pending}
    assert len(pending) == len(open_orders)
    for order in open_orders:
        hold = by_hold[order.hold_id]
        left = hold.quantity - (hold.posted_quantity or 0)
        if order.side == "sell":
            assert left == order.remaining
        else:
            assert left >= rules.buy_reservation(Modality.LISTED, order.price_fen, order.remaining)
        held[(hold.account_id, hold.instrument_id)] += left
    for key, (_, cached_held) in cached.items():
        assert cached_held == held.get(key, 0), key
    # The book and the orders table agree on what rests.
    book = market.exchange.live_book("CEA24")
    resting = {} if book is None else {o.order_id: o.remaining for o in book.resting_orders()}
    assert resting == {o.order_id: o.remaining for o in open_orders}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=commands)
def test_any_command_stream_settles_every_trade_and_keeps_holds_consistent(
    market: Market, stream: list[tuple[Any, ...]]
) -> None:
    placed: list[tuple[str, str]] = []
    for command in stream:
        apply(market, placed, command)
        check_invariants(market)
    rebuilt = market.exchange.rebuild("CEA24")
    live = market.exchange.live_book("CEA24")
    assert (rebuilt is None) == (live is None)
    if rebuilt is not None and live is not None:
        assert rebuilt.snapshot() == live.snapshot()
    assert market.registry.reconcile().ok
