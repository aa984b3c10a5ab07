"""Registry rules: holder kinds, account types and statuses, who may hold and send what.

Pure: standard library and `carbonmarket.core` only. The business checks follow the UK ETS
registry (REGISTRY_CHECKS.md §1): each returns a named result code with words for a person, and
they run in a fixed order that stops at the first failure — transferring account, then acquiring
account, then units and quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from carbonmarket.core.instruments import InstrumentKind
from carbonmarket.core.results import Code, Refused


class HolderKind(StrEnum):
    """Who may open accounts (Progress Report §9: unified account opening for all participants)."""

    ENTITY = "entity"  # key emitting entity
    FINANCIAL = "financial"  # financial institution / exchange member
    INDIVIDUAL = "individual"  # voluntary market only
    PROJECT_OWNER = "project_owner"
    GOVERNMENT = "government"  # the regulator, provincial authorities, the exchange's clearing


class AccountType(StrEnum):
    """Account types; central ones belong to government holders (cf. UK ETS central accounts)."""

    ISSUANCE = "issuance"  # national issuance / total quantity account: the only place units are created
    ALLOCATION = "allocation"
    AUCTION = "auction"
    RESERVE = "reserve"
    HOLDING = "holding"  # an entity's or participant's registry holding account
    TRADING = "trading"
    CLEARING = "clearing"  # the exchange's clearing account, for delivery versus payment
    SURRENDER = "surrender"
    CANCELLATION = "cancellation"  # voluntary cancellation / retirement
    DELETION = "deletion"
    MINT = "mint"  # the ledger's virtual source of issued units; created by the migration, never opened


class AccountStatus(StrEnum):
    """Open accounts send and receive; blocked ones do neither; closed ones are gone for good."""

    OPEN = "open"
    BLOCKED = "blocked"
    CLOSED = "closed"


class TransactionStatus:
    """Life of a registry transaction (REGISTRY_CHECKS.md §2); approval is per account, off by default."""

    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


CENTRAL_TYPES = frozenset(
    {
        AccountType.ISSUANCE,
        AccountType.ALLOCATION,
        AccountType.AUCTION,
        AccountType.RESERVE,
        AccountType.CLEARING,
        AccountType.SURRENDER,
        AccountType.CANCELLATION,
        AccountType.DELETION,
    }
)
# Units that reach these accounts have left circulation: supply = issued − retired.
RETIREMENT_TYPES = frozenset({AccountType.SURRENDER, AccountType.CANCELLATION, AccountType.DELETION})

# Which unit families each account type may hold (UK check 2006). Allowances never sit in an
# individual's account: individuals take part in the voluntary market only (DOMAIN.md §1 users).
_HOLDABLE: dict[AccountType, frozenset[InstrumentKind]] = {
    AccountType.ISSUANCE: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER}),
    AccountType.ALLOCATION: frozenset({InstrumentKind.ALLOWANCE}),
    AccountType.AUCTION: frozenset({InstrumentKind.ALLOWANCE}),
    AccountType.RESERVE: frozenset({InstrumentKind.ALLOWANCE}),
    AccountType.HOLDING: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER}),
    AccountType.TRADING: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER, InstrumentKind.FUNDS}),
    AccountType.CLEARING: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER, InstrumentKind.FUNDS}),
    AccountType.SURRENDER: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER}),
    AccountType.CANCELLATION: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER}),
    AccountType.DELETION: frozenset({InstrumentKind.ALLOWANCE, InstrumentKind.CCER}),
    AccountType.MINT: frozenset(),
}


@dataclass(frozen=True)
class Account:
    """An account as the checks see it."""

    id: str
    holder_id: str
    holder_kind: HolderKind
    type: AccountType
    status: AccountStatus
    approval_required: bool = False


def parse_holder_kind(value: str) -> HolderKind:
    """Read a holder kind, refusing unknown words."""
    try:
        return HolderKind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in HolderKind)
        raise Refused(Code.INVALID_HOLDER_KIND, f"holder kind {value!r} is not one of: {allowed}") from None


def parse_account_type(value: str) -> AccountType:
    """Read an account type, refusing unknown words."""
    try:
        parsed = AccountType(value)
        if parsed is AccountType.MINT:
            raise ValueError(value)
        return parsed
    except ValueError:
        allowed = ", ".join(t.value for t in AccountType if t is not AccountType.MINT)
        raise Refused(Code.INVALID_ACCOUNT_TYPE, f"account type {value!r} is not one of: {allowed}") from None


def parse_account_status(value: str) -> AccountStatus:
    """Read an account status, refusing unknown words."""
    try:
        return AccountStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in AccountStatus)
        raise Refused(Code.INVALID_ACCOUNT_STATUS, f"status {value!r} is not one of: {allowed}") from None


# Free text of the registry (holder names, reasons, beneficiaries, purposes): present, and short
# enough to show on a certificate.
text_length_max = 1_000


def check_text(value: object, what: str) -> None:
    """Free text must be present and of sensible length (`text_length_max`)."""
    if not isinstance(value, str) or not value.strip() or len(value) > text_length_max:
        raise Refused(Code.INVALID_TEXT, f"{what} must be 1-{text_length_max} characters")


def check_account_opening(holder_kind: HolderKind, account_type: AccountType) -> None:
    """Central accounts belong to government holders; the mint exists once and is never opened."""
    if account_type is AccountType.MINT:
        raise Refused(
            Code.INVALID_ACCOUNT_TYPE, "the mint account is part of the ledger and cannot be opened"
        )
    if account_type in CENTRAL_TYPES and holder_kind is not HolderKind.GOVERNMENT:
        raise Refused(
            Code.ACCOUNT_HOLDER_KIND_NOT_ALLOWED,
            f"a {account_type.value} account is a central account and needs a government holder, "
            f"not a {holder_kind.value}",
        )


def may_hold(account: Account, kind: InstrumentKind) -> bool:
    """Whether the account may hold units of this family (UK 2006)."""
    return may_hold_in(account.type, account.holder_kind, kind)


def may_hold_in(account_type: AccountType, holder_kind: HolderKind, kind: InstrumentKind) -> bool:
    """Whether an account of this type and holder kind may hold units of this family."""
    if kind is InstrumentKind.ALLOWANCE and holder_kind is HolderKind.INDIVIDUAL:
        return False
    return kind in _HOLDABLE[account_type]


def may_send_from(account_type: AccountType) -> bool:
    """Units in retirement accounts have left circulation (UK 1007), and the mint only issues."""
    return account_type not in RETIREMENT_TYPES and account_type is not AccountType.MINT


def sending_types() -> list[str]:
    """The account types units may be sent from, as text (for a check made inside the database)."""
    return [t.value for t in AccountType if may_send_from(t)]


def receiving_pairs(kind: InstrumentKind) -> list[str]:
    """`type:holder_kind` of the accounts that may receive this unit family other than retirement
    accounts (registry/direct.py leaves retirements to the ordinary path)."""
    return [
        f"{account_type.value}:{holder_kind.value}"
        for account_type in AccountType
        if account_type not in RETIREMENT_TYPES
        for holder_kind in HolderKind
        if may_hold_in(account_type, holder_kind, kind)
    ]


def check_transferring(account: Account | None, account_id: str) -> Account:
    """UK 1002-1004 and 1007: the sender exists, is not closed or blocked, and may send."""
    if account is None:
        raise Refused(
            Code.TRANSFERRING_ACCOUNT_NOT_FOUND, f"transferring account {account_id!r} does not exist"
        )
    if account.status is AccountStatus.CLOSED:
        raise Refused(Code.TRANSFERRING_ACCOUNT_CLOSED, f"transferring account {account_id!r} is closed")
    if account.status is AccountStatus.BLOCKED:
        raise Refused(Code.TRANSFERRING_ACCOUNT_BLOCKED, f"transferring account {account_id!r} is blocked")
    if account.type is AccountType.MINT:
        raise Refused(
            Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED,
            f"{account_id!r} is the ledger's mint: units come from it only by issuance, within the cap",
        )
    if not may_send_from(account.type):
        raise Refused(
            Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED,
            f"units in {account.type.value} account {account_id!r} have left circulation and cannot be sent; "
            "a mistake is corrected by reversing the original transfer",
        )
    return account


def check_acquiring(
    account: Account | None, account_id: str, kind: InstrumentKind, sender_id: str | None
) -> Account:
    """UK 2002-2007 and 2508: the receiver exists, is open, may hold the unit, and is not the sender."""
    if account is None:
        raise Refused(Code.ACQUIRING_ACCOUNT_NOT_FOUND, f"acquiring account {account_id!r} does not exist")
    if account.status is AccountStatus.CLOSED:
        raise Refused(Code.ACQUIRING_ACCOUNT_CLOSED, f"acquiring account {account_id!r} is closed")
    if account.status is AccountStatus.BLOCKED:
        raise Refused(Code.ACQUIRING_ACCOUNT_BLOCKED, f"acquiring account {account_id!r} is blocked")
    if not may_hold(account, kind):
        raise Refused(
            Code.ACQUIRING_ACCOUNT_CANNOT_HOLD_UNIT,
            f"a {account.type.value} account of a {account.holder_kind.value} "
            f"may not hold {kind.value} units",
        )
    if sender_id is not None and sender_id == account_id:
        raise Refused(Code.SAME_ACCOUNT, "transferring and acquiring account are the same")
    return account


def check_issuance_target(account: Account) -> None:
    """Units are created only in the national issuance account (UK IssueAllowances → Total Quantity)."""
    if account.type is not AccountType.ISSUANCE:
        raise Refused(
            Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED,
            f"units are issued only into an issuance account; "
            f"{account.id!r} is a {account.type.value} account",
        )


def check_retirement_target(account: Account, wanted: AccountType) -> None:
    """A cancellation goes to a cancellation account, a surrender to a surrender account, etc."""
    if account.type is not wanted:
        raise Refused(
            Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED,
            f"{account.id!r} is a {account.type.value} account, not a {wanted.value} account",
        )


def check_issuance_cap(issued: int, quantity: int, cap: int | None, instrument: str) -> None:
    """UK 3500: issuance never exceeds the configured cap of the vintage minus what is already issued."""
    if cap is None:
        return
    if issued + quantity > cap:
        raise Refused(
            Code.ISSUANCE_ABOVE_CAP,
            f"issuing {quantity} t of {instrument} would bring issuance to {issued + quantity} t, "
            f"above its cap of {cap} t ({cap - issued} t remain)",
            cap=cap,
            issued=issued,
        )
