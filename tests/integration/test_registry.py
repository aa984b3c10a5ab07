"""Registry use cases on SQLite and PostgreSQL: issuance, transfers, holds, retirements, reversals."""

from __future__ import annotations

from typing import Any

import pytest

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.registry.service import Registry

CCER = "CCER-P0001-2025"


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


def balances(registry: Registry, account: str) -> dict[str, int]:
    return dict(registry.balance(LOCAL_OPERATOR, account)["balances"])


@pytest.fixture
def market(registry: Registry) -> Registry:
    """A regulator with central accounts and three entities holding CEA24 and a CCER batch."""
    op = LOCAL_OPERATOR
    done(registry.add_holder(op, "MEE", "Ministry", "government"))
    for kind in ("issuance", "cancellation", "surrender", "deletion"):
        done(registry.open_account(op, f"MEE-{kind}", "MEE", kind))
    for n in (1, 2, 3):
        done(registry.add_holder(op, f"E{n}", f"Entity {n}", "entity"))
        done(registry.open_account(op, f"E{n}-H", f"E{n}", "holding"))
    done(registry.add_holder(op, "P", "Zhang", "individual"))
    done(registry.open_account(op, "P-H", "P", "holding"))
    done(registry.define_instrument(op, CCER, 1_000, "test project"))
    done(registry.issue(op, "iss-1", "CEA24", 10_000, "MEE-issuance"))
    done(registry.issue(op, "iss-c", CCER, 1_000, "MEE-issuance"))
    done(registry.transfer(op, "alloc-1", "MEE-issuance", "E1-H", "CEA24", 6_000))
    done(registry.transfer(op, "ccer-1", "MEE-issuance", "E1-H", CCER, 1_000))
    return registry


def test_issuance_goes_only_into_issuance_accounts(market: Registry) -> None:
    refused(
        market.issue(LOCAL_OPERATOR, "bad-iss", "CEA24", 5, "E1-H"), Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED
    )
    assert balances(market, "E1-H")["CEA24"] == 6_000


def test_issuance_is_refused_above_the_vintage_cap(market: Registry) -> None:
    done(market.set_cap(LOCAL_OPERATOR, "cap-1", "CEA24", 12_000))
    refused(market.issue(LOCAL_OPERATOR, "over", "CEA24", 2_001, "MEE-issuance"), Code.ISSUANCE_ABOVE_CAP)
    done(market.issue(LOCAL_OPERATOR, "exact", "CEA24", 2_000, "MEE-issuance"))
    cea24 = next(i for i in market.instruments() if i["instrument"] == "CEA24")
    assert (cea24["issued"], cea24["cap"]) == (12_000, 12_000)
    refused(market.set_cap(LOCAL_OPERATOR, "cap-2", "CEA24", 11_000), Code.CAP_BELOW_ISSUED)


def test_only_a_regulator_issues(market: Registry) -> None:
    operator = Actor("ops", Role.REGISTRY_OPERATOR)
    refused(market.issue(operator, "ops-iss", "CEA24", 5, "MEE-issuance"), Code.FORBIDDEN)
    assert next(i for i in market.instruments() if i["instrument"] == "CEA24")["issued"] == 10_000


def test_transfer_moves_units_and_is_idempotent(market: Registry) -> None:
    first = done(market.transfer(LOCAL_OPERATOR, "t-1", "E1-H", "E2-H", "CEA24", 1_500))
    again = market.transfer(LOCAL_OPERATOR, "t-1", "E1-H", "E2-H", "CEA24", 1_500)
    assert isinstance(again, Done) and again.result == "exists" and again.data == first
    refused(
        market.transfer(LOCAL_OPERATOR, "t-1", "E1-H", "E2-H", "CEA24", 1_501),
        Code.EXISTS_WITH_DIFFERENT_FIELDS,
    )
    assert balances(market, "E1-H")["CEA24"] == 4_500
    assert balances(market, "E2-H")["CEA24"] == 1_500


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("E1-H", "E2-H", "CEA24", 0), Code.QUANTITY_NOT_POSITIVE),
        (("E1-H", "E2-H", "CEA24", -5), Code.QUANTITY_NOT_POSITIVE),
        (("E1-H", "E2-H", "CEA24", "2.5"), Code.QUANTITY_NOT_INTEGER),
        (("E1-H", "E2-H", "CEA24", 10**12 + 1), Code.QUANTITY_TOO_LARGE),
        (("E1-H", "E2-H", "CEA24", 6_001), Code.INSUFFICIENT_BALANCE),
        (("NOPE", "E2-H", "CEA24", 1), Code.TRANSFERRING_ACCOUNT_NOT_FOUND),
        (("E1-H", "NOPE", "CEA24", 1), Code.ACQUIRING_ACCOUNT_NOT_FOUND),
        (("E1-H", "E1-H", "CEA24", 1), Code.SAME_ACCOUNT),
        (("E1-H", "E2-H", "CEA99", 1), Code.UNKNOWN_INSTRUMENT),
        (("E1-H", "E2-H", "GOLD", 1), Code.INVALID_INSTRUMENT_ID),
        (("E1-H", "P-H", "CEA24", 1), Code.ACQUIRING_ACCOUNT_CANNOT_HOLD_UNIT),
        (("MEE-cancellation", "E2-H", "CEA24", 1), Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED),
        # Units come out of the mint only by issuance, which checks the regulator and the cap.
        (("@mint", "E2-H", "CEA24", 1), Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(
    market: Registry, args: tuple[Any, ...], code: Code
) -> None:
    before = {a: balances(market, a) for a in ("E1-H", "E2-H", "MEE-issuance")}
    refused(market.transfer(LOCAL_OPERATOR, "bad", *args), code)
    assert {a: balances(market, a) for a in before} == before
    assert market.reconcile().ok


def test_blocked_and_closed_accounts_neither_send_nor_receive(market: Registry) -> None:
    done(market.set_account_status(LOCAL_OPERATOR, "blk", "E2-H", "blocked", "investigation"))
    refused(
        market.transfer(LOCAL_OPERATOR, "to-blocked", "E1-H", "E2-H", "CEA24", 1),
        Code.ACQUIRING_ACCOUNT_BLOCKED,
    )
    refused(
        market.transfer(LOCAL_OPERATOR, "from-blocked", "E2-H", "E1-H", "CEA24", 1),
        Code.TRANSFERRING_ACCOUNT_BLOCKED,
    )
    refused(
        market.set_account_status(LOCAL_OPERATOR, "close-full", "E1-H", "closed", "x"), Code.ACCOUNT_NOT_EMPTY
    )
    done(market.set_account_status(LOCAL_OPERATOR, "close-3", "E3-H", "closed", "left the market"))
    refused(
        market.transfer(LOCAL_OPERATOR, "to-closed", "E1-H", "E3-H", "CEA24", 1),
        Code.ACQUIRING_ACCOUNT_CLOSED,
    )


def test_an_entity_representative_needs_the_initiate_right(market: Registry) -> None:
    rep = Actor("rep", Role.ENTITY_REPRESENTATIVE, frozenset({("E1-H", Permission.INITIATE)}))
    done(market.transfer(rep, "rep-ok", "E1-H", "E2-H", "CEA24", 10))
    refused(market.transfer(rep, "rep-no", "E2-H", "E1-H", "CEA24", 10), Code.FORBIDDEN)
    refused(market.add_holder(rep, "X", "X", "entity"), Code.FORBIDDEN)
    with pytest.raises(Exception, match="may not view"):
        market.balance(rep, "E2-H")


def test_a_freeze_reserves_units_until_released(market: Registry) -> None:
    done(market.freeze(LOCAL_OPERATOR, "frz-1", "E1-H", "CEA24", 5_000, "court order 12"))
    refused(
        market.transfer(LOCAL_OPERATOR, "t-frozen", "E1-H", "E2-H", "CEA24", 1_001), Code.INSUFFICIENT_BALANCE
    )
    view = market.balance(LOCAL_OPERATOR, "E1-H")
    assert view["held"] == {"CEA24": 5_000} and view["available"]["CEA24"] == 1_000
    done(market.release(LOCAL_OPERATOR, "frz-1", "order lifted"))
    again = market.release(LOCAL_OPERATOR, "frz-1", "order lifted")
    assert isinstance(again, Done) and again.result == "exists"
    refused(market.release(LOCAL_OPERATOR, "frz-1", "another reason"), Code.EXISTS_WITH_DIFFERENT_FIELDS)
    done(market.transfer(LOCAL_OPERATOR, "t-free", "E1-H", "E2-H", "CEA24", 6_000))
    assert market.reconcile().ok


def test_a_pledge_executes_in_part_to_the_pledgee_and_releases_the_rest(market: Registry) -> None:
    done(market.pledge(LOCAL_OPERATOR, "plg-1", "E1-H", "CEA24", 4_000, "E2-H"))
    result = done(market.execute_pledge(LOCAL_OPERATOR, "plg-1", 2_500))
    assert result["released"] == 1_500
    assert balances(market, "E1-H")["CEA24"] == 3_500
    assert balances(market, "E2-H")["CEA24"] == 2_500
    assert market.balance(LOCAL_OPERATOR, "E1-H")["held"] == {}
    refused(market.release(LOCAL_OPERATOR, "plg-1", "too late"), Code.HOLD_NOT_PENDING)
    assert market.reconcile().ok


def test_an_expired_hold_releases_its_units(market: Registry) -> None:
    done(
        market.freeze(LOCAL_OPERATOR, "frz-old", "E1-H", "CEA24", 100, "lapsed", "2000-01-01T00:00:00+00:00")
    )
    assert market.balance(LOCAL_OPERATOR, "E1-H")["held"] == {"CEA24": 100}
    assert done(market.expire_holds(LOCAL_OPERATOR, "sweep-1"))["expired"] == ["frz-old"]
    assert market.balance(LOCAL_OPERATOR, "E1-H")["held"] == {}
    assert market.reconcile().ok


def test_ccer_serial_blocks_split_on_partial_transfer(market: Registry) -> None:
    first = done(market.transfer(LOCAL_OPERATOR, "c-1", "E1-H", "E2-H", CCER, 300))
    assert first["serials"] == [[1, 300]] or first["serials"] == [(1, 300)]
    second = done(market.transfer(LOCAL_OPERATOR, "c-2", "E1-H", "E3-H", CCER, 200))
    assert [tuple(r) for r in second["serials"]] == [(301, 500)]
    back = done(market.transfer(LOCAL_OPERATOR, "c-3", "E2-H", "E3-H", CCER, 300))
    assert [tuple(r) for r in back["serials"]] == [(1, 300)]
    assert market.reconcile().ok


def test_cancellation_retires_units_with_a_certificate(market: Registry) -> None:
    result = done(
        market.cancel(
            LOCAL_OPERATOR, "ret-1", "E1-H", CCER, 250, "MEE-cancellation", "Expo 2025", "event neutrality"
        )
    )
    certificate = market.certificate(result["certificate"])
    assert (certificate["quantity"], certificate["beneficiary"]) == (250, "Expo 2025")
    assert [tuple(r) for r in certificate["serials"]] == [(1, 250)]
    ccer = next(i for i in market.instruments() if i["instrument"] == CCER)
    assert (ccer["issued"], ccer["retired"], ccer["supply"]) == (1_000, 250, 750)
    refused(
        market.cancel(LOCAL_OPERATOR, "ret-2", "E1-H", CCER, 1, "E2-H", "x", "y"),
        Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED,
    )
    assert market.reconcile().ok


def test_a_reversal_undoes_a_transfer_once(market: Registry) -> None:
    done(market.transfer(LOCAL_OPERATOR, "oops", "E1-H", "E2-H", "CEA24", 700))
    done(market.reverse(LOCAL_OPERATOR, "fix-1", "oops", "wrong counterparty"))
    assert balances(market, "E1-H")["CEA24"] == 6_000
    assert "CEA24" not in balances(market, "E2-H")
    refused(market.reverse(LOCAL_OPERATOR, "fix-2", "oops", "again"), Code.ALREADY_REVERSED)
    refused(market.reverse(LOCAL_OPERATOR, "fix-3", "fix-1", "undo the undo"), Code.NOT_REVERSIBLE)
    refused(market.reverse(LOCAL_OPERATOR, "fix-4", "never-was", "x"), Code.TRANSFER_NOT_FOUND)
    history = market.history(LOCAL_OPERATOR, "E2-H")["entries"]
    assert [e["quantity"] for e in history] == [-700, 700]
    assert history[0]["reverses"] is not None


def test_reversing_a_surrender_returns_units_to_circulation(market: Registry) -> None:
    done(market.surrender(LOCAL_OPERATOR, "sur-1", "E1-H", "CEA24", 1_000, "MEE-surrender"))
    cea = next(i for i in market.instruments() if i["instrument"] == "CEA24")
    assert (cea["retired"], cea["supply"]) == (1_000, 9_000)
    done(market.reverse(LOCAL_OPERATOR, "unsur-1", "sur-1", "surrendered for the wrong year"))
    cea = next(i for i in market.instruments() if i["instrument"] == "CEA24")
    assert (cea["retired"], cea["supply"]) == (0, 10_000)
    assert market.reconcile().ok


def test_four_eyes_approval_holds_units_until_a_second_person_approves(market: Registry) -> None:
    done(market.open_account(LOCAL_OPERATOR, "E2-SAFE", "E2", "holding", approval_required=True))
    done(market.transfer(LOCAL_OPERATOR, "fund-safe", "E1-H", "E2-SAFE", "CEA24", 1_000))
    alice = Actor(
        "alice",
        Role.ENTITY_REPRESENTATIVE,
        frozenset({("E2-SAFE", Permission.INITIATE), ("E2-SAFE", Permission.APPROVE)}),
    )
    bob = Actor("bob", Role.ENTITY_REPRESENTATIVE, frozenset({("E2-SAFE", Permission.APPROVE)}))
    proposed = done(market.transfer(alice, "safe-1", "E2-SAFE", "E3-H", "CEA24", 600))
    assert proposed["status"] == "awaiting_approval"
    assert market.balance(LOCAL_OPERATOR, "E2-SAFE")["held"] == {"CEA24": 600}
    refused(market.approve(alice, "safe-1", True), Code.APPROVER_IS_INITIATOR)
    assert done(market.approve(bob, "safe-1", True))["status"] == "completed"
    assert balances(market, "E3-H")["CEA24"] == 600
    done(market.transfer(alice, "safe-2", "E2-SAFE", "E3-H", "CEA24", 400))
    assert done(market.approve(bob, "safe-2", False, "not agreed"))["status"] == "rejected"
    assert balances(market, "E2-SAFE")["CEA24"] == 400
    assert market.balance(LOCAL_OPERATOR, "E2-SAFE")["held"] == {}
    assert market.reconcile().ok


def test_holder_and_account_ids_are_idempotent(market: Registry) -> None:
    again = market.add_holder(LOCAL_OPERATOR, "E1", "Entity 1", "entity")
    assert isinstance(again, Done) and again.result == "exists"
    refused(
        market.add_holder(LOCAL_OPERATOR, "E1", "Another name", "entity"), Code.EXISTS_WITH_DIFFERENT_FIELDS
    )
    refused(market.open_account(LOCAL_OPERATOR, "X-H", "NOBODY", "holding"), Code.UNKNOWN_HOLDER)
    refused(
        market.open_account(LOCAL_OPERATOR, "X-I", "E1", "issuance"), Code.ACCOUNT_HOLDER_KIND_NOT_ALLOWED
    )
    refused(market.add_holder(LOCAL_OPERATOR, "bad id!", "x", "entity"), Code.INVALID_ID)
