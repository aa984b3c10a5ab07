"""The ledger's references (transfers and holds to accounts and instruments) refuse the same things on
both databases: SQLite by its declared foreign keys, PostgreSQL by migration 0014's statement checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.registry.service import Registry

AT = "2025-07-01T10:00:00+08:00"
INSERT_LEG = text(
    "INSERT INTO transfers (batch_id, leg, kind, debit_account, credit_account, instrument_id, quantity, at) "
    "VALUES (:batch, :leg, 'transfer', :debit, :credit, :instrument, 1, :at)"
)
INSERT_HOLD = text(
    "INSERT INTO holds (id, kind, account_id, instrument_id, quantity, pledgee_account, status, created_at) "
    "VALUES (:id, 'freeze', :account, :instrument, 1, :pledgee, 'pending', :at)"
)


def populate(registry: Registry) -> None:
    """Two accounts with a transfer between them, and a third account nothing names yet."""
    registry.add_holder(LOCAL_OPERATOR, "G", "Gov", "government")
    registry.open_account(LOCAL_OPERATOR, "ISS", "G", "issuance")
    registry.add_holder(LOCAL_OPERATOR, "E", "Entity", "entity")
    registry.open_account(LOCAL_OPERATOR, "E-H", "E", "holding")
    registry.open_account(LOCAL_OPERATOR, "E-SPARE", "E", "holding")
    assert isinstance(registry.issue(LOCAL_OPERATOR, "i1", "CEA24", 100, "ISS"), Done)
    assert isinstance(registry.transfer(LOCAL_OPERATOR, "t1", "ISS", "E-H", "CEA24", 10), Done)


@pytest.fixture
def ledger(registry: Registry, engine: Engine) -> Engine:
    populate(registry)
    return engine


@pytest.fixture
def pg_ledger(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    populate(registry)
    yield engine
    engine.dispose()


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return (
            connection.execute(text("SELECT COUNT(*) FROM transfers")).scalar_one(),
            connection.execute(text("SELECT COUNT(*) FROM holds")).scalar_one(),
            connection.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one(),
        )


def leg(leg_no: int, debit: str = "ISS", credit: str = "E-H", instrument: str = "CEA24") -> dict[str, object]:
    return {
        "batch": "ref-test",
        "leg": leg_no,
        "debit": debit,
        "credit": credit,
        "instrument": instrument,
        "at": AT,
    }


def refused(engine: Engine, statement: object, rows: object, constraint: str) -> None:
    """The statement raises IntegrityError (naming the constraint on PostgreSQL) and writes nothing."""
    before = counts(engine)
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(statement, rows)  # type: ignore[call-overload]
    if engine.dialect.name == "postgresql":
        assert constraint in str(raised.value)
        assert raised.value.orig is not None and raised.value.orig.sqlstate == "23503"  # type: ignore[attr-defined]
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("wrong", "constraint"),
    [
        ({"debit": "NOBODY"}, "fk_transfers_debit_account_accounts"),
        ({"credit": "NOBODY"}, "fk_transfers_credit_account_accounts"),
        ({"instrument": "CEA99"}, "fk_transfers_instrument_id_instruments"),
    ],
)
def test_a_leg_naming_an_unknown_account_or_instrument_is_refused(
    ledger: Engine, wrong: dict[str, str], constraint: str
) -> None:
    refused(ledger, INSERT_LEG, leg(1, **wrong), constraint)


def test_one_bad_leg_refuses_the_whole_statement(ledger: Engine) -> None:
    legs_before = counts(ledger)[0]
    rows = [leg(1), leg(2), leg(3, credit="NOBODY"), leg(4)]
    refused(ledger, INSERT_LEG, rows, "fk_transfers_credit_account_accounts")
    with ledger.begin() as connection:
        connection.execute(INSERT_LEG, [leg(1), leg(2)])
    assert counts(ledger)[0] == legs_before + 2


def test_a_hold_naming_an_unknown_account_instrument_or_pledgee_is_refused(ledger: Engine) -> None:
    good = {"id": "h1", "account": "E-H", "instrument": "CEA24", "pledgee": None, "at": AT}
    refused(ledger, INSERT_HOLD, good | {"account": "NOBODY"}, "fk_holds_account_id_accounts")
    refused(ledger, INSERT_HOLD, good | {"instrument": "CEA99"}, "fk_holds_instrument_id_instruments")
    refused(ledger, INSERT_HOLD, good | {"pledgee": "NOBODY"}, "fk_holds_pledgee_account_accounts")
    with ledger.begin() as connection:  # no pledgee (NULL) names nothing, and a known one is fine
        connection.execute(INSERT_HOLD, [good, good | {"id": "h2", "pledgee": "E-SPARE"}])
    assert counts(ledger)[1] == 2
    move = text("UPDATE holds SET account_id = :account WHERE id = 'h1'")
    refused(ledger, move, {"account": "NOBODY"}, "fk_holds_account_id_accounts")
    with ledger.begin() as connection:
        connection.execute(move, {"account": "E-SPARE"})


def test_an_account_or_instrument_still_named_cannot_be_deleted_or_rekeyed(ledger: Engine) -> None:
    # Raw legs naming an account and an instrument that have no balance rows, so the check met is
    # the transfers' own (balances keep a declared foreign key on both databases).
    with ledger.begin() as connection:
        connection.execute(INSERT_LEG, [leg(1, credit="E-SPARE"), leg(2, instrument="CEA23")])
    refused(
        ledger, text("DELETE FROM accounts WHERE id = 'E-SPARE'"), {}, "fk_transfers_credit_account_accounts"
    )
    refused(
        ledger,
        text("UPDATE accounts SET id = 'E-SPARE2' WHERE id = 'E-SPARE'"),
        {},
        "fk_transfers_credit_account_accounts",
    )
    refused(
        ledger,
        text("DELETE FROM instruments WHERE id = 'CEA23'"),
        {},
        "fk_transfers_instrument_id_instruments",
    )
    with ledger.begin() as connection:  # an update that keeps the key is not a re-key
        connection.execute(text("UPDATE accounts SET status = status WHERE id = 'E-SPARE'"))


def test_an_account_named_only_by_a_hold_is_kept_until_the_hold_goes(ledger: Engine) -> None:
    accounts_before = counts(ledger)[2]
    hold = {"id": "h1", "account": "E-SPARE", "instrument": "CEA24", "pledgee": None, "at": AT}
    with ledger.begin() as connection:
        connection.execute(INSERT_HOLD, hold)
    refused(ledger, text("DELETE FROM accounts WHERE id = 'E-SPARE'"), {}, "fk_holds_account_id_accounts")
    with ledger.begin() as connection:  # once nothing names it, it may go (as with a foreign key)
        connection.execute(text("DELETE FROM holds WHERE id = 'h1'"))
        connection.execute(text("DELETE FROM accounts WHERE id = 'E-SPARE'"))
    assert counts(ledger)[2] == accounts_before - 1


@pytest.mark.postgres
def test_a_written_leg_locks_its_accounts_against_a_concurrent_delete(pg_ledger: Engine) -> None:
    """As a row foreign key does (FOR KEY SHARE): the delete waits for the writer, here until it times out."""
    ledger = pg_ledger
    with ledger.connect() as writer:
        writer.execute(INSERT_LEG, leg(1, credit="E-SPARE"))  # inside writer's open transaction
        with ledger.connect() as deleter:
            deleter.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                deleter.execute(text("DELETE FROM accounts WHERE id = 'E-SPARE'"))
        writer.commit()
    with ledger.connect() as connection:
        assert (
            connection.execute(text("SELECT COUNT(*) FROM accounts WHERE id = 'E-SPARE'")).scalar_one() == 1
        )
