"""One-way bidding sessions end to end on SQLite and PostgreSQL: the notice, sealed bids with holds,
clearing with a seeded tie-break, settlement through B2's DvP with fees, refusals that change nothing,
and a reconciled ledger after each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from carbonmarket.exchange import journal
from carbonmarket.exchange.clearing import Bid, BiddingSpec, clear_bidding
from carbonmarket.exchange.settlement import exchange_rules
from integration.exchange.sessions_market import (
    AFTER,
    APPLIED,
    APPROVED,
    CLOSES,
    DURING,
    FUNDS_FEN,
    MEMBERS,
    OPENS,
    OPERATOR,
    SELLER,
    SELLER_UNITS,
    Market,
    attach_market,
    done,
    market_engine,
    market_template,
    refused,
)

B, C, D, E = (MEMBERS[h] for h in ("B", "C", "D", "E"))
# Monday 30 June 2025, 10:00 CST: a listed trade sets the previous close the notices are priced from.
TRADE_DAY = datetime(2025, 6, 30, 2, 0, tzinfo=UTC)
SEED = 20250716


__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test


@pytest.fixture
def market(market_engine: Engine) -> Market:
    return attach_market(market_engine, TRADE_DAY)


def publish(market: Market, session_id: str = "S1", **terms: Any) -> dict[str, Any]:
    """S applies on 1 July to sell (by default) 130,000 t of CEA24, the exchange publishes on 2 July."""
    market.at(APPLIED)
    fields: dict[str, Any] = {
        "account": "S-T",
        "side": "sell",
        "instrument": "CEA24",
        "quantity": 130_000,
        "limit_price_fen": 7_400,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "price_mode": "pay_as_bid",
    }
    fields.update(terms)
    done(market.sessions.apply(SELLER, session_id, **fields))
    market.at(APPROVED)
    return done(market.sessions.approve(OPERATOR, f"approve-{session_id}", session_id, seed=SEED))["session"]


def bid(market: Market, bidder: Any, bid_id: str, price_fen: int, quantity: int, session: str = "S1") -> Any:
    account = next(a for a, _ in bidder.rights)
    return market.sessions.bid(
        bidder, bid_id, session, account=account, price_fen=price_fen, quantity=quantity
    )


def fee(value_fen: int, modality: str = "bidding") -> int:
    """One side's fee (exchange.toml [fees]: bidding 3 bp, listed 5 bp, rounded down to the fen)."""
    return exchange_rules().fee(modality, value_fen, 0)


LISTED_FEE = fee(7_600_000, "listed")  # the listed trade of 1,000 t at 76.00 that sets the close


def test_the_first_sessions_worked_example_clears_130000_t_for_cny_9_77_million(market: Market) -> None:
    """Progress Report §4 [seed]: 130,000 t for CNY 9.77 million on 16 July 2025 — 75.15 CNY/t.

    Pay-as-bid: B wins 70,000 t at 75.50 (528,500,000 fen), C 60,000 t at 74.75 (448,500,000 fen);
    together 977,000,000 fen = CNY 9,770,000.00; 977,000,000 / 130,000 = 7,515.38 → 7,515 fen.
    D's 40,000 t at 74.10 loses and gets its whole hold back.
    """
    market.listed_trade("L1", 7_600, 1_000)  # previous close 76.00: band 68.40-83.60
    notice = publish(market)
    assert (notice["reference_close_fen"], notice["band_low_fen"], notice["band_high_fen"]) == (
        7_600,
        6_840,
        8_360,
    )
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS - 1_000, 130_000)
    market.at(DURING)
    done(bid(market, B, "b-1", 7_550, 70_000))
    done(bid(market, C, "c-1", 7_475, 60_000))
    done(bid(market, D, "d-1", 7_410, 40_000))
    assert market.balance("B-T", "CNY")[1] == 528_500_000 + fee(528_500_000)
    market.at(AFTER)
    result = done(market.sessions.close(OPERATOR, "close-S1", "S1"))["session"]["result"]
    assert result["cleared_quantity"] == 130_000
    assert result["cleared_value_fen"] == 977_000_000
    assert result["average_price_fen"] == 7_515
    assert [(b["bid"], b["status"], b["awarded_quantity"]) for b in result["bids"]] == [
        ("b-1", "won", 70_000),
        ("c-1", "won", 60_000),
        ("d-1", "lost", 0),
    ]
    # Seller: 130,000 t gone, 977,000,000 fen in, both sides' fees out; nothing still held.
    seller_fees = fee(528_500_000) + fee(448_500_000)
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS - 1_000 - 130_000, 0)
    assert market.balance("S-T", "CNY")[0] == FUNDS_FEN + 7_600_000 - LISTED_FEE + 977_000_000 - seller_fees
    assert market.balance("B-T", "CNY") == (
        FUNDS_FEN - 7_600_000 - LISTED_FEE - 528_500_000 - fee(528_500_000),
        0,
    )
    assert market.balance("D-T", "CNY") == (FUNDS_FEN, 0)
    assert market.balance("C-T", "CEA24") == (50_000 + 60_000, 0)
    assert market.registry.reconcile().ok


def test_uniform_pricing_charges_every_winner_the_lowest_winning_bid(market: Market) -> None:
    """The worked example's bids in uniform mode: all pay 74.75; 130,000 × 7,475 = 971,750,000 fen."""
    market.listed_trade("L1", 7_600, 1_000)
    publish(market, price_mode="uniform")
    market.at(DURING)
    done(bid(market, B, "b-1", 7_550, 70_000))
    done(bid(market, C, "c-1", 7_475, 60_000))
    market.at(AFTER)
    result = done(market.sessions.close(OPERATOR, "close-S1", "S1"))["session"]["result"]
    assert result["clearing_price_fen"] == 7_475
    assert result["cleared_value_fen"] == 971_750_000
    assert {b["bid"]: b["awarded_price_fen"] for b in result["bids"]} == {"b-1": 7_475, "c-1": 7_475}
    # B reserved funds at its own bid; the difference came back with the release.
    assert market.balance("B-T", "CNY") == (
        FUNDS_FEN - 7_600_000 - LISTED_FEE - 70_000 * 7_475 - fee(70_000 * 7_475),
        0,
    )
    assert market.registry.reconcile().ok


def test_the_marginal_bid_is_filled_in_part_and_the_rest_of_its_hold_released(market: Market) -> None:
    """100,000 t offered; 60,000 t at 98.00 and 60,000 t at 97.50 → the second gets 40,000 t."""
    publish(market, quantity=100_000, limit_price_fen=9_749)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_800, 60_000))
    done(bid(market, C, "c-1", 9_750, 60_000))
    market.at(AFTER)
    result = done(market.sessions.close(OPERATOR, "close-S1", "S1"))["session"]["result"]
    assert {b["bid"]: (b["status"], b["awarded_quantity"]) for b in result["bids"]} == {
        "b-1": ("won", 60_000),
        "c-1": ("partial", 40_000),
    }
    assert market.balance("C-T", "CNY") == (FUNDS_FEN - 40_000 * 9_750 - fee(40_000 * 9_750), 0)
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS - 100_000, 0)
    assert market.registry.reconcile().ok


def test_equal_bids_are_ranked_by_the_recorded_seeded_draw_and_anyone_can_redo_it(market: Market) -> None:
    """Three bids of 60,000 t at one price and one instant for 100,000 t: the seed decides who wins."""
    publish(market, quantity=100_000, limit_price_fen=9_749)
    market.at(DURING)
    for member, bid_id in ((B, "b-1"), (C, "c-1"), (D, "d-1")):
        done(bid(market, member, bid_id, 9_800, 60_000))
    market.at(AFTER)
    session = done(market.sessions.close(OPERATOR, "close-S1", "S1"))["session"]
    result = session["result"]
    assert result["seed"] == SEED
    [tie] = result["tie_breaks"]
    assert tie["candidates"] == ["b-1", "c-1", "d-1"] and sorted(tie["drawn"]) == tie["candidates"]
    # The published record is enough to redo the clearing and get the same awards.
    bids = [Bid(b["bid"], b["bid"], b["price_fen"], b["quantity"], tie["at"]) for b in result["bids"]]
    spec = BiddingSpec("S1", "CEA24", "sell", 100_000, 9_749, 10_723, "pay_as_bid", 100_000, 100_000)
    again = clear_bidding(spec, bids, result["seed"])
    assert [(a.bid_id, a.quantity) for a in again.awards] == [
        (b["bid"], b["awarded_quantity"])
        for b in sorted(result["bids"], key=lambda b: tie["drawn"].index(b["bid"]))
        if b["awarded_quantity"]
    ]
    first, second, third = tie["drawn"]
    awarded = {b["bid"]: b["awarded_quantity"] for b in result["bids"]}
    assert (awarded[first], awarded[second], awarded[third]) == (60_000, 40_000, 0)
    assert market.registry.reconcile().ok


def test_an_under_subscribed_session_is_cancelled_and_releases_every_hold(market: Market) -> None:
    publish(market, quantity=100_000, limit_price_fen=9_749, minimum_t=100_000)
    before_bids = market.balances()
    market.at(DURING)
    done(bid(market, B, "b-1", 9_800, 30_000))
    done(bid(market, C, "c-1", 9_760, 20_000))
    market.at(AFTER)
    session = done(market.sessions.close(OPERATOR, "close-S1", "S1"))["session"]
    assert session["status"] == "cancelled"
    assert "under-subscribed: 50000 t" in session["reason"]
    assert {b["status"] for b in session["result"]["bids"]} == {"released"}
    after = market.balances()
    assert after["S-T/CEA24"] == (SELLER_UNITS, 0)
    assert {k: v for k, v in after.items() if k != "S-T/CEA24"} == {
        k: v for k, v in before_bids.items() if k != "S-T/CEA24"
    }
    assert market.registry.reconcile().ok


def test_a_buy_session_holds_the_initiators_funds_and_bidders_units(market: Market) -> None:
    """S buys 100,000 t with a cap of 99.00; B and C offer; the lowest offers win, pay-as-bid."""
    notice = publish(market, side="buy", quantity=100_000, limit_price_fen=9_900, bidder_cap_t=50_000)
    assert notice["bid_range_fen"] == [8_775, 9_900]
    reserved = exchange_rules().buy_reservation("bidding", 9_900, 100_000)
    assert market.balance("S-T", "CNY") == (FUNDS_FEN, reserved)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_500, 50_000))
    done(bid(market, C, "c-1", 9_600, 50_000))
    assert market.balance("B-T", "CEA24") == (50_000, 50_000)
    market.at(AFTER)
    done(market.sessions.close(OPERATOR, "close-S1", "S1"))
    paid = 50_000 * 9_500 + 50_000 * 9_600
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS + 100_000, 0)
    assert market.balance("S-T", "CNY") == (FUNDS_FEN - paid - fee(50_000 * 9_500) - fee(50_000 * 9_600), 0)
    assert market.balance("B-T", "CEA24") == (0, 0)
    assert market.registry.reconcile().ok


BAD_BIDS = [
    ("B", 9_748, 10_000, "exchange_bid_below_reserve"),
    ("B", 10_724, 10_000, "exchange_bid_above_ceiling"),
    ("S", 9_800, 10_000, "exchange_bid_by_initiator"),
    ("B", 9_800, 60_001, "exchange_bid_over_bidder_cap"),
    ("B", 9_800, 0, "quantity_not_positive"),
    ("B", -5, 10_000, "exchange_bidding_invalid_price"),
]


def test_bad_bids_are_refused_and_change_nothing(market: Market) -> None:
    """Floor 97.49 (the reference close), ceiling 107.23 (97.49 + 10%, rounded down), cap 60,000 t."""
    publish(market, quantity=100_000, limit_price_fen=9_749, bidder_cap_t=60_000)
    market.at(DURING)
    before = market.balances()
    for who, price, quantity, code in BAD_BIDS:
        if who == "S":
            outcome = market.sessions.bid(
                SELLER, "s-1", "S1", account="S-T", price_fen=price, quantity=quantity
            )
        else:
            outcome = bid(market, B, "b-x", price, quantity)
        refused(outcome, code)
    assert market.balances() == before
    assert market.sessions.session("S1")["bids_received"] == 0
    # Within the cap a bidder may split its bids: 50,000 t then 10,000 t, but not 1 t more.
    done(bid(market, B, "b-1", 9_800, 50_000))
    done(bid(market, B, "b-2", 9_790, 10_000))
    refused(bid(market, B, "b-3", 9_790, 1), "exchange_bid_over_bidder_cap")


def test_a_bid_from_another_account_of_the_initiator_is_refused(market: Market) -> None:
    publish(market, quantity=100_000, limit_price_fen=9_749)
    market.at(DURING)
    sam = SELLER.__class__("sam", SELLER.role, SELLER.rights | {("S-T2", next(iter(SELLER.rights))[1])})
    outcome = market.sessions.bid(sam, "s-2", "S1", account="S-T2", price_fen=9_800, quantity=1_000)
    refused(outcome, "exchange_bid_by_initiator")


def test_bids_before_the_window_after_it_and_before_publication_are_refused(market: Market) -> None:
    market.at(APPLIED)
    done(
        market.sessions.apply(
            SELLER,
            "S1",
            account="S-T",
            side="sell",
            instrument="CEA24",
            quantity=100_000,
            limit_price_fen=9_749,
            opens_at=OPENS,
            closes_at=CLOSES,
        )
    )
    refused(bid(market, B, "b-0", 9_800, 1_000), "exchange_bidding_not_published")
    market.at(APPROVED)
    done(market.sessions.approve(OPERATOR, "approve-S1", "S1", seed=SEED))
    refused(bid(market, B, "b-1", 9_800, 1_000), "exchange_bidding_window_not_open")
    market.at(AFTER)
    refused(bid(market, B, "b-2", 9_800, 1_000), "exchange_bidding_window_closed")
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)


def test_clearing_waits_for_the_window_to_close_and_happens_once(market: Market) -> None:
    publish(market, quantity=100_000, limit_price_fen=9_749, minimum_t=0)
    market.at(DURING)
    refused(market.sessions.close(OPERATOR, "close-S1", "S1"), "exchange_bidding_window_still_open")
    market.at(AFTER)
    first = done(market.sessions.close(OPERATOR, "close-S1", "S1"))
    assert first["session"]["status"] == "cleared" and first["session"]["result"]["cleared_quantity"] == 0
    # The same command id answers with the first result; another id finds the session cleared.
    assert market.sessions.close(OPERATOR, "close-S1", "S1").result == "exists"  # type: ignore[union-attr]
    refused(market.sessions.close(OPERATOR, "close-again", "S1"), "exchange_bidding_not_published")
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS, 0)
    assert market.registry.reconcile().ok


BAD_APPLICATIONS: list[tuple[dict[str, Any], str]] = [
    ({"quantity": 99_999}, "exchange_bidding_lot_too_small"),
    ({"quantity": 10**9}, "quantity_too_large"),
    (
        {"opens_at": "2025-07-10T10:00:00+08:00", "closes_at": "2025-07-10T11:00:00+08:00"},
        "exchange_bidding_lead_time_too_short",
    ),
    (
        {"opens_at": "2025-07-19T10:00:00+08:00", "closes_at": "2025-07-19T11:00:00+08:00"},
        "exchange_bidding_window_invalid",
    ),
    ({"opens_at": "2025-07-16T08:00:00+08:00"}, "exchange_bidding_window_invalid"),
    ({"closes_at": "2025-07-16T09:59:00+08:00"}, "exchange_bidding_window_invalid"),
    ({"limit_price_fen": 8_774}, "exchange_bidding_price_outside_band"),
    ({"limit_price_fen": 10_724}, "exchange_bidding_price_outside_band"),
    ({"price_mode": "dutch"}, "exchange_bidding_invalid_price_mode"),
    ({"side": "both"}, "exchange_bidding_invalid_side"),
    ({"instrument": "CCER-P0001-2025"}, "exchange_instrument_not_listed"),
    ({"instrument": "CEA30"}, "unknown_instrument"),
    ({"account": "B-T"}, "forbidden"),
    ({"opens_at": "tomorrow"}, "exchange_bidding_invalid_time"),
    ({"bidder_cap_t": 100_001}, "quantity_too_large"),
]


def test_bad_applications_are_refused_with_codes(market: Market) -> None:
    """Lot ≥ 100,000 t, 10 working days ahead (1 July + 10 = 15 July), a trading day 09:30-15:00,
    floor within 97.49 ± 10% = 87.75-107.23 (rounded inward), a known mode and side, a defined
    allowance, one's own account, a bidder cap within the quantity."""
    market.at(APPLIED)
    for terms, code in BAD_APPLICATIONS:
        fields: dict[str, Any] = {
            "account": "S-T",
            "side": "sell",
            "instrument": "CEA24",
            "quantity": 100_000,
            "limit_price_fen": 9_749,
            "opens_at": OPENS,
            "closes_at": CLOSES,
        }
        fields.update(terms)
        refused(market.sessions.apply(SELLER, "S1", **fields), code)
    assert market.sessions.sessions() == []


def test_approval_needs_the_operator_in_time_and_units_in_place(market: Market) -> None:
    market.at(APPLIED)
    done(
        market.sessions.apply(
            SELLER,
            "S1",
            account="S-T",
            side="sell",
            instrument="CEA24",
            quantity=SELLER_UNITS + 1,
            limit_price_fen=9_749,
            opens_at=OPENS,
            closes_at=CLOSES,
        )
    )
    refused(market.sessions.approve(SELLER, "approve-S1", "S1"), "forbidden")
    refused(market.sessions.approve(OPERATOR, "approve-S1", "S1"), "insufficient_balance")
    # 10 July + 5 working days = 17 July: after the window of the 16th, too late to hold the units.
    market.at(datetime(2025, 7, 10, 2, 0, tzinfo=UTC))
    refused(market.sessions.approve(OPERATOR, "approve-S1b", "S1"), "exchange_bidding_approval_too_late")
    done(market.sessions.reject(OPERATOR, "reject-S1", "S1", "units not in place"))
    assert market.sessions.session("S1")["status"] == "rejected"
    assert market.balance("S-T", "CEA24") == (SELLER_UNITS, 0)


def test_every_session_command_is_journalled_on_the_bidding_stream(market: Market) -> None:
    publish(market, quantity=100_000, limit_price_fen=9_749, minimum_t=0)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_800, 1_000))
    refused(bid(market, B, "b-2", 1, 1_000), "exchange_bid_below_reserve")
    market.at(AFTER + timedelta(minutes=1))
    done(market.sessions.close(OPERATOR, "close-S1", "S1"))
    with market.engine.connect() as connection:
        entries = journal.read(connection, "bidding")
    # The refused bid rolled back with its journal row: only applied commands are in the journal.
    assert [e.command["type"] for e in entries] == ["apply", "approve", "bid", "close"]
    assert [e.seq for e in entries] == [1, 2, 3, 4]


def test_sealed_bids_are_shown_only_to_their_bidder_until_the_result(market: Market) -> None:
    publish(market, quantity=100_000, limit_price_fen=9_749, minimum_t=0)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_800, 1_000))
    public = market.sessions.session("S1")
    assert public["bids_received"] == 1 and public["my_bids"] == [] and "result" not in public
    assert "initiator_account" not in public
    mine = market.sessions.session("S1", B)
    assert [b["bid"] for b in mine["my_bids"]] == ["b-1"]
    assert market.sessions.session("S1", C)["my_bids"] == []
