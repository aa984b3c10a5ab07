"""Property: after any random stream of listed orders, cancels and amendments (refused or not), on
SQLite and PostgreSQL, every trade is settled exactly once, the ledger holds exactly what the open
orders reserve, the book and the orders table agree, and the ledger reconciles; and the same
stream sent in group-commit batches ends exactly where it ends sent one command at a time."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.tables import balances, holds
from carbonmarket.exchange import store
from carbonmarket.exchange.model import Modality
from carbonmarket.exchange.service import Exchange
from carbonmarket.exchange.settlement import exchange_rules
from carbonmarket.registry.service import Registry
from integration.exchange import trading_market
from integration.exchange.trading_market import (
    A_UNITS,
    ALICE,
    B_UNITS,
    BOB,
    CAROL,
    FUNDS_FEN,
    OPERATOR,
    Market,
)

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


def _copy(template: str, tmp_path: Path, name: str) -> Iterator[Market]:
    """A fresh copy of the built market (as the `market` fixture makes one)."""
    from pgtest import PG_ADMIN_URL, drop_pg_database

    if template.startswith("sqlite"):
        copy = tmp_path / f"{name}.db"
        shutil.copyfile(template.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
    else:
        database = f"cmx_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{template.rsplit("/", 1)[1]}"'))
        admin.dispose()
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    engine = make_engine(url)
    clock = FixedClock(trading_market.MORNING)
    try:
        yield Market(engine, clock, Registry(engine, clock), Exchange(engine, clock))
    finally:
        engine.dispose()
        if not url.startswith("sqlite"):
            drop_pg_database(url)


@pytest.fixture
def twin(market_template: str, tmp_path: Path) -> Iterator[Market]:
    """A second copy of the market, for the one-by-one side of the group-commit comparison."""
    yield from _copy(market_template, tmp_path, "twin")


def bodies_of(stream: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The stream as order commands; cancels and amends name earlier orders of the stream."""
    bodies: list[dict[str, Any]] = []
    placed: list[str] = []
    for command in stream:
        if command[0] == "new":
            _, account, side, price, quantity = command
            order_id = f"g{next(_ids)}"
            bodies.append(
                {
                    "type": "new",
                    "order_id": order_id,
                    "account": account,
                    "instrument": "CEA24",
                    "side": side,
                    "price_fen": price,
                    "quantity": quantity,
                }
            )
            placed.append(order_id)
        elif placed and command[0] == "cancel":
            bodies.append({"type": "cancel", "order_id": placed[command[1] % len(placed)]})
        elif placed:
            order_id = placed[command[1] % len(placed)]
            bodies.append(
                {"type": "amend", "order_id": order_id, "price_fen": command[2], "quantity": command[3]}
            )
    return bodies


def one_by_one(market: Market, body: dict[str, Any]) -> dict[str, Any]:
    """A command sent alone, as the API sends it, with its result shaped like a batch's."""
    x = market.exchange
    command_id = f"c{next(_ids)}"
    if body["type"] == "new":
        fields = {k: body[k] for k in ("account", "instrument", "side", "price_fen", "quantity")}
        outcome = x.place_order(OPERATOR, body["order_id"], **fields)
    elif body["type"] == "cancel":
        outcome = x.cancel_order(OPERATOR, command_id, body["order_id"])
    else:
        outcome = x.amend_order(OPERATOR, command_id, body["order_id"], body["price_fen"], body["quantity"])
    if isinstance(outcome, Done):
        return {"ok": True, "status": outcome.data["status"], "filled": outcome.data["filled"]}
    return {"ok": False, "code": outcome.code.value}


def ledger_state(market: Market) -> tuple[Any, ...]:
    with market.engine.connect() as connection:
        trades = [
            (t["trade_id"], t["price_fen"], t["quantity"], t["buyer_account"], t["seller_account"])
            for t in store.trades(connection, limit=100_000)
        ]
        orders = sorted((o.order_id, o.status, o.remaining, o.filled) for o in store.open_orders(connection))
        cached = sorted(
            (r.account_id, r.instrument_id, r.total, r.held) for r in connection.execute(select(balances))
        )
    return trades, orders, cached


# Streams that trade a lot: prices near the reference close, some outside the band, some too large.
_crossing_new = st.tuples(
    st.just("new"),
    st.sampled_from(sorted(MEMBERS)),
    st.sampled_from(["buy", "sell"]),
    st.one_of(st.integers(9_740, 9_760), st.just(8_700)),
    st.one_of(st.integers(1, 400), st.just(150_000)),
)
crossing = st.lists(
    st.one_of(
        _crossing_new,
        _crossing_new,
        _crossing_new,
        st.tuples(st.just("cancel"), st.integers(0, 40)),
        st.tuples(st.just("amend"), st.integers(0, 40), st.integers(9_740, 9_760), st.integers(1, 500)),
    ),
    min_size=5,
    max_size=40,
)


def cut(
    bodies: list[dict[str, Any]], sizes: list[int], prefix: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The commands cut into batches of these sizes (the rest in a last one), each with a fresh id."""
    batches = []
    start = 0
    for size in [*sizes, len(bodies)]:
        if bodies[start : start + size]:
            batches.append((f"{prefix}{next(_ids)}", bodies[start : start + size]))
        start += size
    return batches


def results_of(outcome: Any) -> list[dict[str, Any]]:
    """A batch's per-command results in the shape `one_by_one` gives."""
    assert isinstance(outcome, Done), outcome
    return [
        {"ok": True, "status": r["status"], "filled": r["filled"]}
        if r["ok"]
        else {"ok": False, "code": r["code"]}
        for r in outcome.data["results"]
    ]


def assert_ends_as_one_by_one(
    market: Market, twin: Market, bodies: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    """`market` got `bodies` in batches and answered `results`; the twin gets them one by one: the
    answers, the ledger and the invariants must all be the same."""
    assert results == [one_by_one(twin, body) for body in bodies]
    assert ledger_state(market) == ledger_state(twin)
    check_invariants(market)
    assert market.registry.reconcile().ok


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=crossing, cuts=st.lists(st.integers(1, 25), min_size=1, max_size=4))
def test_group_commit_ends_exactly_where_the_same_commands_sent_one_by_one_end(
    market: Market, twin: Market, stream: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    bodies = bodies_of(stream)
    batched: list[dict[str, Any]] = []
    for batch_id, chunk in cut(bodies, cuts, "batch"):
        batched += results_of(market.exchange.submit_many(OPERATOR, batch_id, chunk))
    assert_ends_as_one_by_one(market, twin, bodies, batched)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=crossing, cuts=st.lists(st.integers(1, 8), min_size=2, max_size=6))
def test_a_stream_of_group_commits_ends_exactly_where_the_same_commands_sent_one_by_one_end(
    market: Market, twin: Market, stream: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    # `submit_stream` plans each batch while the one ahead is still committing (PostgreSQL): with
    # amends, cancels and fills of orders of earlier batches, what it carries over must be exact.
    bodies = bodies_of(stream)
    streamed: list[dict[str, Any]] = []
    for outcome in market.exchange.submit_stream(OPERATOR, cut(bodies, cuts, "stream")):
        streamed += results_of(outcome)
    assert_ends_as_one_by_one(market, twin, bodies, streamed)


def test_a_seeded_busy_stream_in_batches_of_40_ends_as_one_by_one(market: Market, twin: Market) -> None:
    import random

    rng = random.Random(5)
    stream: list[tuple[Any, ...]] = []
    for _ in range(240):
        roll = rng.random()
        if roll < 0.15:
            stream.append(("cancel", rng.randrange(40)))
        elif roll < 0.25:
            stream.append(("amend", rng.randrange(40), rng.randint(9_740, 9_760), rng.randint(1, 500)))
        else:
            side = rng.choice(["buy", "sell"])
            stream.append(
                ("new", rng.choice(["A-T", "B-T"]), side, rng.randint(9_740, 9_760), rng.randint(1, 400))
            )
    bodies = bodies_of(stream)
    results = []
    for start in range(0, len(bodies), 40):
        outcome = market.exchange.submit_many(OPERATOR, f"busy{start}", bodies[start : start + 40])
        assert isinstance(outcome, Done), outcome
        results += outcome.data["results"]
    alone = [one_by_one(twin, body) for body in bodies]
    assert [r["ok"] for r in results] == [a["ok"] for a in alone]
    state = ledger_state(market)
    assert (
        len(state[0]) > 25
    )  # 33 fills here, of orders new and old to each batch (two accounts: many self-trades)
    assert state == ledger_state(twin)
    check_invariants(market)
    assert market.registry.reconcile().ok
