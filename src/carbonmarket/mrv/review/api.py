"""Review over HTTP (`/api/mrv/review`): reviewers' scopes, the queue, cases and their threads.

Thin by design: each route parses its body, takes the actor from the bearer token and calls one
`Review` use case, which does every check. Conventions are the registry API's (api/registry.py):
writes carry a client-chosen `id`, answer 201 `created` or 200 `exists`, and refuse in the one error
shape. Refusals about *where* a reviewer may act (`review_wrong_tier`, `review_out_of_scope`,
`review_reviewer_not_assigned`) answer 403, like `forbidden`: the request was understood, the
reviewer is not the one to make it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, error_response, outcome_response
from carbonmarket.core.results import Code, Outcome, Refusal, Refused
from carbonmarket.mrv.review.service import Review, page_size_max

# Refusals that mean "not yours to act on" and answer 403 (api/errors.py maps only `forbidden`).
SCOPE_CODES = frozenset(
    {
        Code.REVIEW_WRONG_TIER,
        Code.REVIEW_OUT_OF_SCOPE,
        Code.REVIEW_REVIEWER_NOT_ASSIGNED,
        Code.VERIFICATION_NOT_OF_BODY,
    }
)


def outcome(result: Outcome) -> JSONResponse:
    """A write's outcome in the API's shape, with scope refusals as 403."""
    if isinstance(result, Refusal) and result.code in SCOPE_CODES:
        return error_response(result.code.value, result.message, 403, result.details or None)
    return outcome_response(result)


def answer(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | JSONResponse:
    """Run a query for a GET route: `{"ok": true, ...}`, or a scope refusal as 403 (others re-raised)."""
    try:
        return {"ok": True, **call()}
    except Refused as refused:
        if refused.refusal.code in SCOPE_CODES:
            return outcome(refused.refusal)
        raise


def review_service(services: ServicesDep) -> Review:
    """The review use cases over the app's database."""
    return Review(services.engine)


ReviewDep = Annotated[Review, Depends(review_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class AttachmentIn(Body):
    """Evidence named by the SHA-256 of its bytes."""

    name: StrictStr
    sha256: StrictStr = Field(description="64 lowercase hex digits")


class ReviewerIn(Body):
    """A reviewer's tier and region."""

    id: StrictStr = Field(description="Command id.")
    username: StrictStr
    tier: StrictStr = Field(description="national | provincial | municipal")
    province: StrictStr | None = None
    city: StrictStr | None = None


class CaseIn(Body):
    """A new case: from alerts of one entity-year, or by hand for an entity and year."""

    id: StrictStr = Field(description="The case id (also the command id).")
    alerts: list[StrictStr] = Field(default_factory=list, description="Alert ids of one entity-year.")
    entity_id: StrictStr | None = None
    year: StrictInt | None = None
    month: StrictInt | None = None
    title: StrictStr | None = None
    message: StrictStr | None = None
    tier: StrictStr | None = Field(None, description="Default: the reviewer's own tier.")
    province: StrictStr | None = Field(None, description="Only for an entity the roster does not know.")
    city: StrictStr | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)


class TakeIn(Body):
    """Take a case into review."""

    id: StrictStr = Field(description="Command id.")
    note: StrictStr | None = None


class ReferIn(Body):
    """Refer a case one tier down."""

    id: StrictStr = Field(description="Command id.")
    reason: StrictStr
    attachments: list[AttachmentIn] = Field(default_factory=list)


class ResolveIn(Body):
    """Resolve a case in review."""

    id: StrictStr = Field(description="Command id.")
    outcome: StrictStr = Field(description="confirmed_error | explained | false_alert")
    explanation: StrictStr
    attachments: list[AttachmentIn] = Field(default_factory=list)


class ConfirmIn(Body):
    """Close a case whose confirmed error the entity has corrected."""

    id: StrictStr = Field(description="Command id.")
    note: StrictStr
    attachments: list[AttachmentIn] = Field(default_factory=list)


class MessageIn(Body):
    """A message on a case's thread."""

    id: StrictStr = Field(description="Command id.")
    text: StrictStr
    attachments: list[AttachmentIn] = Field(default_factory=list)


def _files(items: list[AttachmentIn]) -> list[dict[str, str]]:
    return [item.model_dump() for item in items]


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
router = APIRouter(prefix="/api/mrv/review", tags=["mrv review"])


def _write(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a write route: 201 on `created`, 200 on `exists`, errors as WRITE_RESPONSES say."""
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


def _read(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a query route (it may answer a scope refusal itself, hence no response model)."""
    return router.get(path, responses=ERROR_RESPONSES, response_model=None)


@_write("/reviewers")
def assign_reviewer(body: ReviewerIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """Give a reviewer a tier and a region (regulators)."""
    return outcome(review.assign_reviewer(actor, body.id, body.username, body.tier, body.province, body.city))


@_read("/reviewers")
def reviewers(actor: CurrentActor, review: ReviewDep) -> dict[str, Any] | JSONResponse:
    """Every reviewer with their tier and region (reviewers and regulators)."""

    def call() -> dict[str, Any]:
        review.scope(actor)  # refuses anyone who does not review
        return {"reviewers": review.reviewers()}

    return answer(call)


@_read("/queue")
def queue(
    actor: CurrentActor,
    review: ReviewDep,
    alerts: Annotated[bool, Query(description="Include open alerts no case covers yet.")] = True,
    limit: Annotated[int, Query(ge=1, le=page_size_max)] = 100,
) -> dict[str, Any] | JSONResponse:
    """The reviewer's queue: cases at their tier and region not yet closed, and uncovered open alerts."""
    return answer(lambda: review.queue(actor, include_alerts=alerts, limit=limit))


@_write("/cases")
def open_case(body: CaseIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """Open a case at the reviewer's tier; its alerts move to `in_review`."""
    return outcome(
        review.open_case(
            actor,
            body.id,
            alert_ids=body.alerts,
            entity_id=body.entity_id,
            year=body.year,
            month=body.month,
            title=body.title,
            message=body.message,
            tier=body.tier,
            province=body.province,
            city=body.city,
            attachments=_files(body.attachments),
        )
    )


@_read("/cases/{case_id}")
def case(case_id: str, actor: CurrentActor, review: ReviewDep) -> dict[str, Any] | JSONResponse:
    """A case with its alerts and thread (reviewers of its region, regulators)."""
    return answer(lambda: review.case(actor, case_id))


@_write("/cases/{case_id}/take")
def take(case_id: str, body: TakeIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """open → in_review."""
    return outcome(review.take(actor, body.id, case_id, body.note))


@_write("/cases/{case_id}/refer")
def refer(case_id: str, body: ReferIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """Refer the case one tier down (national → provincial → municipal)."""
    return outcome(review.refer(actor, body.id, case_id, body.reason, _files(body.attachments)))


@_write("/cases/{case_id}/resolve")
def resolve(case_id: str, body: ResolveIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """in_review → correction_required or closed; the case's alerts take the outcome's status."""
    return outcome(
        review.resolve(actor, body.id, case_id, body.outcome, body.explanation, _files(body.attachments))
    )


@_write("/cases/{case_id}/confirm-correction")
def confirm_correction(case_id: str, body: ConfirmIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """correction_required → closed."""
    return outcome(review.confirm_correction(actor, body.id, case_id, body.note, _files(body.attachments)))


@_write("/cases/{case_id}/messages")
def comment(case_id: str, body: MessageIn, actor: CurrentActor, review: ReviewDep) -> JSONResponse:
    """Add a message with evidence to the case's thread."""
    return outcome(review.comment(actor, body.id, case_id, body.text, _files(body.attachments)))
