"""Verification rules: bodies' qualification, a verification's life, conflict of interest,
streamlined verification and the evaluation formula.

Pure: standard library and `carbonmarket.core` only (the packaged rules file is read through
importlib.resources, as `mrv/model.py` reads the parameter catalogue).

Sources: qualification management "clearly defining entry requirements, codes of conduct, and exit
mechanisms" (the Opinions (13) [seed]); streamlined verification for entities "that consistently
maintain high-quality carbon emission reports" (the Opinions (11) [seed]); a published evaluation of
third-party technical service institutions (Progress Report §8(2) [seed]). The numbers live in
`data/verification.toml` with their tags.

A body's qualification:

    applied ──qualify──▶ qualified ──suspend──▶ suspended ──reinstate──▶ qualified
       └──────────────────────┴───────withdraw───────┴──────▶ withdrawn (for good)

A verification (one entity, one reporting year, one body):

    assigned ──start──▶ in_progress ──submit──▶ submitted ──accept──▶ verified
                           ▲  (no open nonconformity)  │
                           └─────────return────────────┘
    assigned | in_progress | submitted ──cancel──▶ cancelled
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache
from importlib import resources

from carbonmarket.core.calendar import CHINA_STANDARD_TIME
from carbonmarket.core.results import Code, Refused

# Limits (house rule 12).
name_length_max = 200
text_length_max = 4000
reporting_year_min = 2013
reporting_year_max = 2100


class BodyStatus(StrEnum):
    """A verification body's qualification (the Opinions (13) [seed]: entry, conduct, exit)."""

    APPLIED = "applied"
    QUALIFIED = "qualified"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class VerificationStatus(StrEnum):
    """Where one verification is in its life."""

    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


# Verifications that still occupy their entity-year: a second body cannot be assigned beside them.
LIVE_STATUSES = frozenset(
    {
        VerificationStatus.ASSIGNED,
        VerificationStatus.IN_PROGRESS,
        VerificationStatus.SUBMITTED,
        VerificationStatus.VERIFIED,
    }
)


class Mode(StrEnum):
    """Full verification, or the streamlined procedure for entities with a clean record."""

    FULL = "full"
    STREAMLINED = "streamlined"


class NonconformityStatus(StrEnum):
    """A nonconformity is open until the verifier closes it with the corrective action taken."""

    OPEN = "open"
    CLOSED = "closed"


# --- the rules file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One part of the evaluation score: `points` × a measure that is a share in [0, 1]."""

    name: str
    measure: str
    points: int
    description: str


@dataclass(frozen=True)
class Rules:
    """The numbers of verification, as the data file states them."""

    deadline_month: int
    deadline_day: int
    deadline_years_after: int
    consecutive_years_max: int
    clean_years_required: int
    nonconformities_max: int
    confirmed_errors_max: int
    formula_version: int
    score_max: int
    components: tuple[Component, ...]
    grades: tuple[tuple[str, int], ...]  # (grade, score_min), best first
    sources: Mapping[str, str]

    def deadline(self, year: int) -> date:
        """The date by which the verification of reporting year `year` is due."""
        return date(year + self.deadline_years_after, self.deadline_month, self.deadline_day)

    def formula(self) -> dict[str, object]:
        """The evaluation formula as data, to publish beside the scores."""
        return {
            "version": self.formula_version,
            "score_max": self.score_max,
            "score": "round_half_up(sum(points × measure))",
            "components": [
                {"name": c.name, "measure": c.measure, "points": c.points, "description": c.description}
                for c in self.components
            ],
            "grades": [{"grade": g, "score_min": m} for g, m in self.grades],
            "source": self.sources["evaluation"],
        }


MEASURES = frozenset({"on_time_share", "first_pass_share", "clean_after_share"})


def parse_rules(text: str) -> Rules:
    """Read and check a verification rules file (its schema is `data/verification.toml`)."""
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("verification rules: unsupported schema_version")
    evaluation = data["evaluation"]
    components = tuple(
        Component(c["name"], c["measure"], int(c["points"]), c["description"])
        for c in evaluation["components"]
    )
    unknown = {c.measure for c in components} - MEASURES
    if unknown:
        raise ValueError(f"verification rules: unknown measures {sorted(unknown)}")
    if sum(c.points for c in components) != evaluation["score_max"]:
        raise ValueError("verification rules: component points must add up to score_max")
    grades = tuple(
        sorted(((g["grade"], int(g["score_min"])) for g in evaluation["grades"]), key=lambda g: -g[1])
    )
    if not grades or grades[-1][1] != 0:
        raise ValueError("verification rules: the lowest grade must start at 0")
    rules = Rules(
        deadline_month=int(data["deadline"]["month"]),
        deadline_day=int(data["deadline"]["day"]),
        deadline_years_after=int(data["deadline"]["years_after"]),
        consecutive_years_max=int(data["conflict_of_interest"]["consecutive_years_max"]),
        clean_years_required=int(data["streamlined"]["clean_years_required"]),
        nonconformities_max=int(data["streamlined"]["nonconformities_max"]),
        confirmed_errors_max=int(data["streamlined"]["confirmed_errors_max"]),
        formula_version=int(evaluation["formula_version"]),
        score_max=int(evaluation["score_max"]),
        components=components,
        grades=grades,
        sources={
            key: str(data[key]["source"])
            for key in ("deadline", "conflict_of_interest", "streamlined", "evaluation")
        },
    )
    if rules.consecutive_years_max < 1 or rules.clean_years_required < 1:
        raise ValueError("verification rules: year counts must be at least 1")
    rules.deadline(2000)  # refuses an impossible month or day now, not at the first submission
    return rules


@cache
def rules() -> Rules:
    """The packaged verification rules (mrv/verification/data/verification.toml)."""
    text = (resources.files("carbonmarket.mrv.verification") / "data" / "verification.toml").read_text(
        "utf-8"
    )
    return parse_rules(text)


# --- input ------------------------------------------------------------------------------------------


def check_year(year: int) -> int:
    """A reporting year within the platform's range."""
    if (
        isinstance(year, bool)
        or not isinstance(year, int)
        or not reporting_year_min <= year <= reporting_year_max
    ):
        raise Refused(
            Code.VERIFICATION_INVALID_YEAR,
            f"year must be between {reporting_year_min} and {reporting_year_max}",
        )
    return year


def check_text(value: str, what: str, limit: int = text_length_max) -> str:
    """Free text must be present and within its limit."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Refused(Code.INVALID_TEXT, f"{what} must be 1-{limit} characters")
    return value.strip()


# --- a body's qualification -------------------------------------------------------------------------


def _refuse_withdrawn(body_id: str, status: BodyStatus) -> None:
    if status is BodyStatus.WITHDRAWN:
        raise Refused(
            Code.VERIFICATION_BODY_WITHDRAWN,
            f"verification body {body_id!r} has left the market; a new application is a new body",
        )


def check_qualify(body_id: str, status: BodyStatus) -> BodyStatus:
    """applied → qualified (entry): the regulator admits an applicant that meets the entry rules."""
    _refuse_withdrawn(body_id, status)
    if status is not BodyStatus.APPLIED:
        raise Refused(
            Code.VERIFICATION_BODY_NOT_APPLIED,
            f"verification body {body_id!r} is {status.value}; only an applicant can be qualified",
        )
    return BodyStatus.QUALIFIED


def check_suspend(body_id: str, status: BodyStatus) -> BodyStatus:
    """qualified → suspended (conduct): a breach stops new work until the regulator reinstates it."""
    _refuse_withdrawn(body_id, status)
    if status is not BodyStatus.QUALIFIED:
        raise Refused(
            Code.VERIFICATION_BODY_NOT_QUALIFIED,
            f"verification body {body_id!r} is {status.value}; only a qualified body can be suspended",
        )
    return BodyStatus.SUSPENDED


def check_reinstate(body_id: str, status: BodyStatus) -> BodyStatus:
    """suspended → qualified: the breach is remedied."""
    _refuse_withdrawn(body_id, status)
    if status is not BodyStatus.SUSPENDED:
        raise Refused(
            Code.VERIFICATION_BODY_NOT_SUSPENDED,
            f"verification body {body_id!r} is {status.value}; only a suspended body can be reinstated",
        )
    return BodyStatus.QUALIFIED


def check_withdraw(body_id: str, status: BodyStatus) -> BodyStatus:
    """Any → withdrawn (exit): qualification revoked or given up, for good."""
    _refuse_withdrawn(body_id, status)
    return BodyStatus.WITHDRAWN


def check_body_may_work(body_id: str, status: BodyStatus) -> None:
    """Only a qualified body is assigned, starts, submits or has work accepted (conduct)."""
    _refuse_withdrawn(body_id, status)
    if status is not BodyStatus.QUALIFIED:
        raise Refused(
            Code.VERIFICATION_BODY_NOT_QUALIFIED,
            f"verification body {body_id!r} is {status.value}; only a qualified body may verify",
        )


# --- conflict of interest and streamlined verification ----------------------------------------------


def check_conflict_of_interest(
    body_id: str, entity_id: str, year: int, years_by_body: Iterable[int], limit: int
) -> None:
    """A body may not verify one entity for more than `limit` consecutive years (data file, [?]).

    `years_by_body` are the reporting years of this entity the body verified or is verifying
    (cancelled verifications do not count: they were never done).
    """
    done = set(years_by_body)
    run = [y for y in range(year - limit, year) if y in done]
    if len(run) == limit:
        raise Refused(
            Code.VERIFICATION_CONFLICT_OF_INTEREST,
            f"verification body {body_id!r} verified entity {entity_id!r} for {limit} consecutive years "
            f"({year - limit}-{year - 1}); another body must verify {year}",
            years=sorted(run),
            consecutive_years_max=limit,
        )


@dataclass(frozen=True)
class YearRecord:
    """What the record shows about one past reporting year of an entity."""

    year: int
    verified: bool
    nonconformities: int
    confirmed_errors: int


@dataclass(frozen=True)
class Eligibility:
    """Whether an entity may be verified the streamlined way for a year, and why (or why not)."""

    eligible: bool
    required_years: tuple[int, ...]
    clean_years: tuple[int, ...]
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """For the CLI and the API."""
        return {
            "eligible": self.eligible,
            "mode": (Mode.STREAMLINED if self.eligible else Mode.FULL).value,
            "required_years": list(self.required_years),
            "clean_years": list(self.clean_years),
            "reasons": list(self.reasons),
        }


def streamlined_eligibility(year: int, history: Iterable[YearRecord], rules: Rules) -> Eligibility:
    """Streamlined verification needs the N years before `year` all clean (the Opinions (11); N [?])."""
    by_year = {r.year: r for r in history}
    required = tuple(range(year - rules.clean_years_required, year))
    clean: list[int] = []
    reasons: list[str] = []
    for y in required:
        record = by_year.get(y)
        if record is None or not record.verified:
            reasons.append(f"{y}: no accepted verification")
        elif record.nonconformities > rules.nonconformities_max:
            reasons.append(
                f"{y}: {record.nonconformities} nonconformities (at most {rules.nonconformities_max})"
            )
        elif record.confirmed_errors > rules.confirmed_errors_max:
            reasons.append(
                f"{y}: reviewers confirmed {record.confirmed_errors} errors "
                f"(at most {rules.confirmed_errors_max})"
            )
        else:
            clean.append(y)
    return Eligibility(not reasons, required, tuple(clean), tuple(reasons))


# --- a verification's life --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationState:
    """A verification as the rules see it."""

    id: str
    status: VerificationStatus


def _refuse_finished(v: VerificationState, action: str) -> None:
    if v.status in (VerificationStatus.VERIFIED, VerificationStatus.CANCELLED):
        raise Refused(
            Code.VERIFICATION_FINISHED, f"verification {v.id!r} is {v.status.value}; it cannot be {action}"
        )


def check_start(v: VerificationState) -> VerificationStatus:
    """assigned → in_progress: the body accepts the assignment and begins."""
    _refuse_finished(v, "started")
    if v.status is not VerificationStatus.ASSIGNED:
        raise Refused(Code.VERIFICATION_NOT_ASSIGNED, f"verification {v.id!r} is already {v.status.value}")
    return VerificationStatus.IN_PROGRESS


def check_in_progress(v: VerificationState, action: str) -> None:
    """Nonconformities are raised and closed while the verification is in progress."""
    _refuse_finished(v, action)
    if v.status is not VerificationStatus.IN_PROGRESS:
        raise Refused(
            Code.VERIFICATION_NOT_IN_PROGRESS,
            f"verification {v.id!r} is {v.status.value}; it must be in progress to be {action}",
        )


def check_submit(v: VerificationState, open_nonconformities: int) -> VerificationStatus:
    """in_progress → submitted, once every nonconformity is closed."""
    check_in_progress(v, "submitted")
    if open_nonconformities:
        raise Refused(
            Code.VERIFICATION_OPEN_NONCONFORMITIES,
            f"verification {v.id!r} has {open_nonconformities} open nonconformities; close them first",
            open=open_nonconformities,
        )
    return VerificationStatus.SUBMITTED


def check_accept(v: VerificationState) -> VerificationStatus:
    """submitted → verified: the verified emissions become the compliance figure."""
    _refuse_finished(v, "accepted")
    if v.status is not VerificationStatus.SUBMITTED:
        raise Refused(
            Code.VERIFICATION_NOT_SUBMITTED,
            f"verification {v.id!r} is {v.status.value}; nothing is submitted",
        )
    return VerificationStatus.VERIFIED


def check_return(v: VerificationState) -> VerificationStatus:
    """submitted → in_progress: the regulator sends the report back for rework."""
    _refuse_finished(v, "returned")
    if v.status is not VerificationStatus.SUBMITTED:
        raise Refused(
            Code.VERIFICATION_NOT_SUBMITTED,
            f"verification {v.id!r} is {v.status.value}; nothing is submitted",
        )
    return VerificationStatus.IN_PROGRESS


def check_cancel(v: VerificationState) -> VerificationStatus:
    """Any unfinished verification → cancelled (e.g. its body was suspended); the entity-year is freed."""
    _refuse_finished(v, "cancelled")
    return VerificationStatus.CANCELLED


def check_close_nonconformity(nonconformity_id: str, status: NonconformityStatus) -> NonconformityStatus:
    """open → closed, with the corrective action on record."""
    if status is not NonconformityStatus.OPEN:
        raise Refused(
            Code.NONCONFORMITY_NOT_OPEN, f"nonconformity {nonconformity_id!r} is already {status.value}"
        )
    return NonconformityStatus.CLOSED


# --- the evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyYear:
    """What the record shows about one body's accepted verifications of one reporting year."""

    body_id: str
    year: int
    verifications: int  # accepted (verified) verifications of the year
    on_time: int  # of those, last submitted by the deadline
    first_pass: int  # of those, never returned for rework
    clean_after: int  # of those, no error confirmed by reviewers after acceptance
    later_findings: int  # errors reviewers confirmed after acceptance, in total


@dataclass(frozen=True)
class Evaluation:
    """One body's published score for a year, with its parts."""

    body_id: str
    year: int
    rated: bool
    score: int | None
    grade: str | None
    components: dict[str, dict[str, object]]
    facts: BodyYear

    def as_json(self) -> dict[str, object]:
        """For publication."""
        f = self.facts
        return {
            "body_id": self.body_id,
            "year": self.year,
            "rated": self.rated,
            "score": self.score,
            "grade": self.grade,
            "components": self.components,
            "facts": {
                "verifications": f.verifications,
                "on_time": f.on_time,
                "first_pass": f.first_pass,
                "clean_after": f.clean_after,
                "later_findings": f.later_findings,
            },
        }


def evaluate(facts: BodyYear, rules: Rules) -> Evaluation:
    """Score = Σ points × share, rounded once half up (data file `[evaluation]`, formula [?])."""
    if facts.verifications == 0:
        return Evaluation(facts.body_id, facts.year, False, None, None, {}, facts)
    n = Decimal(facts.verifications)
    shares = {
        "on_time_share": Decimal(facts.on_time) / n,
        "first_pass_share": Decimal(facts.first_pass) / n,
        "clean_after_share": Decimal(facts.clean_after) / n,
    }
    total = Decimal(0)
    components: dict[str, dict[str, object]] = {}
    for c in rules.components:
        share = shares[c.measure]
        earned = share * c.points
        total += earned
        # Parts are shown to two places for a reader; only the total is rounded for the score.
        components[c.name] = {
            "measure": c.measure,
            "share": str(share.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
            "points": c.points,
            "earned": str(earned.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        }
    score = int(total.quantize(Decimal(1), ROUND_HALF_UP))
    grade = next(g for g, minimum in rules.grades if score >= minimum)
    return Evaluation(facts.body_id, facts.year, True, score, grade, components, facts)


def on_time(submitted_at: str | None, year: int, rules: Rules) -> bool:
    """Whether a submission (ISO-8601 UTC text) came by the deadline of reporting year `year`.

    The deadline is a date in China: a submission at 02:00 Beijing time on 1 July is late even
    though it is still 30 June in UTC.
    """
    if submitted_at is None:
        return False
    moment = datetime.fromisoformat(submitted_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA_STANDARD_TIME).date() <= rules.deadline(year)
