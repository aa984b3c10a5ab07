"""`carbonmarket bench matching`: the listed-agreement engine beside installed matching engines.

One seeded stream of limit orders around a mid price, with 30% cancels of live orders, is
generated once (untimed), converted once into each engine's own command objects (untimed), and
then replayed into each engine in the same run; only the loop of matching calls is timed, by one
function for all (`_timed`: collector on, the harness's own objects frozen out of its reach). Every
engine must report the same total filled quantity, or the comparison is void (`filled_equal`).

Peers (installed from PyPI): `liquibook` (C++ book behind a SWIG wrapper; fills reach Python
through an order listener), `pyorderbook` (pure Python, heaps of price levels, Decimal prices),
`lightmatchingengine` (pure Python, dict of price levels). A bare minimal dict + heap book, with no
checks and no events, gives the "limit" figure: about the fastest a Python book can go here.

Accounts are split into buyers and sellers so no order can meet its own account: our engine's
self-trade prevention is checked on every crossing order but never fires, and all engines see the
same trades. See bench/matching.md for how to run and read it.
"""

from __future__ import annotations

import gc
import heapq
import importlib.util
import json
import platform
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from carbonmarket.exchange import engine as engine_module
from carbonmarket.exchange.engine import Book
from carbonmarket.exchange.model import (
    CancelOrder,
    Command,
    ListedRules,
    NewOrder,
    Side,
    TradeExecuted,
)

INSTRUMENT = "CEA24"
# Listed agreement rules (DOMAIN.md §5 [reg]) and the 2024 year-end close, 97.49 CNY/t [seed].
RULES = ListedRules(tick_fen=1, lot_t=1, order_quantity_max_t=99_999, price_band_bp=1_000)
REFERENCE_PRICE_FEN = 9_749
CANCEL_SHARE = 0.30  # the workload: 30% of operations cancel a live order
OPS_MAX = 10_000_000
REPEAT_MAX = 50
# The targets: at least twice the best peer; 1,000,000 ops/s as the stretch.
TARGET_RATIO = 2.0
STRETCH_OPS_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of the shared stream, engine-neutral: a new limit order or a cancel."""

    kind: str  # "new" or "cancel"
    index: int  # the new order's ordinal (0-based), or the ordinal of the order cancelled
    is_buy: bool
    price_fen: int
    quantity: int
    account: str


def generate_stream(ops: int, seed: int, *, accounts: int = 500) -> list[Op]:
    """A seeded stream of limit orders around the mid price with 30% cancels of live orders.

    Buyers price mostly below the mid and sellers mostly above, so most orders rest and the book
    grows deep (thousands of orders over a few hundred levels) while about one order in seven
    crosses and sweeps one or more levels. Which orders are live is known by replaying the stream
    into the bare book as it is generated.
    """
    rng = random.Random(seed)
    low, high = RULES.tick_fen, 10**9
    book = BareBook()
    live: list[int] = []
    position: dict[int, int] = {}
    stream: list[Op] = []
    new_orders = 0
    mid = REFERENCE_PRICE_FEN
    for _ in range(ops):
        if live and rng.random() < CANCEL_SHARE:
            ordinal = live[rng.randrange(len(live))]
            stream.append(Op("cancel", ordinal, False, 0, 0, ""))
            book.cancel(ordinal)
        else:
            is_buy = rng.random() < 0.5
            offset = rng.randint(-8, 60)  # ticks away from the mid, on the resting side
            price = max(low, min(high, mid - offset if is_buy else mid + offset))
            quantity = rng.randint(1, 100)
            who = rng.randrange(accounts)
            account = f"{'B' if is_buy else 'S'}{who:04d}"
            ordinal = new_orders
            new_orders += 1
            stream.append(Op("new", ordinal, is_buy, price, quantity, account))
            book.add(ordinal, is_buy, price, quantity)
        # Keep the live list in step with the bare book: fills and cancels remove orders.
        for gone in book.drain_gone():
            at = position.pop(gone, None)
            if at is not None:
                last = live.pop()
                if at < len(live):
                    live[at] = last
                    position[last] = at
        for added in book.drain_added():
            position[added] = len(live)
            live.append(added)
    return stream


# The bare minimal book: dict of price → deque, heaps of prices, no checks, no events ------------


class BareBook:
    """A bare price-time book (dict + heap + deques); counts filled tonnes and nothing else."""

    __slots__ = ("added", "asks", "bids", "filled", "gone", "heap_ask", "heap_bid", "orders", "track")

    def __init__(self, track: bool = True) -> None:
        self.bids: dict[int, deque[list[int]]] = {}
        self.asks: dict[int, deque[list[int]]] = {}
        self.heap_bid: list[int] = []  # negated prices
        self.heap_ask: list[int] = []
        self.orders: dict[int, list[int]] = {}  # ordinal → [ordinal, price, remaining, is_buy]
        self.filled = 0
        self.track = track
        self.added: list[int] = []
        self.gone: list[int] = []

    def add(self, ordinal: int, is_buy: bool, price: int, quantity: int) -> None:
        """Match then rest, price-time priority."""
        if is_buy:
            other, heap, sign = self.asks, self.heap_ask, 1
        else:
            other, heap, sign = self.bids, self.heap_bid, -1
        left = quantity
        while left and heap:
            best = heap[0] * sign
            queue = other.get(best)
            if not queue:
                heapq.heappop(heap)
                other.pop(best, None)
                continue
            if (best > price) if is_buy else (best < price):
                break
            while left and queue:
                resting = queue[0]
                if not resting[2]:
                    queue.popleft()
                    continue
                fill = min(left, resting[2])
                resting[2] -= fill
                left -= fill
                self.filled += fill
                if not resting[2]:
                    queue.popleft()
                    del self.orders[resting[0]]
                    if self.track:
                        self.gone.append(resting[0])
        if left:
            own, own_heap, own_sign = (
                (self.bids, self.heap_bid, -1) if is_buy else (self.asks, self.heap_ask, 1)
            )
            queue = own.get(price)
            if queue is None:
                queue = own[price] = deque()
                heapq.heappush(own_heap, price * own_sign)
            order = [ordinal, price, left, is_buy]
            queue.append(order)
            self.orders[ordinal] = order
            if self.track:
                self.added.append(ordinal)

    def cancel(self, ordinal: int) -> None:
        """Lazy cancel: zero the remainder; the matcher skips it."""
        order = self.orders.pop(ordinal)
        order[2] = 0
        if self.track:
            self.gone.append(ordinal)

    def drain_gone(self) -> list[int]:
        gone, self.gone = self.gone, []
        return gone

    def drain_added(self) -> list[int]:
        added, self.added = self.added, []
        return added


# Adapters: build each engine's commands (untimed), then run them (timed) ---------------------------
# Each adapter takes the stream, builds the engine and its own command objects, and returns the
# loop of matching calls as a function returning the filled tonnes, and a check to run after it;
# `_timed` times only the loop, the same way for every engine.

Loop = Callable[[], int]
Prepared = tuple[Loop, Callable[[], None]]


def _no_check() -> None:
    return None


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Run:
    """One timed replay: seconds spent in the matching calls and the total filled tonnes."""

    seconds: float
    filled: int


def _timed(loop: Loop, clock: Callable[[], float]) -> Run:
    """Time one engine's loop of matching calls, with the collector on and the harness frozen.

    `gc.freeze()` moves everything alive before the loop (the stream and the engine's prebuilt
    commands, hundreds of thousands of objects) out of the collector's reach, so a full collection
    triggered inside one engine's loop does not also walk the harness's own objects: the collector
    still runs, on everything the engine allocates. The same for every engine.
    """
    gc.collect()
    gc.freeze()
    try:
        start = clock()
        filled = loop()
        seconds = clock() - start
    finally:
        gc.unfreeze()
    return Run(seconds, filled)


def _ours(stream: Sequence[Op]) -> Prepared:
    commands: list[Command] = []
    accounts: dict[int, str] = {}
    at = "2025-07-01T09:30:00+08:00"
    for op in stream:
        if op.kind == "new":
            accounts[op.index] = op.account
            side = Side.BUY if op.is_buy else Side.SELL
            commands.append(
                NewOrder(f"o{op.index}", op.account, INSTRUMENT, side, op.price_fen, op.quantity, at)
            )
        else:
            commands.append(CancelOrder(f"o{op.index}", accounts[op.index], at))
    book = Book(INSTRUMENT, RULES, REFERENCE_PRICE_FEN)
    new_orders = len(accounts)
    expected_resting = _resting_after(stream)

    def loop() -> int:
        apply = book.apply
        trade_type = TradeExecuted
        filled = 0
        for command in commands:
            for event in apply(command):  # every event is built; the consumer reads the fills
                if type(event) is trade_type:
                    filled += event.quantity
        return filled

    def nothing_refused() -> None:
        """After the timed loop: a refused order would not count as accepted, and a refused cancel
        would leave an extra order resting."""
        snapshot = book.snapshot()
        resting = sum(len(level["orders"]) for level in snapshot["bids"] + snapshot["asks"])
        if snapshot["accepted_orders"] != new_orders or resting != expected_resting:
            raise AssertionError("the engine refused commands of the benchmark stream")

    return loop, nothing_refused


def _resting_after(stream: Sequence[Op]) -> int:
    """How many orders rest after the whole stream, by the bare book (for the refusal check)."""
    book = BareBook(track=False)
    for op in stream:
        if op.kind == "new":
            book.add(op.index, op.is_buy, op.price_fen, op.quantity)
        else:
            book.cancel(op.index)
    return len(book.orders)


def _bare(stream: Sequence[Op]) -> Prepared:
    commands = [(op.kind == "new", op.index, op.is_buy, op.price_fen, op.quantity) for op in stream]
    book = BareBook(track=False)

    def loop() -> int:
        add, cancel = book.add, book.cancel
        for is_new, index, is_buy, price, quantity in commands:
            if is_new:
                add(index, is_buy, price, quantity)
            else:
                cancel(index)
        return book.filled

    return loop, _no_check  # its loop raises on a refusal itself, where the engine reports one


def _liquibook(stream: Sequence[Op]) -> Prepared:
    import liquibook  # type: ignore[import-not-found, import-untyped, unused-ignore]

    class Fills(liquibook.OrderListener):  # type: ignore[misc]
        """Sums fills; liquibook calls it back from C++ for every fill (without a listener,
        liquibook does not apply fills to the Python-side orders, so this is the only way)."""

        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.filled = 0

        def on_fill(self, passive: Any, aggressive: Any, quantity: int, cost: int) -> None:
            self.filled += quantity

        def on_accept(self, order: Any) -> None:
            return None

        def on_reject(self, order: Any, reason: str) -> None:
            raise AssertionError(f"liquibook rejected an order: {reason}")

        def on_cancel(self, order: Any) -> None:
            return None

        def on_cancel_reject(self, order: Any, reason: str) -> None:
            raise AssertionError(f"liquibook rejected a cancel: {reason}")

        def on_replace(self, *args: Any) -> None:
            return None

        def on_replace_reject(self, *args: Any) -> None:
            return None

    orders: dict[int, Any] = {}
    commands: list[tuple[bool, Any]] = []
    for op in stream:
        if op.kind == "new":
            orders[op.index] = liquibook.SimpleOrder(op.is_buy, op.price_fen, op.quantity)
            commands.append((True, orders[op.index]))
        else:
            commands.append((False, orders[op.index]))
    book = liquibook.liquibook_book_OrderBook()
    listener = Fills()
    book.set_order_listener(listener)

    def loop() -> int:
        add, cancel = book.add, book.cancel
        for is_new, order in commands:
            if is_new:
                add(order)
            else:
                cancel(order)
        return int(listener.filled)

    return loop, _no_check  # its loop raises on a refusal itself, where the engine reports one


def _pyorderbook(stream: Sequence[Op]) -> Prepared:
    import pyorderbook  # type: ignore[import-not-found, import-untyped, unused-ignore]

    orders: dict[int, Any] = {}
    commands: list[tuple[bool, Any]] = []
    for op in stream:
        if op.kind == "new":
            side = pyorderbook.Side.BID if op.is_buy else pyorderbook.Side.ASK
            orders[op.index] = pyorderbook.Order(side, INSTRUMENT, op.price_fen, op.quantity)
            commands.append((True, orders[op.index]))
        else:
            commands.append((False, orders[op.index]))
    book = pyorderbook.Book()

    def loop() -> int:
        match, cancel = book._match, book.cancel  # _match: the single-order path, without the list check
        filled = 0
        for is_new, order in commands:
            if is_new:
                for trade in match(order).trades:
                    filled += trade.fill_quantity
            else:
                cancel(order)
        return int(filled)

    return loop, _no_check  # its loop raises on a refusal itself, where the engine reports one


def _lightmatchingengine(stream: Sequence[Op]) -> Prepared:
    from lightmatchingengine.lightmatchingengine import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
        LightMatchingEngine,
    )
    from lightmatchingengine.lightmatchingengine import Side as LmeSide

    # The engine numbers orders itself, 1, 2, 3 … in the order they are added.
    commands: list[tuple[bool, int, int, int]] = []
    for op in stream:
        if op.kind == "new":
            commands.append((True, op.price_fen, op.quantity, LmeSide.BUY if op.is_buy else LmeSide.SELL))
        else:
            commands.append((False, op.index + 1, 0, 0))
    engine = LightMatchingEngine()

    def loop() -> int:
        add, cancel = engine.add_order, engine.cancel_order
        filled = 0
        for is_new, a, b, c in commands:
            if is_new:
                order, trades = add(INSTRUMENT, a, b, c)
                # Each fill is reported twice, for the aggressive and the passive order: count the passive.
                for trade in trades:
                    if trade.order_id != order.order_id:
                        filled += trade.trade_qty
            elif cancel(a, INSTRUMENT) is None:
                raise AssertionError(f"lightmatchingengine could not cancel order {a}")
        return int(filled)

    return loop, _no_check  # its loop raises on a refusal itself, where the engine reports one


PEERS: dict[str, Callable[[Sequence[Op]], Prepared]] = {
    "liquibook": _liquibook,
    "pyorderbook": _pyorderbook,
    "lightmatchingengine": _lightmatchingengine,
}


def installed_peers() -> list[str]:
    """The peers importable here (all three are dependencies of the project)."""
    return [name for name in PEERS if importlib.util.find_spec(name) is not None]


def run_matching_benchmark(
    ops: int, seed: int, repeat: int, peers: Sequence[str] | None = None, clock: str = "wall"
) -> dict[str, Any]:
    """Time our engine, the bare book and each peer on the same stream; median of `repeat` runs."""
    if not 1 <= ops <= OPS_MAX:
        raise ValueError(f"ops must be 1..{OPS_MAX}")
    if not 1 <= repeat <= REPEAT_MAX:
        raise ValueError(f"repeat must be 1..{REPEAT_MAX}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
    stream = generate_stream(ops, seed)
    names = installed_peers() if peers is None else list(peers)
    engines: dict[str, Callable[[Sequence[Op]], Prepared]] = {"ours": _ours, "bare": _bare}
    engines.update({name: PEERS[name] for name in names})
    runs: dict[str, list[Run]] = {name: [] for name in engines}
    for _ in range(repeat):
        for name, prepare in engines.items():  # interleaved, so drift in the machine hits all alike
            loop, check = prepare(stream)
            runs[name].append(_timed(loop, CLOCKS[clock]))
            check()  # untimed
    rates = {name: round(ops / statistics.median(r.seconds for r in rs)) for name, rs in runs.items()}
    filled = {name: rs[0].filled for name, rs in runs.items()}
    consistent = all(len({r.filled for r in rs}) == 1 for rs in runs.values())
    peer_rates = {name: rates[name] for name in names}
    best_peer = max(peer_rates.values()) if peer_rates else 0
    # Ours against the best peer within each round (the same moment of the machine), then the median.
    round_ratios = (
        [min(runs[name][i].seconds for name in names) / runs["ours"][i].seconds for i in range(repeat)]
        if names
        else []
    )
    return {
        "ops": ops,
        # Which build of exchange/engine.py ran: "compiled" (the Cython extension setup.py builds)
        # or "interpreted" (the same file as plain Python, when the extension is absent).
        "engine": "compiled" if engine_module.COMPILED else "interpreted",
        "seed": seed,
        "repeat": repeat,
        "clock": clock,
        "round_ratio_median": round(statistics.median(round_ratios), 3) if round_ratios else None,
        "new_orders": sum(1 for op in stream if op.kind == "new"),
        "cancels": sum(1 for op in stream if op.kind == "cancel"),
        "filled_t": filled,
        "limit_bare_book_ops_per_s": rates["bare"],
        "target_ratio": TARGET_RATIO,
        "stretch_ops_per_s": STRETCH_OPS_PER_S,
        "python": platform.python_version(),
        "ops_per_s": rates["ours"],
        "peers": peer_rates,
        "best_peer_ops_per_s": best_peer,
        "ratio": round(rates["ours"] / best_peer, 3) if best_peer else None,
        "filled_equal": consistent and len(set(filled.values())) == 1,
    }


def bench_matching(
    ops: Annotated[int, typer.Option("--ops", help="Operations in the stream.")] = 200_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    repeat: Annotated[int, typer.Option("--repeat", help="Runs of each engine; the median is reported.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    clock: Annotated[
        str, typer.Option("--clock", help="wall (perf_counter) or cpu (process_time, for a loaded machine).")
    ] = "wall",
) -> None:
    """Matching ops/s of the listed-agreement engine beside liquibook, pyorderbook, lightmatchingengine."""
    try:
        result = run_matching_benchmark(ops, seed, repeat, clock=clock)
    except ValueError as error:
        typer.echo(json.dumps({"ok": False, "code": "invalid_request", "message": str(error)}))
        raise typer.Exit(1) from error
    if not as_json:
        typer.echo(f"{'engine':>22}: {result['engine']}")
        for name, rate in {"ours": result["ops_per_s"], **result["peers"]}.items():
            typer.echo(f"{name:>22}: {rate:>10,} ops/s")
        typer.echo(f"{'bare book (limit)':>22}: {result['limit_bare_book_ops_per_s']:>10,} ops/s")
    # The contract (issue 5): one JSON object, printed last, with ops, ops_per_s, peers,
    # best_peer_ops_per_s, ratio and filled_equal first and the details after them.
    keys = ("ops", "ops_per_s", "peers", "best_peer_ops_per_s", "ratio", "filled_equal")
    summary = {key: result[key] for key in keys} | {k: v for k, v in result.items() if k not in keys}
    typer.echo(json.dumps(summary))
