"""A crash in the middle of a linked batch leaves none of its legs (rule 5: all legs or none).

Two kinds of crash, on SQLite and on PostgreSQL: an exception raised inside the transaction after
the balances were already written (the unit of work must roll everything back), and a process that
dies with its transaction open (the database must discard it). Either way the balances, the
transfers, the supply counters and the serial blocks are as before, and reconciliation is clean.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from carbonmarket.audit.service import verify as verify_audit
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.tables import (
    balances,
    commands,
    instruments,
    registry_transactions,
    serial_blocks,
    transfers,
)
from carbonmarket.db.uow import run_in_transaction
from carbonmarket.ledger import service as ledger
from carbonmarket.ledger import store as ledger_store
from carbonmarket.ledger.model import MINT_ACCOUNT_ID, Leg, LegKind
from carbonmarket.registry import store as registry_store
from carbonmarket.registry.service import Registry

ISSUANCE = "GOV-ISS"
CANCELLATION = "GOV-CAN"
SELLER = "E1-HOLD"
BUYER = "E2-HOLD"
CCER = "CCER-P0001-2025"
AT = "2025-06-30T12:00:00.000000+00:00"
# The exit status of a child that died on purpose in the middle of its transaction.
killed_exit_status = 86


class Crash(RuntimeError):
    """Stands for anything that goes wrong mid-transaction: a bug, a lost connection, a full disk."""


def _set_up(registry: Registry) -> None:
    """Issuance and cancellation accounts, two entities; the seller holds allowances and CCERs."""
    assert isinstance(registry.define_instrument(LOCAL_OPERATOR, CCER, 100_000, "test"), Done)
    assert isinstance(registry.add_holder(LOCAL_OPERATOR, "GOV", "Ministry", "government"), Done)
    assert isinstance(registry.open_account(LOCAL_OPERATOR, ISSUANCE, "GOV", "issuance"), Done)
    assert isinstance(registry.open_account(LOCAL_OPERATOR, CANCELLATION, "GOV", "cancellation"), Done)
    for holder, account in (("ENTITY-1", SELLER), ("ENTITY-2", BUYER)):
        assert isinstance(registry.add_holder(LOCAL_OPERATOR, holder, holder.title(), "entity"), Done)
        assert isinstance(registry.open_account(LOCAL_OPERATOR, account, holder, "holding"), Done)
    for instrument in ("CEA24", CCER):
        assert isinstance(
            registry.issue(LOCAL_OPERATOR, f"issue-{instrument}", instrument, 1_000, ISSUANCE), Done
        )
        outcome = registry.transfer(LOCAL_OPERATOR, f"fund-{instrument}", ISSUANCE, SELLER, instrument, 300)
        assert isinstance(outcome, Done), outcome


def _state(engine: Engine) -> dict[str, Any]:
    """Everything a batch or a command may change."""
    with engine.connect() as connection:
        return {
            "balances": sorted(tuple(r) for r in connection.execute(select(balances))),
            "transfers": connection.execute(select(func.count()).select_from(transfers)).scalar_one(),
            "supply": sorted(
                tuple(r)
                for r in connection.execute(
                    select(
                        instruments.c.id,
                        instruments.c.issued,
                        instruments.c.retired,
                        instruments.c.next_serial,
                    )
                )
            ),
            "serial_blocks": sorted(tuple(r) for r in connection.execute(select(serial_blocks))),
            "commands": connection.execute(select(func.count()).select_from(commands)).scalar_one(),
            "transactions": connection.execute(
                select(func.count()).select_from(registry_transactions)
            ).scalar_one(),
        }


def _assert_clean(registry: Registry) -> None:
    report = registry.reconcile()
    assert report.ok, report.as_json()
    assert report.as_json()["debits_equal_credits"] is True
    assert verify_audit(registry.engine).ok


def _linked_batch() -> list[Leg]:
    """Four legs touching issuance, a transfer of each unit family, and a retirement."""
    return [
        Leg(MINT_ACCOUNT_ID, ISSUANCE, "CEA24", 50, LegKind.ISSUE),
        Leg(SELLER, BUYER, "CEA24", 100, LegKind.TRANSFER),
        Leg(SELLER, BUYER, CCER, 40, LegKind.TRANSFER),
        Leg(BUYER, CANCELLATION, "CEA24", 30, LegKind.RETIRE),
    ]


def _apply_batch(batch_id: str) -> Callable[[Connection], ledger.Applied]:
    def work(connection: Connection) -> ledger.Applied:
        return ledger.apply(
            connection, batch_id, _linked_batch(), AT, lambda account: account == CANCELLATION
        )

    return work


def _seller_total(connection: Connection) -> int:
    return int(
        connection.execute(
            select(balances.c.total)
            .where(balances.c.account_id == SELLER)
            .where(balances.c.instrument_id == "CEA24")
        ).scalar_one()
    )


# The steps of `ledger.apply` that run after the balances are written; each is made to crash
# right after it did its own work, so the transaction holds new balances, legs, counters or blocks.
CRASH_POINTS = {
    "after inserting the legs": (ledger_store, "insert_legs"),
    "after moving the supply counters": (ledger_store, "add_to_supply"),
    "after writing a serial block": (ledger_store, "insert_block"),
}


@pytest.mark.parametrize("crash_point", list(CRASH_POINTS))
def test_a_batch_that_crashes_after_writing_balances_leaves_none_of_its_legs(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, crash_point: str
) -> None:
    _set_up(registry)
    before = _state(registry.engine)
    module, name = CRASH_POINTS[crash_point]
    real = getattr(module, name)
    seen_inside: list[int] = []

    def crash_after(connection: Connection, *args: Any, **kwargs: Any) -> Any:
        real(connection, *args, **kwargs)
        seen_inside.append(_seller_total(connection))
        raise Crash(crash_point)

    monkeypatch.setattr(module, name, crash_after)
    with pytest.raises(Crash):
        run_in_transaction(registry.engine, _apply_batch("linked-1"))
    monkeypatch.undo()

    assert seen_inside and seen_inside[0] == 300 - 100, "the crash must come after the balances were written"
    assert _state(registry.engine) == before
    _assert_clean(registry)
    # The same batch without the crash is valid and goes through whole: the rollback was the crash's.
    applied = run_in_transaction(registry.engine, _apply_batch("linked-1"))
    assert len(applied.transfer_ids) == 4
    after = _state(registry.engine)
    assert after["transfers"] == before["transfers"] + 4
    _assert_clean(registry)


def test_a_transfer_command_that_crashes_before_commit_records_nothing_and_can_be_retried(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The crash point is in the ordinary path's Python; the one-statement path has its own test.
    registry = Registry(registry.engine, registry.clock, direct_transfers=False)
    _set_up(registry)
    before = _state(registry.engine)

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise Crash("lost the connection while recording the transaction")

    monkeypatch.setattr(registry_store, "insert_transaction", crash)
    with pytest.raises(Crash):
        registry.transfer(LOCAL_OPERATOR, "t-crash", SELLER, BUYER, "CEA24", 120)
    monkeypatch.undo()

    assert _state(registry.engine) == before
    _assert_clean(registry)
    retried = registry.transfer(LOCAL_OPERATOR, "t-crash", SELLER, BUYER, "CEA24", 120)
    assert isinstance(retried, Done) and retried.result == "created", retried
    assert registry.balance(LOCAL_OPERATOR, BUYER)["balances"]["CEA24"] == 120
    _assert_clean(registry)


def die_in_the_middle_of_a_transfer(url: str, command_id: str, instrument: str, quantity: int) -> None:
    """Run in a child process: start a transfer and end the process once its legs are written."""
    real = ledger_store.insert_legs

    def insert_then_die(connection: Connection, *args: Any, **kwargs: Any) -> Any:
        real(connection, *args, **kwargs)
        os._exit(killed_exit_status)

    ledger_store.insert_legs = insert_then_die
    # The crash point is in the ordinary path's Python (the one-statement path is one statement).
    registry = Registry(make_engine(url), direct_transfers=False)
    registry.transfer(LOCAL_OPERATOR, command_id, SELLER, BUYER, instrument, quantity)
    os._exit(0)  # not reached when the crash point was


@pytest.mark.parametrize("instrument", ["CEA24", CCER])
def test_a_process_killed_in_the_middle_of_a_transfer_leaves_the_database_unchanged(
    db_url: str, registry: Registry, instrument: str
) -> None:
    _set_up(registry)
    before = _state(registry.engine)

    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=die_in_the_middle_of_a_transfer, args=(db_url, "t-killed", instrument, 120)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == killed_exit_status, "the child must have died inside the transaction"

    assert _state(registry.engine) == before
    _assert_clean(registry)
    # Nothing is left locked or half-recorded: the same command runs afresh and completes.
    retried = registry.transfer(LOCAL_OPERATOR, "t-killed", SELLER, BUYER, instrument, 120)
    assert isinstance(retried, Done) and retried.result == "created", retried
    assert registry.balance(LOCAL_OPERATOR, BUYER)["balances"][instrument] == 120
    _assert_clean(registry)
