"""Market data's pure rules: the close is the VWAP of the day's listed trades rounded half up to the
fen, carried over when there is none; open, high and low come from listed trades only; volume and
value count every modality; the composite weights vintages by volume; months and years roll up days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonmarket.core.calendar import MarketCalendar
from carbonmarket.core.results import Refused
from carbonmarket.exchange.marketdata import (
    Period,
    Trade,
    check_close_time,
    day_series,
    divide_half_up,
    roll_up,
    summarise_day,
    vwap_fen,
)

DAY = date(2025, 7, 16)


def trade(n: int, price: int, quantity: int, modality: str = "listed", instrument: str = "CEA24") -> Trade:
    return Trade(f"t{n:03d}", modality, instrument, price, quantity, f"2025-07-16T02:{n:02d}:00.000000+00:00")


def test_the_close_is_the_volume_weighted_average_of_listed_trades_rounded_half_up() -> None:
    """100 t at 97.49 and 300 t at 97.50: (974,900 + 2,925,000) / 400 = 9,749.75 → 9,750 fen."""
    trades = [trade(1, 9_749, 100), trade(2, 9_750, 300)]
    assert vwap_fen(trades) == 9_750
    assert summarise_day("CEA24", DAY, trades, 9_700).close_fen == 9_750


def test_an_exact_half_fen_rounds_up_and_anything_below_rounds_down() -> None:
    """1 t at 97.49 and 1 t at 97.50: 9,749.5 → 9,750; 2 t at 97.49 and 1 t at 97.50: 9,749.33 → 9,749."""
    assert vwap_fen([trade(1, 9_749, 1), trade(2, 9_750, 1)]) == 9_750
    assert vwap_fen([trade(1, 9_749, 2), trade(2, 9_750, 1)]) == 9_749
    assert divide_half_up(5, 2) == 3 and divide_half_up(7, 3) == 2


def test_bulk_bidding_and_auction_trades_stay_out_of_the_close_but_count_in_volume() -> None:
    """Listed 1,000 t at 90.00; bulk 200,000 t at 70.00; bidding 100,000 t at 75.15; auction 50,000 t."""
    trades = [
        trade(1, 9_000, 1_000),
        trade(2, 7_000, 200_000, "bulk"),
        trade(3, 7_515, 100_000, "bidding"),
        trade(4, 8_000, 50_000, "auction"),
    ]
    day = summarise_day("CEA24", DAY, trades, 9_749)
    assert (day.open_fen, day.high_fen, day.low_fen, day.close_fen) == (9_000, 9_000, 9_000, 9_000)
    assert not day.carried
    assert day.volume == {"listed": 1_000, "bulk": 200_000, "bidding": 100_000, "auction": 50_000}
    assert day.value_fen["bulk"] == 1_400_000_000
    assert day.as_json()["volume_total"] == 351_000
    assert day.as_json()["change_fen"] == 9_000 - 9_749


def test_a_day_without_listed_trades_carries_the_previous_close_over() -> None:
    day = summarise_day("CEA24", DAY, [trade(1, 7_000, 200_000, "bulk")], 9_749)
    assert (day.open_fen, day.high_fen, day.low_fen, day.close_fen, day.carried) == (
        None,
        None,
        None,
        9_749,
        True,
    )
    assert day.as_json()["change_fen"] == 0


def test_the_open_is_the_first_listed_trade_in_time_whatever_order_they_arrive_in() -> None:
    trades = [trade(5, 9_100, 10), trade(2, 9_050, 10), trade(9, 8_990, 10), trade(1, 7_000, 100_000, "bulk")]
    day = summarise_day("CEA24", DAY, trades, None)
    assert (day.open_fen, day.high_fen, day.low_fen) == (9_050, 9_100, 8_990)


def test_the_composite_weights_each_vintage_by_its_listed_volume() -> None:
    """CEA23 1,000 t at 90.00, CEA24 3,000 t at 98.00: (9,000,000 + 29,400,000) / 4,000 = 9,600 fen."""
    trades = [trade(1, 9_000, 1_000, instrument="CEA23"), trade(2, 9_800, 3_000, instrument="CEA24")]
    assert summarise_day("CEA", DAY, trades, 9_749).close_fen == 9_600


def test_a_day_series_carries_each_close_into_the_next_day() -> None:
    days = [date(2025, 7, 14), date(2025, 7, 15), date(2025, 7, 16)]
    by_day = {days[0]: [trade(1, 9_000, 10)], days[2]: [trade(2, 9_100, 10)]}
    series = day_series("CEA24", days, by_day, 8_900)
    assert [(s.previous_close_fen, s.close_fen, s.carried) for s in series] == [
        (8_900, 9_000, False),
        (9_000, 9_000, True),
        (9_000, 9_100, False),
    ]


def test_months_roll_up_first_open_extremes_last_close_and_summed_volume() -> None:
    """July: 10 t at 90.00 on the 14th, 30 t at 91.00 on the 16th → (90,000 + 273,000) / 40 = 9,075 fen."""
    days = [date(2025, 7, 14), date(2025, 7, 15), date(2025, 7, 16), date(2025, 8, 1)]
    by_day = {days[0]: [trade(1, 9_000, 10)], days[2]: [trade(2, 9_100, 30)], days[3]: [trade(3, 9_200, 5)]}
    months = roll_up(day_series("CEA24", days, by_day, 8_900), Period.MONTH)
    july, august = months
    assert (july.period, july.trading_days, july.open_fen, july.high_fen, july.low_fen) == (
        "2025-07",
        3,
        9_000,
        9_100,
        9_000,
    )
    assert (july.close_fen, july.listed_vwap_fen, july.volume["listed"]) == (9_100, 9_075, 40)
    assert (august.period, august.close_fen) == ("2025-08", 9_200)
    [year] = roll_up(day_series("CEA24", days, by_day, 8_900), Period.YEAR)
    assert (year.period, year.trading_days, year.volume["listed"]) == ("2025", 4, 45)


def test_the_close_is_struck_only_after_fifteen_hundred_china_time_or_for_past_days() -> None:
    calendar = MarketCalendar.load()
    check_close_time(DAY, datetime(2025, 7, 16, 7, 0, tzinfo=UTC), calendar)  # 15:00 CST
    check_close_time(DAY, datetime(2025, 7, 17, 1, 0, tzinfo=UTC), calendar)
    for moment, code in (
        (datetime(2025, 7, 16, 6, 59, tzinfo=UTC), "exchange_close_too_early"),
        (datetime(2025, 7, 15, 9, 0, tzinfo=UTC), "exchange_close_too_early"),
    ):
        with pytest.raises(Refused) as raised:
            check_close_time(DAY, moment, calendar)
        assert raised.value.refusal.code.value == code
    with pytest.raises(Refused) as raised:
        check_close_time(date(2025, 7, 19), datetime(2025, 7, 21, 9, 0, tzinfo=UTC), calendar)
    assert raised.value.refusal.code.value == "exchange_close_not_trading_day"


listed_trades = st.lists(
    st.tuples(st.integers(1, 10_000_000), st.integers(1, 99_999)), min_size=1, max_size=40
)


@given(listed_trades)
def test_the_close_lies_between_the_lowest_and_highest_listed_price(pairs: list[tuple[int, int]]) -> None:
    trades = [trade(i % 60, price, quantity) for i, (price, quantity) in enumerate(pairs)]
    day = summarise_day("CEA24", DAY, trades, None)
    assert day.low_fen is not None and day.high_fen is not None and day.close_fen is not None
    assert day.low_fen <= day.close_fen <= day.high_fen


@given(listed_trades)
def test_the_close_is_within_half_a_fen_of_the_exact_average(pairs: list[tuple[int, int]]) -> None:
    """|close × Σq − Σ(p × q)| ≤ Σq / 2: the only error is the one rounding to the fen."""
    trades = [trade(i % 60, price, quantity) for i, (price, quantity) in enumerate(pairs)]
    close = vwap_fen(trades)
    value = sum(p * q for p, q in pairs)
    volume = sum(q for _, q in pairs)
    assert close is not None and 2 * abs(close * volume - value) <= volume


@given(listed_trades, st.lists(st.tuples(st.integers(1, 10_000_000), st.integers(1, 10**6)), max_size=10))
def test_other_modalities_never_move_the_close(
    listed: list[tuple[int, int]], bulk: list[tuple[int, int]]
) -> None:
    only_listed = [trade(i % 60, p, q) for i, (p, q) in enumerate(listed)]
    with_bulk = only_listed + [trade(i % 60, p, q, "bulk") for i, (p, q) in enumerate(bulk)]
    assert (
        summarise_day("CEA24", DAY, with_bulk, 1).close_fen
        == summarise_day("CEA24", DAY, only_listed, 1).close_fen
    )
