"""`registry.store.get_accounts`: a few accounts by an IN list, many by one JSON list; the same answer."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.registry import store
from carbonmarket.registry.model import AccountType, HolderKind
from carbonmarket.registry.service import Registry


@pytest.mark.parametrize("count", [1, 16, 17, 60])
def test_accounts_are_read_alike_by_either_statement(registry: Registry, engine: Engine, count: int) -> None:
    registry.add_holder(LOCAL_OPERATOR, "E", "Entity", "entity")
    for n in range(count):
        registry.open_account(LOCAL_OPERATOR, f"E-{n:03d}", "E", "holding")
    wanted = [f"E-{n:03d}" for n in range(count)]
    # Unknown ids are left out, repeated ones read once, whichever statement runs.
    asked = [*reversed(wanted), "NOBODY", wanted[0]]
    with engine.connect() as connection:
        found = store.get_accounts(connection, asked)
    assert sorted(found) == wanted
    assert all(a.type is AccountType.HOLDING and a.holder_kind is HolderKind.ENTITY for a in found.values())
    assert (len(set(asked)) > store._IN_LIST_MAX) == (count >= 16)  # both statements are exercised
