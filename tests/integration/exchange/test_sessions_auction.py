"""Primary auctions end to end on SQLite and PostgreSQL: a reserve price, a uniform clearing price,
cancellation when under-subscribed or significantly under the secondary price, unsold volume spread
over the next auctions, proceeds to CN-AUCTION-PROCEEDS, and a reconciled ledger after each."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from carbonmarket.exchange import store as trading_store
from integration.exchange.sessions_market import (
    AFTER,
    APPLIED,
    CLOSES,
    DURING,
    FUNDS_FEN,
    MEMBERS,
    OPENS,
    OPERATOR,
    REGULATOR,
    Market,
    attach_market,
    done,
    market_engine,
    market_template,
    refused,
)

__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test

B, C, D = (MEMBERS[h] for h in ("B", "C", "D"))
SEED = 7


@pytest.fixture
def market(market_engine: Engine) -> Market:
    return attach_market(market_engine, APPLIED)


def create(market: Market, auction_id: str = "A1", quantity: int = 100_000, **terms: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "instrument": "CEA24",
        "quantity": quantity,
        "reserve_price_fen": 8_000,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "issue": True,
        "seed": SEED,
    }
    fields.update(terms)
    return done(market.sessions.create_auction(REGULATOR, auction_id, **fields))["auction"]


def bid(market: Market, bidder: Any, bid_id: str, price_fen: int, quantity: int, auction: str = "A1") -> Any:
    account = next(a for a, _ in bidder.rights)
    return market.sessions.auction_bid(
        bidder, bid_id, auction, account=account, price_fen=price_fen, quantity=quantity
    )


def test_an_auction_sells_at_one_clearing_price_and_pays_the_proceeds_account(market: Market) -> None:
    """100,000 t; bids 60,000 t at 90.00, 50,000 t at 88.00, 20,000 t at 85.00 → all pay 88.00.

    The secondary price is CEA24's reference close 97.49; 88.00 is above 90% of it (87.75, rounded up
    from 87.741), so the auction clears: B 60,000 t, C 40,000 t; 100,000 × 8,800 = 880,000,000 fen.
    """
    create(market)
    assert market.balance("CN-AUCTION", "CEA24") == (100_000, 100_000)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_000, 60_000))
    done(bid(market, C, "c-1", 8_800, 50_000))
    done(bid(market, D, "d-1", 8_500, 20_000))
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 60_000 * 9_000)
    market.at(AFTER)
    auction = done(market.sessions.close_auction(OPERATOR, "close-A1", "A1"))["auction"]
    result = auction["result"]
    assert auction["status"] == "cleared"
    assert (result["clearing_price_fen"], result["secondary_price_fen"]) == (8_800, 9_749)
    assert (result["cleared_quantity"], result["unsold"]) == (100_000, 0)
    assert {b["bid"]: b["awarded_quantity"] for b in result["bids"]} == {
        "b-1": 60_000,
        "c-1": 40_000,
        "d-1": 0,
    }
    assert market.balance("CN-AUCTION-PROCEEDS", "CNY") == (880_000_000, 0)
    assert market.balance("CN-AUCTION", "CEA24") == (0, 0)
    assert market.balance("B-T", "CEA24") == (50_000 + 60_000, 0)
    assert market.balance("B-T", "CNY") == (FUNDS_FEN - 60_000 * 8_800, 0)
    assert market.balance("D-T", "CNY") == (FUNDS_FEN, 0)
    with market.engine.connect() as connection:
        trades = trading_store.trades(connection, modality="auction")
    assert [(t["buyer_account"], t["seller_account"], t["quantity"], t["price_fen"]) for t in trades] == [
        ("B-T", "CN-AUCTION", 60_000, 8_800),
        ("C-T", "CN-AUCTION", 40_000, 8_800),
    ]
    assert market.registry.reconcile().ok


def test_clearing_significantly_under_the_secondary_price_cancels_and_carries_the_volume(
    market: Market,
) -> None:
    """Clearing at 80.00 < 87.75 (90% of 97.49): cancelled; 100,000 t unsold → 4 shares of 25,000 t,
    one of which joins the next auction: 50,000 t new + 25,000 t carried = 75,000 t offered."""
    create(market)
    market.at(DURING)
    done(bid(market, B, "b-1", 8_000, 60_000))
    done(bid(market, C, "c-1", 8_000, 40_000))
    market.at(AFTER)
    auction = done(market.sessions.close_auction(OPERATOR, "close-A1", "A1"))["auction"]
    assert auction["status"] == "cancelled"
    assert "significantly under the secondary price 9749 fen" in auction["reason"]
    assert [s["quantity"] for s in auction["result"]["unsold_shares"]] == [25_000] * 4
    assert market.balance("CN-AUCTION", "CEA24") == (100_000, 0)
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)
    following = create(
        market, "A2", 50_000, opens_at="2025-07-17T10:00:00+08:00", closes_at="2025-07-17T11:00:00+08:00"
    )
    assert (following["base_quantity"], following["carried_quantity"], following["quantity"]) == (
        50_000,
        25_000,
        75_000,
    )
    shares = market.sessions.auction("A1")["result"]["unsold_shares"]
    assert [s["to_auction"] for s in shares] == ["A2", None, None, None]
    assert market.balance("CN-AUCTION", "CEA24") == (150_000, 75_000)
    assert market.registry.reconcile().ok


def test_an_under_subscribed_auction_is_cancelled_and_releases_every_hold(market: Market) -> None:
    """EU: cancelled if the bids cover less than the volume (50,000 of 100,000 t here)."""
    create(market)
    market.at(DURING)
    done(bid(market, B, "b-1", 9_500, 50_000))
    market.at(AFTER)
    auction = done(market.sessions.close_auction(OPERATOR, "close-A1", "A1"))["auction"]
    assert auction["status"] == "cancelled" and "under-subscribed: 50000 t" in auction["reason"]
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)
    assert market.balance("CN-AUCTION", "CEA24") == (100_000, 0)
    assert market.registry.reconcile().ok


def test_the_secondary_price_is_the_previous_listed_close(market: Market) -> None:
    """A listed trade at 85.00 before the auction day makes 85.00 the secondary price: clearing at
    80.00 is above 90% of it (76.50), so the auction clears where it would be cancelled at 97.49."""
    market.listed_trade("L1", 8_500, 1_000)
    create(market)
    market.at(DURING)
    done(bid(market, B, "b-1", 8_000, 100_000))
    market.at(AFTER)
    result = done(market.sessions.close_auction(OPERATOR, "close-A1", "A1"))["auction"]["result"]
    assert (result["secondary_price_fen"], result["clearing_price_fen"], result["cleared_quantity"]) == (
        8_500,
        8_000,
        100_000,
    )
    assert market.registry.reconcile().ok


def test_bad_auction_commands_are_refused_and_change_nothing(market: Market) -> None:
    before = market.balances()
    refused(
        market.sessions.create_auction(
            OPERATOR,
            "A0",
            instrument="CEA24",
            quantity=1,
            reserve_price_fen=1,
            opens_at=OPENS,
            closes_at=CLOSES,
            issue=True,
        ),
        "forbidden",
    )
    # Without --issue the volume must already be in CN-AUCTION, which is empty.
    refused(
        market.sessions.create_auction(
            REGULATOR,
            "A0",
            instrument="CEA24",
            quantity=1_000,
            reserve_price_fen=8_000,
            opens_at=OPENS,
            closes_at=CLOSES,
        ),
        "insufficient_balance",
    )
    assert market.balances() == before
    create(market)
    refused(bid(market, B, "b-0", 9_000, 1_000), "exchange_bidding_window_not_open")
    market.at(DURING)
    refused(bid(market, B, "b-1", 7_999, 1_000), "exchange_bid_below_reserve")
    refused(bid(market, B, "b-2", 9_000, 100_001), "quantity_too_large")
    refused(market.sessions.close_auction(OPERATOR, "close-A1", "A1"), "exchange_bidding_window_still_open")
    market.at(AFTER)
    refused(bid(market, B, "b-3", 9_000, 1_000), "exchange_bidding_window_closed")
    refused(market.sessions.close_auction(B, "close-A1", "A1"), "forbidden")
    refused(market.sessions.close_auction(OPERATOR, "close-X", "nope"), "exchange_auction_not_found")
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)
    assert market.registry.reconcile().ok
