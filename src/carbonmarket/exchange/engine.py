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
side a dict from price to a deque of orders in time order, and a plain sorted list of the level
prices with the best price last, so the best level is `keys[-1]` and a sweep pops from the end.
Cancels are lazy: a cancelled order is only marked dead (remaining 0); matching drops dead orders
and emptied levels when it reaches them, reads count live orders when asked, and the whole book
is compacted when dead orders outnumber live ones (amortised O(1) a cancel). `apply` handles a
well-formed AUTO order that rests, and a cancel, inline, without another call; events are
NamedTuples built with one `tuple.__new__` call each (see `exchange/model.py`).
"""

from __future__ import annotations

import hashlib
from bisect import insort
from collections import deque
from typing import Any

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

# SEEE listed agreement: the taker may pick among the best 5 price levels (DOMAIN.md §5 [reg]).
PICK_LEVELS = 5
# Limits on reads (TIGER_STYLE): depth is shown at most this many levels deep.
DEPTH_LEVELS_MAX = 1_000
# Text fields are bounded, as in the journal's JSON form.
ORDER_ID_MAX_CHARS = 200
# Reason carried by OrderCancelled when the day ends and resting day orders expire.
CANCEL_EXPIRED = "expired"

_BUY = Side.BUY
_SELL = Side.SELL
_AUTO = MatchMode.AUTO
# The types of a well-formed new order's order_id, account, price_fen and quantity, compared in one
# tuple comparison on the hot path (fewer bytecodes than four `type(x) is T` tests).
_FIELD_TYPES = (str, str, int, int)
# Events are built with tuple.__new__ directly: one C call, no Python-level __new__ (model.py).
_record: Any = tuple.__new__

# A resting order is a plain list, the cheapest mutable record in CPython (the hot path builds one
# per resting order and reads it by constant index):
#   [0 order_id, 1 account, 2 is_buy, 3 price_fen, 4 quantity (total), 5 remaining, 6 seq]
# remaining == 0 marks an order that left the book while still sitting in its level's deque.
_Order = list[Any]  # a type alias, for readability
_ID, _ACCOUNT, _IS_BUY, _PRICE, _QUANTITY, _REMAINING, _SEQ = range(7)

# Cancels are lazy: a cancelled order stays in its level's deque, dead, until matching reaches it
# or the book is compacted. The book is compacted when the dead orders outnumber the live ones by
# this many; each compaction then follows at least as many cancels as there are live orders, so it
# costs O(1) per cancel, amortised, and the deques hold at most about twice the live orders.
_COMPACT_SLACK = 1_024


class Book:
    """One instrument's listed-agreement order book (DOMAIN.md §5 [reg]); pure and deterministic."""

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "_compact_at",
        "_dead",
        "_high",
        "_lot",
        "_low",
        "_orders",
        "_quantity_max",
        "_reference",
        "_seq",
        "_tick",
        "instrument",
        "rules",
    )

    def __init__(
        self, instrument: str, rules: ListedRules, reference_price_fen: int, next_seq: int = 1
    ) -> None:
        if type(next_seq) is not int or next_seq < 1:
            raise ValueError(f"next_seq must be a positive integer, not {next_seq!r}")
        self.instrument = instrument
        self.rules = rules
        self._tick = rules.tick_fen
        self._lot = rules.lot_t
        self._quantity_max = rules.order_quantity_max_t
        self._seq = next_seq
        # Every order id ever accepted (so a reused id is refused), mapped to its record while the
        # order rests and to None once it has filled or been cancelled: one dict does both jobs.
        self._orders: dict[str, _Order | None] = {}
        # Per side, a dict from price to the deque of orders at that price in time order, and the
        # sorted list of those prices with the best last: bid keys are prices ascending, ask keys
        # negated prices ascending (best = lowest price = last), so both sides sweep from the end.
        # A level may be left holding only dead orders; matching and reads skip and drop it.
        self._bids: dict[int, deque[_Order]] = {}
        self._bid_keys: list[int] = []
        self._asks: dict[int, deque[_Order]] = {}
        self._ask_keys: list[int] = []
        self._dead = 0  # cancelled orders still sitting in deques
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
        outside = [o[_ID] for o in self._resting() if not low <= o[_PRICE] <= high]
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
        return price_band(price_fen, self.rules)

    def _set_band(self, price_fen: int) -> None:
        self._low, self._high = self._band_for(price_fen)
        self._reference = price_fen

    # Commands ------------------------------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return what happened, in order; a refusal leaves the book unchanged."""
        kind = type(command)
        if kind is NewOrder:
            # The common case, a well-formed AUTO order, is recognised in one expression; anything
            # else takes the checked path, which names the first rule broken.
            order_id, account, instrument, side, price, quantity, _at, mode, pick = command  # type: ignore[misc]
            orders = self._orders
            if not (
                (type(order_id), type(account), type(price), type(quantity)) == _FIELD_TYPES
                and self._low <= price  # unchained comparisons: fewer bytecodes than a <= b <= c
                and price <= self._high
                and quantity > 0
                and quantity <= self._quantity_max
                and not price % self._tick
                and not quantity % self._lot
                and mode is _AUTO
                and pick is None
                and account
                and order_id
                and len(order_id) <= ORDER_ID_MAX_CHARS
                and instrument == self.instrument
                and order_id not in orders
            ):
                return self._new_order_checked(command)  # type: ignore[arg-type]
            # A buy may cross when the best ask key is at or below its price, a sell when the
            # best bid is at or above (a dead best level can only make it look so); such an
            # order takes the longer path. An order that rests, the commonest case, is done here.
            if side is _BUY:
                keys = self._ask_keys
                if keys and -keys[-1] <= price:
                    return self._accept_auto(order_id, account, True, price, quantity)
                seq = self._seq
                self._seq = seq + 1
                order = [order_id, account, True, price, quantity, quantity, seq]
                try:
                    self._bids[price].append(order)
                except KeyError:
                    self._open_level(True, price).append(order)
            elif side is _SELL:
                keys = self._bid_keys
                if keys and keys[-1] >= price:
                    return self._accept_auto(order_id, account, False, price, quantity)
                seq = self._seq
                self._seq = seq + 1
                order = [order_id, account, False, price, quantity, quantity, seq]
                try:
                    self._asks[price].append(order)
                except KeyError:
                    self._open_level(False, price).append(order)
            else:
                return self._new_order_checked(command)  # type: ignore[arg-type]
            orders[order_id] = order
            return [
                _record(OrderAccepted, (order_id, instrument, side, price, quantity, seq)),
                _record(OrderRested, (order_id, quantity)),
            ]
        if kind is CancelOrder:
            order_id, account, _at = command  # type: ignore[misc]
            try:
                resting = self._orders[order_id]
            except (KeyError, TypeError):  # never accepted, or not even a hashable id
                resting = None
            if resting is not None and resting[1] == account:  # [1]: the order's account
                # Lazy: the order is marked dead ([5] remaining = 0) where it sits in its level.
                remaining = resting[5]
                resting[5] = 0
                self._orders[order_id] = None
                dead = self._dead + 1
                self._dead = dead
                if dead > self._compact_at:
                    self._compact()
                return [_record(OrderCancelled, (order_id, remaining, CANCEL_BY_REQUEST))]
            return self._cancel(command)  # type: ignore[arg-type]
        if kind is AmendOrder:
            return self._amend(command)  # type: ignore[arg-type]
        raise TypeError(f"not an exchange command: {command!r}")

    def _open_level(self, is_buy: bool, price: int) -> deque[_Order]:
        """A new, empty price level, with its price inserted in order into the side's key list."""
        level: deque[_Order] = deque()
        if is_buy:
            self._bids[price] = level
            insort(self._bid_keys, price)
        else:
            self._asks[price] = level
            insort(self._ask_keys, -price)
        return level

    def _resting(self) -> list[_Order]:
        """The records of the orders resting now, in no particular order."""
        return [o for o in self._orders.values() if o is not None]

    def _compact(self) -> None:
        """Drop every dead order from the deques and every level left empty (amortised O(1))."""
        live = 0
        for levels, keys, sign in ((self._bids, self._bid_keys, 1), (self._asks, self._ask_keys, -1)):
            for price in list(levels):
                kept = [o for o in levels[price] if o[_REMAINING]]
                if kept:
                    levels[price] = deque(kept)
                    live += len(kept)
                else:
                    del levels[price]
            keys[:] = sorted(sign * price for price in levels)
        self._dead = 0
        self._compact_at = live + _COMPACT_SLACK

    def _best_level(self, is_buy: bool) -> deque[_Order] | None:
        """The best level of one side with a live order at its front, dropping dead ones on the way."""
        if is_buy:
            keys, levels, sign = self._bid_keys, self._bids, 1
        else:
            keys, levels, sign = self._ask_keys, self._asks, -1
        while keys:
            level = levels[sign * keys[-1]]
            while level and not level[0][_REMAINING]:
                level.popleft()
                self._dead -= 1
            if level:
                return level
            del levels[sign * keys[-1]]
            keys.pop()
        return None

    def _new_order_checked(self, c: NewOrder) -> list[Event]:
        refusal = self._check_new(c)
        if refusal is not None:
            return [refusal]
        is_buy = c.side == _BUY
        if c.mode != _AUTO:
            return self._pick(c, is_buy)
        return self._accept_auto(c.order_id, c.account, is_buy, c.price_fen, c.quantity)

    def _accept_auto(
        self, order_id: str, account: str, is_buy: bool, price: int, quantity: int
    ) -> list[Event]:
        """Accept a checked AUTO order: match it at price-time priority, then rest the remainder."""
        # The other side's best level, with dead orders at its front dropped (as in _best_level,
        # inline: this is the path of every crossing order).
        if is_buy:
            keys, levels, sign = self._ask_keys, self._asks, -1
        else:
            keys, levels, sign = self._bid_keys, self._bids, 1
        crosses = False
        while keys:
            best = sign * keys[-1]
            level = levels[best]
            while level and not level[0][5]:  # [5]: remaining; 0 for a dead order
                level.popleft()
                self._dead -= 1
            if level:
                crosses = best <= price if is_buy else best >= price
                break
            del levels[best]
            keys.pop()
        # Self-trade prevention needs a look ahead only when the order crosses the other side.
        if crosses:
            own = self._own_order_in_way(account, is_buy, price, quantity)
            if own is not None:
                return [_self_trade(order_id, own)]
        seq = self._seq
        self._seq = seq + 1
        self._orders[order_id] = None  # accepted; _rest records it if a remainder rests
        side = _BUY if is_buy else _SELL
        events: list[Event] = [
            _record(OrderAccepted, (order_id, self.instrument, side, price, quantity, seq))
        ]
        remaining = self._match(order_id, account, is_buy, price, quantity, events) if crosses else quantity
        if remaining:
            self._rest([order_id, account, is_buy, price, quantity, remaining, seq])
            events.append(_record(OrderRested, (order_id, remaining)))
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

    def _own_order_in_way(self, account: str, is_buy: bool, price: int, quantity: int) -> str | None:
        """The id of the first resting order of `account` that this order would reach, if any."""
        if is_buy:
            keys, levels, sign = self._ask_keys, self._asks, -1
        else:
            keys, levels, sign = self._bid_keys, self._bids, 1
        left = quantity
        for index in range(len(keys) - 1, -1, -1):
            level_price = sign * keys[index]
            if (level_price > price) if is_buy else (level_price < price):
                return None
            for o in levels[level_price]:
                open_quantity = o[5]  # [5]: remaining; 0 for a dead order
                if open_quantity:
                    if o[1] == account:  # [1]: account
                        return str(o[0])
                    left -= open_quantity
                    if left <= 0:
                        return None
        return None

    def _match(
        self, order_id: str, account: str, is_buy: bool, price: int, quantity: int, events: list[Event]
    ) -> int:
        """Sweep the other side at price-time priority; return the unfilled quantity (DOMAIN.md §5)."""
        if is_buy:
            keys, levels, sign, aggressor = self._ask_keys, self._asks, -1, _BUY
        else:
            keys, levels, sign, aggressor = self._bid_keys, self._bids, 1, _SELL
        # Literal indices into the order record (see _Order) keep the inner loop free of global lookups.
        orders = self._orders
        instrument = self.instrument
        seq = self._seq
        remaining = quantity
        append = events.append
        dead = 0
        while remaining and keys:
            level_price = sign * keys[-1]
            if (level_price > price) if is_buy else (level_price < price):
                break
            level = levels[level_price]
            while remaining and level:
                resting = level[0]
                open_quantity = resting[5]
                if not open_quantity:  # cancelled earlier: lazy removal
                    level.popleft()
                    dead += 1
                    continue
                fill = open_quantity if open_quantity <= remaining else remaining
                if is_buy:
                    trade = (
                        f"{instrument}-{seq}",
                        instrument,
                        level_price,
                        fill,
                        order_id,
                        resting[0],
                        account,
                        resting[1],
                        aggressor,
                        seq,
                    )
                else:
                    trade = (
                        f"{instrument}-{seq}",
                        instrument,
                        level_price,
                        fill,
                        resting[0],
                        order_id,
                        resting[1],
                        account,
                        aggressor,
                        seq,
                    )
                append(_record(TradeExecuted, trade))
                seq += 1
                remaining -= fill
                if fill == open_quantity:
                    resting[5] = 0
                    level.popleft()
                    orders[resting[0]] = None
                else:
                    resting[5] = open_quantity - fill
            while level and not level[0][5]:  # leave a live order (or nothing) at the front
                level.popleft()
                dead += 1
            if not level:
                del levels[level_price]
                keys.pop()
        self._dead -= dead
        self._seq = seq
        return remaining

    def _rest(self, order: _Order) -> None:
        """Put an order at the back of its price level, creating the level if it is new."""
        price = order[_PRICE]
        level = (self._bids if order[_IS_BUY] else self._asks).get(price)
        if level is None:
            level = self._open_level(order[_IS_BUY], price)
        level.append(order)
        self._orders[order[_ID]] = order

    def _unrest(self, order: _Order) -> None:
        """Take a live order out of the book: marked dead where it sits, dropped from the index."""
        order[_REMAINING] = 0
        self._orders[order[_ID]] = None
        self._dead += 1
        if self._dead > self._compact_at:
            self._compact()

    def _pick(self, c: NewOrder, is_buy: bool) -> list[Event]:
        """SEEE mode: trade with the named resting order only, at its price; cancel the taker's rest.

        DOMAIN.md §5 [reg] (SEEE listed agreement rules): the taker picks among the other side's best
        5 price levels. The taker's unfilled remainder never rests: it is cancelled at once.
        """
        order_id = c.order_id
        pick_id = c.pick_order_id or ""
        picked = self._orders.get(pick_id)
        if picked is None or picked[_IS_BUY] == is_buy:
            return [
                _reject(
                    order_id,
                    Code.PICK_ORDER_NOT_IN_BEST_LEVELS,
                    f"order {pick_id} is not resting on the other side of {self.instrument}",
                )
            ]
        best = self._best_prices(_SELL if is_buy else _BUY, PICK_LEVELS)
        if picked[_PRICE] not in best:
            return [
                _reject(
                    order_id,
                    Code.PICK_ORDER_NOT_IN_BEST_LEVELS,
                    f"order {pick_id} at {picked[_PRICE]} fen is not within the other side's "
                    f"best {PICK_LEVELS} price levels ({', '.join(str(p) for p in best)} fen)",
                )
            ]
        if (picked[_PRICE] > c.price_fen) if is_buy else (picked[_PRICE] < c.price_fen):
            return [
                _reject(
                    order_id,
                    Code.PICK_PRICE_BEYOND_LIMIT,
                    f"order {pick_id} is at {picked[_PRICE]} fen, beyond this order's limit of {c.price_fen}",
                )
            ]
        if picked[_ACCOUNT] == c.account:
            return [_self_trade(order_id, pick_id)]
        seq = self._seq
        self._seq = seq + 1
        self._orders[order_id] = None  # accepted; a PICK order never rests
        events: list[Event] = [
            OrderAccepted(order_id, self.instrument, _BUY if is_buy else _SELL, c.price_fen, c.quantity, seq)
        ]
        fill = min(c.quantity, picked[_REMAINING])
        trade_seq = self._seq
        self._seq = trade_seq + 1
        if is_buy:
            buy_id, buy_account, sell_id, sell_account = order_id, c.account, picked[_ID], picked[_ACCOUNT]
        else:
            buy_id, buy_account, sell_id, sell_account = picked[_ID], picked[_ACCOUNT], order_id, c.account
        events.append(
            TradeExecuted(
                trade_id=f"{self.instrument}-{trade_seq}",
                instrument=self.instrument,
                price_fen=picked[_PRICE],
                quantity=fill,
                buy_order_id=buy_id,
                sell_order_id=sell_id,
                buy_account=buy_account,
                sell_account=sell_account,
                aggressor=_BUY if is_buy else _SELL,
                seq=trade_seq,
            )
        )
        if fill == picked[_REMAINING]:
            self._unrest(picked)
        else:
            picked[_REMAINING] -= fill
        if c.quantity > fill:
            events.append(OrderCancelled(order_id, c.quantity - fill, CANCEL_PICK_REMAINDER))
        return events

    def _cancel(self, c: CancelOrder) -> list[Event]:
        """Withdraw a resting order's remainder; only the account that placed it may."""
        order = self._resting_of(c.order_id, c.account)
        if type(order) is OrderRejected:
            return [order]
        assert isinstance(order, list)
        remaining = order[_REMAINING]
        self._unrest(order)
        return [OrderCancelled(c.order_id, remaining, CANCEL_BY_REQUEST)]

    def _resting_of(self, order_id: str, account: str) -> _Order | OrderRejected:
        if type(order_id) is not str:
            return _reject(str(order_id), Code.ORDER_INVALID_FIELD, "the order id must be text")
        order = self._orders.get(order_id)
        if order is None:
            return _reject(
                order_id,
                Code.ORDER_NOT_FOUND,
                f"order {order_id} is not resting in {self.instrument} (never accepted, filled or cancelled)",
            )
        if order[_ACCOUNT] != account:
            return _reject(order_id, Code.ORDER_NOT_OWNED, f"order {order_id} belongs to another account")
        return order

    def _amend(self, c: AmendOrder) -> list[Event]:
        """Change price and/or total quantity; a price change or a size increase loses time priority.

        The events are OrderAmended, then — if the new price crosses the other side — the trades and,
        when a remainder is left after trading, OrderRested with it.
        """
        order = self._resting_of(c.order_id, c.account)
        if type(order) is OrderRejected:
            return [order]
        assert isinstance(order, list)
        order_id = c.order_id
        price = order[_PRICE] if c.price_fen is None else c.price_fen
        quantity = order[_QUANTITY] if c.quantity is None else c.quantity
        refusal = self._check_price(order_id, price) if c.price_fen is not None else None
        if refusal is None and c.quantity is not None:
            refusal = self._check_quantity(order_id, quantity)
        if refusal is not None:
            return [refusal]
        filled = order[_QUANTITY] - order[_REMAINING]
        if quantity <= filled:
            return [
                _reject(
                    order_id,
                    Code.ORDER_AMEND_BELOW_FILLED,
                    f"order {order_id} has {filled} t filled already; a new quantity must be above that "
                    f"(cancel it to stop it trading)",
                )
            ]
        if price == order[_PRICE] and quantity == order[_QUANTITY]:
            return [
                _reject(
                    order_id, Code.ORDER_AMEND_NO_CHANGE, f"the amendment leaves order {order_id} as it is"
                )
            ]
        remaining = quantity - filled
        if price == order[_PRICE] and quantity < order[_QUANTITY]:
            # A size cut keeps time priority: change the order in place.
            order[_QUANTITY] = quantity
            order[_REMAINING] = remaining
            return [OrderAmended(order_id, price, quantity, remaining)]
        is_buy = order[_IS_BUY]
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
            self._rest([order_id, c.account, is_buy, price, quantity, left, seq])
            if left != remaining:
                events.append(OrderRested(order_id, left))
        return events

    def _crosses(self, is_buy: bool, price: int) -> bool:
        """Whether an order at `price` meets the other side's best live order."""
        level = self._best_level(not is_buy)
        if level is None:
            return False
        best: int = level[0][_PRICE]
        return best <= price if is_buy else best >= price

    def expire_all(self, reason: str = CANCEL_EXPIRED) -> list[Event]:
        """Cancel every resting order at the end of the day: listed orders are day orders."""
        events: list[Event] = []
        resting = sorted(self._resting(), key=lambda o: o[_SEQ])
        for order in resting:
            events.append(OrderCancelled(order[_ID], order[_REMAINING], reason))
        for order in resting:
            self._unrest(order)
        self._compact()
        return events

    # Reads -------------------------------------------------------------------------------------

    def _live_levels(self, side: Side, levels: int) -> list[tuple[int, list[_Order]]]:
        """The best `levels` price levels of one side that hold live orders, best first."""
        if side == _BUY:
            keys, book, sign = self._bid_keys, self._bids, 1
        else:
            keys, book, sign = self._ask_keys, self._asks, -1
        found: list[tuple[int, list[_Order]]] = []
        for index in range(len(keys) - 1, -1, -1):
            if len(found) == levels:
                break
            price = sign * keys[index]
            live = [o for o in book[price] if o[_REMAINING]]
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
            Level(price, sum(o[_REMAINING] for o in live), len(live))
            for price, live in self._live_levels(side, levels)
        ]

    def order(self, order_id: str) -> RestingOrder | None:
        """A resting order's current state, or None when it is not resting."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        return RestingOrder(
            o[_ID],
            o[_ACCOUNT],
            _BUY if o[_IS_BUY] else _SELL,
            o[_PRICE],
            o[_QUANTITY],
            o[_REMAINING],
            o[_SEQ],
        )

    def resting_orders(self) -> list[RestingOrder]:
        """Every resting order, in time priority order."""
        views = (self.order(o[_ID]) for o in self._resting())
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
                "quantity": sum(o[_REMAINING] for o in live),
                "orders": [[o[_ID], o[_ACCOUNT], o[_QUANTITY], o[_REMAINING], o[_SEQ]] for o in live],
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
