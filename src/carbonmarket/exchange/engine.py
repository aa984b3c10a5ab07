"""The listed-agreement matching engine: one pure, deterministic book per instrument.

Commands in, events out (DESIGN.md rule 9): no I/O, no clock, no randomness; trade ids and
sequence numbers come from the book's own counter, so the same commands always give the same
events and the same `snapshot()`. The service journals each command before applying it.

Market rules implemented (DOMAIN.md §5 [reg], SEEE listed agreement rules):
- limit orders in whole lots, on the tick, at most `order_quantity_max_t`, priced within the band
  around the reference price (the previous close; ±10%, edges inside, rounded inward to the tick);
- AUTO: price-time priority; every trade is at the resting order's price; partial fills;
- PICK: the taker names one resting order among the other side's best 5 price levels and trades
  with it alone, at its price; the taker's unfilled rest is cancelled (it never rests);
- cancel and amend (a price change or a size increase loses time priority; a size cut keeps it);
- self-trade prevention: an order that would trade with a resting order of its own account is
  refused whole, before anything trades.

Hot-path layout, chosen by measurement (`carbonmarket bench matching`, bench/matching.md): per
side a dict from price to a price level, and a plain sorted list of the prices of the levels that
hold orders, with the best price last, so the best level is `keys[-1]` and a sweep pops from the
end. A level is a list of orders in time order read from a head index (`_Level`): appending and
taking the front are C list operations, not method calls. A level that empties stays in its dict to
be reused (only its price leaves the key list), so a price that fills and refills does not churn
the dict. Cancels are lazy: a cancelled order is only marked dead (remaining 0); matching drops
dead orders and emptied levels when it reaches them, reads count live orders when asked, and the
whole book is compacted when dead orders outnumber live ones (amortised O(1) a cancel). The id
index keeps each accepted order's record after it leaves the book (remaining 0), so a cancel or a
fill finishes an order without another probe of that large table; at the close the finished
records are dropped to None. Prices, quantities and the sequence number are compared and counted
as C integers in the compiled build. `apply` handles a well-formed AUTO order that rests, and a
cancel, inline, without another call; events are NamedTuples built with one `tuple.__new__` call
each (see `exchange/model.py`).

Two builds of this one file (issue 5; bench/matching.md): setup.py compiles it with Cython in
pure-Python mode into the extension module `carbonmarket.exchange.engine` that Python imports in
preference to this file; without the extension, this file runs as plain Python. The `cython.*`
decorators and declarations below type the hot path for the compiled build (`Book` and `_Order`
become C structs, the internal methods C functions) and do nothing interpreted; the few
`if cython.compiled:` branches are resolved at compile time and say the same thing two ways.
`COMPILED` tells which build is loaded, and tests/property/test_exchange_engine_compiled.py
checks on random command streams that both give identical events and state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from carbonmarket.core.results import Code
from carbonmarket.exchange.model import (
    CANCEL_BY_REQUEST,
    CANCEL_PICK_REMAINDER,
    AmendOrder,
    CancelOrder,
    Command,
    Event,
    Level,
    ListedRules,
    MatchMode,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderRested,
    RestingOrder,
    Side,
    TradeExecuted,
    price_band,
)

_T = TypeVar("_T")


class _Interpreted:
    """Cython's pure-Python-mode names, doing nothing: the module runs as plain Python without Cython.

    Cython is a build requirement only (pyproject.toml, setup.py); the installed package may lack
    it. Compiled, `import cython` below is Cython's own compile-time module and this class is unused.
    """

    compiled = False
    Py_ssize_t = int
    longlong = int
    void = None
    bint = bool

    @staticmethod
    def _unchanged(thing: _T) -> _T:
        return thing

    # The decorators that only tell Cython how to compile what they decorate.
    cclass = cfunc = inline = final = no_gc = _unchanged

    @staticmethod
    def freelist(size: int) -> Callable[[_T], _T]:
        return lambda kind: kind

    @staticmethod
    def locals(**types: Any) -> Callable[[_T], _T]:
        return lambda function: function

    @staticmethod
    def returns(kind: Any) -> Callable[[_T], _T]:
        return lambda function: function

    @staticmethod
    def exceptval(*value: Any, check: bool = True) -> Callable[[_T], _T]:
        return lambda function: function

    @staticmethod
    def declare(kind: Any, *value: Any, **options: Any) -> Any:
        return value[0] if value else None

    @staticmethod
    def cast(kind: Any, value: Any) -> Any:
        return value

    @staticmethod
    def pointer(kind: Any) -> Any:
        return None

    @staticmethod
    def address(value: Any) -> Any:
        return value


if TYPE_CHECKING:
    cython = _Interpreted()
else:
    try:
        import cython
    except ImportError:  # no Cython here: the decorators and declarations below do nothing
        cython = _Interpreted()
    else:
        if not cython.compiled:  # interpreted with Cython installed: the same no-op names, not Cython's
            cython = _Interpreted()

# Which engine is loaded: True for the compiled extension module built from this file by setup.py
# (Cython, pure-Python mode), False when this file runs interpreted. The benchmark reports it, and
# CI can assert it (`python -c "import carbonmarket.exchange.engine as e; assert e.COMPILED"`).
COMPILED: bool = bool(cython.compiled)


def _warn_if_stale() -> None:
    """Warn when engine.py was edited after the extension was built: the extension shadows the edit."""
    import os
    import warnings

    here = os.path.dirname(__file__)
    if os.path.basename(os.path.dirname(os.path.dirname(here))) in {"site-packages", "dist-packages"}:
        return  # installed from a wheel, whose files are unpacked in any order: only a checkout is checked
    source = os.path.join(here, "engine.py")
    try:
        stale = os.path.getmtime(source) > os.path.getmtime(__file__) + 1.0  # a second of slack
    except OSError:  # no source beside the extension: nothing to compare
        return
    if stale:
        warnings.warn(
            f"{source} is newer than the compiled engine {__file__}, which is the one imported; "
            "rebuild it (pip install -e . or python setup.py build_ext --inplace)",
            RuntimeWarning,
            stacklevel=2,
        )


if cython.compiled:
    _warn_if_stale()

# SEEE listed agreement: the taker may pick among the best 5 price levels (DOMAIN.md §5 [reg]).
PICK_LEVELS = 5
# Limits on reads (TIGER_STYLE): depth is shown at most this many levels deep.
DEPTH_LEVELS_MAX = 1_000
# Text fields are bounded, as in the journal's JSON form.
ORDER_ID_MAX_CHARS = 200
# Compiled, an order's price, quantities and seq are C 64-bit integers. Quantities are bounded by the
# rules; the band's top and the next seq are held below this, so every value fits in both builds.
INT_FIELD_MAX = 2**62
# Reason carried by OrderCancelled when the day ends and resting day orders expire.
CANCEL_EXPIRED = "expired"

_BUY = Side.BUY
_SELL = Side.SELL
_AUTO = MatchMode.AUTO
# The types of a well-formed new order's order_id, account, price_fen and quantity, compared in one
# tuple comparison on the hot path (fewer bytecodes than four `type(x) is T` tests).
_FIELD_TYPES = (str, str, int, int)

if cython.compiled:
    from cython.cimports.cpython.list import PyList_GET_ITEM, PyList_Insert  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from cython.cimports.cpython.long import PyLong_AsLongLongAndOverflow  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from cython.cimports.cpython.object import PyObject, PyTypeObject  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from cython.cimports.cpython.ref import Py_INCREF, Py_XDECREF  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from cython.cimports.cpython.tuple import PyTuple_GET_ITEM, PyTuple_SET_ITEM  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from cython.cimports.cpython.type import PyType_GenericAlloc  # type: ignore[import-not-found, import-untyped, unused-ignore]


# Compiled, an event record (a tuple subclass) is allocated and filled in place from the arguments:
# what `tuple.__new__(kind, (a, b, ...))` does, without the argument tuple and the copy. Records
# are NamedTuples with no fields of their own beyond the tuple's (model.py), so their layout is a
# tuple's. One function per record size, so no tuple of the fields is ever built (cachegrind, with
# the resting order's single index probe: ~600 fewer instructions an operation, bench/matching.md).
#
# Each builder also keeps the last record it made, its spare. A caller that has dropped the record
# (the usual case: events are read, then let go) leaves the spare as its only reference, so no one
# can see the record any more, and the next record of that kind is written into it in place: no
# allocation, no deallocation. A record anyone still holds is never touched (it gets a new one).
# CPython's own zip() and dict.items() iterators recycle their result tuples the same way.
# tests/unit/exchange/test_engine_records.py checks both halves.
_SPARES: list[Any] = cython.declare(list, [None] * 11)  # a builder's spare, by record size


@cython.cfunc
@cython.inline
@cython.returns(cython.void)
@cython.locals(index=cython.Py_ssize_t)
def _put(made: Any, index: int, item: Any) -> None:
    """Set one field of a record being built: a new one (no old field) or a spare being reused."""
    old = cython.declare(cython.pointer(PyObject), PyTuple_GET_ITEM(made, index))
    Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(made, index, item)
    Py_XDECREF(old)


@cython.cfunc
@cython.inline
@cython.returns(cython.bint)
@cython.exceptval(check=False)
@cython.locals(spare="PyObject*", unheld=cython.bint)
def _unheld(spare: Any, kind: Any) -> bool:
    """Whether a builder's spare (a borrowed pointer) is a record of `kind` that no one else holds:
    its one reference is the spare's own."""
    unheld: bool = spare.ob_refcnt == 1 and spare.ob_type == cython.cast(cython.pointer(PyTypeObject), kind)
    return unheld


@cython.cfunc  # not inline: the builders that call it stay small enough for gcc to inline them
@cython.locals(size=cython.Py_ssize_t, spare="PyObject*")
def _blank(kind: Any, size: int) -> Any:
    """A record of `kind` with `size` fields to fill: the builder's spare when no one else holds it,
    else a new one, which becomes the spare. The spare is read as a borrowed pointer, so looking
    takes no reference."""
    spare = PyList_GET_ITEM(_SPARES, size)
    if _unheld(spare, kind):
        return cython.cast(object, spare)
    made = PyType_GenericAlloc(kind, size)
    _SPARES[size] = made
    return made


@cython.cfunc
@cython.inline
def _record2(kind: Any, a: Any, b: Any) -> Any:
    made = _blank(kind, 2)
    _put(made, 0, a)
    _put(made, 1, b)
    return made


@cython.cfunc
@cython.inline
def _record3(kind: Any, a: Any, b: Any, c: Any) -> Any:
    made = _blank(kind, 3)
    _put(made, 0, a)
    _put(made, 1, b)
    _put(made, 2, c)
    return made


@cython.cfunc
@cython.inline
def _record6(kind: Any, a: Any, b: Any, c: Any, d: Any, e: Any, f: Any) -> Any:
    made = _blank(kind, 6)
    _put(made, 0, a)
    _put(made, 1, b)
    _put(made, 2, c)
    _put(made, 3, d)
    _put(made, 4, e)
    _put(made, 5, f)
    return made


@cython.cfunc
@cython.inline
def _record10(
    kind: Any, a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any, h: Any, i: Any, j: Any
) -> Any:
    made = _blank(kind, 10)
    _put(made, 0, a)
    _put(made, 1, b)
    _put(made, 2, c)
    _put(made, 3, d)
    _put(made, 4, e)
    _put(made, 5, f)
    _put(made, 6, g)
    _put(made, 7, h)
    _put(made, 8, i)
    _put(made, 9, j)
    return made


if not cython.compiled:
    # Interpreted, records are built by tuple.__new__: one C call, no Python-level __new__.
    def _record2(kind: Any, a: Any, b: Any) -> Any:
        return tuple.__new__(kind, (a, b))

    def _record3(kind: Any, a: Any, b: Any, c: Any) -> Any:
        return tuple.__new__(kind, (a, b, c))

    def _record6(kind: Any, a: Any, b: Any, c: Any, d: Any, e: Any, f: Any) -> Any:
        return tuple.__new__(kind, (a, b, c, d, e, f))

    def _record10(
        kind: Any, a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any, h: Any, i: Any, j: Any
    ) -> Any:
        return tuple.__new__(kind, (a, b, c, d, e, f, g, h, i, j))


@cython.cfunc
@cython.inline
@cython.returns(cython.longlong)
@cython.exceptval(check=False)
@cython.locals(overflow="int", value=cython.longlong)
def _positive(number: Any) -> int:
    """`number` as a C integer when it is an int from 1 to 2**63 - 1, else 0 (which no check passes).

    The fast path's price and quantity tests then compare C integers; anything else (a bool, a
    float, a huge or negative int) fails them and takes the checked path, which names the problem.
    Interpreted, an int is comparable as it is, and a huge one fails the same tests.
    """
    if type(number) is not int:
        return 0
    if cython.compiled:
        overflow = 0
        value: int = PyLong_AsLongLongAndOverflow(number, cython.address(overflow))
        return 0 if overflow or value <= 0 else value
    else:  # an else, so that Cython drops this branch at compile time
        return number if number > 0 else 0


@cython.final
@cython.no_gc
@cython.freelist(1024)
@cython.cclass
class _Order:
    """A resting order's mutable record; `remaining` 0 marks one that left the book while still
    sitting in its level.

    Compiled, a C struct read by offset, and outside the cycle collector (`no_gc`: it holds only
    text and integers, so it can never be part of a reference cycle): the book's tens of thousands of
    resting orders are then not walked by every full collection, which otherwise took about a third
    of the benchmark's time (bench/matching.md). Interpreted, a plain object with the same fields.
    Built with `_Order.__new__(_Order)` and field stores: no __init__ call on the hot path.
    """

    order_id: str = cython.declare(object, visibility="readonly")
    account: str = cython.declare(object, visibility="readonly")
    is_buy: bool = cython.declare(cython.bint, visibility="readonly")
    price: int = cython.declare(cython.longlong, visibility="readonly")
    quantity: int = cython.declare(cython.longlong, visibility="readonly")  # total, as accepted or amended
    remaining: int = cython.declare(cython.longlong, visibility="readonly")
    seq: int = cython.declare(cython.longlong, visibility="readonly")  # time priority: lower is earlier


_ORDER_FIELDS = ("order_id", "account", "is_buy", "price", "quantity", "remaining", "seq")


if not cython.compiled:
    # Interpreted, the same record with its fields as __slots__ (the class above carries them as
    # class attributes, which __slots__ cannot share): smaller and quicker to build than with a dict.
    _Order = type(  # type: ignore[misc, assignment]
        "_Order", (), {"__slots__": _ORDER_FIELDS, "__doc__": _Order.__doc__, "__module__": __name__}
    )


@cython.cfunc
@cython.locals(
    order=_Order,
    is_buy=cython.bint,
    price=cython.longlong,
    quantity=cython.longlong,
    remaining=cython.longlong,
    seq=cython.longlong,
)
def _new_order(
    order_id: str, account: str, is_buy: bool, price: int, quantity: int, remaining: int, seq: int
) -> _Order:
    order = _Order.__new__(_Order)
    order.order_id = order_id
    order.account = account
    order.is_buy = is_buy
    order.price = price
    order.quantity = quantity
    order.remaining = remaining
    order.seq = seq
    return order


@cython.final
@cython.no_gc
@cython.cclass
class _Level:
    """One price level: its orders in time order are `orders[head:]`; those before `head` have left.

    A list read from a head index, so that appending an order and taking the front one are C list
    operations in the compiled build, where a deque's are method calls (about 200 instructions an
    append, callgrind; bench/matching.md). Either the front order `orders[head]` exists (it may be
    dead: lazy cancels) or the level is empty, with `orders == []` and `head == 0`; the list is cut
    back when the orders that have left are at least half of it, so it stays at most twice its
    listed orders. Outside the cycle collector (it holds only a list of order records).
    """

    orders: list[_Order] = cython.declare(list, visibility="readonly")
    head: int = cython.declare(cython.Py_ssize_t, visibility="readonly")


if not cython.compiled:
    _Level = type(  # type: ignore[misc, assignment]
        "_Level", (), {"__slots__": ("orders", "head"), "__doc__": _Level.__doc__, "__module__": __name__}
    )


@cython.cfunc
@cython.locals(level=_Level)
def _new_level(orders: list[_Order]) -> _Level:
    level = _Level.__new__(_Level)
    level.orders = orders
    level.head = 0
    return level


@cython.cfunc
@cython.inline
@cython.returns(cython.bint)
@cython.exceptval(-1)
@cython.locals(level=_Level, orders=list, head=cython.Py_ssize_t)
def _drop_front(level: _Level) -> bool:
    """Take the front order off the level (it has filled or was dead); True when the level is empty."""
    orders = level.orders
    head = level.head + 1
    if head == len(orders):
        del orders[:]
        level.head = 0
        return True
    if head >= 32 and head * 2 >= len(orders):  # cut back: amortised O(1) an order
        del orders[:head]
        head = 0
    level.head = head
    return False


@cython.cfunc
@cython.returns(cython.Py_ssize_t)
@cython.exceptval(-1)
@cython.locals(level=_Level, front=_Order, dead=cython.Py_ssize_t)
def _drop_dead_front(level: _Level) -> int:
    """Drop the dead orders at the front of the level; return how many (0 when the front is live)."""
    dead = 0
    while level.orders:
        front = level.orders[level.head]
        if front.remaining:  # 0 for a dead order
            break
        dead += 1
        _drop_front(level)
    return dead


@cython.cfunc
@cython.locals(level=_Level, index=cython.Py_ssize_t, o=_Order)
def _live_orders(level: _Level) -> list[_Order]:
    """The level's live orders in time order."""
    live: list[_Order] = []
    for index in range(level.head, len(level.orders)):
        o = level.orders[index]
        if o.remaining:
            live.append(o)
    return live


@cython.cfunc
@cython.locals(
    keys=list,
    price=cython.longlong,
    descending=cython.bint,
    low=cython.Py_ssize_t,
    high=cython.Py_ssize_t,
    middle=cython.Py_ssize_t,
    at=cython.longlong,
)
def _insert_price(keys: list[int], price_key: int, price: int, descending: bool) -> None:
    """Insert a price not yet in `keys` where it keeps them sorted (descending for asks: best last)."""
    low = 0
    high = len(keys)
    while low < high:
        middle = (low + high) // 2
        at = keys[middle]
        if (at > price) if descending else (at < price):
            low = middle + 1
        else:
            high = middle
    if cython.compiled:  # the C call: list.insert from Cython is a method call with a boxed index
        PyList_Insert(keys, low, price_key)
    else:
        keys.insert(low, price_key)


def _dict_keeping_hashes() -> dict[Any, Any]:
    """An empty dict that keeps each key's hash beside it, as a dict with a non-text key does.

    CPython keeps a text-only dict's entries without hashes and reads the hash from the key object
    when probing: one more memory miss a probe of a table as large as the order index (measured:
    315 -> 286 ns a probe of 140,000 order ids; about 3% of the benchmark's loop). One non-text key,
    put in and taken out, makes the dict general for good; it stays general as it grows.
    """
    made: dict[Any, Any] = {0: None}
    del made[0]
    return made


# Cancels are lazy: a cancelled order stays in its level, dead, until matching reaches it
# or the book is compacted. The book is compacted when the dead orders outnumber the live ones by
# this many; each compaction then follows at least as many cancels as there are live orders, so it
# costs O(1) per cancel, amortised, and the levels hold at most about twice the live orders.
_COMPACT_SLACK = 1_024


@cython.cclass
class Book:
    """One instrument's listed-agreement order book (DOMAIN.md §5 [reg]); pure and deterministic."""

    # The book's fields, declared for the compiled build (C struct members of the extension type;
    # `readonly` ones can be read from Python, as tests and tools do). Interpreted, these are plain
    # class attributes that every instance overrides in __init__.
    instrument: str = cython.declare(object, visibility="public")
    rules: ListedRules = cython.declare(object, visibility="public")
    _tick: int = cython.declare(cython.longlong, visibility="readonly")
    _lot: int = cython.declare(cython.longlong, visibility="readonly")
    _quantity_max: int = cython.declare(cython.longlong, visibility="readonly")
    _seq: int = cython.declare(cython.longlong, visibility="readonly")
    _orders: dict[str, _Order | None] = cython.declare(dict, visibility="readonly")
    _bids: dict[int, _Level] = cython.declare(dict, visibility="readonly")
    _bid_keys: list[int] = cython.declare(list, visibility="readonly")
    _asks: dict[int, _Level] = cython.declare(dict, visibility="readonly")
    _ask_keys: list[int] = cython.declare(list, visibility="readonly")
    _dead: int = cython.declare(cython.Py_ssize_t, visibility="readonly")
    _compact_at: int = cython.declare(cython.Py_ssize_t, visibility="readonly")
    _reference: int = cython.declare(object, visibility="readonly")
    _low: int = cython.declare(cython.longlong, visibility="readonly")
    _high: int = cython.declare(cython.longlong, visibility="readonly")

    def __init__(
        self, instrument: str, rules: ListedRules, reference_price_fen: int, next_seq: int = 1
    ) -> None:
        if type(next_seq) is not int or not 1 <= next_seq < INT_FIELD_MAX:
            raise ValueError(f"next_seq must be a positive integer below 2**62, not {next_seq!r}")
        for name in ("tick_fen", "lot_t", "order_quantity_max_t"):
            if getattr(rules, name) >= INT_FIELD_MAX:
                raise ValueError(f"ListedRules.{name} must be below 2**62, not {getattr(rules, name)}")
        self.instrument = instrument
        self.rules = rules
        self._tick = rules.tick_fen
        self._lot = rules.lot_t
        self._quantity_max = rules.order_quantity_max_t
        self._seq = next_seq
        # Every order id ever accepted (so a reused id is refused), mapped to its record: the
        # record of a resting order, the same record with remaining 0 once it has filled or been
        # cancelled that day, or None (an order that never rested, or one finished on an earlier
        # day): one dict does both jobs, and finishing an order does not touch it.
        self._orders = _dict_keeping_hashes()
        # Per side, a dict from price to the level of orders at that price, and the sorted list of
        # the prices of the levels holding orders, with the best last: bid keys are prices
        # ascending, ask keys prices descending (best = lowest price = last), so both sides sweep
        # from the end. A listed level may hold only dead orders; matching and reads skip and drop
        # them. An emptied level stays in the dict, unlisted, until it is reused or compacted.
        self._bids = {}
        self._bid_keys = []
        self._asks = {}
        self._ask_keys = []
        self._dead = 0  # cancelled orders still sitting in levels
        self._compact_at = _COMPACT_SLACK
        self._reference = 0
        self._low = 0
        self._high = 0
        self._set_band(reference_price_fen)

    # Reference price and band ------------------------------------------------------------------

    def set_reference_price(self, price_fen: int) -> None:
        """Move the band to follow a new reference price, the previous close (DOMAIN.md §5 [reg]).

        Listed orders are day orders: call `expire_all` at the close, then this at the next open.
        Resting orders outside the new band would trade outside the limit, so they are a caller's
        bug and raise ValueError (nothing changes).
        """
        low, high = self._band_for(price_fen)
        outside = [o.order_id for o in self._resting() if not low <= o.price <= high]
        if outside:
            raise ValueError(
                f"{len(outside)} resting order(s) lie outside the new band {low}..{high} fen "
                f"(first: {outside[0]}); expire or cancel them before moving the reference price"
            )
        self._set_band(price_fen)

    @property
    def reference_price_fen(self) -> int:
        """The price the band is centred on."""
        return self._reference

    @property
    def band(self) -> tuple[int, int]:
        """The lowest and highest acceptable prices in fen, both inclusive."""
        return self._low, self._high

    @property
    def next_seq(self) -> int:
        """The next sequence number the book will hand out."""
        return self._seq

    def _band_for(self, price_fen: int) -> tuple[int, int]:
        if type(price_fen) is not int or price_fen <= 0:
            raise ValueError(f"a reference price must be a positive integer in fen, not {price_fen!r}")
        low, high = price_band(price_fen, self.rules)
        if high >= INT_FIELD_MAX:
            raise ValueError(f"a reference price of {price_fen} fen puts the band beyond 2**62 fen")
        return low, high

    def _set_band(self, price_fen: int) -> None:
        self._low, self._high = self._band_for(price_fen)
        self._reference = price_fen

    # Commands ------------------------------------------------------------------------------------

    @cython.locals(
        fields=tuple,
        keys=list,
        order=_Order,
        resting=_Order,
        orders=dict,
        level=_Level,
        well_typed=cython.bint,
        dead=cython.Py_ssize_t,
        is_buy=cython.bint,
        crosses=cython.bint,
        price_c=cython.longlong,
        quantity_c=cython.longlong,
        best=cython.longlong,
        seq=cython.longlong,
    )
    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return what happened, in order; a refusal leaves the book unchanged."""
        fields: tuple[Any, ...]
        well_typed: object
        kind = type(command)
        if kind is NewOrder:
            # The common case, a well-formed AUTO order, is recognised in one expression; anything
            # else takes the checked path, which names the first rule broken.
            # Two statements, not a ternary, so that Cython drops the interpreted branch at compile time.
            if cython.compiled:  # noqa: SIM108
                fields = cython.cast(tuple, command)  # a NamedTuple is a tuple: read it as one, unchecked
            else:
                fields = command
            order_id, account, instrument, side, price, quantity, _at, mode, pick = fields
            # Types first, then non-empty text ids of bounded length.
            if cython.compiled:  # pointer comparisons, then the lengths read from the str objects
                well_typed = (
                    type(order_id) is str
                    and type(account) is str
                    and type(price) is int
                    and type(quantity) is int
                    and 0 < len(cython.cast(str, order_id)) <= ORDER_ID_MAX_CHARS
                    and len(cython.cast(str, account)) > 0
                )
            else:  # one tuple comparison: fewer bytecodes than four `type(x) is T` tests
                well_typed = (
                    (type(order_id), type(account), type(price), type(quantity)) == _FIELD_TYPES
                    and account
                    and order_id
                    and len(order_id) <= ORDER_ID_MAX_CHARS
                )
            orders = self._orders
            price_c = _positive(price)  # 0 unless a positive int that fits in C: no test passes then
            quantity_c = _positive(quantity)
            if not (
                well_typed
                and self._low <= price_c  # unchained comparisons: fewer bytecodes than a <= b <= c
                and price_c <= self._high
                and quantity_c > 0
                and quantity_c <= self._quantity_max
                and not price_c % self._tick
                and not quantity_c % self._lot
                and mode is _AUTO
                and pick is None
                and instrument == self.instrument
            ):
                return self._new_order_checked(command)  # type: ignore[arg-type]
            # A buy may cross when the best ask key is at or below its price, a sell when the
            # best bid is at or above (a dead best level can only make it look so); such an
            # order takes the longer path. An order that rests, the commonest case, is done here.
            if side is _BUY:
                is_buy = True
                keys = self._ask_keys
                crosses = False
                if keys:
                    best = keys[-1]
                    crosses = best <= price_c
            elif side is _SELL:
                is_buy = False
                keys = self._bid_keys
                crosses = False
                if keys:
                    best = keys[-1]
                    crosses = best >= price_c
            else:
                return self._new_order_checked(command)  # type: ignore[arg-type]
            if crosses:
                if order_id in orders:
                    return self._new_order_checked(command)  # type: ignore[arg-type]
                return self._accept_auto(order_id, account, is_buy, price, quantity)
            seq = self._seq
            order = _new_order(order_id, account, is_buy, price_c, quantity_c, quantity_c, seq)
            # The id's one probe of the index both tests that it is unused and records the order;
            # the sequence number is taken only then.
            if orders.setdefault(order_id, order) is not order:
                return self._new_order_checked(command)  # type: ignore[arg-type]
            self._seq = seq + 1
            level = self._level_to_join(is_buy, price)  # typed: `orders` is then read from the struct
            level.orders.append(order)
            return [
                _record6(OrderAccepted, order_id, instrument, side, price, quantity, seq),
                _record2(OrderRested, order_id, quantity),
            ]
        if kind is CancelOrder:
            if cython.compiled:  # noqa: SIM108
                fields = cython.cast(tuple, command)
            else:
                fields = command
            order_id, account, _at = fields
            try:
                resting = self._orders[order_id]
            except (KeyError, TypeError):  # never accepted, or not even a hashable id
                resting = None
            if resting is not None and resting.remaining and resting.account == account:
                # Lazy: the order is marked dead (remaining = 0) where it sits in its level, and
                # its record stays the id's entry in the index.
                remaining = resting.remaining
                resting.remaining = 0
                dead = self._dead + 1
                self._dead = dead
                if dead > self._compact_at:
                    self._compact()
                return [_record3(OrderCancelled, order_id, remaining, CANCEL_BY_REQUEST)]
            return self._cancel(command)  # type: ignore[arg-type]
        if kind is AmendOrder:
            return self._amend(command)  # type: ignore[arg-type]
        raise TypeError(f"not an exchange command: {command!r}")

    @cython.cfunc
    @cython.locals(is_buy=cython.bint, levels=dict, level=_Level)
    def _level_to_join(self, is_buy: bool, price: int) -> _Level:
        """The level at `price` that a new resting order joins at the back: an empty one is listed
        in order in its side's keys first, and made if the price has none."""
        levels = self._bids if is_buy else self._asks
        level = levels.get(price)
        if level is not None and level.orders:
            return level
        if level is None:
            level = _new_level([])
            levels[price] = level
        if is_buy:
            _insert_price(self._bid_keys, price, price, False)
        else:
            _insert_price(self._ask_keys, price, price, True)  # descending: the lowest ask last
        return level

    @cython.locals(o=_Order)
    def _resting(self) -> list[_Order]:
        """The records of the orders resting now, in no particular order."""
        return [o for o in self._orders.values() if o is not None and o.remaining]

    @cython.cfunc
    @cython.locals(levels=dict, keys=list, kept=list, level=_Level, live=cython.Py_ssize_t)
    def _compact(self) -> None:
        """Drop every dead order from the levels and every level left empty (amortised O(1))."""
        live = 0
        for levels, keys, descending in (
            (self._bids, self._bid_keys, False),
            (self._asks, self._ask_keys, True),
        ):
            for price in list(levels):
                level = levels[price]
                kept = _live_orders(level)
                if kept:
                    level.orders = kept
                    level.head = 0
                    live += len(kept)
                else:
                    del levels[price]
            keys[:] = sorted(levels, reverse=descending)
        self._dead = 0
        self._compact_at = live + _COMPACT_SLACK

    @cython.cfunc
    @cython.locals(is_buy=cython.bint, keys=list, levels=dict, level=_Level)
    def _best_level(self, is_buy: bool) -> _Level | None:
        """The best level of one side with a live order at its front, dropping dead ones on the way."""
        if is_buy:
            keys, levels = self._bid_keys, self._bids
        else:
            keys, levels = self._ask_keys, self._asks
        while keys:
            level = levels[keys[-1]]
            self._dead -= _drop_dead_front(level)
            if level.orders:
                return level
            keys.pop()  # emptied: unlisted, kept in the dict for reuse
        return None

    def _new_order_checked(self, c: NewOrder) -> list[Event]:
        refusal = self._check_new(c)
        if refusal is not None:
            return [refusal]
        is_buy = c.side == _BUY
        if c.mode != _AUTO:
            return self._pick(c, is_buy)
        return self._accept_auto(c.order_id, c.account, is_buy, c.price_fen, c.quantity)

    @cython.cfunc
    @cython.locals(
        is_buy=cython.bint,
        crosses=cython.bint,
        events=list,
        price_c=cython.longlong,
        seq=cython.longlong,
        remaining=cython.longlong,
    )
    def _accept_auto(
        self, order_id: str, account: str, is_buy: bool, price: int, quantity: int
    ) -> list[Event]:
        """Accept a checked AUTO order: match it at price-time priority, then rest the remainder."""
        price_c = price
        crosses = self._crosses(is_buy, price_c)
        # Self-trade prevention needs a look ahead only when the order crosses the other side.
        if crosses:
            own = self._own_order_in_way(account, is_buy, price_c, quantity)
            if own is not None:
                return [_self_trade(order_id, own)]
        seq = self._seq
        self._seq = seq + 1
        side = _BUY if is_buy else _SELL
        events: list[Event] = [_record6(OrderAccepted, order_id, self.instrument, side, price, quantity, seq)]
        remaining = self._match(order_id, account, is_buy, price_c, quantity, events) if crosses else quantity
        if remaining:
            self._rest(_new_order(order_id, account, is_buy, price_c, quantity, remaining, seq))
            events.append(_record2(OrderRested, order_id, remaining))
        else:
            self._orders[order_id] = None  # accepted, and never rested
        return events

    def _check_new(self, c: NewOrder) -> OrderRejected | None:
        """The engine's refusals of a new order, in a fixed order (DOMAIN.md §5 [reg] limits)."""
        order_id = c.order_id
        if type(order_id) is not str or not order_id or len(order_id) > ORDER_ID_MAX_CHARS:
            return _reject(str(order_id), Code.ORDER_INVALID_FIELD, "the order id must be non-empty text")
        if type(c.account) is not str or not c.account:
            return _reject(order_id, Code.ORDER_INVALID_FIELD, "the account must be non-empty text")
        if c.instrument != self.instrument:
            return _reject(
                order_id,
                Code.ORDER_WRONG_INSTRUMENT,
                f"order {order_id} is for {c.instrument!r}, but this is the book of {self.instrument!r}",
            )
        if order_id in self._orders:
            return _reject(
                order_id, Code.ORDER_EXISTS, f"order id {order_id} has already been used in this book"
            )
        if c.side != _BUY and c.side != _SELL:
            return _reject(order_id, Code.ORDER_INVALID_FIELD, f"side must be buy or sell, not {c.side!r}")
        refusal = self._check_price(order_id, c.price_fen)
        if refusal is None:
            refusal = self._check_quantity(order_id, c.quantity)
        if refusal is not None:
            return refusal
        if c.mode == MatchMode.AUTO:
            if c.pick_order_id is not None:
                return _reject(
                    order_id,
                    Code.PICK_ORDER_UNEXPECTED,
                    f"order {order_id} names a resting order to pick but its mode is auto; use mode pick",
                )
        elif c.mode == MatchMode.PICK:
            if not c.pick_order_id:
                return _reject(
                    order_id, Code.PICK_ORDER_REQUIRED, f"order {order_id} is in pick mode but names no order"
                )
        else:
            return _reject(order_id, Code.ORDER_INVALID_FIELD, f"mode must be auto or pick, not {c.mode!r}")
        return None

    def _check_price(self, order_id: str, price: Any) -> OrderRejected | None:
        """Tick and band of the listed agreement (DOMAIN.md §5 [reg]: CNY 0.01, ±10% of previous close)."""
        if type(price) is not int:
            return _reject(order_id, Code.ORDER_PRICE_NOT_INTEGER, f"price must be whole fen, not {price!r}")
        if price <= 0:
            return _reject(
                order_id, Code.ORDER_PRICE_NOT_POSITIVE, f"price must be positive, not {price} fen"
            )
        tick = self.rules.tick_fen
        if price % tick:
            return _reject(
                order_id,
                Code.ORDER_PRICE_OFF_TICK,
                f"price {price} fen is not a multiple of the tick, {tick} fen",
            )
        if not self._low <= price <= self._high:
            return _reject(
                order_id,
                Code.ORDER_PRICE_OUTSIDE_LIMIT,
                f"price {price} fen is outside today's band {self._low}..{self._high} fen "
                f"(±{self.rules.price_band_bp / 100:g}% of the reference price {self._reference} fen)",
            )
        return None

    def _check_quantity(self, order_id: str, quantity: Any) -> OrderRejected | None:
        """Lot and maximum size of the listed agreement (DOMAIN.md §5 [reg]: lot 1 t, under 100,000 t)."""
        if type(quantity) is not int:
            return _reject(
                order_id, Code.QUANTITY_NOT_INTEGER, f"quantity must be whole tonnes, not {quantity!r}"
            )
        if quantity <= 0:
            return _reject(
                order_id, Code.QUANTITY_NOT_POSITIVE, f"quantity must be positive, not {quantity} t"
            )
        lot = self.rules.lot_t
        if quantity % lot:
            return _reject(
                order_id,
                Code.ORDER_QUANTITY_NOT_LOT_MULTIPLE,
                f"quantity {quantity} t is not a whole number of lots of {lot} t",
            )
        maximum = self.rules.order_quantity_max_t
        if quantity > maximum:
            return _reject(
                order_id,
                Code.ORDER_QUANTITY_TOO_LARGE,
                f"quantity {quantity} t is above the listed agreement's maximum of {maximum} t an order",
            )
        return None

    @cython.cfunc
    @cython.locals(
        is_buy=cython.bint,
        keys=list,
        levels=dict,
        level=_Level,
        o=_Order,
        index=cython.Py_ssize_t,
        at=cython.Py_ssize_t,
        price=cython.longlong,
        level_price=cython.longlong,
        left=cython.longlong,
        open_quantity=cython.longlong,
    )
    def _own_order_in_way(self, account: str, is_buy: bool, price: int, quantity: int) -> str | None:
        """The id of the first resting order of `account` that this order would reach, if any."""
        if is_buy:
            keys, levels = self._ask_keys, self._asks
        else:
            keys, levels = self._bid_keys, self._bids
        left = quantity
        for index in range(len(keys) - 1, -1, -1):
            level_price = keys[index]
            if (level_price > price) if is_buy else (level_price < price):
                return None
            level = levels[keys[index]]
            for at in range(level.head, len(level.orders)):
                o = level.orders[at]
                open_quantity = o.remaining  # 0 for a dead order
                if open_quantity:
                    if o.account == account:
                        return str(o.order_id)
                    left -= open_quantity
                    if left <= 0:
                        return None
        return None

    @cython.cfunc
    @cython.locals(
        is_buy=cython.bint,
        keys=list,
        levels=dict,
        events=list,
        level=_Level,
        resting=_Order,
        dead=cython.Py_ssize_t,
        price=cython.longlong,
        level_price=cython.longlong,
        seq=cython.longlong,
        open_quantity=cython.longlong,
        fill=cython.longlong,
        remaining=cython.longlong,
        quantity=cython.longlong,
    )
    def _match(
        self, order_id: str, account: str, is_buy: bool, price: int, quantity: int, events: list[Event]
    ) -> int:
        """Sweep the other side at price-time priority; return the unfilled quantity (DOMAIN.md §5).

        An order that fills keeps its record in the index (remaining 0): no probe of the index here.
        """
        if is_buy:
            keys, levels, aggressor = self._ask_keys, self._asks, _BUY
        else:
            keys, levels, aggressor = self._bid_keys, self._bids, _SELL
        instrument = self.instrument
        seq = self._seq
        remaining = quantity
        dead = 0
        while remaining and keys:
            level_key = keys[-1]
            level_price = level_key
            if (level_price > price) if is_buy else (level_price < price):
                break
            level = levels[level_key]
            while remaining and level.orders:
                resting = level.orders[level.head]
                open_quantity = resting.remaining
                if not open_quantity:  # cancelled earlier: lazy removal
                    _drop_front(level)
                    dead += 1
                    continue
                fill = open_quantity if open_quantity <= remaining else remaining
                if is_buy:
                    buy_id, sell_id, buyer, seller = order_id, resting.order_id, account, resting.account
                else:
                    buy_id, sell_id, buyer, seller = resting.order_id, order_id, resting.account, account
                events.append(
                    _record10(
                        TradeExecuted,
                        f"{instrument}-{seq}",
                        instrument,
                        level_key,
                        fill,
                        buy_id,
                        sell_id,
                        buyer,
                        seller,
                        aggressor,
                        seq,
                    )
                )
                seq += 1
                remaining -= fill
                if fill == open_quantity:
                    resting.remaining = 0
                    _drop_front(level)
                else:
                    resting.remaining = open_quantity - fill
            dead += _drop_dead_front(level)  # leave a live order (or nothing) at the front
            if not level.orders:
                keys.pop()  # emptied: unlisted, kept in the dict for reuse
        self._dead -= dead
        self._seq = seq
        return remaining

    @cython.cfunc
    @cython.locals(order=_Order, level=_Level, price=object)
    def _rest(self, order: _Order) -> None:
        """Put an order at the back of its price level, listing the level if it was empty."""
        price = order.price
        level = self._level_to_join(order.is_buy, price)
        level.orders.append(order)
        self._orders[order.order_id] = order

    @cython.cfunc
    @cython.locals(order=_Order)
    def _unrest(self, order: _Order) -> None:
        """Take a live order out of the book: marked dead where it sits (its record stays in the index)."""
        order.remaining = 0
        self._dead += 1
        if self._dead > self._compact_at:
            self._compact()

    @cython.locals(picked=_Order)
    def _pick(self, c: NewOrder, is_buy: bool) -> list[Event]:
        """SEEE mode: trade with the named resting order only, at its price; cancel the taker's rest.

        DOMAIN.md §5 [reg] (SEEE listed agreement rules): the taker picks among the other side's best
        5 price levels. The taker's unfilled remainder never rests: it is cancelled at once.
        """
        order_id = c.order_id
        pick_id = c.pick_order_id or ""
        picked = self._resting_record(pick_id)
        if picked is None or picked.is_buy == is_buy:
            return [
                _reject(
                    order_id,
                    Code.PICK_ORDER_NOT_IN_BEST_LEVELS,
                    f"order {pick_id} is not resting on the other side of {self.instrument}",
                )
            ]
        best = self._best_prices(_SELL if is_buy else _BUY, PICK_LEVELS)
        if picked.price not in best:
            return [
                _reject(
                    order_id,
                    Code.PICK_ORDER_NOT_IN_BEST_LEVELS,
                    f"order {pick_id} at {picked.price} fen is not within the other side's "
                    f"best {PICK_LEVELS} price levels ({', '.join(str(p) for p in best)} fen)",
                )
            ]
        if (picked.price > c.price_fen) if is_buy else (picked.price < c.price_fen):
            return [
                _reject(
                    order_id,
                    Code.PICK_PRICE_BEYOND_LIMIT,
                    f"order {pick_id} is at {picked.price} fen, beyond this order's limit of {c.price_fen}",
                )
            ]
        if picked.account == c.account:
            return [_self_trade(order_id, pick_id)]
        seq = self._seq
        self._seq = seq + 1
        self._orders[order_id] = None  # accepted; a PICK order never rests
        events: list[Event] = [
            OrderAccepted(order_id, self.instrument, _BUY if is_buy else _SELL, c.price_fen, c.quantity, seq)
        ]
        fill = min(c.quantity, picked.remaining)
        trade_seq = self._seq
        self._seq = trade_seq + 1
        if is_buy:
            buy_id, buy_account, sell_id, sell_account = order_id, c.account, picked.order_id, picked.account
        else:
            buy_id, buy_account, sell_id, sell_account = picked.order_id, picked.account, order_id, c.account
        events.append(
            TradeExecuted(
                trade_id=f"{self.instrument}-{trade_seq}",
                instrument=self.instrument,
                price_fen=picked.price,
                quantity=fill,
                buy_order_id=buy_id,
                sell_order_id=sell_id,
                buy_account=buy_account,
                sell_account=sell_account,
                aggressor=_BUY if is_buy else _SELL,
                seq=trade_seq,
            )
        )
        if fill == picked.remaining:
            self._unrest(picked)
        else:
            picked.remaining -= fill
        if c.quantity > fill:
            events.append(OrderCancelled(order_id, c.quantity - fill, CANCEL_PICK_REMAINDER))
        return events

    def _cancel(self, c: CancelOrder) -> list[Event]:
        """Withdraw a resting order's remainder; only the account that placed it may."""
        order = self._resting_of(c.order_id, c.account)
        if type(order) is OrderRejected:
            return [order]
        assert isinstance(order, _Order)
        remaining = order.remaining
        self._unrest(order)
        return [OrderCancelled(c.order_id, remaining, CANCEL_BY_REQUEST)]

    @cython.locals(o=_Order)
    def _resting_record(self, order_id: str) -> _Order | None:
        """The record of a resting order, or None (never accepted, filled, cancelled or expired)."""
        o = self._orders.get(order_id)
        return o if o is not None and o.remaining else None

    def _resting_of(self, order_id: str, account: str) -> _Order | OrderRejected:
        if type(order_id) is not str:
            return _reject(str(order_id), Code.ORDER_INVALID_FIELD, "the order id must be text")
        order = self._resting_record(order_id)
        if order is None:
            return _reject(
                order_id,
                Code.ORDER_NOT_FOUND,
                f"order {order_id} is not resting in {self.instrument} (never accepted, filled or cancelled)",
            )
        if order.account != account:
            return _reject(order_id, Code.ORDER_NOT_OWNED, f"order {order_id} belongs to another account")
        return order

    @cython.locals(order=_Order)
    def _amend(self, c: AmendOrder) -> list[Event]:
        """Change price and/or total quantity; a price change or a size increase loses time priority.

        The events are OrderAmended, then — if the new price crosses the other side — the trades and,
        when a remainder is left after trading, OrderRested with it.
        """
        found = self._resting_of(c.order_id, c.account)
        if type(found) is OrderRejected:
            return [found]
        assert isinstance(found, _Order)
        order = found
        order_id = c.order_id
        price = order.price if c.price_fen is None else c.price_fen
        quantity = order.quantity if c.quantity is None else c.quantity
        refusal = self._check_price(order_id, price) if c.price_fen is not None else None
        if refusal is None and c.quantity is not None:
            refusal = self._check_quantity(order_id, quantity)
        if refusal is not None:
            return [refusal]
        filled = order.quantity - order.remaining
        if quantity <= filled:
            return [
                _reject(
                    order_id,
                    Code.ORDER_AMEND_BELOW_FILLED,
                    f"order {order_id} has {filled} t filled already; a new quantity must be above that "
                    f"(cancel it to stop it trading)",
                )
            ]
        if price == order.price and quantity == order.quantity:
            return [
                _reject(
                    order_id, Code.ORDER_AMEND_NO_CHANGE, f"the amendment leaves order {order_id} as it is"
                )
            ]
        remaining = quantity - filled
        if price == order.price and quantity < order.quantity:
            # A size cut keeps time priority: change the order in place.
            order.quantity = quantity
            order.remaining = remaining
            return [OrderAmended(order_id, price, quantity, remaining)]
        is_buy = order.is_buy
        crosses = self._crosses(is_buy, price)
        if crosses:
            own = self._own_order_in_way(c.account, is_buy, price, remaining)
            if own is not None:
                return [_self_trade(order_id, own)]
        self._unrest(order)
        events: list[Event] = [OrderAmended(order_id, price, quantity, remaining)]
        seq = self._seq  # the amended order's new time priority
        self._seq = seq + 1
        left = self._match(order_id, c.account, is_buy, price, remaining, events) if crosses else remaining
        if left:
            self._rest(_new_order(order_id, c.account, is_buy, price, quantity, left, seq))
            if left != remaining:
                events.append(OrderRested(order_id, left))
        return events

    @cython.cfunc
    @cython.returns(cython.bint)
    @cython.exceptval(-1)
    @cython.locals(
        is_buy=cython.bint, price=cython.longlong, level=_Level, front=_Order, best=cython.longlong
    )
    def _crosses(self, is_buy: bool, price: int) -> bool:
        """Whether an order at `price` meets the other side's best live order (the dead orders at
        the front of that side's best levels, and the levels they leave empty, are dropped)."""
        level = self._best_level(not is_buy)
        if level is None:
            return False
        front = level.orders[level.head]
        best = front.price
        return best <= price if is_buy else best >= price

    def expire_all(self, reason: str = CANCEL_EXPIRED) -> list[Event]:
        """Cancel every resting order at the end of the day: listed orders are day orders."""
        events: list[Event] = []
        resting = sorted(self._resting(), key=lambda o: o.seq)
        for order in resting:
            events.append(OrderCancelled(order.order_id, order.remaining, reason))
        for order in resting:
            self._unrest(order)
        self._compact()
        self._forget_finished()
        return events

    @cython.cfunc
    @cython.locals(orders=dict)
    def _forget_finished(self) -> None:
        """Map every finished order's id to None, dropping its record: a book that runs for many
        days holds one index entry per id it has accepted, not one record (the book is empty now)."""
        orders = self._orders
        for order_id in [order_id for order_id, o in orders.items() if o is not None]:
            orders[order_id] = None

    # Reads -------------------------------------------------------------------------------------

    def _live_levels(self, side: Side, levels: int) -> list[tuple[int, list[_Order]]]:
        """The best `levels` price levels of one side that hold live orders, best first."""
        if side == _BUY:
            keys, book = self._bid_keys, self._bids
        else:
            keys, book = self._ask_keys, self._asks
        found: list[tuple[int, list[_Order]]] = []
        for index in range(len(keys) - 1, -1, -1):
            if len(found) == levels:
                break
            price = keys[index]
            live = _live_orders(book[price])
            if live:
                found.append((price, live))
        return found

    def _best_prices(self, side: Side, levels: int) -> list[int]:
        return [price for price, _ in self._live_levels(side, levels)]

    def best(self, side: Side) -> int | None:
        """The best price on one side, or None when it is empty."""
        prices = self._best_prices(side, 1)
        return prices[0] if prices else None

    def depth(self, side: Side, levels: int = 5) -> list[Level]:
        """The best `levels` price levels of one side, best first, with open quantity and order count."""
        if type(levels) is not int or not 1 <= levels <= DEPTH_LEVELS_MAX:
            raise ValueError(f"levels must be 1..{DEPTH_LEVELS_MAX}, not {levels!r}")
        return [
            Level(price, sum(o.remaining for o in live), len(live))
            for price, live in self._live_levels(side, levels)
        ]

    def order(self, order_id: str) -> RestingOrder | None:
        """A resting order's current state, or None when it is not resting."""
        o = self._resting_record(order_id)
        if o is None:
            return None
        return RestingOrder(
            o.order_id,
            o.account,
            _BUY if o.is_buy else _SELL,
            o.price,
            o.quantity,
            o.remaining,
            o.seq,
        )

    def resting_orders(self) -> list[RestingOrder]:
        """Every resting order, in time priority order."""
        views = (self.order(o.order_id) for o in self._resting())
        return sorted((v for v in views if v is not None), key=lambda v: v.seq)

    def snapshot(self) -> dict[str, Any]:
        """The book's canonical JSON-able state: equal for two books exactly when they behave alike."""
        digest = hashlib.sha256("\n".join(sorted(self._orders)).encode()).hexdigest()
        return {
            "instrument": self.instrument,
            "rules": {
                "tick_fen": self.rules.tick_fen,
                "lot_t": self.rules.lot_t,
                "order_quantity_max_t": self.rules.order_quantity_max_t,
                "price_band_bp": self.rules.price_band_bp,
            },
            "reference_price_fen": self._reference,
            "band_fen": [self._low, self._high],
            "next_seq": self._seq,
            "accepted_orders": len(self._orders),
            "accepted_ids_sha256": digest,
            "bids": self._side_snapshot(_BUY),
            "asks": self._side_snapshot(_SELL),
        }

    def _side_snapshot(self, side: Side) -> list[dict[str, Any]]:
        return [
            {
                "price_fen": price,
                "quantity": sum(o.remaining for o in live),
                "orders": [[o.order_id, o.account, o.quantity, o.remaining, o.seq] for o in live],
            }
            for price, live in self._live_levels(side, len(self._bids if side == _BUY else self._asks))
        ]


def _reject(order_id: str, code: Code, message: str) -> OrderRejected:
    return OrderRejected(order_id, code.value, message)


def _self_trade(order_id: str, own_order_id: str) -> OrderRejected:
    """Self-trade prevention: an account may not trade with itself (wash trades; DOMAIN.md §5)."""
    return _reject(
        order_id,
        Code.ORDER_SELF_TRADE,
        f"order {order_id} would trade with resting order {own_order_id} of the same account",
    )
