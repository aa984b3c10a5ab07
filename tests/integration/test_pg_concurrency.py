"""Concurrent transfers on PostgreSQL: no overdraft, no deadlock, no lost or invented unit.

Eight processes each send 2,000 random transfers among 50 holding accounts at the same time, some
of them far larger than any balance. The ledger locks the balance rows of a batch in a fixed order
(DESIGN.md, storage and scale), so every call must come back as Done or as a Refusal — never as a
database error — and the final balances must be exactly the initial ones plus the transfers that
succeeded, with total supply unchanged and a clean reconciliation.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from carbonmarket.audit.service import verify as verify_audit
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Done, Refusal
from carbonmarket.db import uow
from carbonmarket.db.engine import make_engine
from carbonmarket.db.tables import balances, transfers
from carbonmarket.registry.service import Registry

pytestmark = pytest.mark.postgres

process_count = 8
transfers_per_process = 2_000
account_count = 50
initial_balance_t = 1_000
INSTRUMENT = "CEA24"
ISSUANCE = "GOV-ISS"
ACCOUNTS = tuple(f"ACC-{n:02d}" for n in range(account_count))
seed = 20250101


def _random_quantity(rng: random.Random) -> int:
    """Mostly ordinary amounts; some that overdraw a typical account; some beyond any balance."""
    roll = rng.random()
    if roll < 0.80:
        return rng.randint(1, 150)
    if roll < 0.92:
        return rng.randint(500, 3_000)
    return rng.randint(account_count * initial_balance_t + 1, 10**9)


def send_random_transfers(url: str, worker: int, count: int) -> dict[str, Any]:
    """Run in a child process: `count` seeded random transfers; report what each call returned."""
    retried = Counter[str]()
    is_transient = uow._is_transient

    def counting(error: Any) -> bool:
        transient = is_transient(error)
        if transient:
            retried[str(getattr(error.orig, "sqlstate", "?"))] += 1
        return transient

    uow._is_transient = counting
    engine = make_engine(url)
    registry = Registry(engine)
    rng = random.Random(seed * 100 + worker)
    succeeded: list[tuple[str, str, int]] = []
    refused = Counter[str]()
    unexpected: list[str] = []
    try:
        for number in range(count):
            source, destination = rng.sample(ACCOUNTS, 2)
            quantity = _random_quantity(rng)
            try:
                outcome = registry.transfer(
                    LOCAL_OPERATOR, f"w{worker}-{number}", source, destination, INSTRUMENT, quantity
                )
            except Exception as error:
                unexpected.append(f"{type(error).__name__}: {error}"[:500])
                continue
            if isinstance(outcome, Refusal):
                refused[outcome.code.value] += 1
            elif outcome.result == "created":
                succeeded.append((source, destination, quantity))
            else:
                unexpected.append(f"unexpected result {outcome}")
    finally:
        engine.dispose()
    return {
        "succeeded": succeeded,
        "refused": dict(refused),
        "unexpected": unexpected,
        "retried": dict(retried),
    }


def _fund_accounts(registry: Registry) -> None:
    """A government issuance account and 50 entity accounts holding 1,000 t each."""
    assert isinstance(registry.add_holder(LOCAL_OPERATOR, "GOV", "Ministry", "government"), Done)
    assert isinstance(registry.open_account(LOCAL_OPERATOR, ISSUANCE, "GOV", "issuance"), Done)
    total = account_count * initial_balance_t
    assert isinstance(registry.issue(LOCAL_OPERATOR, "issue-all", INSTRUMENT, total, ISSUANCE), Done)
    for number, account in enumerate(ACCOUNTS):
        holder = f"ENTITY-{number:02d}"
        assert isinstance(registry.add_holder(LOCAL_OPERATOR, holder, f"Entity {number}", "entity"), Done)
        assert isinstance(registry.open_account(LOCAL_OPERATOR, account, holder, "holding"), Done)
        outcome = registry.transfer(
            LOCAL_OPERATOR, f"fund-{account}", ISSUANCE, account, INSTRUMENT, initial_balance_t
        )
        assert isinstance(outcome, Done), outcome


def _balances_of(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(balances.c.account_id, balances.c.total).where(balances.c.instrument_id == INSTRUMENT)
        )
        return {r.account_id: r.total for r in rows}


def _deadlocks_so_far(engine: Engine) -> int:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            connection.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def test_concurrent_random_transfers_never_overdraw_deadlock_or_lose_units(pg_url: str) -> None:
    engine = make_engine(pg_url)
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    _fund_accounts(registry)
    initial = _balances_of(engine)
    assert all(initial[a] == initial_balance_t for a in ACCOUNTS)
    supply_before = {r["instrument"]: r for r in registry.instruments()}[INSTRUMENT]
    with engine.connect() as connection:
        transfers_before = connection.execute(select(func.count()).select_from(transfers)).scalar_one()
    deadlocks_before = _deadlocks_so_far(engine)

    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with context.Pool(process_count) as pool:
        reports = pool.starmap(
            send_random_transfers,
            [(pg_url, worker, transfers_per_process) for worker in range(process_count)],
        )
    elapsed_s = time.monotonic() - started

    unexpected = [problem for report in reports for problem in report["unexpected"]]
    assert unexpected == [], f"{len(unexpected)} calls raised or returned something odd: {unexpected[:5]}"
    succeeded = [tuple(move) for report in reports for move in report["succeeded"]]
    refused = sum((Counter(report["refused"]) for report in reports), Counter[str]())
    retried = sum((Counter(report["retried"]) for report in reports), Counter[str]())
    assert len(succeeded) + sum(refused.values()) == process_count * transfers_per_process
    # Every refusal is an overdraft caught, and the test did try to overdraw.
    assert set(refused) == {Code.INSUFFICIENT_BALANCE.value}, refused
    assert refused[Code.INSUFFICIENT_BALANCE.value] > 0
    assert len(succeeded) > process_count * transfers_per_process // 2

    expected = dict(initial)
    for source, destination, quantity in succeeded:
        expected[source] -= quantity
        expected[destination] += quantity
    final = _balances_of(engine)
    assert final == expected
    assert min(final.values()) >= 0

    with engine.connect() as connection:
        negative_or_overheld = connection.execute(
            select(func.count())
            .select_from(balances)
            .where((balances.c.total < 0) | (balances.c.held > balances.c.total))
        ).scalar_one()
        transfers_after = connection.execute(select(func.count()).select_from(transfers)).scalar_one()
        checks = set(
            connection.execute(
                text(
                    "SELECT conname FROM pg_constraint "
                    "WHERE conrelid = 'balances'::regclass AND contype = 'c' AND convalidated"
                )
            ).scalars()
        )
    assert negative_or_overheld == 0
    assert transfers_after - transfers_before == len(succeeded)
    assert {"ck_balances_total_not_negative", "ck_balances_held_within_total"} <= checks
    # The CHECK is live: the database itself refuses a negative balance.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(update(balances).where(balances.c.account_id == ACCOUNTS[0]).values(total=-1))

    supply_after = {r["instrument"]: r for r in registry.instruments()}[INSTRUMENT]
    assert (supply_after["issued"], supply_after["retired"]) == (
        supply_before["issued"],
        supply_before["retired"],
    )
    assert sum(final.values()) == supply_after["supply"] == account_count * initial_balance_t
    report = registry.reconcile()
    assert report.ok, report.as_json()
    assert report.as_json()["debits_equal_credits"] is True
    assert verify_audit(engine).ok
    assert _deadlocks_so_far(engine) == deadlocks_before, "fixed lock order must avoid deadlocks entirely"

    print(
        f"\n{process_count}×{transfers_per_process} transfers among {account_count} accounts in "
        f"{elapsed_s:.1f} s ({process_count * transfers_per_process / elapsed_s:.0f}/s): "
        f"{len(succeeded)} done, {dict(refused)} refused, retried {dict(retried) or 'none'}"
    )
    engine.dispose()
