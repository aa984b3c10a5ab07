"""Bulk agreement trading on SQLite and PostgreSQL: post, counter, both confirm, one settlement;
direct trades between two named parties; out-of-order steps and bad terms refused."""

from __future__ import annotations

from datetime import timedelta

from integration.exchange import trading_market
from integration.exchange.trading_market import (
    A_UNITS,
    AFTERNOON,
    ALICE,
    BOB,
    CAROL,
    FUNDS_FEN,
    Market,
    done,
    refused,
)

market = trading_market.market
market_template = trading_market.market_template


def test_a_negotiated_bulk_agreement_settles_once_when_both_confirm(market: Market) -> None:
    market.clock.advance(AFTERNOON - market.clock.now())
    x = market.exchange
    done(x.bulk_post(ALICE, "i1", "A-T", "CEA24", "sell", 9_500, 150_000))
    done(x.bulk_offer(BOB, "o1", "i1", "B-T", 9_300, 120_000))
    done(x.bulk_offer(ALICE, "o2", "i1", "A-T", 9_400, 120_000, counterparty="B-T"))
    refused(x.bulk_confirm(BOB, "c0", "o1", "B-T"), "exchange_bulk_offer_not_current")
    first = done(x.bulk_confirm(BOB, "c1", "o2", "B-T"))
    assert first["settled"] is False
    # B's confirmation reserves 120,000 t × 94.00 = 1,128,000,000 fen plus 3 bp, 338,400 fen.
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 1_128_000_000 + 338_400)
    refused(x.bulk_confirm(BOB, "c2", "o2", "B-T"), "exchange_bulk_already_confirmed")
    settled = done(x.bulk_confirm(ALICE, "c3", "o2", "A-T"))
    assert settled["settled"] is True and settled["intent_remaining"] == 30_000
    assert market.balance("B-T", "CEA24") == (10_000 + 120_000, 0)
    assert market.balance("A-T", "CEA24") == (A_UNITS - 120_000, 0)
    assert market.balance("B-T", "CNY") == (FUNDS_FEN - 1_128_000_000 - 338_400, 0)
    assert market.balance("A-T", "CNY") == (FUNDS_FEN + 1_128_000_000 - 338_400, 0)
    trade = x.trades(ALICE, "A-T")[0]
    assert (trade["modality"], trade["price_fen"], trade["quantity"]) == ("bulk", 9_400, 120_000)
    # 30,000 t are left, below the 100,000 t minimum of any new offer.
    refused(x.bulk_offer(CAROL, "o3", "i1", "C-T", 9_400, 30_000), "exchange_bulk_quantity_below_minimum")
    done(x.bulk_withdraw(ALICE, "w1", "i1"))
    refused(x.bulk_offer(CAROL, "o4", "i1", "C-T", 9_400, 100_000), "exchange_bulk_intent_not_open")
    assert market.registry.reconcile().ok


def test_a_direct_trade_is_open_only_to_the_named_party(market: Market) -> None:
    market.clock.advance(AFTERNOON - market.clock.now())
    x = market.exchange
    done(x.bulk_post(ALICE, "d1", "A-T", "CEA24", "sell", 9_749, 100_000, counterparty="C-T"))
    refused(x.bulk_offer(BOB, "o1", "d1", "B-T", 9_749, 100_000), "forbidden")
    refused(x.bulk_confirm(BOB, "c1", "d1.0", "B-T"), "forbidden")
    done(x.bulk_confirm(ALICE, "c2", "d1.0", "A-T"))
    # A counter-offer lapses A's confirmation and returns its reserved units.
    done(x.bulk_offer(CAROL, "o2", "d1", "C-T", 9_700, 100_000))
    assert market.balance("A-T", "CEA24") == (A_UNITS, 0)
    done(x.bulk_confirm(CAROL, "c3", "o2", "C-T"))
    done(x.bulk_confirm(ALICE, "c4", "o2", "A-T"))
    assert market.balance("C-T", "CEA24") == (100_000, 0)
    assert x.bulk_intent("d1")["intent"]["status"] == "done"
    assert market.registry.reconcile().ok


def test_bulk_terms_outside_the_rules_are_refused(market: Market) -> None:
    x = market.exchange
    refused(
        x.bulk_post(ALICE, "i0", "A-T", "CEA24", "sell", 9_500, 150_000), "exchange_session_closed"
    )  # 10:00
    market.clock.advance(AFTERNOON - market.clock.now())
    refused(
        x.bulk_post(ALICE, "i1", "A-T", "CEA24", "sell", 9_500, 99_999),
        "exchange_bulk_quantity_below_minimum",
    )
    # ±30% of 97.49: 68.25 (68.243 rounded up) to 126.73.
    refused(
        x.bulk_post(ALICE, "i2", "A-T", "CEA24", "sell", 6_824, 100_000), "exchange_bulk_price_outside_band"
    )
    refused(
        x.bulk_post(ALICE, "i3", "A-T", "CEA24", "sell", 12_674, 100_000), "exchange_bulk_price_outside_band"
    )
    done(x.bulk_post(ALICE, "i4", "A-T", "CEA24", "sell", 6_825, 100_000))
    refused(x.bulk_offer(ALICE, "o1", "i4", "A-T", 6_825, 100_000), "exchange_bulk_own_intent")
    done(x.bulk_offer(BOB, "o2", "i4", "B-T", 6_825, 100_000))
    # B holds CNY 500 million, enough; C wants 2,000,000 t of an intent of 100,000 t.
    refused(x.bulk_offer(CAROL, "o3", "i4", "C-T", 6_825, 2_000_000), "exchange_bulk_quantity_above_intent")
    market.clock.advance(timedelta(hours=2))  # 15:30: the bulk session has closed
    refused(x.bulk_confirm(BOB, "c1", "o2", "B-T"), "exchange_session_closed")
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, 0)
