"""Events and commands behave as frozen value records; lazy cancels keep the book exact and compact."""

from __future__ import annotations

import operator

import pytest

from carbonmarket.exchange.engine import _COMPACT_SLACK, COMPILED, Book
from carbonmarket.exchange.model import (
    CancelOrder,
    Level,
    ListedRules,
    MatchMode,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderRested,
    Side,
    TradeExecuted,
)

RULES = ListedRules(tick_fen=1, lot_t=1, order_quantity_max_t=99_999, price_band_bp=1_000)
AT = "2025-07-01T09:30:00+08:00"
BUY, SELL = Side.BUY, Side.SELL


def new(order_id: str, account: str, side: Side, price: int, quantity: int) -> NewOrder:
    return NewOrder(order_id, account, "CEA24", side, price, quantity, AT)


# Value semantics of the records (as the frozen dataclasses they replace) -------------------------


def test_an_event_equals_only_an_event_of_its_own_type_with_equal_fields():
    rested = OrderRested("b1", 10)
    assert rested == OrderRested("b1", 10) and operator.ne(rested, OrderRested("b1", 10)) is False
    assert rested != OrderRested("b1", 11)
    plain = ("b1", 10)
    assert operator.eq(rested, plain) is False and operator.eq(plain, rested) is False  # not a plain tuple
    assert operator.ne(rested, plain) is True and operator.ne(plain, rested) is True
    assert OrderCancelled("b1", 10, "x") != OrderRejected("b1", 10, "x")  # same values, other type


def test_events_hash_as_their_fields_so_equal_events_are_one_set_member():
    assert hash(OrderRested("b1", 10)) == hash(("b1", 10))  # as a frozen dataclass hashes
    assert len({OrderRested("b1", 10), OrderRested("b1", 10), OrderRested("b1", 9)}) == 2


def test_events_and_commands_cannot_be_changed_or_ordered():
    event = OrderAccepted("b1", "CEA24", BUY, 9_990, 10, 1)
    command = CancelOrder("b1", "A", AT)
    with pytest.raises(AttributeError):
        event.quantity = 11  # type: ignore[misc]
    with pytest.raises(AttributeError):
        command.account = "B"  # type: ignore[misc]
    with pytest.raises(TypeError):
        _ = OrderRested("a", 1) < OrderRested("b", 1)  # type: ignore[operator]


def test_a_record_prints_with_its_field_names():
    assert repr(OrderRested("b1", 10)) == "OrderRested(order_id='b1', remaining=10)"
    assert repr(CancelOrder("b1", "A", "t")) == "CancelOrder(order_id='b1', account='A', at='t')"


def test_the_engine_builds_events_equal_to_ones_built_by_name():
    b = Book("CEA24", RULES, 10_000)
    b.apply(new("s1", "A", SELL, 10_000, 4))
    events = b.apply(new("b1", "B", BUY, 10_000, 10))
    assert events == [
        OrderAccepted(order_id="b1", instrument="CEA24", side=BUY, price_fen=10_000, quantity=10, seq=2),
        TradeExecuted("CEA24-3", "CEA24", 10_000, 4, "b1", "s1", "B", "A", BUY, 3),
        OrderRested("b1", 6),
    ]
    assert all(type(e) in (OrderAccepted, TradeExecuted, OrderRested) for e in events)


# Lazy cancels ----------------------------------------------------------------------------------


def test_a_level_whose_orders_were_all_cancelled_neither_trades_nor_shows():
    b = Book("CEA24", RULES, 10_000)
    for i in range(3):
        b.apply(new(f"s{i}", "A", SELL, 10_000, 5))
    b.apply(new("s9", "A", SELL, 10_010, 5))
    for i in (1, 2, 0):  # the front order last, so the first two stay in the deque, dead
        b.apply(CancelOrder(f"s{i}", "A", AT))
    assert b.best(SELL) == 10_010 and b.depth(SELL) == [Level(10_010, 5, 1)]
    events = b.apply(new("b1", "B", BUY, 10_000, 5))  # would have met s0..s2, all gone
    assert events == [OrderAccepted("b1", "CEA24", BUY, 10_000, 5, 5), OrderRested("b1", 5)]


def test_a_sweep_skips_dead_orders_and_levels_left_with_only_dead_orders():
    b = Book("CEA24", RULES, 10_000)
    b.apply(new("a1", "A", SELL, 10_000, 5))
    b.apply(new("a2", "A", SELL, 10_000, 5))
    b.apply(new("a3", "A", SELL, 10_001, 5))
    b.apply(new("a4", "A", SELL, 10_001, 5))
    b.apply(new("a5", "A", SELL, 10_002, 5))
    b.apply(CancelOrder("a1", "A", AT))  # front: dropped at once
    b.apply(CancelOrder("a4", "A", AT))  # behind a3: stays, dead
    b.apply(CancelOrder("a3", "A", AT))  # 10_001 now holds only a dead order
    events = b.apply(new("b1", "B", BUY, 10_002, 20))
    fills = [(e.sell_order_id, e.price_fen, e.quantity) for e in events if isinstance(e, TradeExecuted)]
    assert fills == [("a2", 10_000, 5), ("a5", 10_002, 5)]  # 5 + 5 filled, 10 of 20 rest
    assert events[-1] == OrderRested("b1", 10)
    assert b.depth(SELL) == [] and b.depth(BUY) == [Level(10_002, 10, 1)]


def test_many_cancels_behind_a_long_lived_front_order_keep_the_levels_compact():
    b = Book("CEA24", RULES, 10_000)
    b.apply(new("front", "A", SELL, 10_000, 5))
    cancels = 5 * _COMPACT_SLACK
    for i in range(cancels):
        b.apply(new(f"s{i}", "A", SELL, 10_000, 1))
        assert b.apply(CancelOrder(f"s{i}", "A", AT)) == [OrderCancelled(f"s{i}", 1, "by_request")]
    level = b._asks[10_000]
    held = len(level.orders) - level.head  # the level: live orders plus dead ones not yet dropped
    assert held <= 1 + _COMPACT_SLACK + 1  # far below the 1 + 5 × slack it would hold without compaction
    assert b.depth(SELL) == [Level(10_000, 5, 1)] and b.snapshot()["accepted_orders"] == 1 + cancels


# Finished orders keep their records for the day; dropped event records are reused ------------


def test_a_finished_order_is_gone_for_every_command_but_its_id_stays_used_across_the_close():
    b = Book("CEA24", RULES, 10_000)
    b.apply(new("s1", "A", SELL, 10_000, 5))
    b.apply(new("b1", "B", BUY, 10_000, 5))  # fills s1 whole; b1 never rests
    b.apply(new("s2", "A", SELL, 10_010, 5))
    b.apply(CancelOrder("s2", "A", AT))
    for gone, account in (("s1", "A"), ("s2", "A"), ("b1", "B")):
        assert b.order(gone) is None
        assert b.apply(CancelOrder(gone, account, AT))[0].code == "order_not_found"
    picked = b.apply(NewOrder("b2", "B", "CEA24", BUY, 10_010, 5, AT, MatchMode.PICK, "s2"))
    assert picked[0].code == "pick_order_not_in_best_levels"  # a cancelled order cannot be picked
    assert b.depth(SELL) == [] and b.resting_orders() == []
    b.apply(new("s3", "A", SELL, 10_020, 5))
    b.expire_all()
    assert set(b._orders.values()) == {None}  # the close drops every finished record
    for used in ("s1", "s2", "s3", "b1"):
        assert b.apply(new(used, "A", SELL, 10_000, 1))[0].code == "order_exists"


def test_a_dropped_event_record_is_reused_in_place_and_a_kept_one_never_changes():
    b = Book("CEA24", RULES, 10_000)
    first = b.apply(new("b1", "B", BUY, 9_990, 5))
    accepted_at = id(first[0])
    kept = first[1]  # the caller keeps OrderRested("b1", 5) and drops the rest
    del first
    second = b.apply(new("b2", "B", BUY, 9_991, 7))
    if COMPILED:  # the OrderAccepted nobody held was rewritten in place (interpreted, records are
        assert id(second[0]) == accepted_at  # new, and a new one may land at the freed address)
    assert second == [OrderAccepted("b2", "CEA24", BUY, 9_991, 7, 2), OrderRested("b2", 7)]
    assert kept == OrderRested("b1", 5) and second[1] is not kept
    third = b.apply(new("b3", "B", BUY, 9_992, 9))  # `second` is still held: nothing of it is reused
    assert {id(e) for e in third}.isdisjoint({id(e) for e in second})
    assert second == [OrderAccepted("b2", "CEA24", BUY, 9_991, 7, 2), OrderRested("b2", 7)]
