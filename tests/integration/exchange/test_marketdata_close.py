"""Market data over real settled trades on SQLite and PostgreSQL: the official close struck once per
day after 15:00 CST, the reference close B2's bands use, the monthly average compliance uses, the
composite, series by day and month, and the refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from carbonmarket.core.results import Done, Refused
from carbonmarket.exchange import marketdata
from integration.exchange.sessions_market import (
    MEMBERS,
    OPERATOR,
    Market,
    attach_market,
    done,
    market_engine,
    market_template,
    refused,
)

__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test

# Monday 14 July 2025: 10:00 CST (02:00 UTC) trading, 15:30 CST (07:30 UTC) after the close.
MONDAY = datetime(2025, 7, 14, 2, 0, tzinfo=UTC)
MONDAY_CLOSE = datetime(2025, 7, 14, 7, 30, tzinfo=UTC)
TUESDAY_CLOSE = MONDAY_CLOSE + timedelta(days=1)


@pytest.fixture
def market(market_engine: Engine) -> Market:
    return attach_market(market_engine, MONDAY)


def monday_trades(market: Market) -> None:
    """Listed 1,000 t at 90.00 and 3,000 t at 92.00; bulk 150,000 t at 70.00; CEA23 listed 1,000 t at 80.00.

    CEA24's close = (9,000,000 + 27,600,000) / 4,000 = 9,150 fen; the composite =
    (36,600,000 + 8,000,000) / 5,000 = 8,920 fen.
    """
    market.trade("L1", 9_000, 1_000)
    market.at(MONDAY + timedelta(minutes=5))
    market.trade("L2", 9_200, 3_000, buyer="C-T")
    market.trade("K1", 7_000, 150_000, modality="bulk", buyer="D-T")
    market.trade("L3", 8_000, 1_000, instrument="CEA23")


def test_the_official_close_is_the_listed_vwap_and_is_stored_once(market: Market) -> None:
    monday_trades(market)
    market.at(MONDAY_CLOSE)
    outcome = market.marketdata.close_day(OPERATOR, "2025-07-14")
    closes = {c["instrument"]: c for c in done(outcome)["closes"]}
    cea24 = closes["CEA24"]
    assert (cea24["open_fen"], cea24["high_fen"], cea24["low_fen"], cea24["close_fen"]) == (
        9_000,
        9_200,
        9_000,
        9_150,
    )
    assert cea24["previous_close_fen"] == 9_749 and cea24["change_fen"] == 9_150 - 9_749
    assert cea24["volume"] == {"listed": 4_000, "bulk": 150_000, "bidding": 0, "auction": 0}
    assert closes["CEA"]["close_fen"] == 8_920
    # A vintage that never traded is closed at its listing reference, carried.
    assert (closes["CEA25"]["close_fen"], closes["CEA25"]["carried"]) == (9_749, True)
    again = market.marketdata.close_day(OPERATOR, "2025-07-14")
    assert (
        isinstance(again, Done)
        and again.result == "exists"
        and again.data["closes"] == done(outcome)["closes"]
    )
    with market.engine.connect() as connection:
        assert marketdata.reference_close_fen(connection, "CEA24", date(2025, 7, 15)) == 9_150
        assert marketdata.reference_close_fen(connection, "CEA", date(2025, 7, 15)) == 8_920


def test_a_day_without_listed_trades_closes_at_the_previous_close(market: Market) -> None:
    monday_trades(market)
    market.at(MONDAY_CLOSE)
    done(market.marketdata.close_day(OPERATOR, "2025-07-14"))
    market.at(TUESDAY_CLOSE - timedelta(hours=4))
    market.trade("K2", 7_100, 100_000, modality="bulk")
    market.at(TUESDAY_CLOSE)
    tuesday = {
        c["instrument"]: c for c in done(market.marketdata.close_day(OPERATOR, "2025-07-15"))["closes"]
    }
    assert (tuesday["CEA24"]["close_fen"], tuesday["CEA24"]["carried"]) == (9_150, True)
    assert tuesday["CEA24"]["volume"]["bulk"] == 100_000 and tuesday["CEA24"]["open_fen"] is None
    series = market.marketdata.series("CEA24", "2025-07-11", "2025-07-15")["series"]
    assert [(d["day"], d["close_fen"], d["carried"]) for d in series] == [
        ("2025-07-11", 9_749, True),
        ("2025-07-14", 9_150, False),
        ("2025-07-15", 9_150, True),
    ]


def test_the_reference_close_uses_an_unclosed_days_vwap_then_the_listing_price(market: Market) -> None:
    with market.engine.connect() as connection:
        assert marketdata.reference_close_fen(connection, "CEA24", date(2025, 7, 15)) == 9_749
        with pytest.raises(Refused) as raised:
            marketdata.reference_close_fen(connection, "CCER-P0001-2025", date(2025, 7, 15))
        assert raised.value.refusal.code.value == "exchange_reference_price_missing"
    monday_trades(market)
    with market.engine.connect() as connection:
        # Monday is not closed yet: Tuesday's bands follow Monday's listed VWAP all the same.
        assert marketdata.reference_close_fen(connection, "CEA24", date(2025, 7, 15)) == 9_150
        # ... but not Monday's own: it is the close of the day *before*.
        assert marketdata.reference_close_fen(connection, "CEA24", date(2025, 7, 14)) == 9_749


def test_the_monthly_average_counts_listed_and_bulk_trades_of_every_vintage(market: Market) -> None:
    """July: listed 9,000,000 + 27,600,000 + 8,000,000 (CEA23), bulk 1,050,000,000 fen over 155,000 t
    = 1,094,600,000 / 155,000 = 7,061.9 → 7,062 fen; a bidding trade does not count."""
    monday_trades(market)
    market.trade("X1", 7_515, 130_000, modality="bidding")
    with market.engine.connect() as connection:
        assert marketdata.monthly_average_price_fen(connection, 2025, 7) == 7_062
        assert marketdata.monthly_average_price_fen(connection, 2025, 6) is None
    assert market.marketdata.monthly_average_price_fen(2025, 7) == 7_062


def test_a_month_series_rolls_the_days_up(market: Market) -> None:
    monday_trades(market)
    market.at(MONDAY_CLOSE)
    [july] = market.marketdata.series("CEA24", "2025-07-01", "2025-07-31", "month")["series"]
    assert (july["period"], july["trading_days"], july["open_fen"], july["close_fen"]) == (
        "2025-07",
        23,
        9_000,
        9_150,
    )
    assert july["volume"]["listed"] == 4_000 and july["listed_vwap_fen"] == 9_150


def test_closing_early_by_a_member_or_a_non_trading_day_is_refused(market: Market) -> None:
    monday_trades(market)
    refused(market.marketdata.close_day(OPERATOR, "2025-07-14"), "exchange_close_too_early")
    market.at(MONDAY_CLOSE)
    refused(market.marketdata.close_day(MEMBERS["B"], "2025-07-14"), "forbidden")
    refused(market.marketdata.close_day(OPERATOR, "2025-07-13"), "exchange_close_not_trading_day")
    refused(market.marketdata.close_day(OPERATOR, "2025-07-15"), "exchange_close_too_early")
    refused(market.marketdata.close_day(OPERATOR, "14 July"), "exchange_marketdata_invalid_date")
    refused(market.marketdata.close_day(OPERATOR, "2031-07-14"), "exchange_marketdata_invalid_date")
    for call, code in (
        (
            lambda: market.marketdata.series("CEA24", "2025-07-31", "2025-07-01"),
            "exchange_marketdata_range_invalid",
        ),
        (
            lambda: market.marketdata.series("CEA24", "2025-07-01", "2025-07-31", "week"),
            "exchange_marketdata_invalid_period",
        ),
        (
            lambda: market.marketdata.series("CEA24", "2010-01-01", "2025-07-31"),
            "exchange_marketdata_range_invalid",
        ),
    ):
        with pytest.raises(Refused) as raised:
            call()
        assert raised.value.refusal.code.value == code
    with market.engine.connect() as connection:
        from carbonmarket.exchange import sessions_store

        assert sessions_store.close_rows_of_day(connection, "2025-07-14") == []
