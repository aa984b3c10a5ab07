"""The exchange pauses Python's garbage collector for the length of a command, and only then.

The collector walking the books' resting orders was a tenth of the durable benchmark's client time
(bench/exchange.md, "Fourth round"); each command now runs with it paused and leaves it as it was
found, whether the command succeeds, is refused or fails.
"""

from __future__ import annotations

import gc
from datetime import date

from sqlalchemy import Connection

from carbonmarket.exchange.service import Exchange
from integration.exchange import trading_market
from integration.exchange.trading_market import ALICE, REFERENCE_FEN, Market, done, refused

market = trading_market.market
market_template = trading_market.market_template


def test_a_command_runs_with_the_collector_paused_and_leaves_it_as_it_found_it(market: Market) -> None:
    seen: list[bool] = []

    def reference(_connection: Connection, _instrument: str, _day: date) -> int:
        # Called inside the first order's transaction, when the trading day opens.
        seen.append(gc.isenabled())
        return REFERENCE_FEN

    exchange = Exchange(market.engine, market.clock, reference_price=reference)
    assert gc.isenabled()
    done(exchange.place_order(ALICE, "s1", "A-T", "CEA24", "sell", 9_800, 10))
    assert seen == [False]
    assert gc.isenabled()

    refused(
        exchange.place_order(ALICE, "s1-again", "A-T", "CEA24", "sell", 9_800, 10**9), "insufficient_balance"
    )
    assert gc.isenabled()

    gc.disable()
    try:
        done(exchange.place_order(ALICE, "s2", "A-T", "CEA24", "sell", 9_900, 10))
        assert not gc.isenabled(), "a process that turned the collector off keeps it off"
    finally:
        gc.enable()
