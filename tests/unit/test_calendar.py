"""The national market's trading and working-day calendar, checked against published facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from carbonmarket.core.calendar import (
    CHINA_STANDARD_TIME,
    CalendarNotCovered,
    MarketCalendar,
    SessionWindow,
)


@pytest.fixture(scope="module")
def calendar() -> MarketCalendar:
    return MarketCalendar.load()


def at(hour: int, minute: int, second: int = 0, day: date = date(2024, 3, 5)) -> datetime:
    """A naive China Standard Time moment on a given day (default: an ordinary Tuesday)."""
    return datetime(day.year, day.month, day.day, hour, minute, second)


# --- published facts --------------------------------------------------------------------------------


def test_2024_has_the_242_trading_days_the_mee_published(calendar: MarketCalendar) -> None:
    # MEE's report on the national ETS gives 242 trading days for 2024; if this fails, the data is wrong.
    assert calendar.trading_days_in_year(2024) == 242


@pytest.mark.parametrize(
    ("year", "trading_days"),
    [(2021, 243), (2022, 242), (2023, 242), (2025, 243), (2026, 242)],
)
def test_each_covered_year_has_the_trading_days_its_holiday_notice_implies(
    calendar: MarketCalendar, year: int, trading_days: int
) -> None:
    assert calendar.trading_days_in_year(year) == trading_days


def test_calendar_covers_2021_through_2026(calendar: MarketCalendar) -> None:
    assert calendar.covered_years == frozenset(range(2021, 2027))


def test_every_data_block_cites_its_source_with_a_confidence_tag(calendar: MarketCalendar) -> None:
    assert set(calendar.sources) >= {"sessions", *(str(y) for y in range(2021, 2027))}
    assert all(s.endswith(("[reg]", "[?]")) for s in calendar.sources.values())
    assert calendar.sources["sessions"] == "SEEE trading rules [reg]"
    assert "国办发明电〔2023〕7号" in calendar.sources["2024"]


def test_load_returns_one_shared_cached_calendar() -> None:
    assert MarketCalendar.load() is MarketCalendar.load()


# --- trading days versus working days -------------------------------------------------------------


def test_national_day_2024_is_not_a_trading_day(calendar: MarketCalendar) -> None:
    assert not calendar.is_trading_day(date(2024, 10, 1))
    assert not calendar.is_working_day(date(2024, 10, 1))


def test_an_adjusted_sunday_is_a_working_day_but_not_a_trading_day(calendar: MarketCalendar) -> None:
    sunday = date(2024, 9, 29)
    assert sunday.weekday() == 6
    assert calendar.is_working_day(sunday)
    assert not calendar.is_trading_day(sunday)


def test_an_ordinary_weekday_is_both_a_working_and_a_trading_day(calendar: MarketCalendar) -> None:
    assert calendar.is_trading_day(date(2024, 3, 5))
    assert calendar.is_working_day(date(2024, 3, 5))


def test_an_ordinary_weekend_is_neither_working_nor_trading(calendar: MarketCalendar) -> None:
    assert not calendar.is_trading_day(date(2024, 3, 9))
    assert not calendar.is_working_day(date(2024, 3, 9))


def test_new_years_eve_2024_is_a_working_day_on_which_the_exchange_is_closed(
    calendar: MarketCalendar,
) -> None:
    # The 2024 notice only encouraged a day off on 除夕; the exchanges closed anyway.
    assert calendar.is_working_day(date(2024, 2, 9))
    assert not calendar.is_trading_day(date(2024, 2, 9))


def test_new_years_eve_2025_is_a_public_holiday(calendar: MarketCalendar) -> None:
    assert not calendar.is_working_day(date(2025, 1, 28))
    assert not calendar.is_trading_day(date(2025, 1, 28))


def test_a_holiday_announced_by_the_previous_years_notice_is_honoured(calendar: MarketCalendar) -> None:
    # 2022-12-31 was announced in the 2023 notice; being a Saturday it is off either way, but the
    # days after it show the 2023 New Year holiday ran to Monday 2 January.
    assert not calendar.is_working_day(date(2023, 1, 2))
    assert calendar.next_trading_day(date(2022, 12, 30)) == date(2023, 1, 3)


# --- stepping --------------------------------------------------------------------------------------


def test_next_trading_day_skips_the_whole_spring_festival_closure(calendar: MarketCalendar) -> None:
    assert calendar.next_trading_day(date(2024, 2, 8)) == date(2024, 2, 19)


def test_next_trading_day_skips_an_adjusted_weekend_working_day(calendar: MarketCalendar) -> None:
    # Friday 27 Sept 2024 -> Sunday 29th is a working day but the market reopens on Monday 30th.
    assert calendar.next_trading_day(date(2024, 9, 27)) == date(2024, 9, 30)


def test_next_trading_day_is_strictly_after_a_trading_day(calendar: MarketCalendar) -> None:
    assert calendar.next_trading_day(date(2024, 3, 5)) == date(2024, 3, 6)


def test_previous_trading_day_skips_national_day_back_to_september(calendar: MarketCalendar) -> None:
    assert calendar.previous_trading_day(date(2024, 10, 8)) == date(2024, 9, 30)


def test_add_working_days_counts_new_years_eve_then_jumps_spring_festival_to_the_adjusted_sunday(
    calendar: MarketCalendar,
) -> None:
    # Thu 8 Feb 2024 + 1 = Fri 9 Feb (除夕, a working day); + 2 = Sun 18 Feb (调休); + 3 = Mon 19 Feb.
    assert calendar.add_working_days(date(2024, 2, 8), 1) == date(2024, 2, 9)
    assert calendar.add_working_days(date(2024, 2, 8), 2) == date(2024, 2, 18)
    assert calendar.add_working_days(date(2024, 2, 8), 3) == date(2024, 2, 19)


def test_add_working_days_across_spring_festival_2025_lands_after_the_holiday(
    calendar: MarketCalendar,
) -> None:
    # Mon 27 Jan 2025, then 28 Jan-4 Feb off: the next working day is Wed 5 Feb.
    assert calendar.add_working_days(date(2025, 1, 27), 1) == date(2025, 2, 5)


def test_add_zero_working_days_returns_the_same_day_even_on_a_holiday(calendar: MarketCalendar) -> None:
    assert calendar.add_working_days(date(2024, 10, 1), 0) == date(2024, 10, 1)


def test_add_working_days_refuses_a_negative_count(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="forward only"):
        calendar.add_working_days(date(2024, 3, 5), -1)


def test_trading_days_between_includes_both_ends(calendar: MarketCalendar) -> None:
    days = calendar.trading_days_between(date(2024, 9, 26), date(2024, 10, 9))
    assert days == [
        date(2024, 9, 26),
        date(2024, 9, 27),
        date(2024, 9, 30),
        date(2024, 10, 8),
        date(2024, 10, 9),
    ]


def test_trading_days_between_refuses_a_reversed_range(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="after end"):
        calendar.trading_days_between(date(2024, 3, 6), date(2024, 3, 5))


# --- sessions -------------------------------------------------------------------------------------


def test_listed_session_is_closed_one_minute_before_opening(calendar: MarketCalendar) -> None:
    assert not calendar.session_open(at(9, 29), "listed")


def test_listed_session_opens_at_nine_thirty(calendar: MarketCalendar) -> None:
    assert calendar.session_open(at(9, 30), "listed")


def test_listed_morning_session_ends_at_eleven_thirty_exclusive(calendar: MarketCalendar) -> None:
    # Windows are half-open [start, end): 11:29:59 trades, 11:30:00 does not.
    assert calendar.session_open(at(11, 29, 59), "listed")
    assert not calendar.session_open(at(11, 30), "listed")


def test_listed_session_is_closed_over_the_lunch_break(calendar: MarketCalendar) -> None:
    assert not calendar.session_open(at(12, 0), "listed")


def test_listed_afternoon_session_runs_from_one_to_three(calendar: MarketCalendar) -> None:
    assert calendar.session_open(at(13, 0), "listed")
    assert calendar.session_open(at(14, 59, 59), "listed")
    assert not calendar.session_open(at(15, 0), "listed")


def test_bulk_session_is_closed_in_the_morning(calendar: MarketCalendar) -> None:
    assert not calendar.session_open(at(10, 0), "bulk")


def test_bulk_session_is_open_in_the_afternoon(calendar: MarketCalendar) -> None:
    assert calendar.session_open(at(13, 0), "bulk")
    assert not calendar.session_open(at(15, 0), "bulk")


def test_sessions_are_closed_on_an_adjusted_weekend_working_day(calendar: MarketCalendar) -> None:
    assert not calendar.session_open(at(10, 0, day=date(2024, 9, 29)), "listed")


def test_sessions_are_closed_on_a_holiday(calendar: MarketCalendar) -> None:
    assert not calendar.session_open(at(10, 0, day=date(2024, 10, 1)), "listed")


def test_an_aware_utc_moment_is_read_in_china_standard_time(calendar: MarketCalendar) -> None:
    # 01:30 UTC is 09:30 in Beijing; 03:30 UTC is 11:30, the end of the morning session.
    assert calendar.session_open(datetime(2024, 3, 5, 1, 30, tzinfo=UTC), "listed")
    assert not calendar.session_open(datetime(2024, 3, 5, 3, 30, tzinfo=UTC), "listed")


def test_an_aware_moment_can_cross_into_the_next_beijing_day(calendar: MarketCalendar) -> None:
    # Monday 4 March 2024 at 18:00 in New York (UTC-5) is Tuesday 5 March 07:00 in Beijing.
    new_york = timezone(timedelta(hours=-5))
    assert not calendar.session_open(datetime(2024, 3, 4, 18, 0, tzinfo=new_york), "listed")
    assert calendar.session_open(datetime(2024, 3, 4, 21, 30, tzinfo=new_york), "listed")


def test_an_unknown_modality_is_refused(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="unknown trading modality"):
        calendar.session_open(at(10, 0), "auction")


def test_china_standard_time_is_eight_hours_ahead_of_utc() -> None:
    assert CHINA_STANDARD_TIME.utcoffset(None) == timedelta(hours=8)


# --- coverage ---------------------------------------------------------------------------------------


def test_a_date_in_an_uncovered_year_raises_naming_the_year(calendar: MarketCalendar) -> None:
    with pytest.raises(CalendarNotCovered, match="2027") as raised:
        calendar.is_trading_day(date(2027, 1, 4))
    assert raised.value.year == 2027
    assert isinstance(raised.value, ValueError)


def test_stepping_past_the_last_covered_year_raises(calendar: MarketCalendar) -> None:
    with pytest.raises(CalendarNotCovered, match="2027"):
        calendar.next_trading_day(date(2026, 12, 31))


def test_a_year_before_the_data_raises(calendar: MarketCalendar) -> None:
    with pytest.raises(CalendarNotCovered, match="2020"):
        calendar.trading_days_in_year(2020)


def test_session_open_in_an_uncovered_year_raises(calendar: MarketCalendar) -> None:
    with pytest.raises(CalendarNotCovered):
        calendar.session_open(datetime(2030, 3, 5, 10, 0), "listed")


# --- calendars built by hand -------------------------------------------------------------------------


def test_a_calendar_built_from_explicit_sets_follows_them() -> None:
    made_up = MarketCalendar(
        holidays=frozenset({date(2024, 3, 5)}),
        adjusted_working_days=frozenset({date(2024, 3, 9)}),
        covered_years=frozenset({2024}),
    )
    assert not made_up.is_trading_day(date(2024, 3, 5))
    assert made_up.is_working_day(date(2024, 3, 9))
    assert not made_up.is_trading_day(date(2024, 3, 9))
    assert made_up.add_working_days(date(2024, 3, 4), 1) == date(2024, 3, 6)


def test_an_adjusted_working_day_on_a_weekday_is_refused() -> None:
    with pytest.raises(ValueError, match="weekend"):
        MarketCalendar(
            holidays=frozenset(),
            adjusted_working_days=frozenset({date(2024, 3, 5)}),
            covered_years=frozenset({2024}),
        )


def test_a_day_cannot_be_both_holiday_and_adjusted_working_day() -> None:
    with pytest.raises(ValueError, match="both"):
        MarketCalendar(
            holidays=frozenset({date(2024, 3, 9)}),
            adjusted_working_days=frozenset({date(2024, 3, 9)}),
            covered_years=frozenset({2024}),
        )


def test_a_session_window_must_start_before_it_ends() -> None:
    with pytest.raises(ValueError, match="start before"):
        SessionWindow(at(11, 30).time(), at(9, 30).time())


def test_calendar_data_without_a_confidence_tag_is_refused() -> None:
    text = 'schema_version = 1\n[years.2024]\nsource = "some notice"\n'
    with pytest.raises(ValueError, match="source"):
        MarketCalendar.from_toml(text)


def test_calendar_data_with_a_timestamp_instead_of_a_date_is_refused() -> None:
    text = (
        'schema_version = 1\n[years.2024]\nsource = "notice [?]"\n'
        '[[years.2024.festivals]]\nname = "x"\noff = [2024-01-01T00:00:00, 2024-01-01]\nwork = []\n'
    )
    with pytest.raises(ValueError, match="local date"):
        MarketCalendar.from_toml(text)


def test_calendar_data_of_an_unknown_schema_version_is_refused() -> None:
    with pytest.raises(ValueError, match="schema_version"):
        MarketCalendar.from_toml("schema_version = 2\n")
