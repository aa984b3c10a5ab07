"""The listed-agreement matching engine: price-time, PICK mode, bands, refusals, cancel, amend."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonmarket.core.results import Code
from carbonmarket.exchange.engine import Book
from carbonmarket.exchange.model import (
    AmendOrder,
    CancelOrder,
    Level,
    ListedRules,
    MatchMode,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderRested,
    Side,
    TradeExecuted,
    command_as_json,
    command_from_json,
    command_text,
    event_as_json,
    price_band,
)

RULES = ListedRules(tick_fen=1, lot_t=1, order_quantity_max_t=99_999, price_band_bp=1_000)
AT = "2025-07-01T09:30:00+08:00"
BUY, SELL = Side.BUY, Side.SELL


def book(reference: int = 10_000, rules: ListedRules = RULES) -> Book:
    return Book("CEA24", rules, reference)


def new(order_id: str, account: str, side: Side, price: int, quantity: int, **extra: object) -> NewOrder:
    return NewOrder(order_id, account, "CEA24", side, price, quantity, AT, **extra)  # type: ignore[arg-type]


def trades(events: list[object]) -> list[tuple[int, int, str, str]]:
    return [
        (e.price_fen, e.quantity, e.buy_order_id, e.sell_order_id)
        for e in events
        if isinstance(e, TradeExecuted)
    ]


def rejection(events: list[object]) -> str:
    assert len(events) == 1 and isinstance(events[0], OrderRejected), events
    return events[0].code


# Price-time priority ------------------------------------------------------------------------------


def test_an_order_that_does_not_cross_rests_with_its_seq():
    b = book()
    events = b.apply(new("b1", "A", BUY, 9_990, 10))
    assert events == [OrderAccepted("b1", "CEA24", BUY, 9_990, 10, 1), OrderRested("b1", 10)]
    assert b.depth(BUY) == [Level(9_990, 10, 1)]
    assert b.next_seq == 2


def test_a_crossing_order_trades_at_the_resting_price_not_its_own():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 10))
    events = b.apply(new("b1", "B", BUY, 10_050, 10))
    (trade,) = [e for e in events if isinstance(e, TradeExecuted)]
    assert (trade.price_fen, trade.quantity, trade.aggressor) == (10_000, 10, BUY)
    assert (trade.buy_account, trade.sell_account) == ("B", "A")
    assert trade.trade_id == "CEA24-3" and trade.seq == 3  # s1 seq 1, b1 seq 2, the trade seq 3
    assert b.depth(SELL) == [] and b.depth(BUY) == []


def test_earlier_orders_at_the_same_price_fill_first():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 5))
    b.apply(new("s2", "C", SELL, 10_000, 5))
    events = b.apply(new("b1", "B", BUY, 10_000, 7))
    # 7 t: all 5 of s1 (first in time), then 2 of s2.
    assert trades(events) == [(10_000, 5, "b1", "s1"), (10_000, 2, "b1", "s2")]
    assert b.order("s2").remaining == 3
    assert b.order("s1") is None


def test_a_better_price_fills_before_an_earlier_worse_one():
    b = book()
    b.apply(new("s1", "A", SELL, 10_010, 5))
    b.apply(new("s2", "C", SELL, 10_000, 5))
    events = b.apply(new("b1", "B", BUY, 10_010, 5))
    assert trades(events) == [(10_000, 5, "b1", "s2")]


def test_a_large_order_sweeps_several_levels_and_rests_the_remainder():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 3))
    b.apply(new("s2", "A", SELL, 10_001, 4))
    b.apply(new("s3", "A", SELL, 10_005, 5))
    events = b.apply(new("b1", "B", BUY, 10_002, 10))
    # 3 at 10_000 + 4 at 10_001 = 7 filled; 10_005 is above the limit; 10 − 7 = 3 rest at 10_002.
    assert trades(events) == [(10_000, 3, "b1", "s1"), (10_001, 4, "b1", "s2")]
    assert events[-1] == OrderRested("b1", 3)
    assert b.depth(BUY) == [Level(10_002, 3, 1)]
    assert b.depth(SELL) == [Level(10_005, 5, 1)]


def test_a_sell_order_sweeps_bids_from_the_highest_down():
    b = book()
    b.apply(new("b1", "A", BUY, 9_990, 5))
    b.apply(new("b2", "A", BUY, 9_995, 5))
    events = b.apply(new("s1", "B", SELL, 9_990, 8))
    assert trades(events) == [(9_995, 5, "b2", "s1"), (9_990, 3, "b1", "s1")]
    assert all(e.aggressor == SELL for e in events if isinstance(e, TradeExecuted))
    assert b.depth(BUY) == [Level(9_990, 2, 1)]


def test_a_partial_fill_keeps_the_resting_order_at_the_front():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 10))
    b.apply(new("s2", "C", SELL, 10_000, 10))
    b.apply(new("b1", "B", BUY, 10_000, 4))
    events = b.apply(new("b2", "D", BUY, 10_000, 4))
    assert trades(events) == [(10_000, 4, "b2", "s1")]
    assert b.depth(SELL) == [Level(10_000, 12, 2)]  # 6 left of s1 + 10 of s2 − 4 = 12


def test_depth_lists_the_best_five_levels_best_first():
    b = book()
    for i, price in enumerate([10_003, 10_001, 10_006, 10_002, 10_005, 10_004, 10_000]):
        b.apply(new(f"s{i}", "A", SELL, price, 1 + i))
    assert [lv.price_fen for lv in b.depth(SELL)] == [10_000, 10_001, 10_002, 10_003, 10_004]
    assert [lv.price_fen for lv in b.depth(SELL, 2)] == [10_000, 10_001]


# PICK mode (SEEE) ---------------------------------------------------------------------------------


def pick_book() -> Book:
    b = book()
    for i in range(7):  # seven ask levels 10_000 .. 10_006, 10 t each
        b.apply(new(f"s{i}", f"S{i}", SELL, 10_000 + i, 10))
    return b


def test_pick_trades_with_the_named_order_at_its_price():
    b = pick_book()
    events = b.apply(new("b1", "B", BUY, 10_004, 6, mode=MatchMode.PICK, pick_order_id="s3"))
    assert trades(events) == [(10_003, 6, "b1", "s3")]  # s0..s2 are cheaper but not picked
    assert b.order("s3").remaining == 4
    assert b.order("s0").remaining == 10


def test_pick_cancels_the_takers_unfilled_rest():
    b = pick_book()
    events = b.apply(new("b1", "B", BUY, 10_004, 15, mode=MatchMode.PICK, pick_order_id="s4"))
    assert trades(events) == [(10_004, 10, "b1", "s4")]
    assert events[-1] == OrderCancelled("b1", 5, "pick_remainder")  # 15 − 10
    assert b.order("b1") is None and b.depth(BUY) == []
    assert b.order("s4") is None


def test_pick_refuses_an_order_beyond_the_best_five_levels():
    b = pick_book()
    before = b.snapshot()
    events = b.apply(new("b1", "B", BUY, 10_006, 5, mode=MatchMode.PICK, pick_order_id="s5"))
    assert rejection(events) == Code.PICK_ORDER_NOT_IN_BEST_LEVELS
    assert "best 5" in events[0].message
    assert b.snapshot() == before


def test_pick_refuses_an_order_on_the_same_side_or_unknown():
    b = pick_book()
    assert rejection(b.apply(new("x1", "B", SELL, 10_000, 1, mode=MatchMode.PICK, pick_order_id="s0"))) == (
        Code.PICK_ORDER_NOT_IN_BEST_LEVELS
    )
    assert rejection(b.apply(new("x2", "B", BUY, 10_000, 1, mode=MatchMode.PICK, pick_order_id="nope"))) == (
        Code.PICK_ORDER_NOT_IN_BEST_LEVELS
    )


def test_pick_refuses_a_price_beyond_the_takers_limit():
    b = pick_book()
    events = b.apply(new("b1", "B", BUY, 10_001, 5, mode=MatchMode.PICK, pick_order_id="s2"))
    assert rejection(events) == Code.PICK_PRICE_BEYOND_LIMIT


def test_pick_needs_an_order_and_auto_must_not_name_one():
    b = pick_book()
    assert rejection(b.apply(new("b1", "B", BUY, 10_001, 5, mode=MatchMode.PICK))) == Code.PICK_ORDER_REQUIRED
    assert (
        rejection(b.apply(new("b2", "B", BUY, 10_001, 5, pick_order_id="s0"))) == Code.PICK_ORDER_UNEXPECTED
    )


# Bands from the reference price -------------------------------------------------------------------


def test_the_band_is_ten_percent_either_side_with_both_edges_inside():
    b = book(10_000)  # ±10% of CNY 100.00 = 90.00 .. 110.00
    assert b.band == (9_000, 11_000)
    assert isinstance(b.apply(new("b1", "A", BUY, 9_000, 1))[0], OrderAccepted)
    assert isinstance(b.apply(new("s1", "B", SELL, 11_000, 1))[0], OrderAccepted)
    assert rejection(b.apply(new("b2", "A", BUY, 8_999, 1))) == Code.ORDER_PRICE_OUTSIDE_LIMIT
    assert rejection(b.apply(new("s2", "B", SELL, 11_001, 1))) == Code.ORDER_PRICE_OUTSIDE_LIMIT


def test_band_edges_round_inward_to_the_tick():
    # 97.49 CNY × 0.9 = 87.741 → 8_775 fen at a 1-fen tick; × 1.1 = 107.239 → 10_723.
    assert price_band(9_749, RULES) == (8_775, 10_723)
    # With a 5-fen tick: 8_775 is on the tick; 10_723 rounds down to 10_720.
    assert price_band(9_749, dataclasses.replace(RULES, tick_fen=5)) == (8_775, 10_720)
    # 60.05 × 0.9 = 54.045 → ceil 5_405; at a 10-fen tick → 5_410 (inward, not 5_400).
    assert price_band(6_005, dataclasses.replace(RULES, tick_fen=10)) == (5_410, 6_600)


def test_a_new_reference_price_moves_the_band():
    b = book(10_000)
    b.set_reference_price(9_000)
    assert b.band == (8_100, 9_900)
    assert rejection(b.apply(new("b1", "A", BUY, 10_000, 1))) == Code.ORDER_PRICE_OUTSIDE_LIMIT


def test_moving_the_band_away_from_resting_orders_is_refused_until_they_expire():
    b = book(10_000)
    b.apply(new("b1", "A", BUY, 10_500, 1))
    with pytest.raises(ValueError, match="outside the new band"):
        b.set_reference_price(9_000)
    assert b.band == (9_000, 11_000)
    assert b.expire_all() == [OrderCancelled("b1", 1, "expired")]
    b.set_reference_price(9_000)
    assert b.band == (8_100, 9_900)


def test_numbers_beyond_the_engines_64_bit_fields_are_refused_when_the_book_is_made():
    """Compiled, prices, quantities and seqs are C 64-bit integers: a book whose band, rules or
    next seq could not fit them is refused in both builds, and the book's band stays as it was."""
    with pytest.raises(ValueError, match="beyond 2\\*\\*62 fen"):
        book(2**62)
    with pytest.raises(ValueError, match="next_seq must be a positive integer below 2"):
        Book("CEA24", RULES, 10_000, next_seq=2**62)
    with pytest.raises(ValueError, match="order_quantity_max_t must be below 2"):
        book(rules=dataclasses.replace(RULES, order_quantity_max_t=2**62))
    b = book(10_000)
    with pytest.raises(ValueError, match="beyond 2"):
        b.set_reference_price(2**62 - 1)
    assert b.band == (9_000, 11_000)
    just_fits = Book("CEA24", RULES, 10_000, next_seq=2**62 - 1)
    assert just_fits.apply(new("b1", "A", BUY, 10_000, 1))[0].seq == 2**62 - 1


# Tick, lot, size and identity refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "quantity", "code"),
    [
        (10_000.0, 1, Code.ORDER_PRICE_NOT_INTEGER),
        (0, 1, Code.ORDER_PRICE_NOT_POSITIVE),
        (-5, 1, Code.ORDER_PRICE_NOT_POSITIVE),
        (10_000, 0, Code.QUANTITY_NOT_POSITIVE),
        (10_000, -3, Code.QUANTITY_NOT_POSITIVE),
        (10_000, 1.5, Code.QUANTITY_NOT_INTEGER),
        (10_000, 100_000, Code.ORDER_QUANTITY_TOO_LARGE),
        (10_000, 10**12, Code.ORDER_QUANTITY_TOO_LARGE),
    ],
)
def test_bad_prices_and_quantities_are_refused_and_change_nothing(price, quantity, code):
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 5))
    before = b.snapshot()
    assert rejection(b.apply(new("b1", "B", BUY, price, quantity))) == code
    assert b.snapshot() == before


def test_the_largest_order_is_99_999_tonnes():
    assert isinstance(book().apply(new("b1", "A", BUY, 10_000, 99_999))[0], OrderAccepted)


def test_a_price_off_the_tick_and_a_quantity_off_the_lot_are_refused():
    b = book(rules=ListedRules(tick_fen=5, lot_t=10, order_quantity_max_t=99_990, price_band_bp=1_000))
    assert rejection(b.apply(new("b1", "A", BUY, 10_002, 10))) == Code.ORDER_PRICE_OFF_TICK
    assert rejection(b.apply(new("b2", "A", BUY, 10_005, 15))) == Code.ORDER_QUANTITY_NOT_LOT_MULTIPLE
    assert isinstance(b.apply(new("b3", "A", BUY, 10_005, 20))[0], OrderAccepted)


def test_a_duplicate_order_id_is_refused_even_after_the_first_has_filled():
    b = book()
    b.apply(new("o1", "A", SELL, 10_000, 5))
    assert rejection(b.apply(new("o1", "B", BUY, 10_000, 5))) == Code.ORDER_EXISTS
    b.apply(new("o2", "B", BUY, 10_000, 5))  # fills o1 completely
    assert b.order("o1") is None
    assert rejection(b.apply(new("o1", "C", SELL, 10_000, 5))) == Code.ORDER_EXISTS


def test_an_order_for_another_instrument_is_refused():
    b = book()
    events = b.apply(NewOrder("o1", "A", "CEA23", BUY, 10_000, 5, AT))
    assert rejection(events) == Code.ORDER_WRONG_INSTRUMENT


def test_a_side_given_as_plain_text_is_accepted_and_normalised():
    b = book()
    events = b.apply(NewOrder("o1", "A", "CEA24", "buy", 10_000, 5, AT))  # type: ignore[arg-type]
    assert events[0].side is Side.BUY


def test_an_unknown_side_is_refused():
    assert rejection(book().apply(NewOrder("o1", "A", "CEA24", "hold", 10_000, 5, AT))) == (  # type: ignore[arg-type]
        Code.ORDER_INVALID_FIELD
    )


# Self-trade prevention -------------------------------------------------------------------------


def test_an_order_that_would_meet_its_own_account_is_refused_whole():
    b = book()
    b.apply(new("s1", "X", SELL, 10_000, 5))
    b.apply(new("s2", "A", SELL, 10_001, 5))
    before = b.snapshot()
    # A buy of 10 from A would take s1 (X) and then reach s2, A's own: nothing trades.
    events = b.apply(new("b1", "A", BUY, 10_001, 10))
    assert rejection(events) == Code.ORDER_SELF_TRADE
    assert "s2" in events[0].message
    assert b.snapshot() == before


def test_an_own_order_beyond_what_would_fill_does_not_block():
    b = book()
    b.apply(new("s1", "X", SELL, 10_000, 5))
    b.apply(new("s2", "A", SELL, 10_000, 5))
    events = b.apply(new("b1", "A", BUY, 10_000, 5))  # fills s1 only; s2 is never reached
    assert trades(events) == [(10_000, 5, "b1", "s1")]


def test_pick_of_an_own_order_is_refused():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 5))
    events = b.apply(new("b1", "A", BUY, 10_000, 5, mode=MatchMode.PICK, pick_order_id="s1"))
    assert rejection(events) == Code.ORDER_SELF_TRADE


# Cancel -----------------------------------------------------------------------------------------


def test_cancel_removes_the_remainder_and_the_level():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 10))
    b.apply(new("b1", "B", BUY, 10_000, 4))
    assert b.apply(CancelOrder("s1", "A", AT)) == [OrderCancelled("s1", 6, "by_request")]
    assert b.depth(SELL) == []
    assert b.order("s1") is None


def test_a_cancelled_order_in_the_middle_of_a_level_is_skipped_by_matching():
    b = book()
    for i in range(3):
        b.apply(new(f"s{i}", f"S{i}", SELL, 10_000, 5))
    b.apply(CancelOrder("s1", "S1", AT))
    assert b.depth(SELL) == [Level(10_000, 10, 2)]
    events = b.apply(new("b1", "B", BUY, 10_000, 10))
    assert trades(events) == [(10_000, 5, "b1", "s0"), (10_000, 5, "b1", "s2")]


def test_cancel_of_an_unknown_or_filled_order_is_refused():
    b = book()
    assert rejection(b.apply(CancelOrder("nope", "A", AT))) == Code.ORDER_NOT_FOUND
    b.apply(new("s1", "A", SELL, 10_000, 5))
    b.apply(new("b1", "B", BUY, 10_000, 5))
    assert rejection(b.apply(CancelOrder("s1", "A", AT))) == Code.ORDER_NOT_FOUND


def test_cancel_by_another_account_is_refused():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 5))
    before = b.snapshot()
    assert rejection(b.apply(CancelOrder("s1", "B", AT))) == Code.ORDER_NOT_OWNED
    assert b.snapshot() == before


# Amend ------------------------------------------------------------------------------------------


def amend_book() -> Book:
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 10))
    b.apply(new("s2", "C", SELL, 10_000, 10))
    return b


def test_a_size_cut_keeps_time_priority():
    b = amend_book()
    assert b.apply(AmendOrder("s1", "A", AT, quantity=4)) == [OrderAmended("s1", 10_000, 4, 4)]
    events = b.apply(new("b1", "B", BUY, 10_000, 6))
    assert trades(events) == [(10_000, 4, "b1", "s1"), (10_000, 2, "b1", "s2")]


def test_a_size_increase_loses_time_priority():
    b = amend_book()
    b.apply(AmendOrder("s1", "A", AT, quantity=12))
    events = b.apply(new("b1", "B", BUY, 10_000, 6))
    assert trades(events) == [(10_000, 6, "b1", "s2")]
    assert b.order("s1").seq > b.order("s2").seq


def test_a_price_change_loses_time_priority_even_when_moved_back():
    b = amend_book()
    b.apply(AmendOrder("s1", "A", AT, price_fen=10_001))
    b.apply(AmendOrder("s1", "A", AT, price_fen=10_000))
    events = b.apply(new("b1", "B", BUY, 10_000, 6))
    assert trades(events) == [(10_000, 6, "b1", "s2")]


def test_an_amend_that_crosses_trades_at_the_resting_price():
    b = book()
    b.apply(new("s1", "A", SELL, 10_010, 5))
    b.apply(new("b1", "B", BUY, 10_000, 8))
    events = b.apply(AmendOrder("b1", "B", AT, price_fen=10_010))
    assert events[0] == OrderAmended("b1", 10_010, 8, 8)
    assert trades(events) == [(10_010, 5, "b1", "s1")]
    assert events[-1] == OrderRested("b1", 3)
    assert b.depth(BUY) == [Level(10_010, 3, 1)]


def test_an_amend_keeps_the_filled_part_in_the_total():
    b = book()
    b.apply(new("s1", "A", SELL, 10_000, 10))
    b.apply(new("b1", "B", BUY, 10_000, 4))  # s1: 4 filled, 6 left
    assert b.apply(AmendOrder("s1", "A", AT, quantity=7)) == [OrderAmended("s1", 10_000, 7, 3)]  # 7 − 4 = 3
    assert rejection(b.apply(AmendOrder("s1", "A", AT, quantity=4))) == Code.ORDER_AMEND_BELOW_FILLED


def test_amend_refusals_leave_the_book_alone():
    b = amend_book()
    before = b.snapshot()
    assert rejection(b.apply(AmendOrder("s1", "A", AT))) == Code.ORDER_AMEND_NO_CHANGE
    assert rejection(b.apply(AmendOrder("s1", "B", AT, quantity=3))) == Code.ORDER_NOT_OWNED
    assert rejection(b.apply(AmendOrder("zz", "A", AT, quantity=3))) == Code.ORDER_NOT_FOUND
    assert rejection(b.apply(AmendOrder("s1", "A", AT, price_fen=20_000))) == Code.ORDER_PRICE_OUTSIDE_LIMIT
    assert rejection(b.apply(AmendOrder("s1", "A", AT, quantity=100_000))) == Code.ORDER_QUANTITY_TOO_LARGE
    assert b.snapshot() == before


def test_an_amend_into_an_own_order_is_refused():
    b = book()
    b.apply(new("b1", "A", BUY, 9_990, 5))
    b.apply(new("s1", "A", SELL, 10_000, 5))
    assert rejection(b.apply(AmendOrder("b1", "A", AT, price_fen=10_000))) == Code.ORDER_SELF_TRADE


# Determinism and the JSON forms -------------------------------------------------------------------


def test_the_same_commands_give_the_same_events_and_snapshot():
    commands = [
        new("s1", "A", SELL, 10_000, 10),
        new("s2", "C", SELL, 10_002, 10),
        new("b1", "B", BUY, 10_001, 15),
        AmendOrder("s2", "C", AT, price_fen=10_001),
        CancelOrder("b1", "B", AT),
        new("b2", "D", BUY, 10_002, 3, mode=MatchMode.PICK, pick_order_id="s2"),
    ]
    first, second = book(), book()
    assert [first.apply(c) for c in commands] == [second.apply(c) for c in commands]
    assert first.snapshot() == second.snapshot()


def test_commands_and_events_round_trip_through_json():
    command = new("b1", "B", BUY, 10_000, 3, mode=MatchMode.PICK, pick_order_id="s2")
    assert command_from_json(command_as_json(command)) == command
    amend = AmendOrder("s1", "A", AT, quantity=4)
    assert command_from_json(command_as_json(amend)) == amend
    body = event_as_json(OrderAccepted("b1", "CEA24", BUY, 10_000, 3, 7))
    assert body == {
        "type": "order_accepted",
        "order_id": "b1",
        "instrument": "CEA24",
        "side": "buy",
        "price_fen": 10_000,
        "quantity": 3,
        "seq": 7,
    }


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"type": "launch"},
        {
            "type": "new",
            "order_id": "o",
            "account": "A",
            "instrument": "CEA24",
            "side": "buy",
            "price_fen": 1,
        },
        {"type": "cancel", "order_id": "o", "account": "A", "at": AT, "extra": 1},
        {
            "type": "new",
            "order_id": "o",
            "account": "A",
            "instrument": "I",
            "side": "up",
            "price_fen": 1,
            "quantity": 1,
            "at": AT,
        },
        {"type": "amend", "order_id": "o", "account": "A", "at": AT, "price_fen": "100"},
    ],
)
def test_malformed_command_json_is_refused_with_a_code(body):
    from carbonmarket.core.results import Refused

    with pytest.raises(Refused) as raised:
        command_from_json(body)
    assert raised.value.refusal.code == Code.ORDER_INVALID_FIELD


def test_listed_rules_refuse_values_no_market_could_mean():
    with pytest.raises(ValueError):
        ListedRules(tick_fen=0, lot_t=1, order_quantity_max_t=10, price_band_bp=1_000)
    with pytest.raises(ValueError):
        ListedRules(tick_fen=1, lot_t=1, order_quantity_max_t=10, price_band_bp=10_000)


def test_a_cancel_naming_no_text_id_is_refused_not_crashed():
    assert rejection(book().apply(CancelOrder(["o1"], "A", AT))) == Code.ORDER_INVALID_FIELD  # type: ignore[arg-type]


_texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_maybe_int = st.none() | st.integers(-(2**70), 2**70)
_any_commands = st.one_of(
    st.builds(
        NewOrder,
        _texts,
        _texts,
        _texts,
        st.sampled_from(list(Side)),
        st.integers(-(2**70), 2**70),
        st.integers(-(2**70), 2**70),
        _texts,
        st.sampled_from(list(MatchMode)),
        st.none() | _texts,
    ),
    st.builds(CancelOrder, _texts, _texts, _texts),
    st.builds(AmendOrder, _texts, _texts, _texts, _maybe_int, _maybe_int),
)


@given(command=_any_commands)
@settings(max_examples=300, deadline=None)
def test_a_commands_journal_text_is_the_canonical_json_of_its_json_object(command: object) -> None:
    """command_text builds the journal's text without the object or sort_keys: it must be the same text,
    and it reads back as the same command."""
    canonical = json.dumps(command_as_json(command), sort_keys=True, separators=(",", ":"))  # type: ignore[arg-type]
    assert command_text(command) == canonical  # type: ignore[arg-type]
    assert json.loads(command_text(command)) == command_as_json(command)  # type: ignore[arg-type]
