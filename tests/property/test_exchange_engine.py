"""Invariants of the matching engine after any random stream of orders, cancels and amends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carbonmarket.exchange.engine import Book
from carbonmarket.exchange.model import (
    AmendOrder,
    CancelOrder,
    Command,
    ListedRules,
    MatchMode,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    Side,
    TradeExecuted,
)

RULES = ListedRules(tick_fen=5, lot_t=1, order_quantity_max_t=50, price_band_bp=1_000)
REFERENCE = 1_000  # band 900 .. 1_100 fen, tick 5
AT = "2025-07-01T10:00:00+08:00"
ORDER_IDS = [f"o{i}" for i in range(40)]
ACCOUNTS = ["A", "B", "C"]


def owner(order_id: str) -> str:
    """Most commands about an order come from its usual account, so cancels and amends often land."""
    return ACCOUNTS[int(order_id[1:]) % len(ACCOUNTS)]


# Mostly valid prices near the middle of the band (900 .. 1_100, tick 5), so orders cross often; a
# quarter off the tick or outside the band. Mostly valid quantities; some zero, negative or too big.
on_tick = st.integers(192, 208).map(lambda p: p * 5)
prices = st.integers(0, 3).flatmap(lambda k: on_tick if k else st.integers(850, 1_150))
quantities = st.integers(0, 5).flatmap(lambda k: st.integers(1, 20) if k else st.sampled_from([0, -1, 51]))


@st.composite
def account_for(draw: st.DrawFn, order_id: str) -> str:
    return owner(order_id) if draw(st.integers(0, 5)) else draw(st.sampled_from(ACCOUNTS))


@st.composite
def new_orders(draw: st.DrawFn) -> NewOrder:
    order_id = draw(st.sampled_from(ORDER_IDS))
    pick = draw(st.integers(0, 3)) == 0
    return NewOrder(
        order_id=order_id,
        account=draw(account_for(order_id)),
        instrument="CEA24",
        side=draw(st.sampled_from([Side.BUY, Side.SELL])),
        price_fen=draw(prices),
        quantity=draw(quantities),
        at=AT,
        mode=MatchMode.PICK if pick else MatchMode.AUTO,
        pick_order_id=draw(st.sampled_from(ORDER_IDS)) if pick else None,
    )


@st.composite
def cancels(draw: st.DrawFn) -> CancelOrder:
    order_id = draw(st.sampled_from(ORDER_IDS))
    return CancelOrder(order_id, draw(account_for(order_id)), AT)


@st.composite
def amends(draw: st.DrawFn) -> AmendOrder:
    order_id = draw(st.sampled_from(ORDER_IDS))
    return AmendOrder(
        order_id,
        draw(account_for(order_id)),
        AT,
        price_fen=draw(st.none() | prices),
        quantity=draw(st.none() | quantities),
    )


commands = st.integers(0, 5).flatmap(lambda k: new_orders() if k < 3 else cancels() if k == 3 else amends())
streams = st.lists(commands, min_size=10, max_size=80)


def run(commands: list[Command]) -> tuple[Book, list[list[object]]]:
    book = Book("CEA24", RULES, REFERENCE)
    return book, [book.apply(command) for command in commands]


@settings(max_examples=200, deadline=None)
@given(commands=streams)
def test_any_stream_keeps_the_book_uncrossed_conserved_and_within_the_band(commands):
    book = Book("CEA24", RULES, REFERENCE)
    low, high = book.band
    total: dict[str, int] = {}  # each order's quantity as last accepted or amended
    filled: dict[str, int] = {}
    cancelled: dict[str, int] = {}
    price_of: dict[str, int] = {}
    for command in commands:
        before = book.snapshot()
        events = book.apply(command)
        if isinstance(events[0], OrderRejected):
            assert len(events) == 1
            assert book.snapshot() == before  # a refusal changes nothing
            continue
        for event in events:
            if isinstance(event, (OrderAccepted, OrderAmended)):
                total[event.order_id] = event.quantity
                price_of[event.order_id] = event.price_fen
            elif isinstance(event, TradeExecuted):
                assert low <= event.price_fen <= high
                assert event.buy_account != event.sell_account  # no self-trade
                passive = event.sell_order_id if event.aggressor is Side.BUY else event.buy_order_id
                assert event.price_fen == price_of[passive]  # always at the resting order's price
                for order_id in (event.buy_order_id, event.sell_order_id):
                    filled[order_id] = filled.get(order_id, 0) + event.quantity
            elif isinstance(event, OrderCancelled):
                cancelled[event.order_id] = cancelled.get(event.order_id, 0) + event.remaining
        # No crossed book.
        bid, ask = book.best(Side.BUY), book.best(Side.SELL)
        assert bid is None or ask is None or bid < ask
        # Quantities conserved: accepted (or amended) = filled + resting + cancelled, order by order.
        for order_id, quantity in total.items():
            resting = book.order(order_id)
            open_quantity = resting.remaining if resting else 0
            assert quantity == filled.get(order_id, 0) + open_quantity + cancelled.get(order_id, 0), order_id
        # Depth agrees with the orders resting at each level.
        resting_orders = book.resting_orders()
        for side in (Side.BUY, Side.SELL):
            for level in book.depth(side, 1_000):
                at_level = [o for o in resting_orders if o.side is side and o.price_fen == level.price_fen]
                assert level.quantity == sum(o.remaining for o in at_level) > 0
                assert level.orders == len(at_level)


@settings(max_examples=80, deadline=None)
@given(commands=streams)
def test_replaying_a_stream_gives_the_same_events_and_snapshot(commands):
    first, first_events = run(commands)
    second, second_events = run(commands)
    assert first_events == second_events
    assert first.snapshot() == second.snapshot()
    sequence = [
        e.seq for events in first_events for e in events if isinstance(e, (OrderAccepted, TradeExecuted))
    ]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)  # the book's own counter


@settings(max_examples=150, deadline=None)
@given(commands=streams, keep=st.lists(st.booleans(), min_size=80, max_size=80))
def test_events_a_caller_keeps_never_change_whatever_it_drops(commands, keep):
    """The compiled engine writes new events into records no one holds any more (engine.py); every
    event a caller still holds must keep its type and values through any later commands."""
    book = Book("CEA24", RULES, REFERENCE)
    kept: list[tuple[object, type, tuple[object, ...]]] = []
    for command, keeping in zip(commands, keep, strict=False):
        events = book.apply(command)
        if keeping:  # hold some events, drop the others with the list
            kept.extend((event, type(event), tuple(event)) for event in events[::2])
        del events
    for event, kind, values in kept:
        assert type(event) is kind and tuple(event) == values
