"""Registry business checks, named like the UK ETS registry's, in their fixed order."""

from __future__ import annotations

import pytest

from carbonmarket.core.instruments import InstrumentKind
from carbonmarket.core.results import Code, Refused
from carbonmarket.registry.model import (
    Account,
    AccountStatus,
    AccountType,
    HolderKind,
    check_account_opening,
    check_acquiring,
    check_issuance_cap,
    check_transferring,
    parse_account_type,
    parse_holder_kind,
)


def account(
    type_: AccountType = AccountType.HOLDING,
    status: AccountStatus = AccountStatus.OPEN,
    kind: HolderKind = HolderKind.ENTITY,
    id_: str = "A",
) -> Account:
    return Account(id_, "H", kind, type_, status)


def code_of(call: object, *args: object) -> Code:
    with pytest.raises(Refused) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.refusal.code


def test_transferring_account_must_exist_be_open_and_may_send() -> None:
    assert code_of(check_transferring, None, "X") is Code.TRANSFERRING_ACCOUNT_NOT_FOUND
    assert (
        code_of(check_transferring, account(status=AccountStatus.CLOSED), "A")
        is Code.TRANSFERRING_ACCOUNT_CLOSED
    )
    assert (
        code_of(check_transferring, account(status=AccountStatus.BLOCKED), "A")
        is Code.TRANSFERRING_ACCOUNT_BLOCKED
    )
    retired = account(AccountType.CANCELLATION, kind=HolderKind.GOVERNMENT)
    assert code_of(check_transferring, retired, "A") is Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED
    assert check_transferring(account(), "A").id == "A"


def test_acquiring_account_checks_run_in_uk_order() -> None:
    allowance = InstrumentKind.ALLOWANCE
    assert code_of(check_acquiring, None, "X", allowance, "S") is Code.ACQUIRING_ACCOUNT_NOT_FOUND
    closed = account(status=AccountStatus.CLOSED)
    assert code_of(check_acquiring, closed, "A", allowance, "S") is Code.ACQUIRING_ACCOUNT_CLOSED
    blocked = account(status=AccountStatus.BLOCKED)
    assert code_of(check_acquiring, blocked, "A", allowance, "S") is Code.ACQUIRING_ACCOUNT_BLOCKED
    assert code_of(check_acquiring, account(), "A", allowance, "A") is Code.SAME_ACCOUNT


def test_individuals_may_hold_ccers_but_not_allowances() -> None:
    person = account(kind=HolderKind.INDIVIDUAL)
    assert check_acquiring(person, "A", InstrumentKind.CCER, "S") == person
    assert (
        code_of(check_acquiring, person, "A", InstrumentKind.ALLOWANCE, "S")
        is Code.ACQUIRING_ACCOUNT_CANNOT_HOLD_UNIT
    )


def test_funds_only_sit_in_trading_and_clearing_accounts() -> None:
    assert (
        code_of(check_acquiring, account(), "A", InstrumentKind.FUNDS, "S")
        is Code.ACQUIRING_ACCOUNT_CANNOT_HOLD_UNIT
    )
    trading = account(AccountType.TRADING)
    assert check_acquiring(trading, "A", InstrumentKind.FUNDS, "S") == trading


def test_central_accounts_need_a_government_holder() -> None:
    assert (
        code_of(check_account_opening, HolderKind.ENTITY, AccountType.ISSUANCE)
        is Code.ACCOUNT_HOLDER_KIND_NOT_ALLOWED
    )
    check_account_opening(HolderKind.GOVERNMENT, AccountType.ISSUANCE)
    check_account_opening(HolderKind.ENTITY, AccountType.HOLDING)


def test_the_mint_cannot_be_opened_or_named() -> None:
    assert code_of(parse_account_type, "mint") is Code.INVALID_ACCOUNT_TYPE
    assert (
        code_of(check_account_opening, HolderKind.GOVERNMENT, AccountType.MINT) is Code.INVALID_ACCOUNT_TYPE
    )


def test_unknown_words_are_refused_with_the_allowed_list() -> None:
    with pytest.raises(Refused) as caught:
        parse_holder_kind("company")
    assert "entity" in caught.value.refusal.message
    assert code_of(parse_account_type, "savings") is Code.INVALID_ACCOUNT_TYPE


def test_issuance_never_exceeds_the_cap() -> None:
    check_issuance_cap(90, 10, 100, "CEA24")
    check_issuance_cap(90, 10**9, None, "CNY")
    with pytest.raises(Refused) as caught:
        check_issuance_cap(90, 11, 100, "CEA24")
    assert caught.value.refusal.code is Code.ISSUANCE_ABOVE_CAP
    assert "10 t remain" in caught.value.refusal.message
