"""The group commit's ledger side on SQLite and PostgreSQL: `postings.apply_group` ends exactly where
its steps sent one by one end, refuses as a whole, locks and writes each balance once; the bulk
statements of `ledger.store` keep every value; a pipeline (PostgreSQL) keeps order and errors;
`settlement.settle_batch` nets a batch's fees per paying account and hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, Text, select, text
from sqlalchemy.exc import IntegrityError

from carbonmarket.core.results import Code
from carbonmarket.db import raw
from carbonmarket.db.tables import balances, holds, transfers
from carbonmarket.exchange import settlement
from carbonmarket.exchange.settlement import SettlementSpec
from carbonmarket.ledger import store as ledger_store
from carbonmarket.ledger.model import HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Authority, HoldSpec, Move, Movement
from carbonmarket.registry.service import Registry
from integration.test_registry_postings import EXCHANGE, balance, done, market, refused, run
from integration.test_registry_postings_batch import counting

__all__ = ["market"]


def spec(hold_id: str, account: str, instrument: str, quantity: int) -> HoldSpec:
    return HoldSpec(hold_id, HoldKind.ORDER, account, instrument, quantity, reason="test order")


def reserve(market: Registry, label: str) -> None:
    """Holds a group can release and spend: sells of A-T's units, buys of B-T's funds."""

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold_many(
            connection,
            EXCHANGE,
            [
                spec(f"{label}-gone", "A-T", "CEA24", 40),
                spec(f"{label}-sell", "A-T", "CEA24", 200),
                spec(f"{label}-buy", "B-T", "CNY", 500_000),
            ],
            at,
            Authority.SETTLEMENT,
        )
        return {}

    done(run(market, f"reserve-{label}", work, EXCHANGE))


def steps(label: str) -> dict[str, Any]:
    """One group: a release, units from a sell hold, a payment and a fee from one buy hold (spent by
    two movements, so the second sees what the first left), new holds last."""
    return {
        "release": [f"{label}-gone"],
        "movements": [
            Movement(f"@{label}:t", "trade", [Move("A-T", "B-T", "CEA24", 100, f"{label}-sell")]),
            Movement(
                f"@{label}:t.pay", "trade_payment", [Move("B-T", "A-T", "CNY", 120_000, f"{label}-buy")]
            ),
            Movement(f"@{label}:t.fee", "fee", [Move("B-T", "CN-FEES", "CNY", 3_000, f"{label}-buy")]),
        ],
        "holds": [spec(f"{label}-new", "B-T", "CEA24", 60), spec(f"{label}-new2", "A-T", "CNY", 7)],
    }


def as_group(group: dict[str, Any], *extra_holds: Any) -> Callable[[Connection, str], dict[str, Any]]:
    """The command work that applies `group` (a `steps` result) in one `apply_group`, as the exchange."""

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.apply_group(
            connection,
            at,
            release=group["release"],
            movements=group["movements"],
            actor=EXCHANGE,
            authority=Authority.SETTLEMENT,
            holds=[*group["holds"], *extra_holds],
        )
        return {}

    return work


def ledger_picture(market: Registry, label: str) -> tuple[Any, ...]:
    with market.engine.connect() as connection:
        cached = sorted(
            (r.account_id, r.instrument_id, r.total, r.held) for r in connection.execute(select(balances))
        )
        states = sorted(
            (h.id.removeprefix(label), h.status, h.quantity, h.posted_quantity or 0)
            for h in connection.execute(select(holds).where(holds.c.id.startswith(label)))
        )
    return cached, states


def test_apply_group_releases_settles_and_reserves_in_that_order(market: Registry) -> None:
    reserve(market, "g")
    done(run(market, "grouped", as_group(steps("g")), EXCHANGE))
    after_group = ledger_picture(market, "g")
    assert market.reconcile().ok
    # Both holds spent in part stay pending with what the legs left them; the new holds exist.
    assert ("-sell", "pending", 200, 100) in after_group[1]
    assert ("-buy", "pending", 500_000, 123_000) in after_group[1]
    assert ("-gone", "voided", 40, 0) in after_group[1]
    assert balance(market.engine, "A-T", "CEA24") == (500, 100)
    assert balance(market.engine, "B-T", "CNY") == (1_000_000 - 123_000, 500_000 - 123_000)
    assert balance(market.engine, "B-T", "CEA24") == (100, 60)


def test_apply_group_matches_the_steps_alone(market: Registry) -> None:
    # The same steps twice, as a group (label a) and one by one (label b): the same changes.
    reserve(market, "a")
    reserve(market, "b")
    with market.engine.connect() as connection:
        start = {
            r.account_id + r.instrument_id: (r.total, r.held) for r in connection.execute(select(balances))
        }
    b = steps("b")
    grouped = as_group(steps("a"))

    def alone(connection: Connection, at: str) -> dict[str, Any]:
        postings.release_many(connection, b["release"], at)
        for group in b["movements"]:
            postings.move_closing_holds(
                connection,
                EXCHANGE,
                group.transaction_id,
                group.type_,
                group.moves,
                at,
                Authority.SETTLEMENT,
                (),
            )
        postings.hold_many(connection, EXCHANGE, b["holds"], at, Authority.SETTLEMENT)
        return {}

    done(run(market, "grouped", grouped, EXCHANGE))
    with market.engine.connect() as connection:
        middle = {
            r.account_id + r.instrument_id: (r.total, r.held) for r in connection.execute(select(balances))
        }
    done(run(market, "alone", alone, EXCHANGE))
    with market.engine.connect() as connection:
        end = {
            r.account_id + r.instrument_id: (r.total, r.held) for r in connection.execute(select(balances))
        }
    for key in end:
        first = tuple(m - s for m, s in zip(middle.get(key, (0, 0)), start.get(key, (0, 0)), strict=True))
        second = tuple(e - m for e, m in zip(end[key], middle.get(key, (0, 0)), strict=True))
        assert first == second, key
    assert ledger_picture(market, "a")[1] == ledger_picture(market, "b")[1]
    assert market.reconcile().ok


def test_apply_group_refuses_as_a_whole_and_changes_nothing(market: Registry) -> None:
    reserve(market, "r")
    before = ledger_picture(market, "r")
    # A-T has 400 t available after the settlement; the last new hold asks 401 t.
    too_much = as_group(steps("r"), spec("r-huge", "A-T", "CEA24", 401))

    refused(run(market, "too-much", too_much, EXCHANGE), Code.INSUFFICIENT_BALANCE)
    assert ledger_picture(market, "r") == before
    assert market.reconcile().ok


def _group_statements(market: Registry, size: int, label: str) -> int:
    reserve_specs = [spec(f"{label}-s{i}", "A-T", "CEA24", 2) for i in range(size)]

    def prepare(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold_many(connection, EXCHANGE, reserve_specs, at, Authority.SETTLEMENT)
        return {}

    done(run(market, f"prep-{label}", prepare, EXCHANGE))

    def work(connection: Connection, at: str) -> dict[str, Any]:
        with counting(connection) as seen:
            postings.apply_group(
                connection,
                at,
                release=[s.hold_id for s in reserve_specs[: size // 2]],
                movements=[
                    Movement(
                        f"@{label}:t",
                        "trade",
                        [Move("A-T", "B-T", "CEA24", 1, s.hold_id) for s in reserve_specs[size // 2 :]],
                    )
                ],
                actor=EXCHANGE,
                authority=Authority.SETTLEMENT,
                holds=[spec(f"{label}-n{i}", "B-T", "CNY", 10) for i in range(size)],
            )
        balance_writes = [s for s in seen if s.lstrip().upper().startswith("UPDATE BALANCES")]
        return {"statements": len(seen), "balance_writes": len(balance_writes)}

    data = done(run(market, f"group-{label}", work, EXCHANGE))
    assert data["balance_writes"] == 1, "every balance of the group is written once, at its end"
    return int(data["statements"])


def test_apply_group_costs_the_same_statements_for_4_or_120_orders(market: Registry) -> None:
    _group_statements(market, 2, "warm")
    assert _group_statements(market, 4, "small") == _group_statements(market, 120, "large")
    assert market.reconcile().ok


def test_deferred_balances_checks_each_step_against_what_the_steps_before_left(market: Registry) -> None:
    # Two moves of 400 t out of A-T's 600 t: each alone fits, the second after the first does not.
    def work(connection: Connection, at: str) -> dict[str, Any]:
        with ledger_store.deferred_balances(connection):
            postings.move(
                connection,
                EXCHANGE,
                "@d:1",
                "trade",
                [Move("A-T", "B-T", "CEA24", 400)],
                at,
                Authority.SETTLEMENT,
            )
            postings.move(
                connection,
                EXCHANGE,
                "@d:2",
                "trade",
                [Move("A-T", "B-T", "CEA24", 400)],
                at,
                Authority.SETTLEMENT,
            )
        return {}

    refused(run(market, "twice", work, EXCHANGE), Code.INSUFFICIENT_BALANCE)
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)
    assert market.reconcile().ok


@pytest.fixture
def scratch_table(engine: Any) -> Table:
    table = Table(
        "bulk_probe",
        MetaData(),
        Column("k", String(40), primary_key=True),
        Column("n", BigInteger),
        Column("t", Text),
        Column("u", Text),
    )
    with engine.begin() as connection:
        table.create(connection)
    return table


def test_bulk_statements_keep_every_value(engine: Any, scratch_table: Table) -> None:
    insert = raw.BulkInsert(scratch_table)
    update = raw.BulkUpdate(scratch_table, "k", ["n", "t"])
    rows = [
        ("a", 10**15, 'quote " and \\ backslash', None),
        ("b", -3, "碳市场 ünïcode", "{braces}, [brackets]"),
        ("c", None, "", "x"),
    ]
    with engine.begin() as connection:
        insert.run(connection, rows)
        update.run(connection, [("b", 7, "changed"), ("c", 2**62, None)])
    with engine.connect() as connection:
        found = sorted(tuple(r) for r in connection.execute(select(scratch_table)))
    assert found == [
        ("a", 10**15, 'quote " and \\ backslash', None),
        ("b", 7, "changed", "{braces}, [brackets]"),
        ("c", 2**62, None, "x"),
    ]


def test_a_pipeline_keeps_order_and_raises_driver_errors_as_sqlalchemy_does(
    engine: Any, scratch_table: Table
) -> None:
    insert = raw.BulkInsert(scratch_table, ["k", "n"])
    with engine.begin() as connection, raw.pipelined(connection):
        insert.run(connection, [("p", 1)])
        raw.BulkUpdate(scratch_table, "k", ["n"]).run(connection, [("p", 2)])
    with engine.connect() as connection:
        assert connection.execute(text(f"SELECT n FROM {scratch_table.name} WHERE k = 'p'")).scalar() == 2
    with pytest.raises(IntegrityError), engine.begin() as connection, raw.pipelined(connection):
        insert.run(connection, [("q", 1)])
        insert.run(connection, [("q", 2)])  # the same key again: the unique key refuses it
    with engine.connect() as connection:
        q_rows = connection.execute(select(scratch_table).where(scratch_table.c.k == "q")).all()
        assert q_rows == []


def test_settle_batch_nets_fees_per_paying_account_and_hold(market: Registry) -> None:
    reserve(market, "f")
    rules = settlement.exchange_rules()
    trades = [
        SettlementSpec(f"T{i}", "listed", "CEA24", 10, 9_749, "B-T", "A-T", "f-buy", "f-sell")
        for i in range(3)
    ]

    def work(connection: Connection, at: str) -> dict[str, Any]:
        settlement.settle_batch(connection, EXCHANGE, trades, at, batch_id="@xch:f")
        return {}

    done(run(market, "fees", work, EXCHANGE))
    value = 9_749 * 10
    fee = rules.fee("listed", value, 10)
    with market.engine.connect() as connection:
        legs = connection.execute(
            select(transfers.c.debit_account, transfers.c.quantity, transfers.c.hold_id).where(
                transfers.c.batch_id == "@xch:f.fee"
            )
        ).all()
        rows = connection.execute(text("SELECT buyer_fee_fen, seller_fee_fen FROM exchange_trades")).all()
    # One leg for the buyer's fees out of its hold, one for the seller's out of its proceeds.
    assert sorted(tuple(leg) for leg in legs) == sorted([("B-T", 3 * fee, "f-buy"), ("A-T", 3 * fee, None)])
    assert [tuple(r) for r in rows] == [(fee, fee)] * 3
    assert balance(market.engine, "CN-FEES", "CNY")[0] == 6 * fee
    assert market.reconcile().ok
