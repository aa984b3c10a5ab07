"""The audit chain on a real database, and migrations that match the tables on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, func, select, text, update

from carbonmarket.audit.service import verify
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.tables import audit_log, metadata
from carbonmarket.registry.service import Registry


def populate(registry: Registry) -> None:
    registry.add_holder(LOCAL_OPERATOR, "G", "Gov", "government")
    registry.open_account(LOCAL_OPERATOR, "ISS", "G", "issuance")
    registry.add_holder(LOCAL_OPERATOR, "E", "Entity", "entity")
    registry.open_account(LOCAL_OPERATOR, "E-H", "E", "holding")
    for n in range(3):
        assert isinstance(registry.issue(LOCAL_OPERATOR, f"i{n}", "CEA24", 100, "ISS"), Done)
        assert isinstance(registry.transfer(LOCAL_OPERATOR, f"t{n}", "ISS", "E-H", "CEA24", 10), Done)


# On PostgreSQL migration 0014 replaces these declared foreign keys by statement-level checks
# (tests/integration/test_ledger_reference_checks.py shows they refuse the same things).
CHECKED_BY_STATEMENT = {
    ("transfers", "debit_account"),
    ("transfers", "credit_account"),
    ("transfers", "instrument_id"),
    ("holds", "account_id"),
    ("holds", "instrument_id"),
    ("holds", "pledgee_account"),
}


def _is_replaced_foreign_key(difference: object, dialect: str) -> bool:
    """A declared foreign key the PostgreSQL schema lacks because a statement check does its work."""
    if dialect != "postgresql" or not isinstance(difference, tuple) or difference[0] != "add_fk":
        return False
    constraint = difference[1]
    columns = tuple(constraint.column_keys)
    return len(columns) == 1 and (constraint.table.name, columns[0]) in CHECKED_BY_STATEMENT


def test_migrations_create_exactly_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    dialect = engine.dialect.name
    assert [d for d in differences if not _is_replaced_foreign_key(d, dialect)] == []
    replaced = [d for d in differences if _is_replaced_foreign_key(d, dialect)]
    assert len(replaced) == (len(CHECKED_BY_STATEMENT) if dialect == "postgresql" else 0)


def test_every_change_and_refusal_is_in_an_intact_chain(registry: Registry, engine: Engine) -> None:
    populate(registry)
    registry.transfer(LOCAL_OPERATOR, "too-much", "E-H", "ISS", "CEA24", 10**6)
    check = verify(engine)
    assert check.ok and check.first_bad_row is None
    with engine.connect() as connection:
        actions = [r.action for r in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]
    assert actions.count("registry.transfer") == 3
    assert actions[-1] == "refused"
    assert check.rows == len(actions)


def test_an_edited_audit_row_is_reported(registry: Registry, engine: Engine) -> None:
    populate(registry)
    with engine.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 9).values(payload='{"forged":true}'))
    check = verify(engine)
    assert (check.ok, check.first_bad_row) == (False, 9)


def test_a_deleted_audit_row_is_reported(registry: Registry, engine: Engine) -> None:
    populate(registry)
    with engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 6))
    check = verify(engine)
    assert (check.ok, check.first_bad_row) == (False, 6)


def test_deleting_the_newest_audit_row_is_reported(registry: Registry, engine: Engine) -> None:
    populate(registry)
    with engine.begin() as connection:
        last = connection.execute(select(func.max(audit_log.c.seq))).scalar_one()
        connection.execute(delete(audit_log).where(audit_log.c.seq == last))
    check = verify(engine)
    assert (check.ok, check.first_bad_row) == (False, last)


def test_the_balance_check_constraint_refuses_a_negative_balance(registry: Registry, engine: Engine) -> None:
    populate(registry)
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE balances SET total = -1 WHERE account_id = 'E-H'"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE balances SET held = total + 1 WHERE account_id = 'E-H'"))


def test_a_tampered_balance_fails_reconciliation(registry: Registry, engine: Engine) -> None:
    populate(registry)
    assert registry.reconcile().ok
    with engine.begin() as connection:
        connection.execute(text("UPDATE balances SET total = total + 1 WHERE account_id = 'E-H'"))
    report = registry.reconcile()
    assert not report.ok
    assert report.mismatches[0]["account"] == "E-H"
    assert (report.mismatches[0]["cached_total"], report.mismatches[0]["replayed_total"]) == (31, 30)


# Texts whose JSON escaping differs most between encoders: quotes, backslashes, control characters,
# line and paragraph separators, non-ASCII, and a `"seq":` inside a payload.
AWKWARD_PAYLOADS = [
    {"quote": 'say "hi"', "backslash": "C:\\path\\", "nul": "a\x00b", "bell": "\x07", "del": "\x7f"},
    {"lines": "one\ntwo\r\nthree\tfour\x0b\x0c", "separators": "\u2028\u2029", "bom": "\ufeff"},
    {"chinese": "全国碳排放权交易市场", "emoji": "🌏", "surrogate_free": "é", "fake": ',"seq":0,"subject":'},
]


def test_appends_with_awkward_payloads_hash_as_the_python_chain_says(engine: Engine) -> None:
    # On PostgreSQL the row is hashed by cm_append_audit (migration 0016), from the canonical text
    # split around its seq; the walker recomputes every hash with audit/model.py row_hash.
    from carbonmarket.audit import store as audit_store
    from carbonmarket.audit.model import GENESIS_HASH, row_hash

    for index, payload in enumerate(AWKWARD_PAYLOADS):
        with engine.begin() as connection:
            at = f"2025-03-04T02:00:0{index}"
            audit_store.append(connection, at, "tester", "test.awkward", "s", payload)
    check = verify(engine)
    assert (check.ok, check.rows) == (True, len(AWKWARD_PAYLOADS))
    with engine.connect() as connection:
        stored = list(audit_store.rows(connection))
        tip = audit_store.tip(connection)
    previous = GENESIS_HASH
    for seq, row in enumerate(stored, start=1):
        assert (row.seq, row.prev_hash) == (seq, previous)
        assert row.hash == row_hash(previous, seq, row.at, row.actor, row.action, row.subject, row.payload)
        previous = row.hash
    assert tip == (len(AWKWARD_PAYLOADS), previous)
