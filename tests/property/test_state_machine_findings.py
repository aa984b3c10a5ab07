"""Small, fixed reproductions of what the ledger state machine found, on SQLite and PostgreSQL.

The state machine in `test_ledger_stateful.py` shrinks a failure to a few steps; each case here is
such a failure written out, so it reads as one sentence and fails fast until the bug is fixed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome, Refusal
from carbonmarket.db.tables import balances, commands, holds, instruments, transfers
from carbonmarket.registry.service import Registry

ISSUANCE = "GOV-ISS"
CANCELLATION = "GOV-CAN"
SELLER = "E1-HOLD"
BUYER = "E2-HOLD"


def _set_up(registry: Registry) -> None:
    """Issuance and cancellation accounts and two entities; the seller holds 300 t of CEA24."""
    assert isinstance(registry.add_holder(LOCAL_OPERATOR, "GOV", "Ministry", "government"), Done)
    assert isinstance(registry.open_account(LOCAL_OPERATOR, ISSUANCE, "GOV", "issuance"), Done)
    assert isinstance(registry.open_account(LOCAL_OPERATOR, CANCELLATION, "GOV", "cancellation"), Done)
    for holder, account in (("ENTITY-1", SELLER), ("ENTITY-2", BUYER)):
        assert isinstance(registry.add_holder(LOCAL_OPERATOR, holder, holder.title(), "entity"), Done)
        assert isinstance(registry.open_account(LOCAL_OPERATOR, account, holder, "holding"), Done)
    assert isinstance(registry.issue(LOCAL_OPERATOR, "issue-0", "CEA24", 1_000, ISSUANCE), Done)
    assert isinstance(registry.transfer(LOCAL_OPERATOR, "fund-0", ISSUANCE, SELLER, "CEA24", 300), Done)


def _state(registry: Registry) -> dict[str, Any]:
    with registry.engine.connect() as connection:
        return {
            "balances": sorted(tuple(r) for r in connection.execute(select(balances))),
            "transfers": connection.execute(select(func.count()).select_from(transfers)).scalar_one(),
            "holds": sorted(tuple(r) for r in connection.execute(select(holds.c.id, holds.c.status))),
            "supply": sorted(
                tuple(r)
                for r in connection.execute(
                    select(instruments.c.id, instruments.c.issued, instruments.c.retired)
                )
            ),
            "commands": connection.execute(select(func.count()).select_from(commands)).scalar_one(),
        }


def test_reversing_an_issuance_returns_the_units_to_the_mint(registry: Registry) -> None:
    _set_up(registry)
    assert isinstance(registry.issue(LOCAL_OPERATOR, "issue-1", "CEA25", 100, ISSUANCE), Done)

    outcome = registry.reverse(LOCAL_OPERATOR, "reverse-1", "issue-1", "entered in error")

    assert isinstance(outcome, Done), outcome
    assert "CEA25" not in registry.balance(LOCAL_OPERATOR, ISSUANCE)["balances"]
    supply = {r["instrument"]: r for r in registry.instruments()}["CEA25"]
    assert (supply["issued"], supply["retired"], supply["supply"]) == (0, 0, 0)
    assert registry.reconcile().ok


# A second command that reuses the id of a first one of another kind (the idempotency key is
# per kind, but registry transactions and ledger batches share one id space).
def _first_issue(registry: Registry, command_id: str) -> Outcome:
    return registry.issue(LOCAL_OPERATOR, command_id, "CEA24", 10, ISSUANCE)


def _first_transfer(registry: Registry, command_id: str) -> Outcome:
    return registry.transfer(LOCAL_OPERATOR, command_id, ISSUANCE, BUYER, "CEA24", 10)


def _then_transfer(registry: Registry, command_id: str) -> Outcome:
    return registry.transfer(LOCAL_OPERATOR, command_id, ISSUANCE, BUYER, "CEA24", 10)


def _then_cancel(registry: Registry, command_id: str) -> Outcome:
    return registry.cancel(
        LOCAL_OPERATOR, command_id, SELLER, "CEA24", 10, CANCELLATION, "Example Ltd", "offset"
    )


def _then_reverse_the_funding(registry: Registry, command_id: str) -> Outcome:
    return registry.reverse(LOCAL_OPERATOR, command_id, "fund-0", "entered in error")


def _first_transfer_then_pledge_h1(registry: Registry, command_id: str) -> Outcome:
    transferred = _first_transfer(registry, command_id)
    assert isinstance(transferred, Done), transferred
    return registry.pledge(LOCAL_OPERATOR, "h1", SELLER, "CEA24", 10, BUYER)


def _then_execute_pledge_h1(registry: Registry, _command_id: str) -> Outcome:
    return registry.execute_pledge(LOCAL_OPERATOR, "h1")


ID_REUSE = {
    "a transfer reusing an issuance's id": (_first_issue, _then_transfer, "shared-1"),
    "a cancellation reusing a transfer's id": (_first_transfer, _then_cancel, "shared-1"),
    "a reversal reusing a transfer's id": (_first_transfer, _then_reverse_the_funding, "shared-1"),
    "a pledge execution after a transfer named pledge-h1": (
        _first_transfer_then_pledge_h1,
        _then_execute_pledge_h1,
        "pledge-h1",
    ),
}


@pytest.mark.parametrize("case", list(ID_REUSE))
def test_a_command_id_reused_by_another_kind_of_command_gets_an_answer_not_a_crash(
    registry: Registry, case: str
) -> None:
    first, second, command_id = ID_REUSE[case]
    _set_up(registry)
    assert isinstance(first(registry, command_id), Done)
    before = _state(registry)

    outcome = second(registry, command_id)  # today: IntegrityError on transfers (batch_id, leg)

    assert isinstance(outcome, Done | Refusal), outcome
    if isinstance(outcome, Refusal):
        after = _state(registry)
        assert after["balances"] == before["balances"] and after["transfers"] == before["transfers"]
    assert registry.reconcile().ok
