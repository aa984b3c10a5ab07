"""The rules of the voluntary market (CCER): lifecycles as state machines, eligibility, issuance checks.

Pure: the standard library and `carbonmarket.core` only. Dates of the market are `date`s in China
Standard Time; services give "today" from the injected clock. Numbers come from `data/rules.toml`.

Lifecycles (温室气体自愿减排交易管理办法（试行） 2023-10-20, "V"; DOMAIN.md §6 [reg]):

  project:  draft ─validate→ validated ─disclose→ in_disclosure ─(20 working days)─apply→
            registration_applied ─register→ registered            (or ─reject→ rejected)
  report:   submitted ─verify (a different VVB)→ verified ─disclose→ in_disclosure ─(20 working
            days)─apply→ registration_applied ─register→ registered ─issue→ issued (or rejected)
  proposal: submitted ─open→ in_consultation ─(comment period)─adopt|reject→ adopted | rejected
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any

from carbonmarket.core.calendar import CHINA_STANDARD_TIME
from carbonmarket.core.results import Code, Refused

_SCHEMA_VERSION = 1
PROJECT_ID = re.compile(r"^[A-Z0-9]{1,24}$")


class ProjectStatus(StrEnum):
    """Where a project is in its life."""

    DRAFT = "draft"
    VALIDATED = "validated"
    IN_DISCLOSURE = "in_disclosure"
    REGISTRATION_APPLIED = "registration_applied"
    REGISTERED = "registered"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ReportStatus(StrEnum):
    """Where a monitoring report (one batch of reductions) is in its life."""

    SUBMITTED = "submitted"
    VERIFIED = "verified"
    IN_DISCLOSURE = "in_disclosure"
    REGISTRATION_APPLIED = "registration_applied"
    REGISTERED = "registered"
    ISSUED = "issued"
    REJECTED = "rejected"


class ProposalStatus(StrEnum):
    """Where a methodology proposal is in its consultation."""

    SUBMITTED = "submitted"
    IN_CONSULTATION = "in_consultation"
    ADOPTED = "adopted"
    REJECTED = "rejected"


class Accreditation(StrEnum):
    """A VVB's status in one field."""

    ACCREDITED = "accredited"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class CancellationKind(StrEnum):
    """Why credits are cancelled outside ETS compliance."""

    VOLUNTARY = "voluntary"
    INTERNATIONAL = "international"


class Claim(StrEnum):
    """What a voluntary cancellation offsets (shown on the public certificate)."""

    EVENT = "event"
    PRODUCT = "product"
    ORGANISATION = "organisation"


# action → (states it may be taken from, state it leads to)
PROJECT_STEPS: dict[str, tuple[frozenset[str], str]] = {
    "validate": (frozenset({ProjectStatus.DRAFT}), ProjectStatus.VALIDATED),
    "disclose": (frozenset({ProjectStatus.VALIDATED}), ProjectStatus.IN_DISCLOSURE),
    "apply": (frozenset({ProjectStatus.IN_DISCLOSURE}), ProjectStatus.REGISTRATION_APPLIED),
    "register": (frozenset({ProjectStatus.REGISTRATION_APPLIED}), ProjectStatus.REGISTERED),
    "reject": (frozenset({ProjectStatus.REGISTRATION_APPLIED}), ProjectStatus.REJECTED),
    "withdraw": (
        frozenset({ProjectStatus.DRAFT, ProjectStatus.VALIDATED, ProjectStatus.IN_DISCLOSURE}),
        ProjectStatus.WITHDRAWN,
    ),
}
REPORT_STEPS: dict[str, tuple[frozenset[str], str]] = {
    "verify": (frozenset({ReportStatus.SUBMITTED}), ReportStatus.VERIFIED),
    "disclose": (frozenset({ReportStatus.VERIFIED}), ReportStatus.IN_DISCLOSURE),
    "apply": (frozenset({ReportStatus.IN_DISCLOSURE}), ReportStatus.REGISTRATION_APPLIED),
    "register": (frozenset({ReportStatus.REGISTRATION_APPLIED}), ReportStatus.REGISTERED),
    "reject": (
        frozenset({ReportStatus.SUBMITTED, ReportStatus.REGISTRATION_APPLIED}),
        ReportStatus.REJECTED,
    ),
    "issue": (frozenset({ReportStatus.REGISTERED}), ReportStatus.ISSUED),
}
PROPOSAL_STEPS: dict[str, tuple[frozenset[str], str]] = {
    "open": (frozenset({ProposalStatus.SUBMITTED}), ProposalStatus.IN_CONSULTATION),
    "adopt": (frozenset({ProposalStatus.IN_CONSULTATION}), ProposalStatus.ADOPTED),
    "reject": (
        frozenset({ProposalStatus.SUBMITTED, ProposalStatus.IN_CONSULTATION}),
        ProposalStatus.REJECTED,
    ),
}
# What the owner should do next, per project state (the owner's console).
NEXT_STEP = {
    ProjectStatus.DRAFT: "ask an accredited VVB to validate the design document",
    ProjectStatus.VALIDATED: "publish the design document for 20 working days",
    ProjectStatus.IN_DISCLOSURE: "apply for registration when the disclosure ends",
    ProjectStatus.REGISTRATION_APPLIED: "await the registry's decision (15 working days)",
    ProjectStatus.REGISTERED: "submit monitoring reports",
    ProjectStatus.REJECTED: "none: the project was rejected",
    ProjectStatus.WITHDRAWN: "none: the project was withdrawn",
}
REPORT_NEXT_STEP = {
    ReportStatus.SUBMITTED: "ask a VVB other than the validator to verify the reductions",
    ReportStatus.VERIFIED: "publish the reduction report for 20 working days",
    ReportStatus.IN_DISCLOSURE: "apply for registration of the reductions when the disclosure ends",
    ReportStatus.REGISTRATION_APPLIED: "await the registry's decision (15 working days)",
    ReportStatus.REGISTERED: "await issuance of the CCERs",
    ReportStatus.ISSUED: "none: the CCERs were issued",
    ReportStatus.REJECTED: "none: the report was rejected",
}


@dataclass(frozen=True)
class Rules:
    """The numbers of data/rules.toml."""

    construction_after: date
    reductions_after: date
    batch_age_years_max: int
    design_working_days: int
    reduction_working_days: int
    decision_working_days: int
    consultation_days: int
    text_length_max: int
    name_length_max: int
    comment_length_max: int
    parameters_max: int
    monitoring_period_days_max: int
    page_size_max: int
    readings_per_batch_max: int
    reading_clock_skew_s_max: int
    reading_age_days_max: int
    reading_value_abs_max: Decimal
    api_keys_per_project_max: int


@functools.cache
def rules() -> Rules:
    """The packaged rules of the voluntary market (data/rules.toml)."""
    text = resources.files("carbonmarket.voluntary").joinpath("data", "rules.toml").read_text("utf-8")
    return parse_rules(tomllib.loads(text))


def parse_rules(document: dict[str, Any]) -> Rules:
    """Build Rules from the TOML document."""
    if document.get("schema_version") != _SCHEMA_VERSION:
        raise ValueError(f"rules.toml: schema_version must be {_SCHEMA_VERSION}")
    eligibility, disclosure, limits = document["eligibility"], document["disclosure"], document["limits"]
    return Rules(
        construction_after=date.fromisoformat(eligibility["construction_after"]),
        reductions_after=date.fromisoformat(eligibility["reductions_after"]),
        batch_age_years_max=int(eligibility["batch_age_years_max"]),
        design_working_days=int(disclosure["design_working_days"]),
        reduction_working_days=int(disclosure["reduction_working_days"]),
        decision_working_days=int(disclosure["decision_working_days"]),
        consultation_days=int(document["consultation"]["comment_days"]),
        text_length_max=int(limits["text_length_max"]),
        name_length_max=int(limits["name_length_max"]),
        comment_length_max=int(limits["comment_length_max"]),
        parameters_max=int(limits["parameters_max"]),
        monitoring_period_days_max=int(limits["monitoring_period_days_max"]),
        page_size_max=int(limits["page_size_max"]),
        readings_per_batch_max=int(limits["readings_per_batch_max"]),
        reading_clock_skew_s_max=int(limits["reading_clock_skew_s_max"]),
        reading_age_days_max=int(limits["reading_age_days_max"]),
        reading_value_abs_max=Decimal(limits["reading_value_abs_max"]),
        api_keys_per_project_max=int(limits["api_keys_per_project_max"]),
    )


# --- state machines ---------------------------------------------------------------------------------


def next_status(steps: dict[str, tuple[frozenset[str], str]], what: str, current: str, action: str) -> str:
    """The state an action leads to, or a refusal naming the state and what may come next (out of order)."""
    allowed_from, target = steps[action]
    if current in allowed_from:
        return target
    possible = sorted(a for a, (sources, _) in steps.items() if current in sources)
    code = {
        "project": Code.CCER_PROJECT_WRONG_STATE,
        "report": Code.CCER_REPORT_WRONG_STATE,
        "proposal": Code.CCER_PROPOSAL_WRONG_STATE,
    }[what.split()[0]]
    then = f"; it can now: {', '.join(possible)}" if possible else "; no step is open"
    raise Refused(code, f"{what} is {current}: it cannot {action}{then}")


# --- dates -----------------------------------------------------------------------------------------


def today_in_china(now: datetime) -> date:
    """The market's date of a moment (China Standard Time): disclosure windows count in it."""
    return now.astimezone(CHINA_STANDARD_TIME).date()


def parse_date(value: object, what: str) -> date:
    """An ISO `YYYY-MM-DD` date, refused in words otherwise."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Refused(Code.CCER_INVALID_DATE, f"{what} must be a date YYYY-MM-DD, not {value!r}")


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def check_project_id(value: object) -> str:
    """A project id is the PROJECT part of CCER-<PROJECT>-<YEAR>: [A-Z0-9]{1,24}."""
    if not isinstance(value, str) or not PROJECT_ID.match(value):
        raise Refused(
            Code.CCER_INVALID_PROJECT_ID,
            f"project id {value!r} must be 1-24 capital letters or digits (it names CCER-<PROJECT>-<YEAR>)",
        )
    return value


def check_text(value: object, what: str, length_max: int) -> str:
    """Non-empty text within a length limit."""
    if not isinstance(value, str) or not value.strip() or len(value) > length_max:
        raise Refused(Code.INVALID_TEXT, f"{what} must be 1-{length_max} characters")
    return value.strip()


@dataclass(frozen=True)
class ProjectDates:
    """A project's design-document dates."""

    construction_start: date
    operation_start: date
    crediting_start: date
    crediting_end: date


def check_project_dates(dates: ProjectDates, crediting_years_max: int, today: date, r: Rules) -> None:
    """Construction after 2012-11-08, reductions after 2020-09-22, a crediting period within the
    project's life and at most `crediting_years_max` years (V; DOMAIN-SOURCES §5 [P])."""
    if dates.construction_start <= r.construction_after:
        raise Refused(
            Code.CCER_CONSTRUCTION_TOO_EARLY,
            f"construction started {dates.construction_start}; projects must start construction after "
            f"{r.construction_after} (Measures 2023)",
        )
    if dates.operation_start < dates.construction_start:
        raise Refused(Code.CCER_INVALID_DATE, "operation cannot start before construction")
    if dates.crediting_start <= r.reductions_after:
        raise Refused(
            Code.CCER_REDUCTIONS_TOO_EARLY,
            f"the crediting period starts {dates.crediting_start}; reductions must be generated after "
            f"{r.reductions_after} (Measures 2023)",
        )
    if dates.crediting_start < dates.operation_start:
        raise Refused(
            Code.CCER_PERIOD_OUTSIDE_CREDITING,
            "the crediting period cannot start before the project operates (its life starts at operation)",
        )
    if dates.crediting_end < dates.crediting_start:
        raise Refused(Code.CCER_INVALID_DATE, "the crediting period ends before it starts")
    last_day = add_years(dates.crediting_start, crediting_years_max) - timedelta(days=1)
    if dates.crediting_end > last_day:
        raise Refused(
            Code.CCER_CREDITING_PERIOD_TOO_LONG,
            f"the crediting period {dates.crediting_start} to {dates.crediting_end} is longer than "
            f"{crediting_years_max} years (it may end on {last_day} at the latest)",
        )


def check_sector(sector: str, known: Iterable[str], covered: bool) -> None:
    """Projects in sectors under mandatory ETS obligations are excluded (DOMAIN.md §6 [seed])."""
    names = sorted(known)
    if sector not in names:
        raise Refused(Code.CCER_INVALID_SECTOR, f"sector {sector!r} is not one of: {', '.join(names)}")
    if covered:
        raise Refused(
            Code.CCER_SECTOR_COVERED,
            f"sector {sector!r} is under mandatory obligations of the national ETS; its projects are "
            "excluded from the voluntary market",
        )


@dataclass(frozen=True)
class Span:
    """An inclusive date range."""

    start: date
    end: date

    def overlaps(self, other: Span) -> bool:
        """Whether the two ranges share a day."""
        return self.start <= other.end and other.start <= self.end


def check_report_period(period: Span, crediting: Span, today: date, r: Rules) -> None:
    """A monitoring period: one calendar year (one vintage), inside the crediting period, after
    2020-09-22, already over, and no older than 5 years (V; DOMAIN.md §6 [reg])."""
    if period.end < period.start:
        raise Refused(Code.CCER_INVALID_DATE, "the monitoring period ends before it starts")
    if (period.end - period.start).days + 1 > r.monitoring_period_days_max:
        raise Refused(
            Code.CCER_PERIOD_SPANS_YEARS,
            f"a monitoring period lasts at most {r.monitoring_period_days_max} days",
        )
    if period.start.year != period.end.year:
        raise Refused(
            Code.CCER_PERIOD_SPANS_YEARS,
            f"the monitoring period {period.start} to {period.end} spans two years; each report covers "
            "one vintage year (split it at 31 December)",
        )
    if period.start <= r.reductions_after:
        raise Refused(
            Code.CCER_REDUCTIONS_TOO_EARLY,
            f"reductions must be generated after {r.reductions_after} (Measures 2023)",
        )
    if period.start < crediting.start or period.end > crediting.end:
        raise Refused(
            Code.CCER_PERIOD_OUTSIDE_CREDITING,
            f"the monitoring period {period.start} to {period.end} lies outside the crediting period "
            f"{crediting.start} to {crediting.end}",
        )
    if period.end >= today:
        raise Refused(Code.CCER_INVALID_DATE, f"the monitoring period must be over; it ends {period.end}")
    oldest = add_years(today, -r.batch_age_years_max)
    if period.start < oldest:
        raise Refused(
            Code.CCER_BATCH_TOO_OLD,
            f"reductions from {period.start} are more than {r.batch_age_years_max} years old; each batch "
            f"is applied for within {r.batch_age_years_max} years of being generated (Measures 2023)",
        )


def check_no_overlap(period: Span, others: Iterable[tuple[str, Span]], code: Code, what: str) -> None:
    """Refuse a period that shares days with another (reports of the project, or its GEC claims)."""
    for name, other in others:
        if period.overlaps(other):
            raise Refused(
                code,
                f"{period.start} to {period.end} overlaps {what} {name} ({other.start} to {other.end})",
            )


def check_window_over(end: date | None, today: date, what: str) -> None:
    """The next step waits until a disclosure or consultation window has closed."""
    if end is None or today <= end:
        raise Refused(
            Code.CCER_DISCLOSURE_OPEN, f"the {what} runs until {end}; the next step opens the day after"
        )


def check_window_open(start: date | None, end: date | None, today: date, what: str) -> None:
    """Comments are accepted only inside the window."""
    if start is None or end is None or not start <= today <= end:
        raise Refused(Code.CCER_DISCLOSURE_CLOSED, f"the {what} is not open for comments today ({today})")


def check_accredited(status: str | None, vvb_id: str, field: str) -> None:
    """Validation and verification only by a body accredited in the methodology's field (V Art. 13, 18)."""
    if status != Accreditation.ACCREDITED:
        shown = status or "not accredited"
        raise Refused(
            Code.CCER_VVB_NOT_ACCREDITED,
            f"VVB {vvb_id!r} is {shown} in the field {field!r}; only an accredited body may act there",
        )


def check_different_body(validator: str | None, verifier: str) -> None:
    """Reductions are verified by a body other than the project's validator (V Art. 18)."""
    if validator == verifier:
        raise Refused(
            Code.CCER_VVB_SAME_BODY,
            f"VVB {verifier!r} validated this project; its reductions must be verified by a different body",
        )


def check_verified(verified_t: int, claimed_t: int) -> None:
    """A verification may lower the claim, never raise it."""
    if verified_t > claimed_t:
        raise Refused(
            Code.CCER_VERIFIED_ABOVE_CLAIMED,
            f"verified {verified_t} t exceeds the {claimed_t} t the monitoring report claims",
        )


def check_issuance(quantity: int, verified_t: int) -> None:
    """Issuance at most the verified and registered reductions, and something to issue."""
    if quantity > verified_t:
        raise Refused(
            Code.CCER_ISSUANCE_ABOVE_VERIFIED,
            f"{quantity} t exceeds the {verified_t} t verified for this monitoring period",
        )
    if quantity <= 0:
        raise Refused(Code.QUANTITY_NOT_POSITIVE, "nothing to issue: the verified reductions are 0 t")


def check_serials_disjoint(
    first: int, last: int, existing: Iterable[tuple[int, int]], instrument: str
) -> None:
    """A new serial block may not share a number with a block already issued (no double issuance)."""
    for other_first, other_last in existing:
        if first <= other_last and other_first <= last:
            raise Refused(
                Code.CCER_SERIAL_OVERLAP,
                f"serials {first}-{last} of {instrument} overlap the issued block {other_first}-{other_last}",
            )


# --- serial numbers --------------------------------------------------------------------------------

_SERIAL = re.compile(r"^(CCER-[A-Z0-9]{1,24}-\d{4})-(\d{1,12})$")


def serial_text(instrument_id: str, serial: int) -> str:
    """The public serial number of one tonne: `<instrument>-<n>` (e.g. CCER-P1-2024-000123)."""
    return f"{instrument_id}-{serial:06d}"


def parse_serial(value: object) -> tuple[str, int]:
    """Split `CCER-<PROJECT>-<YEAR>-<n>` into the instrument and the serial number."""
    if isinstance(value, str):
        match = _SERIAL.match(value.strip().upper())
        if match and int(match.group(2)) >= 1:
            return match.group(1), int(match.group(2))
    raise Refused(
        Code.CCER_INVALID_SERIAL,
        f"{value!r} is not a CCER serial number; expected CCER-<PROJECT>-<YEAR>-<n> "
        "(e.g. CCER-P1-2024-000001)",
    )
