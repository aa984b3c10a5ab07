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
    # MRV rules
    ALERT_NOT_FOUND = "alert_not_found"
    INVALID_ALERT_STATUS = "invalid_alert_status"
    UNKNOWN_RULE = "unknown_rule"
    INVALID_RECORD = "invalid_record"
    # MRV review and verification
    REVIEW_CASE_NOT_FOUND = "review_case_not_found"
    REVIEW_CASE_NOT_OPEN = "review_case_not_open"
    REVIEW_CASE_NOT_IN_REVIEW = "review_case_not_in_review"
    REVIEW_CASE_NOT_AWAITING_CORRECTION = "review_case_not_awaiting_correction"
    REVIEW_CASE_CLOSED = "review_case_closed"
    REVIEW_NO_LOWER_TIER = "review_no_lower_tier"
    REVIEW_WRONG_TIER = "review_wrong_tier"
    REVIEW_OUT_OF_SCOPE = "review_out_of_scope"
    REVIEW_REVIEWER_NOT_ASSIGNED = "review_reviewer_not_assigned"
    REVIEW_INVALID_TIER = "review_invalid_tier"
    REVIEW_INVALID_SCOPE = "review_invalid_scope"
    REVIEW_INVALID_OUTCOME = "review_invalid_outcome"
    REVIEW_INVALID_ATTACHMENT = "review_invalid_attachment"
    REVIEW_INVALID_YEAR = "review_invalid_year"
    REVIEW_ALERT_NOT_FOUND = "review_alert_not_found"
    REVIEW_ALERT_NOT_OPEN = "review_alert_not_open"
    REVIEW_ALERT_ALREADY_IN_CASE = "review_alert_already_in_case"
    REVIEW_ALERTS_OF_DIFFERENT_ENTITIES = "review_alerts_of_different_entities"
    REVIEW_ENTITY_NOT_FOUND = "review_entity_not_found"
    VERIFICATION_BODY_NOT_FOUND = "verification_body_not_found"
    VERIFICATION_BODY_NOT_APPLIED = "verification_body_not_applied"
    VERIFICATION_BODY_NOT_QUALIFIED = "verification_body_not_qualified"
    VERIFICATION_BODY_NOT_SUSPENDED = "verification_body_not_suspended"
    VERIFICATION_BODY_WITHDRAWN = "verification_body_withdrawn"
    VERIFICATION_NOT_FOUND = "verification_not_found"
    VERIFICATION_ALREADY_ASSIGNED = "verification_already_assigned"
    VERIFICATION_CONFLICT_OF_INTEREST = "verification_conflict_of_interest"
    VERIFICATION_NOT_ASSIGNED = "verification_not_assigned"
    VERIFICATION_NOT_IN_PROGRESS = "verification_not_in_progress"
    VERIFICATION_NOT_SUBMITTED = "verification_not_submitted"
    VERIFICATION_FINISHED = "verification_finished"
    VERIFICATION_OPEN_NONCONFORMITIES = "verification_open_nonconformities"
    VERIFICATION_NOT_OF_BODY = "verification_not_of_body"
    VERIFICATION_INVALID_YEAR = "verification_invalid_year"
    NONCONFORMITY_NOT_FOUND = "nonconformity_not_found"
    NONCONFORMITY_NOT_OPEN = "nonconformity_not_open"
    EVALUATION_ALREADY_PUBLISHED = "evaluation_already_published"
    EVALUATION_NOT_FOUND = "evaluation_not_found"
    VERIFICATION_STREAMLINED_NOT_ELIGIBLE = "verification_streamlined_not_eligible"
    VERIFICATION_ENTITY_NOT_FOUND = "verification_entity_not_found"
    VERIFICATION_INVALID_MODE = "verification_invalid_mode"
    VERIFICATION_EMISSIONS_INVALID = "verification_emissions_invalid"
    # MRV roster
    ROSTER_ENTITY_NOT_FOUND = "roster_entity_not_found"
    ROSTER_FACILITY_NOT_FOUND = "roster_facility_not_found"
    ROSTER_ENTITY_REMOVED = "roster_entity_removed"
    ROSTER_INVALID_SECTOR = "roster_invalid_sector"
    ROSTER_INVALID_STATUS = "roster_invalid_status"
    ROSTER_STATUS_CHANGE_NOT_ALLOWED = "roster_status_change_not_allowed"
    ROSTER_INVALID_FIELD = "roster_invalid_field"
    ROSTER_NO_CHANGE = "roster_no_change"
    ROSTER_INVALID_YEAR = "roster_invalid_year"
    ROSTER_INVALID_THRESHOLD = "roster_invalid_threshold"
    ROSTER_INVALID_FACILITY = "roster_invalid_facility"
    ROSTER_INVALID_CAPACITY = "roster_invalid_capacity"
    ROSTER_UNIT_NOT_COVERED = "roster_unit_not_covered"
    ROSTER_FACILITY_SECTOR_MISMATCH = "roster_facility_sector_mismatch"
    ROSTER_FILE_UNREADABLE = "roster_file_unreadable"
    ROSTER_FILE_TOO_LARGE = "roster_file_too_large"
    ROSTER_LAYOUT_UNKNOWN = "roster_layout_unknown"
    # MRV records
    RECORD_UNKNOWN_SECTOR = "record_unknown_sector"
    RECORD_UNKNOWN_PARAMETER = "record_unknown_parameter"
    RECORD_MISSING_PARAMETER = "record_missing_parameter"
    RECORD_VALUE_NOT_A_NUMBER = "record_value_not_a_number"
    RECORD_VALUE_NEGATIVE = "record_value_negative"
    RECORD_VALUE_OUT_OF_RANGE = "record_value_out_of_range"
    RECORD_UNIT_MISMATCH = "record_unit_mismatch"
    RECORD_INVALID_PERIOD = "record_invalid_period"
    RECORD_INVALID_EVIDENCE = "record_invalid_evidence"
    RECORD_MONTH_ALREADY_SUBMITTED = "record_month_already_submitted"
    RECORD_NOT_FOUND = "record_not_found"
    RECORD_CORRECTION_REASON_REQUIRED = "record_correction_reason_required"
    RECORD_CORRECTION_UNCHANGED = "record_correction_unchanged"
    RECORD_FACILITY_MISMATCH = "record_facility_mismatch"
    RECORD_REJECTED_BY_RULES = "record_rejected_by_rules"
    RECORD_DUPLICATE_MONTH_IN_FILE = "record_duplicate_month_in_file"
    RECORD_UNKNOWN_COLUMN = "record_unknown_column"
    RECORD_COLUMNS_INVALID = "record_columns_invalid"
    RECORD_FILE_UNREADABLE = "record_file_unreadable"
    RECORD_FILE_TOO_LARGE = "record_file_too_large"
    RECORD_PLAN_INVALID = "record_plan_invalid"
    RECORD_PLAN_NOT_FOUND = "record_plan_not_found"
    RECORD_UNKNOWN_GWP_VERSION = "record_unknown_gwp_version"


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
