"""All SQL of the registry: holders, accounts, instruments, transactions, certificates, commands."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from carbonmarket.db.raw import BulkInsert, Sql, SqlByArity, placeholders
from carbonmarket.db.tables import (
    accounts,
    balances,
    holders,
    instruments,
    registry_transactions,
    retirement_certificates,
    serial_blocks,
)
from carbonmarket.registry.model import (
    RETIREMENT_TYPES,
    Account,
    AccountStatus,
    AccountType,
    HolderKind,
)

# --- holders and accounts -------------------------------------------------------------------------


def get_holder(connection: Connection, holder_id: str) -> Row[Any] | None:
    """A holder row by id."""
    return connection.execute(select(holders).where(holders.c.id == holder_id)).first()


def insert_holder(connection: Connection, holder_id: str, name: str, kind: HolderKind, at: str) -> None:
    """Record a new account holder."""
    connection.execute(insert(holders).values(id=holder_id, name=name, kind=kind.value, created_at=at))


def list_holders(connection: Connection, limit: int) -> list[Row[Any]]:
    """Holders by id."""
    return list(connection.execute(select(holders).order_by(holders.c.id).limit(limit)))


def insert_account(
    connection: Connection,
    account_id: str,
    holder_id: str,
    type_: AccountType,
    approval_required: bool,
    at: str,
) -> None:
    """Record a new open account."""
    connection.execute(
        insert(accounts).values(
            id=account_id,
            holder_id=holder_id,
            type=type_.value,
            status=AccountStatus.OPEN.value,
            approval_required=approval_required,
            created_at=at,
        )
    )


def get_accounts(connection: Connection, account_ids: list[str]) -> dict[str, Account]:
    """Accounts as the business checks see them, with their holder's kind."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return {}
    if len(ids) > _IN_LIST_MAX:
        # One statement of fixed text for a batch's accounts: an IN list of a new length each time
        # is new text to the driver (psycopg re-parses it, ~3 ms for 200 names) and to the server.
        rows = _GET_ACCOUNTS_LISTED.all(connection, {"ids": json.dumps(ids)})
    else:
        rows = _GET_ACCOUNTS(len(ids)).all(
            connection, {f"a{i}": account_id for i, account_id in enumerate(ids)}
        )
    return {
        account_id: Account(
            account_id,
            holder_id,
            HolderKind(holder_kind),
            AccountType(type_),
            AccountStatus(status),
            bool(approval_required),
        )
        for account_id, holder_id, type_, status, approval_required, holder_kind in rows
    }


# Every movement loads its accounts: sent to the driver directly (db/raw.py says why). A few by an
# IN list (a prepared statement per length); more, as a batch has, by one JSON list of ids.
_IN_LIST_MAX = 16
_ACCOUNT_COLUMNS = (
    "SELECT accounts.id, accounts.holder_id, accounts.type, accounts.status, "
    "accounts.approval_required, holders.kind FROM accounts JOIN holders ON holders.id = accounts.holder_id"
)
_GET_ACCOUNTS = SqlByArity(lambda n: Sql(f"{_ACCOUNT_COLUMNS} WHERE accounts.id IN ({placeholders('a', n)})"))
_GET_ACCOUNTS_LISTED = Sql(
    f"{_ACCOUNT_COLUMNS} WHERE accounts.id IN (SELECT value FROM json_each(:ids))",
    postgres=f"{_ACCOUNT_COLUMNS} "
    "JOIN jsonb_array_elements_text(CAST(:ids AS jsonb)) AS k(id) ON accounts.id = k.id",
)


def account_row(connection: Connection, account_id: str) -> Row[Any] | None:
    """The raw account row with its holder's name and kind."""
    return connection.execute(
        select(accounts, holders.c.name.label("holder_name"), holders.c.kind.label("holder_kind"))
        .join(holders, holders.c.id == accounts.c.holder_id)
        .where(accounts.c.id == account_id)
    ).first()


def list_accounts(connection: Connection, holder_id: str | None, limit: int) -> list[Row[Any]]:
    """Accounts, optionally of one holder, by id."""
    query = select(accounts).order_by(accounts.c.id).limit(limit)
    if holder_id is not None:
        query = query.where(accounts.c.holder_id == holder_id)
    return list(connection.execute(query))


def set_account_status(connection: Connection, account_id: str, status: AccountStatus) -> None:
    """Change an account's status."""
    connection.execute(update(accounts).where(accounts.c.id == account_id).values(status=status.value))


def units_in_account(connection: Connection, account_id: str) -> int:
    """Total units of every instrument in the account (a closing account must hold none)."""
    total = connection.execute(
        select(func.coalesce(func.sum(balances.c.total), 0)).where(balances.c.account_id == account_id)
    )
    return int(total.scalar_one())


def retirement_account_ids(connection: Connection) -> set[str]:
    """Ids of every surrender, cancellation and deletion account."""
    rows = connection.execute(
        select(accounts.c.id).where(accounts.c.type.in_([t.value for t in RETIREMENT_TYPES]))
    )
    return {r.id for r in rows}


# --- instruments ----------------------------------------------------------------------------------


def get_instrument(connection: Connection, instrument_id: str) -> Row[Any] | None:
    """An instrument row by id."""
    return connection.execute(select(instruments).where(instruments.c.id == instrument_id)).first()


def insert_instrument(connection: Connection, **values: Any) -> None:
    """Define a new instrument."""
    connection.execute(insert(instruments).values(**values))


def set_cap(connection: Connection, instrument_id: str, cap: int | None) -> None:
    """Change an instrument's issuance cap."""
    connection.execute(update(instruments).where(instruments.c.id == instrument_id).values(cap=cap))


def list_instruments(connection: Connection) -> list[Row[Any]]:
    """Every instrument with its supply counters."""
    return list(connection.execute(select(instruments).order_by(instruments.c.kind, instruments.c.id)))


# --- registry transactions ------------------------------------------------------------------------


_TRANSACTION_COLUMNS = tuple(column.name for column in registry_transactions.columns)
_INSERT_TRANSACTION = Sql(
    f"INSERT INTO registry_transactions ({', '.join(_TRANSACTION_COLUMNS)}) "
    f"VALUES ({', '.join(':' + name for name in _TRANSACTION_COLUMNS)})"
)


def insert_transaction(connection: Connection, **values: Any) -> None:
    """Record a registry transaction (columns not given are NULL)."""
    unknown = set(values) - set(_TRANSACTION_COLUMNS)
    assert not unknown, f"registry_transactions has no columns {sorted(unknown)}"
    _INSERT_TRANSACTION.run(connection, {name: values.get(name) for name in _TRANSACTION_COLUMNS})


def insert_transactions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Record many completed transactions in one statement (a batch's legs; db/raw.py `BulkInsert`)."""
    columns = _TRANSACTION_COLUMNS
    _INSERT_TRANSACTIONS.run(connection, [tuple(map(row.get, columns)) for row in rows])


_INSERT_TRANSACTIONS = BulkInsert(registry_transactions)


def holder_kinds(connection: Connection, holder_ids: list[str]) -> dict[str, str]:
    """The kind of each of these holders that exists."""
    rows = connection.execute(select(holders.c.id, holders.c.kind).where(holders.c.id.in_(holder_ids)))
    return {row.id: row.kind for row in rows}


def account_owners(connection: Connection, account_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(holder id, account type) of each of these accounts that exists."""
    rows = connection.execute(
        select(accounts.c.id, accounts.c.holder_id, accounts.c.type).where(accounts.c.id.in_(account_ids))
    )
    return {row.id: (row.holder_id, row.type) for row in rows}


def insert_holders(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Register many holders in one statement (rows checked by the caller)."""
    if rows:
        connection.execute(insert(holders), rows)


def insert_accounts(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Open many accounts in one statement (rows checked by the caller)."""
    if rows:
        connection.execute(insert(accounts), rows)


def block_holding_serial(connection: Connection, instrument_id: str, serial: int) -> Any:
    """The serial block (account, first, last, account type) that holds one serial number now."""
    found: Any = connection.execute(
        select(
            serial_blocks.c.account_id,
            serial_blocks.c.first_serial,
            serial_blocks.c.last_serial,
            accounts.c.type,
        )
        .join(accounts, accounts.c.id == serial_blocks.c.account_id)
        .where(
            serial_blocks.c.instrument_id == instrument_id,
            serial_blocks.c.first_serial <= serial,
            serial_blocks.c.last_serial >= serial,
        )
    ).first()
    return found


def traded_between(
    connection: Connection, account_ids: list[str], instruments: list[str], start_at: str, end_at: str
) -> tuple[int, int]:
    """Units of `trade` transactions out of and into the accounts (excluding moves among them)."""
    t = registry_transactions
    window = (
        (t.c.type == "trade")
        & t.c.instrument_id.in_(instruments)
        & (t.c.completed_at >= start_at)
        & (t.c.completed_at < end_at)
    )
    sold = connection.execute(
        select(func.coalesce(func.sum(t.c.quantity), 0)).where(
            window & t.c.from_account.in_(account_ids) & t.c.to_account.not_in(account_ids)
        )
    ).scalar_one()
    bought = connection.execute(
        select(func.coalesce(func.sum(t.c.quantity), 0)).where(
            window & t.c.to_account.in_(account_ids) & t.c.from_account.not_in(account_ids)
        )
    ).scalar_one()
    return int(sold), int(bought)


def lock_transaction(connection: Connection, transaction_id: str) -> Row[Any] | None:
    """A registry transaction, locked for a status change."""
    query = select(registry_transactions).where(registry_transactions.c.id == transaction_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def update_transaction(connection: Connection, transaction_id: str, **values: Any) -> None:
    """Move a registry transaction to its next status."""
    connection.execute(
        update(registry_transactions).where(registry_transactions.c.id == transaction_id).values(**values)
    )


def list_transactions(connection: Connection, status: str | None, limit: int) -> list[Row[Any]]:
    """Registry transactions, newest first, optionally of one status."""
    query = select(registry_transactions).order_by(registry_transactions.c.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(registry_transactions.c.status == status)
    return list(connection.execute(query))


def insert_certificate(connection: Connection, **values: Any) -> None:
    """Record a retirement certificate."""
    connection.execute(insert(retirement_certificates).values(**values))


def get_certificate(connection: Connection, certificate_id: str) -> Row[Any] | None:
    """A retirement certificate by id."""
    return connection.execute(
        select(retirement_certificates).where(retirement_certificates.c.id == certificate_id)
    ).first()


# --- a plain transfer in one statement (PostgreSQL) -------------------------------------------

_TRANSFER_PARAMETERS = (
    *("key", "kind", "body_hash", "result", "actor", "at", "batch", "type", "leg_kind", "status"),
    *("from_account", "to_account", "instrument", "quantity", "sendable", "receivable"),
    *("skip_approval", "payload", "hash_prefix", "hash_suffix"),
)
_CASTS = {"quantity": "bigint", "sendable": "text[]", "receivable": "text[]", "skip_approval": "boolean"}
# The function of migration 0013; registry/direct.py says when it is used.
_TRANSFER_IN_ONE_STATEMENT = Sql(
    "SELECT cm_transfer("
    + ", ".join(
        f"CAST(:{name} AS {_CASTS[name]})" if name in _CASTS else f"CAST(:{name} AS text)"
        for name in _TRANSFER_PARAMETERS
    )
    + ")"
)


def transfer_in_one_statement(connection: Connection, parameters: dict[str, Any]) -> str:
    """Run `cm_transfer`; 'done' when it wrote the transfer, else why it left it to the full path."""
    missing = set(_TRANSFER_PARAMETERS) - set(parameters)
    assert not missing, f"cm_transfer needs {sorted(missing)}"
    row = _TRANSFER_IN_ONE_STATEMENT.one(connection, parameters)
    assert row is not None, "a SELECT of a function returns one row"
    return str(row[0])
