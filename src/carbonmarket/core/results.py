"""Result codes: every expected refusal of the platform, with the words shown to a user.

Codes are named after what failed, in the manner of the UK ETS registry's business checks
(REGISTRY_CHECKS.md §1); where a UK check exists its number is kept beside ours so a reader can
compare the two registries rule by rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Every refusal the platform can return; the value is the stable, machine-readable code."""

    # Idempotency (TigerBeetle's result names).
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    INVALID_ID = "invalid_id"
    # Transferring account (UK 1002-1012).
    TRANSFERRING_ACCOUNT_NOT_FOUND = "transferring_account_not_found"
    TRANSFERRING_ACCOUNT_CLOSED = "transferring_account_closed"
    TRANSFERRING_ACCOUNT_BLOCKED = "transferring_account_blocked"
    TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED = "transferring_account_type_not_allowed"
    # Acquiring account (UK 2002-2508).
    ACQUIRING_ACCOUNT_NOT_FOUND = "acquiring_account_not_found"
    ACQUIRING_ACCOUNT_CLOSED = "acquiring_account_closed"
    ACQUIRING_ACCOUNT_BLOCKED = "acquiring_account_blocked"
    ACQUIRING_ACCOUNT_CANNOT_HOLD_UNIT = "acquiring_account_cannot_hold_unit"
    ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED = "acquiring_account_type_not_allowed"
    SAME_ACCOUNT = "same_account"
    # Units and quantity (UK 3005-3500).
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    INVALID_INSTRUMENT_ID = "invalid_instrument_id"
    INSTRUMENT_EXISTS = "instrument_exists"
    QUANTITY_NOT_INTEGER = "quantity_not_integer"
    QUANTITY_NOT_POSITIVE = "quantity_not_positive"
    QUANTITY_TOO_LARGE = "quantity_too_large"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    ISSUANCE_ABOVE_CAP = "issuance_above_cap"
    CAP_BELOW_ISSUED = "cap_below_issued"
    # Holders and accounts.
    UNKNOWN_HOLDER = "unknown_holder"
    UNKNOWN_ACCOUNT = "unknown_account"
    INVALID_HOLDER_KIND = "invalid_holder_kind"
    INVALID_ACCOUNT_TYPE = "invalid_account_type"
    INVALID_ACCOUNT_STATUS = "invalid_account_status"
    ACCOUNT_HOLDER_KIND_NOT_ALLOWED = "account_holder_kind_not_allowed"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    INVALID_TEXT = "invalid_text"
    # Holds (two-phase reservations).
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_NOT_PENDING = "hold_not_pending"
    HOLD_EXPIRED = "hold_expired"
    POST_QUANTITY_EXCEEDS_HOLD = "post_quantity_exceeds_hold"
    PLEDGEE_REQUIRED = "pledgee_required"
    # Reversals (UK 3019).
    TRANSFER_NOT_FOUND = "transfer_not_found"
    ALREADY_REVERSED = "already_reversed"
    NOT_REVERSIBLE = "not_reversible"
    # Registry transaction lifecycle (REGISTRY_CHECKS.md §2).
    TRANSACTION_NOT_FOUND = "transaction_not_found"
    CERTIFICATE_NOT_FOUND = "certificate_not_found"
    TRANSACTION_NOT_AWAITING_APPROVAL = "transaction_not_awaiting_approval"
    APPROVER_IS_INITIATOR = "approver_is_initiator"
    # Who may do what.
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    BAD_CREDENTIALS = "bad_credentials"
    USER_EXISTS = "user_exists"
    UNKNOWN_USER = "unknown_user"
    INVALID_ROLE = "invalid_role"
    INVALID_RIGHT = "invalid_right"
    # Requests that are malformed before any rule applies (HTTP layer).
    INVALID_REQUEST = "invalid_request"


@dataclass(frozen=True)
class Refusal:
    """An expected refusal: a code, the words for a person, and details for a machine."""

    code: Code
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The refusal as the JSON error object the CLI and API print."""
        body: dict[str, Any] = {"ok": False, "code": self.code.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class Refused(Exception):
    """Raised inside a unit of work to unwind it; services turn it back into a returned Refusal."""

    def __init__(self, code: Code, message: str, **details: Any) -> None:
        super().__init__(f"{code.value}: {message}")
        self.refusal = Refusal(code, message, details)


@dataclass(frozen=True)
class Done:
    """A command that succeeded: `created` the first time, `exists` when the same id is replayed."""

    result: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The success as the JSON object the CLI and API print."""
        return {"ok": True, "result": self.result, **self.data}


Outcome = Done | Refusal
