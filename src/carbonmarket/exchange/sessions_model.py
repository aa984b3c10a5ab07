"""The rules of one-way bidding sessions and primary auctions: pure checks over plain values.

Pure: standard library and `carbonmarket.core` only (DESIGN.md rule 1). `exchange/sessions.py`
runs these checks inside its transactions; the numbers come from `exchange/data/bidding.toml`
with their sources.

One-way bidding (DOMAIN.md §5, DOMAIN-SOURCES §6 [sec]): a member applies at least 10 working days
ahead to sell (or buy) a lot of at least 100,000 t of one vintage, naming a floor (or cap) price
within ±10% of the previous close; the exchange publishes the notice and the initiator's units (or
funds) are held no later than 5 working days before the window; bidders' sealed bids lie between
the floor and close + 10% (or, bidding to sell into a buy session, between close − 10% and the
cap). Primary auctions follow the EU's rules (DOMAIN.md §5 [reg: EU]).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from typing import Any

from carbonmarket.core.calendar import CHINA_STANDARD_TIME, CalendarNotCovered, MarketCalendar
from carbonmarket.core.results import Code, Refused

# Prices above CNY 1,000,000 a tonne are a typo, not a bid (the 2024 range was 69-106 CNY/t [seed]).
price_fen_max = 100_000_000
basis_points = 10_000


class SessionSide(StrEnum):
    """The initiator's side: it sells to bidders who buy, or buys from bidders who sell."""

    SELL = "sell"
    BUY = "buy"


class PriceMode(StrEnum):
    """How winners pay (DOMAIN-SOURCES §6 [sec]): all at the lowest winning price, or each its own bid."""

    UNIFORM = "uniform"
    PAY_AS_BID = "pay_as_bid"


class BiddingStatus(StrEnum):
    """applied → published (units held, bidding) → cleared | cancelled; or applied → rejected."""

    APPLIED = "applied"
    PUBLISHED = "published"
    REJECTED = "rejected"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class AuctionStatus(StrEnum):
    """open (bidding) → cleared | cancelled."""

    OPEN = "open"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class BidStatus(StrEnum):
    """A sealed bid until clearing; then won, partly won, lost, or released with its session."""

    SEALED = "sealed"
    WON = "won"
    PARTIAL = "partial"
    LOST = "lost"
    RELEASED = "released"


@dataclass(frozen=True)
class BiddingRules:
    """One-way bidding's numbers (exchange/data/bidding.toml [bidding])."""

    lot_min_t: int
    quantity_max_t: int
    band_bp: int
    application_lead_working_days: int
    units_in_place_working_days: int
    price_modes: tuple[PriceMode, ...]
    minimum_fill_bp_default: int
    window_start: time
    window_end: time
    bids_per_session_max: int
    bids_per_bidder_max: int
    sessions_listed_max: int


@dataclass(frozen=True)
class AuctionRules:
    """Primary auctions' numbers (exchange/data/bidding.toml [auction])."""

    cancellation_ratio_bp: int
    minimum_fill_bp: int
    unsold_spread_auctions: int
    quantity_max_t: int


@dataclass(frozen=True)
class Window:
    """A bidding window, half-open [opens_at, closes_at), as aware UTC datetimes."""

    opens_at: datetime
    closes_at: datetime

    @property
    def day(self) -> date:
        """The trading day (China Standard Time) the window lies in."""
        return self.opens_at.astimezone(CHINA_STANDARD_TIME).date()


# --- data --------------------------------------------------------------------------------------------


def _document() -> dict[str, Any]:
    text = (resources.files("carbonmarket.exchange") / "data" / "bidding.toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    if document.get("schema_version") != 1:
        raise ValueError("exchange/data/bidding.toml: schema_version must be 1")
    return document


@functools.cache
def bidding_rules() -> BiddingRules:
    """The packaged one-way bidding rules (DOMAIN-SOURCES §6 [sec], defaults [?] as the file says)."""
    return parse_bidding_rules(_document()["bidding"])


@functools.cache
def auction_rules() -> AuctionRules:
    """The packaged primary auction rules (EU anchors, DOMAIN.md §5 [reg: EU])."""
    return parse_auction_rules(_document()["auction"])


@functools.cache
def reference_prices() -> Mapping[str, int]:
    """Listing reference prices (fen/t) of instruments that never traded (bidding.toml [reference_prices])."""
    table = dict(_document()["reference_prices"])
    table.pop("source", None)
    prices = {str(key): _positive(value, f"reference_prices.{key}") for key, value in table.items()}
    return prices


def parse_bidding_rules(table: Mapping[str, Any]) -> BiddingRules:
    """Build the bidding rules from their TOML table, refusing values no market could mean."""
    modes = tuple(PriceMode(mode) for mode in table["price_modes"])
    rules = BiddingRules(
        lot_min_t=_positive(table["lot_min_t"], "lot_min_t"),
        quantity_max_t=_positive(table["quantity_max_t"], "quantity_max_t"),
        band_bp=_ratio(table["band_bp"], "band_bp", below=basis_points),
        application_lead_working_days=_count(table["application_lead_working_days"], "lead"),
        units_in_place_working_days=_count(table["units_in_place_working_days"], "units in place"),
        price_modes=modes,
        minimum_fill_bp_default=_ratio(table["minimum_fill_bp_default"], "minimum_fill_bp_default"),
        window_start=time.fromisoformat(table["window_start"]),
        window_end=time.fromisoformat(table["window_end"]),
        bids_per_session_max=_positive(table["bids_per_session_max"], "bids_per_session_max"),
        bids_per_bidder_max=_positive(table["bids_per_bidder_max"], "bids_per_bidder_max"),
        sessions_listed_max=_positive(table["sessions_listed_max"], "sessions_listed_max"),
    )
    if rules.lot_min_t > rules.quantity_max_t or rules.window_start >= rules.window_end:
        raise ValueError("bidding rules: lot above the maximum, or an empty window")
    if rules.units_in_place_working_days > rules.application_lead_working_days:
        raise ValueError("bidding rules: units must be in place after the application, not before")
    return rules


def parse_auction_rules(table: Mapping[str, Any]) -> AuctionRules:
    """Build the auction rules from their TOML table."""
    return AuctionRules(
        cancellation_ratio_bp=_ratio(table["cancellation_ratio_bp"], "cancellation_ratio_bp"),
        minimum_fill_bp=_ratio(table["minimum_fill_bp"], "minimum_fill_bp"),
        unsold_spread_auctions=_positive(table["unsold_spread_auctions"], "unsold_spread_auctions"),
        quantity_max_t=_positive(table["quantity_max_t"], "quantity_max_t"),
    )


def _positive(value: object, name: str) -> int:
    if type(value) is not int or value <= 0:
        raise ValueError(f"bidding.toml: {name} must be a positive whole number, not {value!r}")
    return value


def _count(value: object, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"bidding.toml: {name} must be a whole number of days, not {value!r}")
    return value


def _ratio(value: object, name: str, below: int = basis_points + 1) -> int:
    if type(value) is not int or not 0 <= value < below:
        raise ValueError(f"bidding.toml: {name} must be basis points in 0..{below - 1}, not {value!r}")
    return value


# --- parsing outside input ---------------------------------------------------------------------------


def parse_side(value: object) -> SessionSide:
    """Read the initiator's side, refusing other words."""
    try:
        return SessionSide(str(value))
    except ValueError:
        raise Refused(
            Code.EXCHANGE_BIDDING_INVALID_SIDE, f"side must be 'sell' or 'buy', not {value!r}"
        ) from None


def parse_price_mode(value: object, rules: BiddingRules) -> PriceMode:
    """Read a price mode the rules allow (uniform or pay-as-bid)."""
    allowed = ", ".join(mode.value for mode in rules.price_modes)
    try:
        mode = PriceMode(str(value))
    except ValueError:
        mode = None
    if mode is None or mode not in rules.price_modes:
        raise Refused(
            Code.EXCHANGE_BIDDING_INVALID_PRICE_MODE, f"price mode must be one of {allowed}, not {value!r}"
        )
    return mode


def parse_price(value: object, what: str = "price") -> int:
    """A price in whole fen per tonne: positive and at most CNY 1,000,000/t."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise Refused(
                Code.EXCHANGE_BIDDING_INVALID_PRICE, f"{what} must be a whole number of fen, not {value!r}"
            )
    if not 0 < value <= price_fen_max:
        raise Refused(
            Code.EXCHANGE_BIDDING_INVALID_PRICE,
            f"{what} must be between 1 and {price_fen_max} fen per tonne, not {value}",
        )
    return value


def parse_price_cny(value: object, what: str = "price") -> int:
    """CNY per tonne with at most two decimals (the tick is CNY 0.01, DOMAIN.md §5 [reg]) → whole fen."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise Refused(
            Code.EXCHANGE_BIDDING_INVALID_PRICE,
            f"{what} must be CNY per tonne with at most two decimals, e.g. 97.49, not {value!r}",
        )
    return parse_price(int(amount * 100), what)


def parse_time(value: object, what: str) -> datetime:
    """An ISO-8601 moment with its offset (a naive time is taken as China Standard Time), as UTC."""
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise Refused(Code.EXCHANGE_BIDDING_INVALID_TIME, f"{what} must be an ISO-8601 time, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Refused(
            Code.EXCHANGE_BIDDING_INVALID_TIME,
            f"{what} {value!r} is not an ISO-8601 time such as 2025-07-16T10:00:00+08:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_STANDARD_TIME)
    return moment.astimezone(UTC)


def stamp(moment: datetime) -> str:
    """A moment as the fixed-width UTC text every table stores (as `db.command.timestamp` writes)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def cst_day(at: str) -> date:
    """The trading day (China Standard Time) of a stored UTC timestamp."""
    return datetime.fromisoformat(at).astimezone(CHINA_STANDARD_TIME).date()


# --- the notice ----------------------------------------------------------------------------------------


def check_window(window: Window, rules: BiddingRules, calendar: MarketCalendar) -> None:
    """The window lies within one trading day's hours (bidding.toml `window_start`..`window_end` [?])."""
    opens = window.opens_at.astimezone(CHINA_STANDARD_TIME)
    closes = window.closes_at.astimezone(CHINA_STANDARD_TIME)
    if not window.opens_at < window.closes_at:
        raise Refused(Code.EXCHANGE_BIDDING_WINDOW_INVALID, "the bidding window must open before it closes")
    if opens.date() != closes.date():
        raise Refused(Code.EXCHANGE_BIDDING_WINDOW_INVALID, "the bidding window must lie within one day")
    if not _is_trading_day(calendar, opens.date()):
        raise Refused(
            Code.EXCHANGE_BIDDING_WINDOW_INVALID, f"{opens.date()} is not a trading day of the market"
        )
    if opens.time() < rules.window_start or closes.time() > rules.window_end:
        raise Refused(
            Code.EXCHANGE_BIDDING_WINDOW_INVALID,
            f"the bidding window must lie within {rules.window_start:%H:%M}-{rules.window_end:%H:%M} "
            "China Standard Time",
        )


def check_application_lead(
    applied_on: date, window: Window, rules: BiddingRules, calendar: MarketCalendar
) -> None:
    """Apply at least 10 working days before the window (DOMAIN-SOURCES §6 [sec])."""
    earliest = _add_working_days(calendar, applied_on, rules.application_lead_working_days)
    if window.day < earliest:
        raise Refused(
            Code.EXCHANGE_BIDDING_LEAD_TIME_TOO_SHORT,
            f"an application on {applied_on} may open a window on {earliest} at the earliest "
            f"({rules.application_lead_working_days} working days ahead), not on {window.day}",
        )


def check_approval_in_time(
    approved_on: date, window: Window, rules: BiddingRules, calendar: MarketCalendar
) -> None:
    """Units (or funds) are in place 5 working days before the window, else the session is withdrawn."""
    in_place_by = _add_working_days(calendar, approved_on, rules.units_in_place_working_days)
    if window.day < in_place_by:
        raise Refused(
            Code.EXCHANGE_BIDDING_APPROVAL_TOO_LATE,
            f"the initiator's units must be held {rules.units_in_place_working_days} working days "
            f"before the window of {window.day}; on {approved_on} it is too late — reject it instead",
        )


def check_lot(quantity: int, rules: BiddingRules) -> None:
    """A session offers at least 100,000 t (DOMAIN-SOURCES §6 [sec]) and at most the platform's limit."""
    if quantity < rules.lot_min_t:
        raise Refused(
            Code.EXCHANGE_BIDDING_LOT_TOO_SMALL,
            f"a one-way bidding session offers at least {rules.lot_min_t:,} t, not {quantity:,}",
        )
    if quantity > rules.quantity_max_t:
        raise Refused(
            Code.QUANTITY_TOO_LARGE,
            f"a one-way bidding session offers at most {rules.quantity_max_t:,} t, not {quantity:,}",
        )


def session_band(reference_close_fen: int, band_bp: int) -> tuple[int, int]:
    """close − 10% rounded up and close + 10% rounded down to the fen (DOMAIN-SOURCES §6 [sec]).

    Rounded inward, so a price on the band is never more than 10% from the close.
    """
    low = -((-reference_close_fen * (basis_points - band_bp)) // basis_points)
    high = (reference_close_fen * (basis_points + band_bp)) // basis_points
    return max(low, 1), high


def check_limit_price(limit_price_fen: int, band: tuple[int, int], side: SessionSide) -> None:
    """The notice's floor (sell) or cap (buy) lies within close ± 10%."""
    low, high = band
    what = "floor" if side is SessionSide.SELL else "cap"
    if not low <= limit_price_fen <= high:
        raise Refused(
            Code.EXCHANGE_BIDDING_PRICE_OUTSIDE_BAND,
            f"the {what} price {limit_price_fen} fen lies outside {low}-{high} fen "
            "(the previous close ± 10%)",
        )


def bid_bounds(side: SessionSide, limit_price_fen: int, band: tuple[int, int]) -> tuple[int, int]:
    """The prices bidders may bid: [floor, close + 10%] to buy, [close − 10%, cap] to sell."""
    low, high = band
    if side is SessionSide.SELL:
        return limit_price_fen, high
    return low, limit_price_fen


def check_bid_price(price_fen: int, bounds: tuple[int, int], side: SessionSide) -> None:
    """A bid below the reserve or above the ceiling is refused (DOMAIN-SOURCES §6 [sec])."""
    low, high = bounds
    if price_fen < low:
        what = "the session's floor" if side is SessionSide.SELL else "the previous close − 10%"
        raise Refused(
            Code.EXCHANGE_BID_BELOW_RESERVE, f"a bid of {price_fen} fen is below {what} ({low} fen)"
        )
    if price_fen > high:
        what = "the previous close + 10%" if side is SessionSide.SELL else "the session's cap"
        raise Refused(
            Code.EXCHANGE_BID_ABOVE_CEILING, f"a bid of {price_fen} fen is above {what} ({high} fen)"
        )


def check_bidder_cap(already_t: int, quantity: int, cap_t: int) -> None:
    """One bidder's bids in a session add up to at most the session's per-bidder cap."""
    if already_t + quantity > cap_t:
        raise Refused(
            Code.EXCHANGE_BID_OVER_BIDDER_CAP,
            f"a bidder may bid for at most {cap_t:,} t in this session; {already_t:,} t already bid, "
            f"{quantity:,} t more would exceed it",
        )


def check_window_open(now: datetime, window: Window) -> None:
    """Bids are taken only inside the window [opens_at, closes_at)."""
    if now < window.opens_at:
        raise Refused(
            Code.EXCHANGE_BIDDING_WINDOW_NOT_OPEN,
            f"bidding opens at {stamp(window.opens_at)}; it is not open yet",
        )
    if now >= window.closes_at:
        raise Refused(Code.EXCHANGE_BIDDING_WINDOW_CLOSED, f"bidding closed at {stamp(window.closes_at)}")


def check_window_over(now: datetime, window: Window) -> None:
    """A session is cleared only once its window has closed (sealed bids stay sealed until then)."""
    if now < window.closes_at:
        raise Refused(
            Code.EXCHANGE_BIDDING_WINDOW_STILL_OPEN,
            f"bidding is open until {stamp(window.closes_at)}; clear it after that",
        )


def minimum_quantity(quantity: int, minimum_fill_bp: int) -> int:
    """The least total that must be bid for a session to clear: quantity × ratio, rounded up."""
    return -((-quantity * minimum_fill_bp) // basis_points)


def spread_unsold(unsold: int, auctions: int) -> list[int]:
    """Unsold volume cut into `auctions` shares for the next auctions (EU, DOMAIN.md §5 [reg: EU]).

    Whole tonnes: the remainder goes to the earliest shares, so 10 over 4 gives 3, 3, 2, 2; shares
    of zero are dropped.
    """
    base, extra = divmod(unsold, auctions)
    shares = [base + (1 if index < extra else 0) for index in range(auctions)]
    return [share for share in shares if share > 0]


def _is_trading_day(calendar: MarketCalendar, day: date) -> bool:
    try:
        return calendar.is_trading_day(day)
    except CalendarNotCovered as error:
        raise Refused(Code.EXCHANGE_BIDDING_WINDOW_INVALID, str(error)) from None


def _add_working_days(calendar: MarketCalendar, day: date, days: int) -> date:
    try:
        return calendar.add_working_days(day, days)
    except CalendarNotCovered as error:
        raise Refused(Code.EXCHANGE_BIDDING_WINDOW_INVALID, str(error)) from None
