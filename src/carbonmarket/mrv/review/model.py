"""Review rules: the three tiers, a case's life, who may act on it, and what a resolution means.

Pure: standard library and `carbonmarket.core` only.

The national market reviews monthly data in three tiers — national big-data screening, provincial
technical review and municipal on-site spot checks — and "issues identified in random checks [are]
promptly escalated to the appropriate local departments" (Progress Report §7(2) [seed]; DOMAIN.md §2
[seed, reg]). Here a finding becomes a *case* with an issue thread; a case sits at one tier at a
time and is referred down one tier at a time (national → provincial → municipal), because the
provincial department organises the municipal check of its own entities.

A case's life, each step a named refusal when taken out of order:

    open ──take──▶ in_review ──resolve(confirmed_error)──▶ correction_required ──confirm──▶ closed
      │               │        resolve(explained | false_alert) ───────────────────────────▶ closed
      └──refer────────┴──▶ open (one tier lower)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from carbonmarket.core.results import Code, Refused


class Tier(StrEnum):
    """The three review tiers, from the top (Progress Report §7(2) [seed])."""

    NATIONAL = "national"  # big-data screening of every monthly record
    PROVINCIAL = "provincial"  # technical review of reports and referred findings
    MUNICIPAL = "municipal"  # on-site spot checks


# Referral goes down exactly one step: the tier that refers is the one that supervises the next.
_NEXT_TIER_DOWN: dict[Tier, Tier | None] = {
    Tier.NATIONAL: Tier.PROVINCIAL,
    Tier.PROVINCIAL: Tier.MUNICIPAL,
    Tier.MUNICIPAL: None,
}


class CaseStatus(StrEnum):
    """Where a case is in its life."""

    OPEN = "open"  # waiting at its tier for a reviewer to take it
    IN_REVIEW = "in_review"  # a reviewer of its tier is working on it
    CORRECTION_REQUIRED = "correction_required"  # error confirmed; waiting for the entity's correction
    CLOSED = "closed"  # finished; the thread is kept, nothing more is added


class Outcome(StrEnum):
    """How a reviewer resolves a case."""

    CONFIRMED_ERROR = "confirmed_error"  # the data are wrong: the entity must correct them
    EXPLAINED = "explained"  # the data are unusual but right, and the reason is on the thread
    FALSE_ALERT = "false_alert"  # the rule fired on good data (feeds back into rule tuning)


class MessageKind(StrEnum):
    """What a line of a case's thread records: a comment, or one of the case's transitions."""

    OPENED = "opened"
    COMMENT = "comment"
    TAKEN = "taken"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CORRECTION_CONFIRMED = "correction_confirmed"


# What an alert of the validation model (mrv_alerts.status) becomes when its case moves. The
# validation part owns the column; these are the words this part writes through
# rules.store.set_alert_status.
ALERT_IN_REVIEW = "in_review"
ALERT_STATUS_ON_RESOLUTION: dict[Outcome, str] = {
    Outcome.CONFIRMED_ERROR: "confirmed",
    Outcome.EXPLAINED: "explained",
    Outcome.FALSE_ALERT: "false_alert",
}
ALERT_CORRECTED = "corrected"
ALERT_OPEN = "open"

# Limits (house rule 12).
message_length_max = 4000
title_length_max = 200
attachments_per_message_max = 20
attachment_name_length_max = 200
alerts_per_case_max = 100
region_length_max = 64
# Reporting years the platform accepts: the national market's first compliance year is 2019-20,
# and anything far in the future is a typo.
reporting_year_min = 2013
reporting_year_max = 2100

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Scope:
    """Where a reviewer acts: a tier, and for provincial and municipal tiers their province (and city)."""

    tier: Tier
    province: str | None = None
    city: str | None = None

    def covers(self, province: str | None, city: str | None) -> bool:
        """Whether an entity located in `province`/`city` falls within this scope."""
        if self.tier is Tier.NATIONAL:
            return True
        if self.province != province:
            return False
        return self.tier is Tier.PROVINCIAL or self.city == city

    def describe(self) -> str:
        """The scope in words, for messages."""
        where = "/".join(part for part in (self.province, self.city) if part)
        return f"{self.tier.value} ({where})" if where else self.tier.value


NATIONAL_SCOPE = Scope(Tier.NATIONAL)


@dataclass(frozen=True)
class CaseState:
    """A case as the rules see it."""

    id: str
    tier: Tier
    status: CaseStatus
    province: str | None
    city: str | None


@dataclass(frozen=True)
class Attachment:
    """Evidence on a thread, named by the SHA-256 of its bytes (the file itself lives elsewhere)."""

    name: str
    sha256: str


def parse_tier(value: str) -> Tier:
    """Read a tier, refusing unknown words."""
    try:
        return Tier(value)
    except ValueError:
        allowed = ", ".join(t.value for t in Tier)
        raise Refused(Code.REVIEW_INVALID_TIER, f"tier {value!r} is not one of: {allowed}") from None


def parse_outcome(value: str) -> Outcome:
    """Read a resolution outcome, refusing unknown words."""
    try:
        return Outcome(value)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise Refused(Code.REVIEW_INVALID_OUTCOME, f"outcome {value!r} is not one of: {allowed}") from None


def make_scope(tier: str, province: str | None, city: str | None) -> Scope:
    """A reviewer's scope: national has no region, provincial a province, municipal a province and a city."""
    parsed = parse_tier(tier)
    province = _region(province, "province")
    city = _region(city, "city")
    if parsed is Tier.NATIONAL and (province or city):
        raise Refused(
            Code.REVIEW_INVALID_SCOPE, "a national reviewer covers the whole country: no province or city"
        )
    if parsed is Tier.PROVINCIAL and (not province or city):
        raise Refused(Code.REVIEW_INVALID_SCOPE, "a provincial reviewer needs a province and no city")
    if parsed is Tier.MUNICIPAL and (not province or not city):
        raise Refused(Code.REVIEW_INVALID_SCOPE, "a municipal reviewer needs a province and a city")
    return Scope(parsed, province, city)


def _region(value: str | None, what: str) -> str | None:
    """A province or city name, trimmed; empty means none."""
    if value is None or not value.strip():
        return None
    if len(value) > region_length_max:
        raise Refused(Code.REVIEW_INVALID_SCOPE, f"{what} must be at most {region_length_max} characters")
    return value.strip()


def check_year(year: int) -> int:
    """A reporting year within the platform's range."""
    if (
        isinstance(year, bool)
        or not isinstance(year, int)
        or not reporting_year_min <= year <= reporting_year_max
    ):
        raise Refused(
            Code.REVIEW_INVALID_YEAR, f"year must be between {reporting_year_min} and {reporting_year_max}"
        )
    return year


def check_text(value: str, what: str, limit: int) -> str:
    """Free text must be present and within its limit."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Refused(Code.INVALID_TEXT, f"{what} must be 1-{limit} characters")
    return value.strip()


def parse_attachments(items: list[dict[str, str]] | None) -> list[Attachment]:
    """Attachments as `{"name", "sha256"}`: a lowercase hex SHA-256 and a short name, at most a few."""
    if not items:
        return []
    if len(items) > attachments_per_message_max:
        raise Refused(
            Code.REVIEW_INVALID_ATTACHMENT, f"at most {attachments_per_message_max} attachments per message"
        )
    parsed = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        digest = item.get("sha256") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > attachment_name_length_max:
            raise Refused(
                Code.REVIEW_INVALID_ATTACHMENT,
                f"an attachment needs a name of 1-{attachment_name_length_max} characters",
            )
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise Refused(
                Code.REVIEW_INVALID_ATTACHMENT,
                f"attachment {name!r} needs its sha256 as 64 lowercase hex digits",
            )
        parsed.append(Attachment(name.strip(), digest))
    return parsed


# --- who may act ----------------------------------------------------------------------------------


def check_may_act(scope: Scope, case: CaseState, action: str) -> None:
    """A reviewer acts only on cases at their own tier and within their province or city."""
    if scope.tier is not case.tier:
        raise Refused(
            Code.REVIEW_WRONG_TIER,
            f"case {case.id!r} is at the {case.tier.value} tier; "
            f"a {scope.tier.value} reviewer cannot {action} it",
            case_tier=case.tier.value,
            reviewer_tier=scope.tier.value,
        )
    if not scope.covers(case.province, case.city):
        where = "/".join(p for p in (case.province, case.city) if p) or "an unknown place"
        raise Refused(
            Code.REVIEW_OUT_OF_SCOPE,
            f"case {case.id!r} concerns an entity in {where}, "
            f"outside the reviewer's scope {scope.describe()}",
        )


def check_may_open(scope: Scope, tier: Tier, province: str | None, city: str | None) -> None:
    """A reviewer opens cases at their own tier, for entities within their scope."""
    if scope.tier is not tier:
        raise Refused(
            Code.REVIEW_WRONG_TIER,
            f"a {scope.tier.value} reviewer opens cases at the {scope.tier.value} tier",
        )
    if not scope.covers(province, city):
        where = "/".join(p for p in (province, city) if p) or "an unknown place"
        raise Refused(
            Code.REVIEW_OUT_OF_SCOPE,
            f"the entity is in {where}, outside the reviewer's scope {scope.describe()}",
        )


# --- transitions ----------------------------------------------------------------------------------


def _refuse_closed(case: CaseState, action: str) -> None:
    if case.status is CaseStatus.CLOSED:
        raise Refused(Code.REVIEW_CASE_CLOSED, f"case {case.id!r} is closed; it cannot be {action}")


def check_take(case: CaseState) -> CaseStatus:
    """open → in_review: a reviewer of the case's tier takes it."""
    _refuse_closed(case, "taken")
    if case.status is not CaseStatus.OPEN:
        raise Refused(
            Code.REVIEW_CASE_NOT_OPEN,
            f"case {case.id!r} is {case.status.value}; only an open case can be taken",
        )
    return CaseStatus.IN_REVIEW


def check_refer(case: CaseState) -> Tier:
    """open or in_review → open one tier down; the municipal tier has no one to refer to."""
    _refuse_closed(case, "referred")
    if case.status not in (CaseStatus.OPEN, CaseStatus.IN_REVIEW):
        raise Refused(
            Code.REVIEW_CASE_NOT_IN_REVIEW,
            f"case {case.id!r} is {case.status.value}; only an open or in-review case can be referred",
        )
    lower = _NEXT_TIER_DOWN[case.tier]
    if lower is None:
        raise Refused(
            Code.REVIEW_NO_LOWER_TIER,
            f"case {case.id!r} is at the municipal tier, the lowest; resolve it there",
        )
    if lower is not Tier.NATIONAL and not case.province:
        raise Refused(
            Code.REVIEW_INVALID_SCOPE,
            f"case {case.id!r} has no province, so no provincial or municipal reviewer could take it",
        )
    if lower is Tier.MUNICIPAL and not case.city:
        raise Refused(
            Code.REVIEW_INVALID_SCOPE, f"case {case.id!r} has no city, so no municipal reviewer could take it"
        )
    return lower


def check_resolve(case: CaseState, outcome: Outcome) -> CaseStatus:
    """in_review → correction_required (confirmed error) or closed (explained, false alert)."""
    _refuse_closed(case, "resolved")
    if case.status is not CaseStatus.IN_REVIEW:
        raise Refused(
            Code.REVIEW_CASE_NOT_IN_REVIEW,
            f"case {case.id!r} is {case.status.value}; take it before resolving it",
        )
    return CaseStatus.CORRECTION_REQUIRED if outcome is Outcome.CONFIRMED_ERROR else CaseStatus.CLOSED


def check_confirm_correction(case: CaseState) -> CaseStatus:
    """correction_required → closed: the reviewer has seen the entity's corrected data."""
    _refuse_closed(case, "confirmed as corrected")
    if case.status is not CaseStatus.CORRECTION_REQUIRED:
        raise Refused(
            Code.REVIEW_CASE_NOT_AWAITING_CORRECTION,
            f"case {case.id!r} is {case.status.value}; "
            "only a case with a confirmed error awaits a correction",
        )
    return CaseStatus.CLOSED


def check_comment(case: CaseState) -> None:
    """Anyone who may act on the case may add to its thread until it is closed."""
    _refuse_closed(case, "commented on")


def lower_tier(tier: Tier) -> Tier | None:
    """The tier a case at `tier` is referred to, or None at the bottom."""
    return _NEXT_TIER_DOWN[tier]
