"""The exchange's matching vocabulary: sides, modalities, commands in, events out.

Pure: standard library and `carbonmarket.core` only. The matching engine (`exchange/engine.py`)
takes these commands and returns these events; the service journals the commands before it
applies them (DESIGN.md rule 9), so a replay of the journal rebuilds every book exactly.

Listed agreement rules (DOMAIN.md §5 [reg]): lot 1 t, tick CNY 0.01, orders under 100,000 t,
trades within ±10% of the previous close, and two matching modes — automatic price-time
priority, and the SEEE mode where the taker picks a resting order among the other side's best 5
price levels. Prices are integer fen, quantities integer tonnes: there are no floats here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NamedTuple, NoReturn

from carbonmarket.core.results import Code, Refused


class Side(StrEnum):
    """Which way an order goes."""

    BUY = "buy"
    SELL = "sell"


class Modality(StrEnum):
    """The exchange's trading modalities (DOMAIN.md §5; Progress Report §4) and primary auctions."""

    LISTED = "listed"  # listed agreement: the continuous book, this module's engine
    BULK = "bulk"  # bulk agreement: negotiated, at least 100,000 t
    BIDDING = "bidding"  # one-way bidding sessions (SEEE notice 沪环境交〔2025〕23号)
    AUCTION = "auction"  # primary auctions of paid allocation


class MatchMode(StrEnum):
    """How a new listed order finds its counterparty (DOMAIN.md §5 [reg])."""

    AUTO = "auto"  # price-time priority
    PICK = "pick"  # SEEE mode: the taker names one resting order among the other side's best 5 levels


# Commands and events are immutable named records ------------------------------------------------
# They are NamedTuples rather than frozen dataclasses because the engine builds two or three events
# for every operation and reads every command on the hot path: a tuple subclass is built in one C
# call (`tuple.__new__(OrderRested, (order_id, remaining))`, about a third of the cost of the
# fastest frozen-dataclass construction measured, see bench/matching.md) and a command unpacks into
# locals in one step. `_value_record` gives them the semantics of a frozen dataclass: equal only to
# a record of the same type with equal fields (never to a plain tuple or to another record type
# with the same values), hashed as the tuple of their fields (as a frozen dataclass is), not
# ordered, immutable, and printed as `OrderRested(order_id='b1', remaining=10)`.


class NewOrder(NamedTuple):
    """A limit order; `at` is the injected timestamp (ISO 8601), recorded but never read as a clock."""

    order_id: str
    account: str
    instrument: str
    side: Side
    price_fen: int
    quantity: int
    at: str
    mode: MatchMode = MatchMode.AUTO
    pick_order_id: str | None = None


class CancelOrder(NamedTuple):
    """Withdraw the unfilled remainder of a resting order; only its own account may."""

    order_id: str
    account: str
    at: str


class AmendOrder(NamedTuple):
    """Change a resting order's price and/or total quantity (filled + remaining).

    A price change or a size increase loses time priority (the order goes to the back of its
    level); a size cut keeps it. A new quantity must stay above what has already been filled.
    """

    order_id: str
    account: str
    at: str
    price_fen: int | None = None
    quantity: int | None = None


Command = NewOrder | CancelOrder | AmendOrder


# Events, in the order they happen ----------------------------------------------------------------


class OrderAccepted(NamedTuple):
    """A new order passed every check; `seq` is its time priority from the book's counter."""

    order_id: str
    instrument: str
    side: Side
    price_fen: int
    quantity: int
    seq: int


class OrderRejected(NamedTuple):
    """A command was refused; `code` is a `core.results.Code` value; the book is unchanged."""

    order_id: str
    code: str
    message: str


class TradeExecuted(NamedTuple):
    """A fill, always at the resting order's price; `aggressor` is the incoming order's side."""

    trade_id: str
    instrument: str
    price_fen: int
    quantity: int
    buy_order_id: str
    sell_order_id: str
    buy_account: str
    sell_account: str
    aggressor: Side
    seq: int


class OrderRested(NamedTuple):
    """The incoming order's unfilled remainder now waits in the book."""

    order_id: str
    remaining: int


class OrderCancelled(NamedTuple):
    """An order's remainder left the book: by request, or the unfilled rest of a PICK order."""

    order_id: str
    remaining: int
    reason: str


class OrderAmended(NamedTuple):
    """A resting order now has this price and total quantity, with `remaining` still open."""

    order_id: str
    price_fen: int
    quantity: int
    remaining: int


Event = OrderAccepted | OrderRejected | TradeExecuted | OrderRested | OrderCancelled | OrderAmended


# Equality answers for itself rather than NotImplemented: otherwise Python would ask the plain
# tuple on the other side, which would call `("b1", 10) == OrderRested("b1", 10)` true.
def _same_record(self: tuple[Any, ...], other: object) -> bool:
    return type(other) is type(self) and tuple.__eq__(self, other)


def _different_record(self: tuple[Any, ...], other: object) -> bool:
    return type(other) is not type(self) or tuple.__ne__(self, other)


def _unordered(self: tuple[Any, ...], other: object) -> Any:
    return NotImplemented  # as a frozen dataclass without order=True: < and > raise TypeError


def _value_record(kind: type[tuple[Any, ...]]) -> None:
    """Give a NamedTuple record the equality, hashing and ordering of a frozen dataclass."""
    setattr(kind, "__eq__", _same_record)  # noqa: B010 - assigned after class creation on purpose
    setattr(kind, "__ne__", _different_record)  # noqa: B010
    setattr(kind, "__hash__", tuple.__hash__)  # noqa: B010 - the hash of the field tuple, as a dataclass
    for name in ("__lt__", "__le__", "__gt__", "__ge__"):
        setattr(kind, name, _unordered)


for _kind in (NewOrder, CancelOrder, AmendOrder, *Event.__args__):
    _value_record(_kind)

# Reasons an order leaves the book without trading, as carried by OrderCancelled.reason.
CANCEL_BY_REQUEST = "by_request"
CANCEL_PICK_REMAINDER = "pick_remainder"


# Rules and read views ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedRules:
    """Listed agreement limits, from data (`exchange/data/exchange.toml`; DOMAIN.md §5 [reg]).

    E.g. tick 1 fen (CNY 0.01), lot 1 t, at most 99,999 t an order ("under 100,000 t"), and a band
    of 1000 basis points (±10%) around the reference price (the previous close).
    """

    tick_fen: int
    lot_t: int
    order_quantity_max_t: int
    price_band_bp: int

    def __post_init__(self) -> None:
        for name in ("tick_fen", "lot_t", "order_quantity_max_t"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"ListedRules.{name} must be a positive integer, not {value!r}")
        if type(self.price_band_bp) is not int or not 0 <= self.price_band_bp < 10_000:
            raise ValueError(f"ListedRules.price_band_bp must be in 0..9999, not {self.price_band_bp!r}")
        if self.order_quantity_max_t < self.lot_t:
            raise ValueError("ListedRules.order_quantity_max_t is below one lot")


@dataclass(frozen=True, slots=True)
class Level:
    """One price level of one side of the book: total open quantity and how many orders."""

    price_fen: int
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """A read-only view of an order waiting in the book."""

    order_id: str
    account: str
    side: Side
    price_fen: int
    quantity: int  # total, as last accepted or amended
    remaining: int
    seq: int  # time priority: lower is earlier


def price_band(reference_price_fen: int, rules: ListedRules) -> tuple[int, int]:
    """The lowest and highest acceptable listed prices: reference ± band, rounded inward to the tick.

    DOMAIN.md §5 [reg]: listed trades only within ±10% of the previous close; a price exactly on the
    band's edge is inside. The band is computed in integer fen, never in floats.
    """
    tick = rules.tick_fen
    low_exact_num = reference_price_fen * (10_000 - rules.price_band_bp)  # low = num / 10_000
    high_exact_num = reference_price_fen * (10_000 + rules.price_band_bp)
    low = -((-low_exact_num) // 10_000)  # ceiling: inward from below
    high = high_exact_num // 10_000  # floor: inward from above
    low = -((-low) // tick) * tick
    high = (high // tick) * tick
    return max(low, tick), high


# JSON forms, for the journal, the replay file and the API ------------------------------------------

_EVENT_TYPES: dict[type[Any], str] = {
    OrderAccepted: "order_accepted",
    OrderRejected: "order_rejected",
    TradeExecuted: "trade_executed",
    OrderRested: "order_rested",
    OrderCancelled: "order_cancelled",
    OrderAmended: "order_amended",
}
_COMMAND_TYPES: dict[type[Any], str] = {NewOrder: "new", CancelOrder: "cancel", AmendOrder: "amend"}
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    kind: kind._fields for kind in (*_EVENT_TYPES, *_COMMAND_TYPES)
}


def event_as_json(event: Event) -> dict[str, Any]:
    """An event as a flat JSON object with its `type`, enum members as their string values."""
    body: dict[str, Any] = {"type": _EVENT_TYPES[type(event)]}
    for name in _FIELD_NAMES[type(event)]:
        value = getattr(event, name)
        body[name] = value.value if isinstance(value, StrEnum) else value
    return body


def command_as_json(command: Command) -> dict[str, Any]:
    """A command as a flat JSON object with its `type` (`new`, `cancel`, `amend`): the journal's form."""
    body: dict[str, Any] = {"type": _COMMAND_TYPES[type(command)]}
    for name in _FIELD_NAMES[type(command)]:
        value = getattr(command, name)
        body[name] = value.value if isinstance(value, StrEnum) else value
    return body


# The journal's canonical text of a command: `command_as_json`'s object with its keys sorted and no
# spaces. Built without the intermediate object: the names in sorted order with where each value
# comes from (the command's field index, or -1 for `type`), so the encoder needs no sort_keys.
# StrEnum members encode as their text, which is their value.
_encoder = json.JSONEncoder(separators=(",", ":"))
# The C encoder made once: `JSONEncoder.encode` makes a new one for every call, which is most of its
# cost for a small object (3.4 -> 2.5 µs a command). No circular check: the object is flat.
_encode_parts = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _encoder.default, encode_basestring_ascii, None, ":", ",", False, False, True)
)


def _encode_in_order(body: dict[str, Any]) -> str:
    """The JSON text of `body`, keys in the order given, no spaces."""
    if _encode_parts is None:  # pragma: no cover - CPython always has the C encoder
        return _encoder.encode(body)
    return "".join(_encode_parts(body, 0))


_SORTED_FIELDS: dict[type[Any], tuple[tuple[str, int], ...]] = {
    kind: tuple(sorted([("type", -1), *((name, index) for index, name in enumerate(kind._fields))]))
    for kind in _COMMAND_TYPES
}


def command_text(command: Command) -> str:
    """The command's journal text: the canonical JSON (sorted keys, no spaces) of `command_as_json`."""
    kind = type(command)
    type_text = _COMMAND_TYPES[kind]
    return _encode_in_order(
        {name: type_text if index < 0 else command[index] for name, index in _SORTED_FIELDS[kind]}
    )


def command_from_json(body: Any) -> Command:
    """Parse a command from its JSON object, strictly; a fault raises Refused(ORDER_INVALID_FIELD)."""
    if not isinstance(body, dict):
        _invalid("a command must be a JSON object")
    kind = body.get("type")
    if kind == "new":
        allowed = {
            "type",
            "order_id",
            "account",
            "instrument",
            "side",
            "price_fen",
            "quantity",
            "at",
            "mode",
            "pick_order_id",
        }
        _only(body, allowed)
        return NewOrder(
            order_id=_text(body, "order_id"),
            account=_text(body, "account"),
            instrument=_text(body, "instrument"),
            side=_enum(Side, body, "side"),
            price_fen=_integer(body, "price_fen"),
            quantity=_integer(body, "quantity"),
            at=_text(body, "at"),
            mode=_enum(MatchMode, body, "mode") if body.get("mode") is not None else MatchMode.AUTO,
            pick_order_id=_text(body, "pick_order_id") if body.get("pick_order_id") is not None else None,
        )
    if kind == "cancel":
        _only(body, {"type", "order_id", "account", "at"})
        return CancelOrder(
            order_id=_text(body, "order_id"), account=_text(body, "account"), at=_text(body, "at")
        )
    if kind == "amend":
        _only(body, {"type", "order_id", "account", "at", "price_fen", "quantity"})
        return AmendOrder(
            order_id=_text(body, "order_id"),
            account=_text(body, "account"),
            at=_text(body, "at"),
            price_fen=_integer(body, "price_fen") if body.get("price_fen") is not None else None,
            quantity=_integer(body, "quantity") if body.get("quantity") is not None else None,
        )
    _invalid(f"unknown command type {kind!r}; expected 'new', 'cancel' or 'amend'")


# Field lengths are bounded so a journal line cannot grow without limit (TIGER_STYLE: limits on everything).
TEXT_FIELD_MAX_CHARS = 200


def _invalid(message: str) -> NoReturn:
    raise Refused(Code.ORDER_INVALID_FIELD, message)


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        _invalid(f"unknown field(s) {', '.join(unknown)} in a {body.get('type')!r} command")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_FIELD_MAX_CHARS:
        _invalid(f"{name} must be non-empty text of at most {TEXT_FIELD_MAX_CHARS} characters, not {value!r}")
    return str(value)


def _integer(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int:
        _invalid(f"{name} must be a whole number (fen or tonnes), not {value!r}")
    return value


def _enum(kind: type[Side] | type[MatchMode], body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    try:
        return kind(value if isinstance(value, str) else "")
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        return _invalid(f"{name} must be one of {choices}, not {value!r}")
