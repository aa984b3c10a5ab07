"""All SQL of users and their per-account rights."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select

from carbonmarket.db.tables import account_rights, users


def get_user(connection: Connection, username: str) -> Row[Any] | None:
    """A user row by name."""
    return connection.execute(select(users).where(users.c.username == username)).first()


def insert_user(connection: Connection, **values: Any) -> None:
    """Record a new user."""
    connection.execute(insert(users).values(**values))


def rights_of(connection: Connection, username: str) -> list[tuple[str, str]]:
    """(account, permission) pairs the user holds."""
    rows = connection.execute(
        select(account_rights.c.account_id, account_rights.c.permission).where(
            account_rights.c.username == username
        )
    )
    return [(r.account_id, r.permission) for r in rows]


def has_right_row(connection: Connection, username: str, account_id: str, permission: str) -> bool:
    """Whether this exact right is already granted."""
    row = connection.execute(
        select(account_rights.c.username)
        .where(account_rights.c.username == username)
        .where(account_rights.c.account_id == account_id)
        .where(account_rights.c.permission == permission)
    ).first()
    return row is not None


def insert_right(connection: Connection, username: str, account_id: str, permission: str) -> None:
    """Grant a right on an account."""
    connection.execute(
        insert(account_rights).values(username=username, account_id=account_id, permission=permission)
    )


def list_users(connection: Connection) -> list[Row[Any]]:
    """Every user by name."""
    return list(connection.execute(select(users).order_by(users.c.username)))
