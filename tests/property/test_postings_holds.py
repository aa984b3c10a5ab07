"""Property: holds spent in parts (orders filled piecemeal) never create, lose or overdraw a unit.

Random sequences of reserve / spend part of a hold / release / plain move over two accounts, run
through `registry.postings` as other contexts do. After every step the cached balances equal a
model's, what a hold still reserves equals what it reserved minus what was spent from it, and at
the end the ledger replay agrees with every cached figure. Each example uses fresh accounts in one
migrated database, so examples stay independent without a migration each.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.results import Done, Outcome, Refusal
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.ledger.model import HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Authority, Move
from carbonmarket.registry.service import Registry

EXCHANGE = Actor("seee-ops", Role.EXCHANGE_OPERATOR)
START_T = 500
_example = itertools.count()

operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 1), st.integers(1, 400)),
        st.tuples(st.just("spend"), st.integers(0, 5), st.integers(1, 300)),
        st.tuples(st.just("release"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("move"), st.integers(0, 1), st.integers(1, 300)),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One migrated SQLite registry with the central accounts, shared by all examples."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('holds')) / 'holds.db'}"
    upgrade(url)
    engine: Engine = make_engine(url)
    service = Registry(engine)
    service.define_defaults(LOCAL_OPERATOR)
    assert isinstance(service.open_central_accounts(LOCAL_OPERATOR), Done)
    yield service
    engine.dispose()


def _run(registry: Registry, work: Any, actor: Actor = LOCAL_OPERATOR) -> Outcome:
    command_id = f"cmd-{next(_example)}"
    return run_command(registry.engine, registry.clock, actor, "test.holds", command_id, {}, work)


def _reserve(registry: Registry, hold_id: str, account: str, quantity: int) -> Outcome:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        return postings.hold(
            connection, LOCAL_OPERATOR, hold_id, HoldKind.ORDER, account, "CEA24", quantity, at
        )

    return _run(registry, work)


def _spend(registry: Registry, batch: str, hold_id: str, seller: str, buyer: str, quantity: int) -> Outcome:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        fill = Move(seller, buyer, "CEA24", quantity, hold_id)
        return postings.move(connection, EXCHANGE, batch, "trade", [fill], at, Authority.SETTLEMENT)

    return _run(registry, work, EXCHANGE)


def _release(registry: Registry, hold_id: str) -> Outcome:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        return {"released": postings.release(connection, hold_id, at)}

    return _run(registry, work)


def _move(registry: Registry, batch: str, sender: str, receiver: str, quantity: int) -> Outcome:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(
            connection, LOCAL_OPERATOR, batch, "transfer", [Move(sender, receiver, "CEA24", quantity)], at
        )

    return _run(registry, work)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_holds_spent_in_parts_conserve_units(registry: Registry, steps: list[tuple[str, int, int]]) -> None:
    n = next(_example)
    accounts = [f"PA{n}-T", f"PB{n}-T"]

    def setup(connection: Connection, at: str) -> dict[str, Any]:
        for account in accounts:
            holder = account[:-2]
            postings.ensure_holder(connection, LOCAL_OPERATOR, holder, holder, "entity", at)
            postings.ensure_account(connection, LOCAL_OPERATOR, account, holder, "trading", at)
        postings.issue(connection, LOCAL_OPERATOR, f"iss-{n}", "CEA24", 2 * START_T, "CN-ISSUANCE", at)
        postings.move(
            connection,
            LOCAL_OPERATOR,
            f"fund-{n}",
            "allocation",
            [Move("CN-ISSUANCE", a, "CEA24", START_T) for a in accounts],
            at,
        )
        return {}

    assert isinstance(_run(registry, setup), Done)
    total = {a: START_T for a in accounts}
    held = {a: 0 for a in accounts}
    holds: list[tuple[str, str, int]] = []  # (hold id, account, remaining)

    for index, (operation, pick, quantity) in enumerate(steps):
        outcome: Outcome
        if operation == "reserve":
            account = accounts[pick]
            hold_id = f"h{n}-{index}"

            outcome = _reserve(registry, hold_id, account, quantity)
            if quantity <= total[account] - held[account]:
                assert isinstance(outcome, Done), outcome
                held[account] += quantity
                holds.append((hold_id, account, quantity))
            else:
                assert isinstance(outcome, Refusal), outcome
        elif operation in ("spend", "release") and holds:
            slot = pick % len(holds)
            hold_id, account, remaining = holds[slot]
            other = accounts[1 - accounts.index(account)]
            if operation == "spend":
                outcome = _spend(registry, f"fill-{n}-{index}", hold_id, account, other, quantity)
                if quantity <= remaining:
                    assert isinstance(outcome, Done), outcome
                    total[account] -= quantity
                    total[other] += quantity
                    held[account] -= quantity
                    if quantity == remaining:
                        holds.pop(slot)
                    else:
                        holds[slot] = (hold_id, account, remaining - quantity)
                else:
                    assert isinstance(outcome, Refusal), outcome
            else:
                outcome = _release(registry, hold_id)
                assert isinstance(outcome, Done) and outcome.data["released"] == remaining, outcome
                held[account] -= remaining
                holds.pop(slot)
        elif operation == "move":
            account = accounts[pick]
            other = accounts[1 - pick]

            outcome = _move(registry, f"mv-{n}-{index}", account, other, quantity)
            if quantity <= total[account] - held[account]:
                assert isinstance(outcome, Done), outcome
                total[account] -= quantity
                total[other] += quantity
            else:
                assert isinstance(outcome, Refusal), outcome
        with registry.engine.connect() as connection:
            found = postings.balances(connection, [(a, "CEA24") for a in accounts])
            for hold_id, _account, remaining in holds:
                state = postings.hold_state(connection, hold_id)
                assert state is not None and state["remaining"] == remaining
        for account in accounts:
            assert (found[(account, "CEA24")].total, found[(account, "CEA24")].held) == (
                total[account],
                held[account],
            )
    assert sum(total.values()) == 2 * START_T
    assert registry.reconcile().ok
