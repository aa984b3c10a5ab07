"""The one-statement transfer on PostgreSQL (registry/direct.py, migration 0013) against the ordinary path.

The same script of transfers — plain ones, and every case the function must leave to the ordinary
path — runs on two fresh databases with the same fixed clock, once with the one-statement path and
once without. Every table a transfer writes, the audit chain's hashes included, must come out
identical: the function is an optimisation, never a second set of rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from carbonmarket.audit.service import verify as verify_audit
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done, Refusal
from carbonmarket.db import raw
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables import audit_log, balances, commands, registry_transactions, transfers
from carbonmarket.registry.service import Registry
from pgtest import _require_pg, create_pg_database, drop_pg_database

pytestmark = pytest.mark.postgres

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# A representative of entity 1 with the right to initiate from its holding account only.
REPRESENTATIVE = Actor("rep-e1", Role.ENTITY_REPRESENTATIVE, frozenset({("E1-HOLD", Permission.INITIATE)}))

# (actor, command id, from, to, instrument, quantity): plain transfers and every fallback case.
SCRIPT: list[tuple[Actor, str, str, str, str, Any]] = [
    (LOCAL_OPERATOR, "t-01", "GOV-ISS", "E1-HOLD", "CEA24", 500),  # first of the instrument: ordinary
    (LOCAL_OPERATOR, "t-02", "GOV-ISS", "E2-HOLD", "CEA24", 400),
    (LOCAL_OPERATOR, "t-03", "E1-HOLD", "E2-HOLD", "CEA24", 120),
    (LOCAL_OPERATOR, "t-04", "E2-HOLD", "E3-HOLD", "CEA24", 20),  # E3's first units: new balance row
    (REPRESENTATIVE, "t-05", "E1-HOLD", "E3-HOLD", "CEA24", 7),  # a representative with the right
    (REPRESENTATIVE, "t-06", "E2-HOLD", "E3-HOLD", "CEA24", 7),  # without it: forbidden
    (LOCAL_OPERATOR, "t-03", "E1-HOLD", "E2-HOLD", "CEA24", 120),  # replay: exists
    (LOCAL_OPERATOR, "t-03", "E1-HOLD", "E2-HOLD", "CEA24", 121),  # replay, other body: refused
    (LOCAL_OPERATOR, "t-07", "E1-HOLD", "E2-HOLD", "CEA24", 10_000),  # insufficient balance
    (LOCAL_OPERATOR, "t-08", "E1-HOLD", "NOPE", "CEA24", 1),  # unknown receiver
    (LOCAL_OPERATOR, "t-09", "NOPE", "E1-HOLD", "CEA24", 1),  # unknown sender
    (LOCAL_OPERATOR, "t-10", "E1-HOLD", "E1-HOLD", "CEA24", 1),  # same account
    (LOCAL_OPERATOR, "t-11", "E1-HOLD", "E4-BLOCKED", "CEA24", 1),  # blocked receiver
    (LOCAL_OPERATOR, "t-12", "E1-HOLD", "IND-HOLD", "CEA24", 1),  # an individual may not hold CEA
    (LOCAL_OPERATOR, "t-13", "E1-HOLD", "GOV-CAN", "CEA24", 5),  # into a retirement account
    (LOCAL_OPERATOR, "t-14", "GOV-CAN", "E1-HOLD", "CEA24", 1),  # out of a retirement account
    (LOCAL_OPERATOR, "t-14m", "@mint", "E1-HOLD", "CEA24", 1),  # out of the mint
    (REPRESENTATIVE, "t-15", "E1-HOLD", "E5-APPROVAL", "CEA24", 3),  # ordinary receiver, fine
    (LOCAL_OPERATOR, "t-16", "E5-APPROVAL", "E1-HOLD", "CEA24", 1),  # superuser skips approval
    (LOCAL_OPERATOR, "t-17", "E1-HOLD", "E2-HOLD", "CEA24", -5),  # negative quantity
    (LOCAL_OPERATOR, "t-18", "E1-HOLD", "E2-HOLD", "CEA24", 2.5),  # fractional quantity
    (LOCAL_OPERATOR, "t 19", "E1-HOLD", "E2-HOLD", "CEA24", 1),  # malformed command id
    (LOCAL_OPERATOR, "t-20", "E1-HOLD", "E2-HOLD", "CEA99X", 1),  # malformed instrument
    (LOCAL_OPERATOR, "t-21", "GOV-ISS", "E1-HOLD", "CEA23", 50),  # another instrument's first
    (LOCAL_OPERATOR, "t-22", "E1-HOLD", "E2-HOLD", "CEA23", 50),  # its whole balance
    (LOCAL_OPERATOR, "t-23", "E1-HOLD", "E2-HOLD", "CEA23", 1),  # now empty
]


def _new_database() -> str:
    _require_pg()
    url = create_pg_database("cmdirect")
    upgrade(url)
    return url


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    urls = (_new_database(), _new_database())
    try:
        yield urls
    finally:
        for url in urls:
            drop_pg_database(url)


def _set_up(registry: Registry) -> None:
    """Central accounts, entities' holding accounts (one blocked, one with approval), an individual."""
    operator = LOCAL_OPERATOR
    for outcome in registry.define_defaults(operator):
        assert isinstance(outcome, Done), outcome
    steps = [
        registry.add_holder(operator, "GOV", "Ministry", "government"),
        registry.open_account(operator, "GOV-ISS", "GOV", "issuance"),
        registry.open_account(operator, "GOV-CAN", "GOV", "cancellation"),
        registry.add_holder(operator, "IND", "A person", "individual"),
        registry.open_account(operator, "IND-HOLD", "IND", "holding"),
    ]
    for number in range(1, 6):
        steps.append(registry.add_holder(operator, f"E{number}", f"Entity {number}", "entity"))
    for number, account, approval in ((1, "E1-HOLD", False), (2, "E2-HOLD", False), (3, "E3-HOLD", False)):
        steps.append(registry.open_account(operator, account, f"E{number}", "holding", approval))
    steps.append(registry.open_account(operator, "E4-BLOCKED", "E4", "holding"))
    steps.append(registry.open_account(operator, "E5-APPROVAL", "E5", "holding", True))
    steps.append(registry.set_account_status(operator, "block-e4", "E4-BLOCKED", "blocked", "test"))
    steps.append(registry.issue(operator, "issue-24", "CEA24", 10_000, "GOV-ISS"))
    steps.append(registry.issue(operator, "issue-23", "CEA23", 10_000, "GOV-ISS"))
    for outcome in steps:
        assert isinstance(outcome, Done), outcome


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """The text of every statement sent through `db/raw.py` inside the block."""
    statements: list[str] = []
    raw.statement_observers.append(lambda statement, _seconds: statements.append(statement))
    try:
        yield statements
    finally:
        raw.statement_observers.clear()


def _run_script(url: str, *, direct: bool) -> tuple[list[Any], dict[str, list[tuple[Any, ...]]], int]:
    """Run the script; return the outcomes, every table a transfer writes, and the statements counted."""
    engine = make_engine(url)
    clock = FixedClock(START)
    registry = Registry(engine, clock, direct_transfers=direct)
    try:
        _set_up(registry)
        outcomes: list[Any] = []
        with recorded_statements() as statements:
            for actor, command_id, sender, receiver, instrument, quantity in SCRIPT:
                outcome = registry.transfer(actor, command_id, sender, receiver, instrument, quantity)
                outcomes.append(_comparable(outcome))
        assert registry.reconcile().ok
        assert verify_audit(engine).ok
        return outcomes, _tables(engine), len(statements)
    finally:
        engine.dispose()


def _comparable(outcome: Done | Refusal) -> Any:
    if isinstance(outcome, Done):
        return ("done", outcome.result, outcome.data)
    return ("refused", outcome.code.value, outcome.message)


def _tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table a transfer touches, without surrogate ids."""
    with engine.connect() as connection:
        legs = select(*(c for c in transfers.c if c.name != "id")).order_by(transfers.c.id)
        return {
            "balances": [
                tuple(r) for r in connection.execute(select(balances).order_by(*balances.primary_key))
            ],
            "transfers": [tuple(r) for r in connection.execute(legs)],
            "registry_transactions": [
                tuple(r)
                for r in connection.execute(
                    select(registry_transactions).order_by(registry_transactions.c.id)
                )
            ],
            "commands": [tuple(r) for r in connection.execute(select(commands).order_by(commands.c.id))],
            "audit_log": [tuple(r) for r in connection.execute(select(audit_log).order_by(audit_log.c.seq))],
        }


def test_the_one_statement_path_writes_exactly_what_the_ordinary_path_writes(
    two_databases: tuple[str, str],
) -> None:
    direct_url, ordinary_url = two_databases
    direct_outcomes, direct_tables, direct_statements = _run_script(direct_url, direct=True)
    ordinary_outcomes, ordinary_tables, ordinary_statements = _run_script(ordinary_url, direct=False)

    assert direct_outcomes == ordinary_outcomes
    for table, rows in ordinary_tables.items():
        assert direct_tables[table] == rows, f"{table} differs between the two paths"
    # The script's plain transfers really took the short way: fewer statements in all.
    assert direct_statements < ordinary_statements
    created = [o for o in direct_outcomes if o[0] == "done" and o[1] == "created"]
    assert len(created) >= 9, direct_outcomes
    refused = {o[1] for o in direct_outcomes if o[0] == "refused"}
    assert {
        "forbidden",
        "exists_with_different_fields",
        "insufficient_balance",
        "acquiring_account_not_found",
        "transferring_account_not_found",
        "same_account",
        "acquiring_account_blocked",
        "acquiring_account_cannot_hold_unit",
        "transferring_account_type_not_allowed",
    } <= refused, refused


@pytest.fixture
def warm_registry(pg_url: str) -> Iterator[Registry]:
    """A registry with the accounts set up that has made its first (ordinary-path) CEA24 transfer."""
    engine = make_engine(pg_url)
    registry = Registry(engine, FixedClock(START))
    try:
        _set_up(registry)
        assert isinstance(registry.transfer(LOCAL_OPERATOR, "warm", "GOV-ISS", "E1-HOLD", "CEA24", 100), Done)
        yield registry
    finally:
        engine.dispose()


def test_a_plain_transfer_is_one_statement(warm_registry: Registry) -> None:
    with recorded_statements() as statements:
        outcome = warm_registry.transfer(LOCAL_OPERATOR, "plain", "GOV-ISS", "E2-HOLD", "CEA24", 10)
    assert isinstance(outcome, Done) and outcome.result == "created", outcome
    assert len(statements) == 1 and statements[0].startswith("SELECT cm_transfer("), statements


def test_a_transfer_statement_that_fails_half_way_leaves_nothing_and_can_be_retried(
    warm_registry: Registry,
) -> None:
    """The server raises after the balances and the leg are written: the statement goes whole.

    The ordinary path, which runs next, meets the same failure and rolls back too; neither leaves a row.
    """
    registry, engine = warm_registry, warm_registry.engine
    before = _tables(engine)
    with engine.begin() as connection:
        # A sequence is not rolled back with the failing statement, so it counts the attempts.
        connection.execute(text("CREATE SEQUENCE fail_calls"))
        connection.execute(
            text(
                "CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM nextval('fail_calls'); RAISE EXCEPTION 'disk full'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER fail_transactions BEFORE INSERT ON registry_transactions "
                "FOR EACH ROW EXECUTE FUNCTION fail_now()"
            )
        )
    with pytest.raises(DBAPIError, match="disk full"):
        registry.transfer(LOCAL_OPERATOR, "t-fail", "E1-HOLD", "E2-HOLD", "CEA24", 30)
    with engine.connect() as connection:
        attempts = connection.execute(text("SELECT last_value FROM fail_calls")).scalar_one()
    assert attempts == 2, "the one-statement path failed, then the ordinary path failed the same way"
    # No balance, leg, transaction, command or audit row of the failed statement stayed.
    assert _tables(engine) == before
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER fail_transactions ON registry_transactions"))
    retried = registry.transfer(LOCAL_OPERATOR, "t-fail", "E1-HOLD", "E2-HOLD", "CEA24", 30)
    assert isinstance(retried, Done) and retried.result == "created", retried
    assert registry.balance(LOCAL_OPERATOR, "E2-HOLD")["balances"]["CEA24"] == 30
    assert registry.reconcile().ok
    assert verify_audit(engine).ok


def test_a_retry_of_a_direct_transfer_answers_exists_with_the_first_result(warm_registry: Registry) -> None:
    registry = warm_registry
    first = registry.transfer(LOCAL_OPERATOR, "once", "E1-HOLD", "E2-HOLD", "CEA24", 40)
    again = registry.transfer(LOCAL_OPERATOR, "once", "E1-HOLD", "E2-HOLD", "CEA24", 40)
    assert isinstance(first, Done) and first.result == "created"
    assert isinstance(again, Done) and again.result == "exists" and again.data == first.data
    assert registry.balance(LOCAL_OPERATOR, "E2-HOLD")["balances"]["CEA24"] == 40
    other = registry.transfer(LOCAL_OPERATOR, "once", "E1-HOLD", "E2-HOLD", "CEA24", 41)
    assert isinstance(other, Refusal) and other.code.value == "exists_with_different_fields"
