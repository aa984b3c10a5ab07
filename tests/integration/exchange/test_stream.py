"""`Exchange.submit_stream`: batches planned while the batch ahead commits end exactly as
`submit_many` batch by batch.

Two scratch databases get the same members, the same seeded busy order stream and the same clock:
one batch by batch through `submit_many`, the other through `submit_stream`. Every outcome, and
every row of the journal, orders, trades, ledger, holds, bought-today, commands and the audit chain
(hashes included), must be equal; then a batch whose command row the database refuses, in the
middle of a stream: it is sent again alone, so it fails as `submit_many` fails, and everything
around it is as if the stream had been sent batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from carbonmarket.audit.service import verify
from carbonmarket.core.clock import FixedClock
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.exchange import bench_durable
from carbonmarket.exchange.service import Exchange
from carbonmarket.registry.service import Registry
from integration.exchange.trading_market import refuse_command_row
from pgtest import _require_pg, create_pg_database, drop_pg_database

ORDERS = 3_000
BATCH = 250
TABLES = {
    "exchange_journal": "stream, seq",
    "exchange_orders": "order_id",
    "exchange_trades": "trade_id",
    "exchange_bought_today": "account, instrument, day",
    # Without its id: a serial column, and PostgreSQL spends ids of rolled back rows too.
    "transfers": "batch_id, leg",
    "registry_transactions": "id",
    "holds": "id",
    "balances": "account_id, instrument_id",
    "commands": "id",
    "audit_log": "seq",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_markets(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Engine, Engine]]:
    """Two databases holding the benchmark's members, allowances and funds."""
    urls = []
    if request.param == "postgres":
        _require_pg()
        urls = [create_pg_database(), create_pg_database()]
    else:
        urls = [f"sqlite:///{tmp_path / name}.db" for name in ("batches", "stream")]
    engines = []
    try:
        for url in urls:
            upgrade(url)
            engine = make_engine(url)
            engines.append(engine)
            bench_durable._populate(engine, FixedClock(bench_durable.SESSION_AT))
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            engine.dispose()
        if request.param == "postgres":
            for url in urls:
                drop_pg_database(url)


def _batches(stream: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(f"b{first}", stream[first : first + BATCH]) for first in range(0, len(stream), BATCH)]


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [
                tuple(value for key, value in row._mapping.items() if (table, key) != ("transfers", "id"))
                for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
            ]
            for table, order in TABLES.items()
        }


def _outcomes(outcomes: list[Any]) -> list[tuple[str, Any]]:
    return [(type(o).__name__, getattr(o, "data", None) or getattr(o, "code", None)) for o in outcomes]


def test_a_stream_ends_exactly_as_its_batches_sent_one_by_one(two_markets: tuple[Engine, Engine]) -> None:
    one_by_one, streamed = two_markets
    batches = _batches(bench_durable.workload(ORDERS, seed=5))
    # A repeated batch id (exists) and a malformed one (refused before any transaction) as well,
    # and a batch on a book not open yet (planned only once the batch ahead committed).
    batches.insert(3, batches[1])
    batches.insert(6, ("not a valid id!", batches[2][1]))
    batches.insert(8, ("other-book", [_order("x1", "buy", 9_700), _order("x2", "sell", 9_700)]))
    # The same batch twice in a row: the second is read while the first is not committed yet, so
    # it is planned as new, its command row collides, and it is sent again alone (`exists`).
    batches.insert(5, batches[4])
    clock = FixedClock(bench_durable.SESSION_AT)
    sequential = Exchange(one_by_one, clock)
    expected = [sequential.submit_many(bench_durable.OPERATOR, b, c) for b, c in batches]
    exchange = Exchange(streamed, clock)
    got = exchange.submit_stream(bench_durable.OPERATOR, batches)
    # Every batch was planned while the one ahead committed, but the one on a book not yet open
    # and the one after the repeated batch (planned on what the repeat was to write).
    assert exchange.stream_replans == (2 if streamed.dialect.name == "postgresql" else 0)

    assert _outcomes(got) == _outcomes(expected)
    other = next(o.data for o in got if getattr(o, "data", {}).get("batch") == "other-book")  # type: ignore[union-attr]
    assert [(r["ok"], r.get("code")) for r in other["results"]] == [
        (True, None),
        (False, "insufficient_balance"),
    ]
    assert [type(o).__name__ for o in got].count("Done") == len(batches) - 1
    assert sum(o.data["trades"] for o in got if hasattr(o, "data")) > 100  # a busy stream
    assert _rows(streamed) == _rows(one_by_one)
    assert Registry(streamed, clock).reconcile().ok and verify(streamed).ok
    book = Exchange(streamed, clock).rebuild(bench_durable.INSTRUMENT)
    assert book is not None and book.snapshot() == sequential.live_book(bench_durable.INSTRUMENT).snapshot()  # type: ignore[union-attr]


def _order(order_id: str, side: str, price_fen: int) -> dict[str, Any]:
    # Members hold no CEA23: the buy rests, the sell is refused (nothing to sell).
    account = "M0001-T" if side == "buy" else "M0002-T"
    return {"type": "new", "order_id": order_id, "account": account, "instrument": "CEA23",
            "side": side, "price_fen": price_fen, "quantity": 10}  # fmt: skip


def test_an_iterable_that_fails_rolls_the_batch_in_flight_back_and_keeps_the_rest(
    two_markets: tuple[Engine, Engine],
) -> None:
    one_by_one, streamed = two_markets
    batches = _batches(bench_durable.workload(ORDERS // 3, seed=3))[:3]
    clock = FixedClock(bench_durable.SESSION_AT)

    def failing() -> Iterator[tuple[str, list[dict[str, Any]]]]:
        yield from batches
        raise RuntimeError("the feed broke")

    exchange = Exchange(streamed, clock)
    with pytest.raises(RuntimeError, match="the feed broke"):
        exchange.submit_stream(bench_durable.OPERATOR, failing())
    sequential = Exchange(one_by_one, clock)
    for batch_id, commands in batches[:2]:
        sequential.submit_many(bench_durable.OPERATOR, batch_id, commands)
    if streamed.dialect.name == "postgresql":
        assert _rows(streamed) == _rows(one_by_one)  # the last batch was still in flight
    else:
        sequential.submit_many(bench_durable.OPERATOR, *batches[2])  # one by one: it had committed
        assert _rows(streamed) == _rows(one_by_one)
    book = exchange.live_book(bench_durable.INSTRUMENT)
    assert book is not None and book.snapshot() == sequential.live_book(bench_durable.INSTRUMENT).snapshot()  # type: ignore[union-attr]
    assert Registry(streamed, clock).reconcile().ok and verify(streamed).ok


def test_a_batch_failing_in_a_stream_fails_as_alone_and_the_batches_before_it_stay(
    two_markets: tuple[Engine, Engine],
) -> None:
    one_by_one, streamed = two_markets
    batches = _batches(bench_durable.workload(ORDERS // 2, seed=9))
    failing = 3
    clock = FixedClock(bench_durable.SESSION_AT)
    for engine in (one_by_one, streamed):
        refuse_command_row(engine, f"exchange.batch:{batches[failing][0]}")
    sequential = Exchange(one_by_one, clock)
    for batch_id, commands in batches[:failing]:
        sequential.submit_many(bench_durable.OPERATOR, batch_id, commands)
    with pytest.raises(DBAPIError, match="command row refused"):
        sequential.submit_many(bench_durable.OPERATOR, *batches[failing])

    exchange = Exchange(streamed, clock)
    with pytest.raises(DBAPIError, match="command row refused"):
        exchange.submit_stream(bench_durable.OPERATOR, batches)
    assert _rows(streamed) == _rows(one_by_one)
    assert Registry(streamed, clock).reconcile().ok and verify(streamed).ok
    # The process's book is the journal's, and the stream goes on from there.
    book = exchange.live_book(bench_durable.INSTRUMENT)
    assert (
        book is not None
        and book.snapshot() == Exchange(streamed, clock).rebuild(bench_durable.INSTRUMENT).snapshot()
    )  # type: ignore[union-attr]
    rest = batches[failing + 1 :]
    assert _outcomes(exchange.submit_stream(bench_durable.OPERATOR, rest)) == _outcomes(
        [sequential.submit_many(bench_durable.OPERATOR, b, c) for b, c in rest]
    )
    assert _rows(streamed) == _rows(one_by_one)
