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

Hot-path layout, chosen by measurement (`carbonmarket bench matching`): per side a dict from
price to a level (a deque of orders in time order, with live quantity and count) and a plain
sorted list of the level prices with the best price last, so the best level is `keys[-1]` and a
sweep pops from the end. Cancels are lazy: a cancelled order is marked dead (remaining 0) and
skipped when it reaches the front of its deque; an emptied level is removed at once, so every
price in the sorted list has live quantity.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
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
_new = object.__new__
_set = object.__setattr__

# A resting order is a plain list, the cheapest mutable record in CPython (the hot path builds one
# per resting order and reads it by constant index):
#   [0 order_id, 1 account, 2 is_buy, 3 price_fen, 4 quantity (total), 5 remaining, 6 seq]
# remaining == 0 marks an order that left the book while still sitting in its level's deque.
_Order = list[Any]  # a type alias, for readability
_ID, _ACCOUNT, _IS_BUY, _PRICE, _QUANTITY, _REMAINING, _SEQ = range(7)


class _Level:
    """One price level: orders in time order (dead ones skipped lazily), live quantity and count."""

    __slots__ = ("count", "quantity", "queue")

    def __init__(self) -> None:
        self.queue: deque[list[Any]] = deque()
        self.quantity = 0
        self.count = 0


class Book:
    """One instrument's listed-agreement order book (DOMAIN.md §5 [reg]); pure and deterministic."""

    __slots__ = (
        "_accepted_ids",
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
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
        self._orders: dict[str, list[Any]] = {}
        self._accepted_ids: set[str] = set()
        # Bid keys are prices ascending (best = last); ask keys are negated prices ascending
        # (best = lowest price = last), so both sides sweep from the end of their list.
        self._bids: dict[int, _Level] = {}
        self._bid_keys: list[int] = []
        self._asks: dict[int, _Level] = {}
        self._ask_keys: list[int] = []
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
        outside = [o[_ID] for o in self._orders.values() if not low <= o[_PRICE] <= high]
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
            c: NewOrder = command  # type: ignore[assignment]
            # The common case, a well-formed AUTO order, is recognised in one expression; anything
            # else takes the checked path, which names the first rule broken.
            order_id = c.order_id
            price = c.price_fen
            quantity = c.quantity
            side = c.side
            if (
                type(price) is int
                and type(quantity) is int
                and self._low <= price <= self._high
                and 0 < quantity <= self._quantity_max
                and not price % self._tick
                and not quantity % self._lot
                and c.mode is _AUTO
                and c.pick_order_id is None
                and (side is _BUY or side is _SELL)
                and type(order_id) is str
                and 0 < len(order_id) <= ORDER_ID_MAX_CHARS
                and order_id not in self._accepted_ids
                and type(c.account) is str
                and c.account
                and c.instrument == self.instrument
            ):
                return self._accept_auto(order_id, c.account, side is _BUY, price, quantity)
            return self._new_order_checked(c)
        if kind is CancelOrder:
            order_id = command.order_id
            order = self._orders.get(order_id) if type(order_id) is str else None
            if order is not None and order[1] == command.account:  # [1]: the order's account
                remaining = order[5]  # [5]: its remaining quantity
                self._unrest(order)
                cancelled = _new(OrderCancelled)
                _set(
                    cancelled,
                    "__dict__",
                    {"order_id": order_id, "remaining": remaining, "reason": CANCEL_BY_REQUEST},
                )
                return [cancelled]
            return self._cancel(command)  # type: ignore[arg-type]
        if kind is AmendOrder:
            return self._amend(command)  # type: ignore[arg-type]
        raise TypeError(f"not an exchange command: {command!r}")

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
        # Self-trade prevention needs a look ahead only when the order crosses the other side.
        if is_buy:
            keys = self._ask_keys
            crosses = bool(keys) and -keys[-1] <= price
        else:
            keys = self._bid_keys
            crosses = bool(keys) and keys[-1] >= price
        if crosses:
            own = self._own_order_in_way(account, is_buy, price, quantity)
            if own is not None:
                return [_self_trade(order_id, own)]
        seq = self._seq
        self._seq = seq + 1
        self._accepted_ids.add(order_id)
        accepted = _new(OrderAccepted)
        _set(
            accepted,
            "__dict__",
            {
                "order_id": order_id,
                "instrument": self.instrument,
                "side": _BUY if is_buy else _SELL,
                "price_fen": price,
                "quantity": quantity,
                "seq": seq,
            },
        )
        events: list[Event] = [accepted]
        remaining = self._match(order_id, account, is_buy, price, quantity, events) if crosses else quantity
        if remaining:
            if is_buy:
                levels = self._bids
                level = levels.get(price)
                if level is None:
                    level = levels[price] = _Level()
                    insort(self._bid_keys, price)
            else:
                levels = self._asks
                level = levels.get(price)
                if level is None:
                    level = levels[price] = _Level()
                    insort(self._ask_keys, -price)
            order = [order_id, account, is_buy, price, quantity, remaining, seq]
            level.queue.append(order)
            level.quantity += remaining
            level.count += 1
            self._orders[order_id] = order
            rested = _new(OrderRested)
            _set(rested, "__dict__", {"order_id": order_id, "remaining": remaining})
            events.append(rested)
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
        if order_id in self._accepted_ids:
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
            for o in levels[level_price].queue:
                if o[_REMAINING]:
                    if o[_ACCOUNT] == account:
                        return str(o[_ID])
                    left -= o[_REMAINING]
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
        while remaining and keys:
            level_price = sign * keys[-1]
            if (level_price > price) if is_buy else (level_price < price):
                break
            level = levels[level_price]
            queue = level.queue
            while remaining:
                resting = queue[0]
                open_quantity = resting[5]
                if not open_quantity:  # cancelled earlier: lazy removal
                    queue.popleft()
                    continue
                fill = open_quantity if open_quantity <= remaining else remaining
                trade = _new(TradeExecuted)
                if is_buy:
                    buy_id, sell_id, buy_account, sell_account = (
                        order_id,
                        resting[0],
                        account,
                        resting[1],
                    )
                else:
                    buy_id, sell_id, buy_account, sell_account = (
                        resting[0],
                        order_id,
                        resting[1],
                        account,
                    )
                _set(
                    trade,
                    "__dict__",
                    {
                        "trade_id": f"{instrument}-{seq}",
                        "instrument": instrument,
                        "price_fen": level_price,
                        "quantity": fill,
                        "buy_order_id": buy_id,
                        "sell_order_id": sell_id,
                        "buy_account": buy_account,
                        "sell_account": sell_account,
                        "aggressor": aggressor,
                        "seq": seq,
                    },
                )
                append(trade)
                seq += 1
                remaining -= fill
                level.quantity -= fill
                if fill == open_quantity:
                    resting[5] = 0
                    queue.popleft()
                    del orders[resting[0]]
                    level.count -= 1
                    if not level.count:
                        del levels[level_price]
                        keys.pop()
                        break
                else:
                    resting[5] = open_quantity - fill
        self._seq = seq
        return remaining

    def _rest(self, order: _Order) -> None:
        """Put an order at the back of its price level, creating the level if it is new."""
        price = order[_PRICE]
        if order[_IS_BUY]:
            levels, keys, key = self._bids, self._bid_keys, price
        else:
            levels, keys, key = self._asks, self._ask_keys, -price
        level = levels.get(price)
        if level is None:
            level = levels[price] = _Level()
            insort(keys, key)
        level.queue.append(order)
        level.quantity += order[_REMAINING]
        level.count += 1
        self._orders[order[_ID]] = order

    def _unrest(self, order: _Order) -> None:
        """Take a live order out of its level (lazily) and out of the book's index."""
        price = order[_PRICE]
        if order[_IS_BUY]:
            levels, keys, key = self._bids, self._bid_keys, price
        else:
            levels, keys, key = self._asks, self._ask_keys, -price
        level = levels[price]
        level.quantity -= order[_REMAINING]
        level.count -= 1
        order[_REMAINING] = 0
        del self._orders[order[_ID]]
        queue = level.queue
        if not level.count:
            del levels[price]
            del keys[bisect_left(keys, key)]
        elif queue[0] is order:
            queue.popleft()
        elif len(queue) > 2 * level.count + 32:
            # Many dead orders behind a long-lived front order: compact so memory stays bounded.
            level.queue = deque(o for o in queue if o[_REMAINING])

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
        self._accepted_ids.add(order_id)
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
            (self._asks if is_buy else self._bids)[picked[_PRICE]].quantity -= fill
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
            level = (self._bids if order[_IS_BUY] else self._asks)[price]
            level.quantity -= order[_REMAINING] - remaining
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
        if is_buy:
            return bool(self._ask_keys) and -self._ask_keys[-1] <= price
        return bool(self._bid_keys) and self._bid_keys[-1] >= price

    def expire_all(self, reason: str = CANCEL_EXPIRED) -> list[Event]:
        """Cancel every resting order at the end of the day: listed orders are day orders."""
        events: list[Event] = []
        for order in sorted(self._orders.values(), key=lambda o: o[_SEQ]):
            events.append(OrderCancelled(order[_ID], order[_REMAINING], reason))
        for order in list(self._orders.values()):
            self._unrest(order)
        return events

    # Reads -------------------------------------------------------------------------------------

    def _best_prices(self, side: Side, levels: int) -> list[int]:
        if side == _BUY:
            return self._bid_keys[: -levels - 1 : -1]
        return [-key for key in self._ask_keys[: -levels - 1 : -1]]

    def best(self, side: Side) -> int | None:
        """The best price on one side, or None when it is empty."""
        prices = self._best_prices(side, 1)
        return prices[0] if prices else None

    def depth(self, side: Side, levels: int = 5) -> list[Level]:
        """The best `levels` price levels of one side, best first, with open quantity and order count."""
        if type(levels) is not int or not 1 <= levels <= DEPTH_LEVELS_MAX:
            raise ValueError(f"levels must be 1..{DEPTH_LEVELS_MAX}, not {levels!r}")
        book = self._bids if side == _BUY else self._asks
        return [Level(p, book[p].quantity, book[p].count) for p in self._best_prices(side, levels)]

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
        views = (self.order(order_id) for order_id in self._orders)
        return sorted((v for v in views if v is not None), key=lambda v: v.seq)

    def snapshot(self) -> dict[str, Any]:
        """The book's canonical JSON-able state: equal for two books exactly when they behave alike."""
        digest = hashlib.sha256("\n".join(sorted(self._accepted_ids)).encode()).hexdigest()
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
            "accepted_orders": len(self._accepted_ids),
            "accepted_ids_sha256": digest,
            "bids": self._side_snapshot(_BUY),
            "asks": self._side_snapshot(_SELL),
        }

    def _side_snapshot(self, side: Side) -> list[dict[str, Any]]:
        book = self._bids if side == _BUY else self._asks
        prices = self._best_prices(side, len(book))
        return [
            {
                "price_fen": price,
                "quantity": book[price].quantity,
                "orders": [
                    [o[_ID], o[_ACCOUNT], o[_QUANTITY], o[_REMAINING], o[_SEQ]]
                    for o in book[price].queue
                    if o[_REMAINING]
                ],
            }
            for price in prices
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
