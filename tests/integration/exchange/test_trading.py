"""Listed orders through the Exchange service on SQLite and PostgreSQL: pre-trade refusals leave
books and balances untouched; fills settle at once with fees; holds are spent in part and released;
a restarted process rebuilds identical books from the journal."""

from __future__ import annotations

from datetime import timedelta

from carbonmarket.core.results import Done
from carbonmarket.registry import postings
from integration.exchange import trading_market
from integration.exchange.trading_market import (
    A_UNITS,
    ALICE,
    BOB,
    CAROL,
    FUNDS_FEN,
    OPERATOR,
    Market,
    done,
    refused,
)

market = trading_market.market
market_template = trading_market.market_template


def snapshot(market: Market) -> tuple[object, ...]:
    """Everything a refusal must leave as it was: the book and the parties' balances."""
    book = market.exchange.live_book("CEA24")
    return (
        None if book is None else book.snapshot(),
        market.balance("A-T", "CEA24"),
        market.balance("A-T", "CNY"),
        market.balance("B-T", "CEA24"),
        market.balance("B-T", "CNY"),
    )


def test_a_crossing_buy_settles_delivery_versus_payment_with_fees(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1_000))
    placed = done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_900, 600))
    # The fill is at the resting sell's price: 600 t × 98.00 = CNY 58,800.00 = 5,880,000 fen; each
    # side pays 5 bp of it, 2,940 fen (exchange.toml [fees.listed]).
    assert placed["trades"] == [
        {"trade_id": "CEA24-3", "price_fen": 9_800, "quantity": 600, "buyer": "B-T", "seller": "A-T"}
    ]
    assert market.balance("B-T", "CEA24") == (10_000 + 600, 0)
    assert market.balance("A-T", "CEA24") == (A_UNITS - 600, 400)  # the rest still reserved
    assert market.balance("B-T", "CNY") == (FUNDS_FEN - 5_880_000 - 2_940, 0)
    assert market.balance("A-T", "CNY") == (FUNDS_FEN + 5_880_000 - 2_940, 0)
    assert market.balance("CN-FEES", "CNY") == (5_880, 0)
    trade = market.exchange.trades(OPERATOR)[0]
    assert (trade["buyer_fee_fen"], trade["seller_fee_fen"], trade["modality"]) == (2_940, 2_940, "listed")
    assert market.registry.reconcile().ok


def test_partial_fills_spend_the_sell_hold_in_part_and_cancel_releases_the_rest(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1_000))
    done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_800, 300))
    done(market.exchange.place_order(CAROL, "c1", "C-T", "CEA24", "buy", 9_800, 200))
    with market.engine.connect() as connection:
        hold = postings.hold_state(connection, "@xo:s1")
    assert hold is not None
    assert (hold["quantity"], hold["posted"], hold["remaining"]) == (1_000, 500, 500)
    cancelled = done(market.exchange.cancel_order(ALICE, "x1", "s1"))
    assert (cancelled["status"], cancelled["filled"]) == ("cancelled", 500)
    assert market.balance("A-T", "CEA24") == (A_UNITS - 500, 0)
    assert market.exchange.book("CEA24")["asks"] == []
    assert market.registry.reconcile().ok


def test_a_buy_filled_below_its_limit_frees_the_difference(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_700, 100))
    # The buy reserved 100 × 99.00 + 5 bp = 990,000 + 495 fen; it paid 970,000 + 485 and gets the rest back.
    done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_900, 100))
    assert market.balance("B-T", "CNY") == (FUNDS_FEN - 970_000 - 485, 0)
    assert market.registry.reconcile().ok


def test_a_resting_buy_reserves_price_times_quantity_plus_fee(market: Market) -> None:
    done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_500, 1_000))
    # 1,000 t × 95.00 = 9,500,000 fen, plus 5 bp = 4,750 fen.
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 9_504_750)
    done(market.exchange.amend_order(BOB, "a1", "b1", quantity=400))
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 3_800_000 + 1_900)
    done(market.exchange.cancel_order(BOB, "x1", "b1"))
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)
    assert market.registry.reconcile().ok


ENGINE_REFUSALS = [
    ("9800.5", 10, "order_invalid_field"),  # fractions of a fen do not exist
    (10_800, 10, "order_price_outside_limit"),  # above 97.49 + 10% = 107.23
    (8_700, 10, "order_price_outside_limit"),  # below 97.49 - 10% = 87.74, rounded inward to 87.75
    (9_800, 100_000, "order_quantity_too_large"),  # listed orders are under 100,000 t
    (9_800, 0, "quantity_not_positive"),
    (-5, 10, "order_price_not_positive"),
]


def test_the_engine_refusals_leave_books_and_balances_untouched(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s0", "A-T", "CEA24", "sell", 9_900, 10))
    before = snapshot(market)
    for index, (price, quantity, code) in enumerate(ENGINE_REFUSALS):
        refused(
            market.exchange.place_order(ALICE, f"s{index + 1}", "A-T", "CEA24", "sell", price, quantity), code
        )
        assert snapshot(market) == before, code
    assert market.exchange.book("CEA24")["band_fen"] == [8_775, 10_723]
    assert market.registry.reconcile().ok


def test_selling_more_than_is_held_is_refused(market: Market) -> None:
    before = snapshot(market)
    refused(
        market.exchange.place_order(BOB, "s1", "B-T", "CEA24", "sell", 9_800, 10_001), "insufficient_balance"
    )
    refused(
        market.exchange.place_order(CAROL, "s2", "C-T", "CEA24", "sell", 9_800, 1), "insufficient_balance"
    )
    assert snapshot(market) == before


def test_allowances_bought_today_cannot_be_resold_today(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 500))
    done(market.exchange.place_order(CAROL, "b1", "C-T", "CEA24", "buy", 9_800, 500))
    before = snapshot(market)
    outcome = market.exchange.place_order(CAROL, "s2", "C-T", "CEA24", "sell", 9_800, 1)
    assert "T+1" in refused(outcome, "exchange_units_bought_today").message
    assert snapshot(market) == before
    market.clock.advance(timedelta(days=1))  # Wednesday: yesterday's purchase is tradable
    done(market.exchange.place_order(CAROL, "s3", "C-T", "CEA24", "sell", 9_800, 500))


def test_a_buy_beyond_available_funds_is_refused(market: Market) -> None:
    done(market.exchange.withdraw(BOB, "w1", "B-T", FUNDS_FEN - 1_000_000))
    before = snapshot(market)
    outcome = market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 10_000, 100)
    # 100 t × 100.00 = 1,000,000 fen plus 5 bp of fee, 500 fen: 500 fen more than B-T holds.
    assert refused(outcome, "exchange_insufficient_funds").details["needed_fen"] == 1_000_500
    assert snapshot(market) == before
    done(market.exchange.place_order(BOB, "b2", "B-T", "CEA24", "buy", 9_995, 100))  # 999,500 + 499


def test_orders_outside_the_sessions_are_refused(market: Market) -> None:
    market.clock.advance(timedelta(hours=1, minutes=30))  # 11:30 CST: the morning session has ended
    refused(
        market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1), "exchange_session_closed"
    )
    market.clock.advance(timedelta(hours=1, minutes=30))  # 13:00 CST: the afternoon session opens
    done(market.exchange.place_order(ALICE, "s2", "A-T", "CEA24", "sell", 9_800, 1))
    market.clock.advance(timedelta(days=4))  # Saturday
    refused(
        market.exchange.place_order(ALICE, "s3", "A-T", "CEA24", "sell", 9_800, 1), "exchange_session_closed"
    )


def test_a_duplicate_order_id_returns_the_first_result_or_is_refused(market: Market) -> None:
    first = market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 10)
    again = market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 10)
    assert isinstance(again, Done) and again.result == "exists" and again.data == done(first)
    before = snapshot(market)
    refused(
        market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_801, 10),
        "exists_with_different_fields",
    )
    refused(
        market.exchange.place_order(ALICE, "s1", "A-T", "CEA23", "sell", 9_801, 10),
        "exists_with_different_fields",
    )
    assert snapshot(market) == before


def test_members_order_only_for_their_own_trading_account(market: Market) -> None:
    refused(market.exchange.place_order(BOB, "s1", "A-T", "CEA24", "sell", 9_800, 10), "forbidden")
    refused(
        market.exchange.place_order(OPERATOR, "s2", "A-H", "CEA24", "sell", 9_800, 10),
        "exchange_not_trading_account",
    )
    refused(
        market.exchange.place_order(ALICE, "s3", "A-T", "CEA20", "sell", 9_800, 10),
        "exchange_instrument_not_listed",
    )
    done(market.exchange.place_order(ALICE, "s4", "A-T", "CEA24", "sell", 9_800, 10))
    refused(market.exchange.cancel_order(BOB, "x1", "s4"), "forbidden")
    refused(market.exchange.cancel_order(ALICE, "x2", "nope"), "order_not_found")


def test_self_trades_are_refused(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 10))
    refused(market.exchange.place_order(ALICE, "b1", "A-T", "CEA24", "buy", 9_800, 10), "order_self_trade")


def test_the_taker_picks_a_resting_order_among_the_best_five_levels(market: Market) -> None:
    for index, price in enumerate((9_800, 9_810, 9_820, 9_830, 9_840, 9_850)):
        done(market.exchange.place_order(ALICE, f"s{index}", "A-T", "CEA24", "sell", price, 100))
    picks = market.exchange.pickable("CEA24", "buy")
    assert [p["order_id"] for p in picks] == ["s0", "s1", "s2", "s3", "s4"]
    refused(
        market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_900, 50, "pick", "s5"),
        "pick_order_not_in_best_levels",
    )
    # Picking s3 trades at its price, 98.30, not at the best ask; the unfilled 20 t are cancelled.
    placed = done(market.exchange.place_order(BOB, "b2", "B-T", "CEA24", "buy", 9_900, 120, "pick", "s3"))
    assert [(t["price_fen"], t["quantity"]) for t in placed["trades"]] == [(9_830, 100)]
    assert placed["status"] == "cancelled"
    assert market.balance("B-T", "CNY") == (FUNDS_FEN - 983_000 - 491, 0)
    assert market.registry.reconcile().ok


def test_a_restarted_process_rebuilds_identical_books_from_the_journal(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1_000))
    done(market.exchange.place_order(ALICE, "s2", "A-T", "CEA24", "sell", 9_850, 500))
    done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_700, 300))
    done(market.exchange.place_order(CAROL, "b2", "C-T", "CEA24", "buy", 9_820, 1_200))
    done(market.exchange.amend_order(BOB, "a1", "b1", price_fen=9_710))
    done(market.exchange.cancel_order(ALICE, "x1", "s2"))
    live = market.exchange.live_book("CEA24")
    assert live is not None
    restarted = market.fresh_exchange()
    rebuilt = restarted.live_book("CEA24")
    assert rebuilt is not None and rebuilt.snapshot() == live.snapshot()
    # The restarted process keeps trading where the first left off, and the first catches up.
    done(restarted.place_order(ALICE, "s3", "A-T", "CEA24", "sell", 9_710, 300))
    caught_up = market.exchange.live_book("CEA24")
    assert caught_up is not None and caught_up.snapshot() == restarted.rebuild("CEA24").snapshot()  # type: ignore[union-attr]
    # s3 took C's 200 t left at 98.20, then 100 t of B's 300 t at 97.10.
    assert market.exchange.book("CEA24")["bids"] == [{"price_fen": 9_710, "quantity": 200, "orders": 1}]
    assert market.registry.reconcile().ok


def test_the_next_trading_day_expires_yesterdays_orders_and_releases_their_holds(market: Market) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1_000))
    done(market.exchange.place_order(BOB, "b1", "B-T", "CEA24", "buy", 9_800, 400))
    done(market.exchange.place_order(BOB, "b2", "B-T", "CEA24", "buy", 9_000, 100))
    market.clock.advance(timedelta(days=1))
    done(market.exchange.place_order(CAROL, "c1", "C-T", "CEA24", "buy", 9_000, 1))
    # Day orders: s1's 600 t and b2's funds are free again; the band follows Tuesday's close, 98.00.
    assert market.balance("A-T", "CEA24") == (A_UNITS - 400, 0)
    assert market.balance("B-T", "CNY")[1] == 0
    assert market.exchange.book("CEA24")["reference_price_fen"] == 9_800
    expired = {o["order_id"]: (o["status"], o["reason"]) for o in market.exchange.orders(OPERATOR)}
    assert expired["s1"] == ("cancelled", "expired") and expired["b2"] == ("cancelled", "expired")
    assert market.registry.reconcile().ok


def test_a_batch_applies_each_command_in_one_transaction(market: Market) -> None:
    commands = [
        {
            "type": "new",
            "order_id": "s1",
            "account": "A-T",
            "instrument": "CEA24",
            "side": "sell",
            "price_fen": 9_800,
            "quantity": 100,
        },
        {
            "type": "new",
            "order_id": "b1",
            "account": "B-T",
            "instrument": "CEA24",
            "side": "buy",
            "price_fen": 9_800,
            "quantity": 60,
        },
        {
            "type": "new",
            "order_id": "b2",
            "account": "B-T",
            "instrument": "CEA24",
            "side": "buy",
            "price_fen": 1,
            "quantity": 60,
        },
        {
            "type": "new",
            "order_id": "s1",
            "account": "A-T",
            "instrument": "CEA24",
            "side": "sell",
            "price_fen": 9_800,
            "quantity": 1,
        },
        {"type": "cancel", "order_id": "s1"},
    ]
    result = done(market.exchange.submit_many(OPERATOR, "batch-1", commands))
    assert (result["accepted"], result["refused"], result["trades"]) == (3, 2, 1)
    assert [r.get("code") for r in result["results"]] == [
        None,
        None,
        "order_price_outside_limit",
        "order_exists",
        None,
    ]
    assert market.balance("A-T", "CEA24") == (A_UNITS - 60, 0)
    rebuilt = market.exchange.rebuild("CEA24")
    live = market.exchange.live_book("CEA24")
    assert rebuilt is not None and live is not None and rebuilt.snapshot() == live.snapshot()
    again = market.exchange.submit_many(OPERATOR, "batch-1", commands)
    assert isinstance(again, Done) and again.result == "exists"
    assert market.registry.reconcile().ok


def test_order_and_bulk_holds_live_in_the_internal_id_space_no_client_id_can_take(market: Market) -> None:
    import pytest

    from carbonmarket.core.ids import check_id
    from carbonmarket.core.results import Refused
    from carbonmarket.exchange.service import order_hold_id
    from carbonmarket.exchange.settlement import ledger_id

    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 10))
    with market.engine.connect() as connection:
        held = postings.hold_state(connection, "@xo:s1")
    assert held is not None and held["remaining"] == 10
    # Amended reservations, over-long order ids and bulk confirmations all start with '@' too ...
    for hold_id in (order_hold_id("s1", 7), order_hold_id("x" * 64), ledger_id("bs", "offer-1")):
        assert hold_id.startswith("@") and len(hold_id) <= 64
        # ... and a client's own id (a registry freeze) may never start with '@'.
        with pytest.raises(Refused):
            check_id(hold_id)
