"""Market data: open, high, low, close, volume and value per modality; the composite; series; the
official close of each day.

The rules (DOMAIN.md §5 [reg]): the opening price is the day's first listed trade; the closing
price is the volume-weighted average price of the day's listed trades, or the previous close when
there was none; bulk, bidding and auction trades count in volume and value but stay out of open,
high, low and close. Prices are integer fen; the close is the exact average Σ(price × quantity) /
Σ quantity rounded half up to the fen (`vwap_fen`), the way a price in fen is rounded for display.

The first half of this module is pure (plain values in, values out); the second reads B2's trades
table and this part's `exchange_closes` through `sessions_store`, and stores the official close
(`MarketData.close_day`, the exchange operator's command, idempotent per day).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.calendar import CHINA_STANDARD_TIME, CalendarNotCovered, MarketCalendar
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.results import Code, Done, Outcome, Refused
from carbonmarket.db.command import run_command, run_read
from carbonmarket.exchange import sessions_store as store
from carbonmarket.exchange.sessions_model import reference_prices

MODALITIES = ("listed", "bulk", "bidding", "auction")
LISTED = "listed"
# The composite across allowance vintages (the "composite closing price" of Progress Report §4).
COMPOSITE = "CEA"
# The official close may be struck once the day's last session has ended (15:00 CST, DOMAIN.md §5).
close_not_before = time(15, 0)
# A series covers at most ten years of trading days; longer ranges are asked for in parts.
series_days_max = 3_660
recent_trades_max = 500


class Period(StrEnum):
    """The granularity of a series."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class Trade:
    """One trade as market data sees it: what, how much, at what price, when, in which modality."""

    trade_id: str
    modality: str
    instrument: str
    price_fen: int
    quantity: int
    at: str


@dataclass(frozen=True)
class DaySummary:
    """One instrument's (or the composite's) trading day."""

    instrument: str
    day: date
    open_fen: int | None
    high_fen: int | None
    low_fen: int | None
    close_fen: int | None
    previous_close_fen: int | None
    carried: bool
    volume: dict[str, int] = field(default_factory=dict)
    value_fen: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The day as the API and CLI print it."""
        change = None
        if self.close_fen is not None and self.previous_close_fen is not None:
            change = self.close_fen - self.previous_close_fen
        return {
            "instrument": self.instrument,
            "day": self.day.isoformat(),
            "open_fen": self.open_fen,
            "high_fen": self.high_fen,
            "low_fen": self.low_fen,
            "close_fen": self.close_fen,
            "previous_close_fen": self.previous_close_fen,
            "change_fen": change,
            "carried": self.carried,
            "volume": {m: self.volume.get(m, 0) for m in MODALITIES},
            "value_fen": {m: self.value_fen.get(m, 0) for m in MODALITIES},
            "volume_total": sum(self.volume.values()),
            "value_total_fen": sum(self.value_fen.values()),
        }


@dataclass(frozen=True)
class PeriodSummary:
    """A month or year built from its trading days."""

    instrument: str
    period: str
    first_day: date
    last_day: date
    trading_days: int
    open_fen: int | None
    high_fen: int | None
    low_fen: int | None
    close_fen: int | None
    listed_vwap_fen: int | None
    volume: dict[str, int]
    value_fen: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        """The period as the API and CLI print it."""
        return {
            "instrument": self.instrument,
            "period": self.period,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "trading_days": self.trading_days,
            "open_fen": self.open_fen,
            "high_fen": self.high_fen,
            "low_fen": self.low_fen,
            "close_fen": self.close_fen,
            "listed_vwap_fen": self.listed_vwap_fen,
            "volume": {m: self.volume.get(m, 0) for m in MODALITIES},
            "value_fen": {m: self.value_fen.get(m, 0) for m in MODALITIES},
            "volume_total": sum(self.volume.values()),
            "value_total_fen": sum(self.value_fen.values()),
        }


# --- pure rules --------------------------------------------------------------------------------------


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (both non-negative, denominator > 0)."""
    assert numerator >= 0 and denominator > 0, (numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def vwap_fen(trades: Iterable[Trade]) -> int | None:
    """Σ(price × quantity) / Σ quantity rounded half up to the fen; None without trades (DOMAIN.md §5)."""
    value = volume = 0
    for trade in trades:
        value += trade.price_fen * trade.quantity
        volume += trade.quantity
    return None if volume == 0 else divide_half_up(value, volume)


def in_order(trades: Iterable[Trade]) -> list[Trade]:
    """Trades in the order they happened (time, then id for trades of one instant)."""
    return sorted(trades, key=lambda t: (t.at, t.trade_id))


def summarise_day(
    instrument: str, day: date, trades: Sequence[Trade], previous_close_fen: int | None
) -> DaySummary:
    """A day's open, high, low and close from its listed trades; volume and value from all (DOMAIN.md §5).

    The close is the listed trades' VWAP, or the previous close carried over when there was none;
    bulk, bidding and auction trades are counted in volume and value only.
    """
    ordered = in_order(trades)
    listed = [t for t in ordered if t.modality == LISTED]
    volume: dict[str, int] = {}
    value: dict[str, int] = {}
    for trade in ordered:
        volume[trade.modality] = volume.get(trade.modality, 0) + trade.quantity
        value[trade.modality] = value.get(trade.modality, 0) + trade.price_fen * trade.quantity
    close = vwap_fen(listed)
    return DaySummary(
        instrument=instrument,
        day=day,
        open_fen=listed[0].price_fen if listed else None,
        high_fen=max((t.price_fen for t in listed), default=None),
        low_fen=min((t.price_fen for t in listed), default=None),
        close_fen=close if close is not None else previous_close_fen,
        previous_close_fen=previous_close_fen,
        carried=close is None,
        volume=volume,
        value_fen=value,
    )


def day_series(
    instrument: str,
    days: Sequence[date],
    trades_by_day: dict[date, Sequence[Trade]],
    previous_close_fen: int | None,
) -> list[DaySummary]:
    """Each trading day in order, each close carried into the next day's previous close."""
    summaries = []
    previous = previous_close_fen
    for day in days:
        summary = summarise_day(instrument, day, trades_by_day.get(day, ()), previous)
        summaries.append(summary)
        previous = summary.close_fen
    return summaries


def period_key(day: date, period: Period) -> str:
    """The label of the month (`2025-07`) or year (`2025`) a day belongs to; the day itself for days."""
    if period is Period.YEAR:
        return f"{day.year:04d}"
    if period is Period.MONTH:
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def roll_up(days: Sequence[DaySummary], period: Period) -> list[PeriodSummary]:
    """Months or years from days: first open, highest high, lowest low, last close, summed volumes.

    `listed_vwap_fen` is the period's listed VWAP, Σ listed value / Σ listed volume rounded half up.
    """
    groups: dict[str, list[DaySummary]] = {}
    for summary in days:
        groups.setdefault(period_key(summary.day, period), []).append(summary)
    rolled = []
    for key, members in groups.items():
        volume: dict[str, int] = {}
        value: dict[str, int] = {}
        for member in members:
            for modality, quantity in member.volume.items():
                volume[modality] = volume.get(modality, 0) + quantity
            for modality, amount in member.value_fen.items():
                value[modality] = value.get(modality, 0) + amount
        opens = [m.open_fen for m in members if m.open_fen is not None]
        listed_volume = volume.get(LISTED, 0)
        rolled.append(
            PeriodSummary(
                instrument=members[0].instrument,
                period=key,
                first_day=members[0].day,
                last_day=members[-1].day,
                trading_days=len(members),
                open_fen=opens[0] if opens else None,
                high_fen=max((m.high_fen for m in members if m.high_fen is not None), default=None),
                low_fen=min((m.low_fen for m in members if m.low_fen is not None), default=None),
                close_fen=members[-1].close_fen,
                listed_vwap_fen=divide_half_up(value.get(LISTED, 0), listed_volume)
                if listed_volume
                else None,
                volume=volume,
                value_fen=value,
            )
        )
    return rolled


def check_close_time(day: date, now: datetime, calendar: MarketCalendar) -> None:
    """The official close of a day is struck after 15:00 CST that day, or any time for past days."""
    local = now.astimezone(CHINA_STANDARD_TIME)
    try:
        trading = calendar.is_trading_day(day)
    except CalendarNotCovered as error:
        raise Refused(Code.EXCHANGE_MARKETDATA_INVALID_DATE, str(error)) from None
    if not trading:
        raise Refused(Code.EXCHANGE_CLOSE_NOT_TRADING_DAY, f"{day} is not a trading day; it has no close")
    if day > local.date() or (day == local.date() and local.time() < close_not_before):
        raise Refused(
            Code.EXCHANGE_CLOSE_TOO_EARLY,
            f"the close of {day} is struck after {close_not_before:%H:%M} China Standard Time that day; "
            f"it is now {local:%Y-%m-%d %H:%M}",
        )


def parse_day(value: object, what: str = "date") -> date:
    """A YYYY-MM-DD date from outside."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Refused(
            Code.EXCHANGE_MARKETDATA_INVALID_DATE, f"{what} must be a date as YYYY-MM-DD, not {value!r}"
        ) from None


def parse_period(value: object) -> Period:
    """day, month or year."""
    try:
        return Period(str(value))
    except ValueError:
        raise Refused(
            Code.EXCHANGE_MARKETDATA_INVALID_PERIOD, f"period must be day, month or year, not {value!r}"
        ) from None


# --- reads (B2's trades table, this part's closes) ----------------------------------------------------


def _prefix(instrument: str) -> bool:
    """The composite reads every allowance vintage's trades (ids starting `CEA`), others their own."""
    return instrument == COMPOSITE


def _trades(connection: Connection, instrument: str, first: date, last: date) -> list[Trade]:
    rows = store.trade_rows(connection, instrument, first.isoformat(), last.isoformat(), _prefix(instrument))
    return [
        Trade(r.trade_id, r.modality, r.instrument, int(r.price_fen), int(r.quantity), r.at) for r in rows
    ]


def _stored_summary(row: Any) -> DaySummary:
    return DaySummary(
        instrument=row.instrument,
        day=date.fromisoformat(row.day),
        open_fen=row.open_fen,
        high_fen=row.high_fen,
        low_fen=row.low_fen,
        close_fen=row.close_fen,
        previous_close_fen=row.previous_close_fen,
        carried=bool(row.carried),
        volume={m: int(getattr(row, f"{m}_volume")) for m in MODALITIES if getattr(row, f"{m}_volume")},
        value_fen={
            m: int(getattr(row, f"{m}_value_fen")) for m in MODALITIES if getattr(row, f"{m}_value_fen")
        },
    )


def reference_close_fen(connection: Connection, instrument: str, day: date) -> int:
    """The close of the last trading day before `day`, for the price bands of `day` (DOMAIN.md §5 [reg]).

    The stored official close of that day; if a later day before `day` had listed trades but was
    not closed yet, that day's listed VWAP; with no trade ever, the listing reference price of
    `exchange/data/bidding.toml` [reference_prices]. Refuses an instrument that has none of these.
    """
    stored = store.last_close_before(connection, instrument, day.isoformat())
    last_listed = store.last_listed_day_before(connection, instrument, day.isoformat(), _prefix(instrument))
    if last_listed is not None and (stored is None or last_listed > stored.day):
        traded_on = date.fromisoformat(last_listed)
        close = vwap_fen(
            t for t in _trades(connection, instrument, traded_on, traded_on) if t.modality == LISTED
        )
        assert close is not None, "that day had a listed trade"
        return close
    if stored is not None:
        return int(stored.close_fen)
    listed = reference_prices().get(instrument)
    if listed is None:
        raise Refused(
            Code.EXCHANGE_REFERENCE_PRICE_MISSING,
            f"{instrument} has no close and no listing reference price in exchange/data/bidding.toml",
        )
    return listed


def previous_close_or_none(connection: Connection, instrument: str, day: date) -> int | None:
    """`reference_close_fen`, or None for an instrument that has no reference at all."""
    try:
        return reference_close_fen(connection, instrument, day)
    except Refused:
        return None


def monthly_average_price_fen(connection: Connection, year: int, month: int) -> int | None:
    """The month's volume-weighted average price of listed and bulk trades of all CEA vintages.

    Art. 24's penalty price (docs/markets-contract.md; DOMAIN-SOURCES test vector 11): Σ(price ×
    quantity) / Σ quantity over the month's trades, rounded half up to the fen; None without trades.
    """
    if not 1 <= month <= 12:
        raise Refused(Code.EXCHANGE_MARKETDATA_INVALID_DATE, f"month must be 1-12, not {month}")
    first = date(year, month, 1)
    after = date(year + (month == 12), month % 12 + 1, 1)
    value, volume = store.allowance_value_volume(
        connection, first.isoformat(), after.isoformat(), (LISTED, "bulk")
    )
    return None if volume == 0 else divide_half_up(value, volume)


def summary_of_day(connection: Connection, instrument: str, day: date) -> DaySummary:
    """The stored official day if it was closed, else computed now from the trades so far."""
    stored = store.close_row(connection, instrument, day.isoformat())
    if stored is not None:
        return _stored_summary(stored)
    previous = previous_close_or_none(connection, instrument, day)
    return summarise_day(instrument, day, _trades(connection, instrument, day, day), previous)


def series(
    connection: Connection,
    calendar: MarketCalendar,
    instrument: str,
    first: date,
    last: date,
    period: Period = Period.DAY,
) -> list[DaySummary] | list[PeriodSummary]:
    """Day, month or year series of an instrument (or `CEA`, the composite) over [first, last].

    Closed days come from `exchange_closes`; days not closed yet are computed from the trades, each
    carrying the previous close forward.
    """
    if first > last:
        raise Refused(Code.EXCHANGE_MARKETDATA_RANGE_INVALID, f"from {first} is after to {last}")
    if (last - first).days > series_days_max:
        raise Refused(
            Code.EXCHANGE_MARKETDATA_RANGE_INVALID, f"a series spans at most {series_days_max} days"
        )
    try:
        days = calendar.trading_days_between(first, last)
    except CalendarNotCovered as error:
        raise Refused(Code.EXCHANGE_MARKETDATA_RANGE_INVALID, str(error)) from None
    stored = {
        row.day: row for row in store.close_rows(connection, instrument, first.isoformat(), last.isoformat())
    }
    by_day: dict[date, list[Trade]] = {}
    if any(day.isoformat() not in stored for day in days):
        for trade in _trades(connection, instrument, first, last):
            by_day.setdefault(_trade_day(trade.at), []).append(trade)
    summaries: list[DaySummary] = []
    previous = previous_close_or_none(connection, instrument, first) if days else None
    for day in days:
        row = stored.get(day.isoformat())
        summary = (
            _stored_summary(row)
            if row is not None
            else summarise_day(instrument, day, by_day.get(day, ()), previous)
        )
        summaries.append(summary)
        previous = summary.close_fen
    if period is Period.DAY:
        return summaries
    return roll_up(summaries, period)


def instruments_until(connection: Connection, day: date) -> list[str]:
    """Instruments with a price on `day`: traded by then, closed before, or given a listing reference."""
    names = set(store.instruments_traded_until(connection, day.isoformat()))
    names |= set(store.closed_instruments(connection))
    names |= {name for name in reference_prices() if name != COMPOSITE}
    names.discard(COMPOSITE)
    return sorted(names)


def _trade_day(at: str) -> date:
    return datetime.fromisoformat(at).astimezone(CHINA_STANDARD_TIME).date()


class MarketData:
    """Market data over one database: the official close (a command) and the public reads."""

    def __init__(
        self, engine: Engine, clock: Clock | None = None, calendar: MarketCalendar | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.calendar = calendar or MarketCalendar.load()

    def close_day(self, actor: Actor, day: object) -> Outcome:
        """Strike and store the official close of `day` per instrument and the composite (DOMAIN.md §5 [reg]).

        The exchange operator's command, once per day (`close-<day>`; a repeat answers `exists` with
        the stored closes); only after 15:00 CST that day, or for a past day.
        """
        try:
            wanted = parse_day(day)
        except Refused as refused:
            return refused.refusal
        command_id = f"close-{wanted.isoformat()}"
        stored = run_read(self.engine, lambda c: store.close_rows_of_day(c, wanted.isoformat()))
        if stored:
            return Done(
                "exists",
                {"day": wanted.isoformat(), "closes": [_stored_summary(r).as_json() for r in stored]},
            )

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, {Role.EXCHANGE_OPERATOR}, "striking the official close")
            check_close_time(wanted, self.clock.now(), self.calendar)
            closes = []
            for instrument in [*instruments_until(connection, wanted), COMPOSITE]:
                summary = summary_of_day(connection, instrument, wanted)
                if summary.close_fen is None:
                    continue
                store.insert_close(connection, _close_row(summary, actor.username, at))
                closes.append(summary.as_json())
            return {"day": wanted.isoformat(), "closes": sorted(closes, key=lambda c: c["instrument"])}

        return run_command(
            self.engine,
            self.clock,
            actor,
            "exchange.close_day",
            command_id,
            {"day": wanted.isoformat()},
            work,
        )

    def day(self, instrument: str, day: object) -> dict[str, Any]:
        """One instrument's day: official if closed, else as it stands (public)."""
        wanted = parse_day(day)
        result: dict[str, Any] = run_read(
            self.engine, lambda c: summary_of_day(c, instrument.strip().upper(), wanted).as_json()
        )
        return result

    def series(self, instrument: str, first: object, last: object, period: object = "day") -> dict[str, Any]:
        """A day, month or year series (public)."""
        name = instrument.strip().upper()
        start, end, granularity = parse_day(first, "from"), parse_day(last, "to"), parse_period(period)

        def read(connection: Connection) -> dict[str, Any]:
            rows = series(connection, self.calendar, name, start, end, granularity)
            return {"instrument": name, "period": granularity.value, "series": [r.as_json() for r in rows]}

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def overview(self, day: object | None = None) -> dict[str, Any]:
        """Per instrument: the latest close, its change and the day's volume by modality (public)."""
        wanted = (
            parse_day(day) if day is not None else self.clock.now().astimezone(CHINA_STANDARD_TIME).date()
        )

        def read(connection: Connection) -> dict[str, Any]:
            instruments = [*instruments_until(connection, wanted), COMPOSITE]
            rows = [summary_of_day(connection, name, wanted).as_json() for name in instruments]
            return {"day": wanted.isoformat(), "instruments": [r for r in rows if r["close_fen"] is not None]}

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def recent_trades(self, instrument: str | None = None, limit: int = 50) -> dict[str, Any]:
        """The latest trades of every modality, newest first (public: prices and sizes, never parties)."""
        bounded = max(1, min(limit, recent_trades_max))
        name = instrument.strip().upper() if instrument else None
        rows = run_read(self.engine, lambda c: store.latest_trades(c, name, bounded))
        return {"trades": [public_trade(r) for r in rows]}

    def reference_close_fen(self, instrument: str, day: object) -> int:
        """`reference_close_fen` in its own connection."""
        wanted = parse_day(day)
        return int(run_read(self.engine, lambda c: reference_close_fen(c, instrument, wanted)))

    def monthly_average_price_fen(self, year: int, month: int) -> int | None:
        """`monthly_average_price_fen` in its own connection."""
        return run_read(self.engine, lambda c: monthly_average_price_fen(c, year, month))  # type: ignore[no-any-return]


def public_trade(row: Any) -> dict[str, Any]:
    """A trade as the public sees it: no account ids, which are the parties' business."""
    return {
        "trade_id": row.trade_id,
        "modality": row.modality,
        "instrument": row.instrument,
        "price_fen": int(row.price_fen),
        "quantity": int(row.quantity),
        "at": row.at,
        "day": row.day,
    }


def _close_row(summary: DaySummary, username: str, at: str) -> dict[str, Any]:
    assert summary.close_fen is not None
    row: dict[str, Any] = {
        "instrument": summary.instrument,
        "day": summary.day.isoformat(),
        "open_fen": summary.open_fen,
        "high_fen": summary.high_fen,
        "low_fen": summary.low_fen,
        "close_fen": summary.close_fen,
        "previous_close_fen": summary.previous_close_fen,
        "carried": summary.carried,
        "computed_by": username,
        "computed_at": at,
    }
    for modality in MODALITIES:
        row[f"{modality}_volume"] = summary.volume.get(modality, 0)
        row[f"{modality}_value_fen"] = summary.value_fen.get(modality, 0)
    return row
