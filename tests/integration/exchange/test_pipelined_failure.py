"""A group commit whose last statement fails: nothing of it stays, and the books are rebuilt.

On PostgreSQL a batch's writes, its command row and its audit row go in one pipeline, so a failing
statement surfaces only when `run_command` ends it, after the exchange's own transaction function
has returned with its books already moved on. Here the database itself refuses the command row (a
trigger, on both databases), the last statement of the command: the batch must leave the journal,
orders, ledger and audit chain as they were, the process's books must be those of the journal, and
the same batch id must go through once the database accepts it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from carbonmarket.audit.service import verify
from carbonmarket.db.tables import audit_log
from carbonmarket.db.tables_exchange import exchange_journal, exchange_orders
from integration.exchange import trading_market
from integration.exchange.trading_market import (
    ALICE,
    OPERATOR,
    Market,
    accept_command_rows,
    done,
    refuse_command_row,
)

market = trading_market.market
market_template = trading_market.market_template

FAILING_KEY = "exchange.batch:doomed"
BATCH = [
    {"type": "new", "order_id": "b1", "account": "B-T", "instrument": "CEA24", "side": "buy",
     "price_fen": 9_800, "quantity": 300},
    {"type": "new", "order_id": "c1", "account": "C-T", "instrument": "CEA24", "side": "buy",
     "price_fen": 9_700, "quantity": 50},
    {"type": "cancel", "order_id": "s2"},
]  # fmt: skip


def _state(market: Market) -> tuple[object, ...]:
    with market.engine.connect() as connection:
        counts = tuple(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (exchange_journal, exchange_orders, audit_log)
        )
    balances = tuple(market.balance(a, i) for a in ("A-T", "B-T", "C-T", "CN-FEES") for i in ("CEA24", "CNY"))
    return counts, balances, market.exchange.live_book("CEA24").snapshot()  # type: ignore[union-attr]


def test_a_batch_refused_at_its_last_statement_leaves_nothing_and_the_books_follow_the_journal(
    market: Market,
) -> None:
    done(market.exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 1_000))
    done(market.exchange.place_order(ALICE, "s2", "A-T", "CEA24", "sell", 9_900, 500))
    before = _state(market)
    refuse_command_row(market.engine, FAILING_KEY)

    with pytest.raises(DBAPIError, match="command row refused"):
        market.exchange.submit_many(OPERATOR, "doomed", BATCH)

    # The fill of b1 against s1 and the cancel of s2 were applied in memory before the failure;
    # the book this process shows is the journal's again, and nothing was written.
    assert _state(market) == before
    assert market.fresh_exchange().rebuild("CEA24").snapshot() == before[2]  # type: ignore[union-attr]
    assert market.registry.reconcile().ok
    assert verify(market.engine).ok

    accept_command_rows(market.engine)
    result = done(market.exchange.submit_many(OPERATOR, "doomed", BATCH))
    assert (result["accepted"], result["refused"], result["trades"]) == (3, 0, 1)
    book = market.exchange.live_book("CEA24")
    assert book is not None and book.snapshot() == market.fresh_exchange().rebuild("CEA24").snapshot()  # type: ignore[union-attr]
    assert market.balance("B-T", "CEA24") == (10_000 + 300, 0)
    assert market.balance("A-T", "CEA24")[1] == 700  # s1's rest still reserved; s2's released
    assert market.registry.reconcile().ok
    assert verify(market.engine).ok
