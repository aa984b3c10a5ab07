"""Working days, trading days and trading sessions of China's National Carbon Market.

The dates are data (`data/cn_calendar.toml`, with each year's State Council notice cited); this
module only interprets them. A *working day* follows the State Council holiday notice, including
the weekend days it turns into working days (调休); a *trading day* is a weekday on which the
exchange is open, so those adjusted weekend working days are never trading days. The file explains
the difference at length.

Nothing here guesses: a date in a year the data does not cover raises `CalendarNotCovered`, because
the next year's holidays are only known once the State Council publishes them.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")

_DATA_PACKAGE: Final = "carbonmarket.core"
_DATA_FOLDER: Final = "data"
_DATA_FILE: Final = "cn_calendar.toml"
_SCHEMA_VERSION: Final = 1
_CONFIDENCE_TAGS: Final = ("[reg]", "[?]")
_SATURDAY: Final = 5

# The longest run of days without trading in the covered years is ten (2024-02-09 to 2024-02-18,
# 2023-09-29 to 2023-10-08, 2026-02-14 to 2026-02-23); a month without one means the data is
# broken, so searching stops there instead of walking on for ever.
_NON_TRADING_RUN_MAX_DAYS: Final = 31


class CalendarNotCovered(ValueError):
    """A date falls in a year for which the calendar has no holiday data."""

    def __init__(self, year: int, covered_years: frozenset[int]) -> None:
        """Name the uncovered year and the years that are covered."""
        self.year = year
        covered = f"{min(covered_years)}-{max(covered_years)}" if covered_years else "none"
        super().__init__(
            f"the market calendar does not cover {year} (covered years: {covered}); "
            "add that year's State Council holiday notice to cn_calendar.toml"
        )


@dataclass(frozen=True)
class SessionWindow:
    """One continuous trading window of a day, half-open: [start, end) in China Standard Time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        """Refuse an empty or reversed window."""
        if not self.start < self.end:
            raise ValueError(f"session window must start before it ends: {self.start}-{self.end}")

    def contains(self, moment: time) -> bool:
        """Whether a wall-clock time lies inside this window (the end instant is outside)."""
        return self.start <= moment < self.end


@dataclass(frozen=True)
class MarketCalendar:
    """Public holidays, adjusted working days, exchange closures and sessions of the market."""

    holidays: frozenset[date]
    adjusted_working_days: frozenset[date]
    covered_years: frozenset[int]
    # Weekdays the exchange announced as closed although they are ordinary working days.
    exchange_closures: frozenset[date] = frozenset()
    # Trading modality ("listed", "bulk") -> its windows; empty for calendars built for date tests.
    sessions: Mapping[str, tuple[SessionWindow, ...]] = field(default_factory=dict, hash=False)
    # Citation of every data block ("2024", "2024 exchange_closures", "sessions") with its tag.
    sources: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        """Check the data is self-consistent and freeze the mappings."""
        # A frozen dataclass is only as immutable as its fields, so the mappings are copied into
        # read-only views; object.__setattr__ is the sanctioned way to do that in __post_init__.
        object.__setattr__(self, "sessions", MappingProxyType(dict(self.sessions)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        weekday_adjusted = sorted(d for d in self.adjusted_working_days if d.weekday() < _SATURDAY)
        if weekday_adjusted:
            raise ValueError(f"adjusted working days must be weekend days: {weekday_adjusted}")
        both = sorted(self.holidays & self.adjusted_working_days)
        if both:
            raise ValueError(f"days cannot be both holiday and adjusted working day: {both}")
        pointless = sorted(
            d for d in self.exchange_closures if d.weekday() >= _SATURDAY or d in self.holidays
        )
        if pointless:
            raise ValueError(f"exchange closures must be weekdays that are not holidays: {pointless}")

    @classmethod
    def load(cls) -> MarketCalendar:
        """Return the packaged calendar of the national market (read once, then cached)."""
        return _load_packaged()

    @classmethod
    def from_toml(cls, text: str) -> MarketCalendar:
        """Build a calendar from the text of a calendar file laid out like cn_calendar.toml."""
        return _parse(tomllib.loads(text))

    def is_trading_day(self, d: date) -> bool:
        """Whether the exchange trades on d: Monday to Friday, not a holiday, not a closure."""
        self._require_covered(d)
        return d.weekday() < _SATURDAY and d not in self.holidays and d not in self.exchange_closures

    def is_working_day(self, d: date) -> bool:
        """Whether d is a working day under the State Council notice (adjusted weekend days count)."""
        self._require_covered(d)
        if d in self.adjusted_working_days:
            return True
        return d.weekday() < _SATURDAY and d not in self.holidays

    def next_trading_day(self, d: date) -> date:
        """Return the first trading day strictly after d."""
        self._require_covered(d)
        return self._step(d, self.is_trading_day, timedelta(days=1))

    def previous_trading_day(self, d: date) -> date:
        """Return the last trading day strictly before d."""
        self._require_covered(d)
        return self._step(d, self.is_trading_day, timedelta(days=-1))

    def add_working_days(self, d: date, n: int) -> date:
        """Return the date n working days after d; n == 0 returns d itself, even on a day off."""
        if n < 0:
            raise ValueError(f"add_working_days counts forward only, got n={n}")
        self._require_covered(d)
        result = d
        for _ in range(n):
            result = self._step(result, self.is_working_day, timedelta(days=1))
        return result

    def trading_days_between(self, start: date, end: date) -> list[date]:
        """Return the trading days from start to end, both included, in order."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        self._require_covered(start)
        self._require_covered(end)
        span_days = (end - start).days
        days = (start + timedelta(days=offset) for offset in range(span_days + 1))
        return [d for d in days if self.is_trading_day(d)]

    def trading_days_in_year(self, year: int) -> int:
        """Count the trading days of a calendar year (the whole year, whenever the market opened)."""
        return len(self.trading_days_between(date(year, 1, 1), date(year, 12, 31)))

    def session_open(self, moment: datetime, modality: str) -> bool:
        """Whether a trading session of the modality ("listed" or "bulk") is open at the moment."""
        windows = self.sessions.get(modality)
        if windows is None:
            known = ", ".join(sorted(self.sessions)) or "none"
            raise ValueError(f"unknown trading modality {modality!r} (known: {known})")
        # The market runs on Beijing time: a naive datetime is taken to be China Standard Time
        # already, an aware one is converted so a UTC timestamp from a server means the same instant.
        if moment.utcoffset() is not None:
            moment = moment.astimezone(CHINA_STANDARD_TIME).replace(tzinfo=None)
        if not self.is_trading_day(moment.date()):
            return False
        wall_clock = moment.time()
        return any(window.contains(wall_clock) for window in windows)

    def _require_covered(self, d: date) -> None:
        if d.year not in self.covered_years:
            raise CalendarNotCovered(d.year, self.covered_years)

    def _step(self, d: date, wanted: Callable[[date], bool], direction: timedelta) -> date:
        candidate = d
        for _ in range(_NON_TRADING_RUN_MAX_DAYS):
            candidate += direction
            if wanted(candidate):
                return candidate
        raise ValueError(f"no matching day within {_NON_TRADING_RUN_MAX_DAYS} days of {d}: data broken?")


@functools.cache
def _load_packaged() -> MarketCalendar:
    # Reading through importlib.resources keeps this working from a wheel or a zip, not just a
    # source checkout; the cache makes every caller share one immutable calendar.
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_FOLDER).joinpath(_DATA_FILE)
    return MarketCalendar.from_toml(resource.read_text(encoding="utf-8"))


def _parse(document: Mapping[str, Any]) -> MarketCalendar:
    version = document.get("schema_version")
    if version != _SCHEMA_VERSION:
        raise ValueError(f"calendar schema_version {version!r} is not {_SCHEMA_VERSION}")
    sources: dict[str, str] = {}

    session_table = _table(document.get("sessions", {}), "sessions")
    sessions: dict[str, tuple[SessionWindow, ...]] = {}
    for modality, windows in session_table.items():
        if modality == "source":
            sources["sessions"] = _source(windows, "sessions")
            continue
        sessions[modality] = tuple(_window(pair, f"sessions.{modality}") for pair in _list(windows, modality))
    if sessions and "sessions" not in sources:
        raise ValueError("sessions need a source")

    holidays: set[date] = set()
    adjusted: set[date] = set()
    closures: set[date] = set()
    years: set[int] = set()
    for key, body in _table(document.get("years", {}), "years").items():
        if not key.isdigit():
            raise ValueError(f"year key must be a year, got {key!r}")
        year_table = _table(body, f"years.{key}")
        years.add(int(key))
        sources[key] = _source(year_table.get("source"), f"years.{key}")
        for index, festival in enumerate(_list(year_table.get("festivals", []), f"years.{key}.festivals")):
            where = f"years.{key}.festivals[{index}]"
            festival_table = _table(festival, where)
            off = _list(festival_table.get("off"), f"{where}.off")
            if len(off) != 2:
                raise ValueError(f"{where}.off must be [first, last]")
            first, last = _date(off[0], where), _date(off[1], where)
            if first > last:
                raise ValueError(f"{where}.off runs backwards: {first} > {last}")
            holidays.update(first + timedelta(days=i) for i in range((last - first).days + 1))
            adjusted.update(_date(d, where) for d in _list(festival_table.get("work", []), f"{where}.work"))
        if "exchange_closures" in year_table:
            where = f"years.{key}.exchange_closures"
            closure_table = _table(year_table["exchange_closures"], where)
            sources[f"{key} exchange_closures"] = _source(closure_table.get("source"), where)
            closures.update(_date(d, where) for d in _list(closure_table.get("days"), f"{where}.days"))

    return MarketCalendar(
        holidays=frozenset(holidays),
        adjusted_working_days=frozenset(adjusted),
        covered_years=frozenset(years),
        exchange_closures=frozenset(closures),
        sessions=sessions,
        sources=sources,
    )


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    return value


def _date(value: object, where: str) -> date:
    # datetime is a subclass of date, so a stray timestamp would pass isinstance: insist on a date.
    if type(value) is not date:
        raise ValueError(f"{where}: expected a TOML local date, got {value!r}")
    return value


def _source(value: object, where: str) -> str:
    # Every block of market data must say where it comes from and how sure we are of it.
    if not isinstance(value, str) or not value.endswith(_CONFIDENCE_TAGS):
        raise ValueError(f"{where}.source must be a citation ending in one of {_CONFIDENCE_TAGS}")
    return value


def _window(value: object, where: str) -> SessionWindow:
    pair = _list(value, where)
    if len(pair) != 2 or not all(isinstance(item, str) for item in pair):
        raise ValueError(f'{where}: each window must be ["HH:MM", "HH:MM"]')
    return SessionWindow(time.fromisoformat(pair[0]), time.fromisoformat(pair[1]))
