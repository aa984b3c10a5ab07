"""The compiled matching engine behaves exactly as `exchange/engine.py` run as plain Python.

`carbonmarket.exchange.engine` is the Cython extension built from engine.py by setup.py when it
is built; the same file is loaded here a second time, from its source, as an interpreted module.
Random command streams — new orders in both modes, cancels, amends, malformed fields, reference
price changes, day-end expiry — go into one book of each, and every step must give equal events
(or the same exception) and equal state. With `CARBONMARKET_ENGINE_BUILD=require` (CI), the
compiled engine must be the one imported.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import carbonmarket.exchange.engine as loaded
from carbonmarket.exchange.model import (
    AmendOrder,
    CancelOrder,
    ListedRules,
    MatchMode,
    NewOrder,
    Side,
)

SOURCE = Path(loaded.__file__).with_name("engine.py")
REQUIRED = os.environ.get("CARBONMARKET_ENGINE_BUILD", "").strip().lower() == "require"


def _interpreted() -> ModuleType:
    spec = importlib.util.spec_from_file_location("carbonmarket.exchange._engine_interpreted", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


interpreted = _interpreted()

needs_compiled = pytest.mark.skipif(
    not loaded.COMPILED and not REQUIRED,
    reason="the compiled engine is not built here (pip install -e . builds it); nothing to compare",
)

RULES = [
    ListedRules(tick_fen=5, lot_t=1, order_quantity_max_t=50, price_band_bp=1_000),
    ListedRules(tick_fen=1, lot_t=2, order_quantity_max_t=99_999, price_band_bp=1_000),
]
REFERENCE = 1_000  # band 900 .. 1_100 fen
AT = "2025-07-01T10:00:00+08:00"
ORDER_IDS = [f"o{i}" for i in range(30)]
ACCOUNTS = ["A", "B", "C"]

on_tick = st.integers(180, 220).map(lambda p: p * 5)
prices: st.SearchStrategy[Any] = st.integers(0, 7).flatmap(
    lambda k: (
        on_tick
        if k > 2
        else st.integers(850, 1_150)
        if k
        else st.sampled_from([0, -5, 10**30, 1_000.0, True, "1000", None])
    )
)
quantities: st.SearchStrategy[Any] = st.integers(0, 7).flatmap(
    lambda k: (
        st.integers(1, 30) if k > 1 else st.sampled_from([0, -1, 51, 100_000, 10**30, 2.0, True, "3", None])
    )
)
order_ids: st.SearchStrategy[Any] = st.integers(0, 15).flatmap(
    lambda k: st.sampled_from(ORDER_IDS) if k else st.sampled_from(["", "x" * 201, 7, None, ("o1",)])
)
accounts: st.SearchStrategy[Any] = st.integers(0, 15).flatmap(
    lambda k: st.sampled_from(ACCOUNTS) if k else st.sampled_from(["", 3, None])
)
sides: st.SearchStrategy[Any] = st.integers(0, 15).flatmap(
    lambda k: st.sampled_from([Side.BUY, Side.SELL]) if k else st.sampled_from(["buy", "sell", "hold", None])
)


@st.composite
def new_orders(draw: st.DrawFn) -> NewOrder:
    pick = draw(st.integers(0, 3)) == 0
    mode: Any = MatchMode.PICK if pick else MatchMode.AUTO
    if draw(st.integers(0, 20)) == 0:
        mode = draw(st.sampled_from(["auto", "pick", "best", None]))
    return NewOrder(
        order_id=draw(order_ids),
        account=draw(accounts),
        instrument=draw(st.sampled_from(["CEA24"] * 15 + ["CEA23"])),
        side=draw(sides),
        price_fen=draw(prices),
        quantity=draw(quantities),
        at=AT,
        mode=mode,
        pick_order_id=draw(st.sampled_from([*ORDER_IDS, "", None])) if pick or draw(st.booleans()) else None,
    )


@st.composite
def cancels(draw: st.DrawFn) -> CancelOrder:
    return CancelOrder(draw(order_ids), draw(accounts), AT)


@st.composite
def amends(draw: st.DrawFn) -> AmendOrder:
    return AmendOrder(
        draw(order_ids),
        draw(accounts),
        AT,
        price_fen=draw(st.none() | prices),
        quantity=draw(st.none() | quantities),
    )


# A step is a command for `apply`, or one of the book's other calls: a new reference price (which
# must be refused while resting orders lie outside its band), the day-end expiry, or a read.
steps = st.one_of(
    new_orders(),
    new_orders(),
    new_orders(),
    cancels(),
    amends(),
    st.tuples(st.just("reference"), st.sampled_from([1_000, 1_050, 950, 1_200, 0, -1, 1_000.0])),
    st.just(("expire",)),
    st.just(("read",)),
    st.just(("not a command",)),
)
streams = st.lists(steps, min_size=5, max_size=80)


def _step(book: Any, step: Any) -> Any:
    """Run one step on a book; the outcome is what it returned, or the exception it raised."""
    try:
        if type(step) is tuple and step and step[0] == "reference":
            book.set_reference_price(step[1])
            return ("reference", book.reference_price_fen, book.band)
        if step == ("expire",):
            return book.expire_all()
        if step == ("read",):
            return [
                (book.best(side), book.depth(side, 1_000), book.depth(side)) for side in (Side.BUY, Side.SELL)
            ] + [book.order(order_id) for order_id in ORDER_IDS]
        return book.apply(step)  # a command, or ("not a command",), which must raise TypeError
    except Exception as error:
        return ("raised", type(error), str(error))


def _state(book: Any) -> Any:
    return (book.snapshot(), book.resting_orders(), book.next_seq, book.band, book.reference_price_fen)


@needs_compiled
def test_the_compiled_engine_is_the_extension_module_built_from_engine_py():
    assert loaded.COMPILED is True
    assert not loaded.__file__.endswith(".py")
    assert interpreted.COMPILED is False and interpreted.__file__ == str(SOURCE)


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(rules=st.sampled_from(RULES), stream=streams)
def test_any_stream_gives_the_same_events_and_state_compiled_and_interpreted(rules, stream):
    compiled_book = loaded.Book("CEA24", rules, REFERENCE)
    interpreted_book = interpreted.Book("CEA24", rules, REFERENCE)
    for step in stream:
        compiled_outcome = _step(compiled_book, step)
        interpreted_outcome = _step(interpreted_book, step)
        assert compiled_outcome == interpreted_outcome, step
        if type(compiled_outcome) is list:  # event types too, not only equal values
            assert [type(e) for e in compiled_outcome] == [type(e) for e in interpreted_outcome]
        assert _state(compiled_book) == _state(interpreted_book), step


@needs_compiled
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cancel_share=st.sampled_from([0.25, 0.3, 0.35]))
def test_long_streams_that_compact_the_book_agree(seed, cancel_share):
    # Lazy cancels are compacted only once dead orders outnumber live ones by _COMPACT_SLACK (1,024):
    # streams of a few thousand unique orders, many of them cancelled, reach it several times.
    rng = random.Random(seed)
    compiled_book = loaded.Book("CEA24", RULES[0], REFERENCE)
    interpreted_book = interpreted.Book("CEA24", RULES[0], REFERENCE)
    placed: list[tuple[str, str]] = []
    for i in range(8_000):
        step: Any
        if placed and rng.random() < cancel_share:
            at = rng.randrange(len(placed))  # each order cancelled at most once (some have filled)
            placed[at], placed[-1] = placed[-1], placed[at]
            order_id, account = placed.pop()
            step = CancelOrder(order_id, account, AT)
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            offset = rng.randint(-2, 20) * 5
            price = REFERENCE - offset if side is Side.BUY else REFERENCE + offset
            account = rng.choice(ACCOUNTS)
            step = NewOrder(f"n{i}", account, "CEA24", side, price, rng.randint(1, 40), AT)
            placed.append((f"n{i}", account))
        assert _step(compiled_book, step) == _step(interpreted_book, step), step
    assert compiled_book._compact_at != loaded._COMPACT_SLACK  # compacted at least once
    assert _state(compiled_book) == _state(interpreted_book)
    assert _step(compiled_book, ("expire",)) == _step(interpreted_book, ("expire",))
    assert _state(compiled_book) == _state(interpreted_book)


def test_the_engine_runs_as_plain_python_when_cython_is_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "cython", None)  # `import cython` now raises ImportError
    plain = _interpreted()
    assert plain.COMPILED is False
    book = plain.Book("CEA24", RULES[0], REFERENCE)
    book.apply(NewOrder("s1", "A", "CEA24", Side.SELL, 1_000, 5, AT))
    events = book.apply(NewOrder("b1", "B", "CEA24", Side.BUY, 1_000, 8, AT))
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "TradeExecuted", "OrderRested"]


def test_ci_gets_the_compiled_engine_when_it_requires_it():
    if not REQUIRED:
        pytest.skip("CARBONMARKET_ENGINE_BUILD=require is not set")
    assert loaded.COMPILED, f"{loaded.__file__} is the interpreted engine; the extension was not built"


def test_the_matching_benchmark_reports_which_engine_ran_after_the_contract_keys():
    from carbonmarket.exchange.bench_matching import run_matching_benchmark

    result = run_matching_benchmark(ops=500, seed=3, repeat=1, peers=[])
    assert result["engine"] == ("compiled" if loaded.COMPILED else "interpreted")
