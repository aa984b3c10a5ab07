"""Verification over HTTP (`/api/mrv/verification`), and parameter tracing (`/api/mrv/trace`).

Thin by design: each route parses its body, takes the actor from the bearer token and calls one
`Verification` use case. Conventions are the registry API's: writes carry a client-chosen `id` and
answer 201 `created` or 200 `exists`; every error has the one shape; `verification_not_of_body`
(a verifier acting for another body) answers 403. The register of bodies and the published
evaluation are public, as the seeds ask (Progress Report §8(2) [seed]).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES
from carbonmarket.core.actors import Role, require_role
from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.review.api import answer, outcome
from carbonmarket.mrv.trace import authorise, check_request, trace
from carbonmarket.mrv.verification.service import Verification, page_size_max


def verification_service(services: ServicesDep) -> Verification:
    """The verification use cases over the app's database."""
    return Verification(services.engine)


VerificationDep = Annotated[Verification, Depends(verification_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class BodyApplicationIn(Body):
    """A body's application for qualification; `id` is the body id and the command id."""

    id: StrictStr
    name: StrictStr
    province: StrictStr | None = None
    note: StrictStr | None = None


class ReasonIn(Body):
    """A step with its reason."""

    id: StrictStr = Field(description="Command id.")
    reason: StrictStr


class VerifierIn(Body):
    """Attach a verifier user to a body."""

    id: StrictStr = Field(description="Command id.")
    username: StrictStr
    body: StrictStr


class AssignmentIn(Body):
    """Assign a body to verify an entity's year; `id` is the verification id and the command id."""

    id: StrictStr
    entity_id: StrictStr
    year: StrictInt
    body: StrictStr
    mode: StrictStr | None = Field(None, description="full | streamlined (default: by eligibility)")


class CommandIn(Body):
    """A step that needs only its command id."""

    id: StrictStr = Field(description="Command id.")


class NonconformityIn(Body):
    """A nonconformity found in the entity's data; `id` is its id and the command id."""

    id: StrictStr
    description: StrictStr
    parameter: StrictStr | None = None
    month: StrictInt | None = None


class ClosureIn(Body):
    """Close a nonconformity with the corrective action taken."""

    id: StrictStr = Field(description="Command id.")
    closure: StrictStr


class SubmissionIn(Body):
    """The verified emissions, whole tonnes CO2e (a JSON integer or a string of digits)."""

    id: StrictStr = Field(description="Command id.")
    verified_emissions: StrictInt | StrictStr
    report_sha256: StrictStr | None = Field(None, description="SHA-256 of the verification report file.")


class PublicationIn(Body):
    """Publish a year's evaluation (the command id is `evaluation-<year>`)."""

    year: StrictInt


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
router = APIRouter(prefix="/api/mrv/verification", tags=["mrv verification"])
trace_router = APIRouter(prefix="/api/mrv/trace", tags=["mrv trace"])


def _write(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a write route: 201 on `created`, 200 on `exists`, errors as WRITE_RESPONSES say."""
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


def _read(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a query route (it may answer a scope refusal itself, hence no response model)."""
    return router.get(path, responses=ERROR_RESPONSES, response_model=None)


# --- bodies -----------------------------------------------------------------------------------------


@_write("/bodies")
def apply_body(body: BodyApplicationIn, actor: CurrentActor, service: VerificationDep) -> JSONResponse:
    """Record a body's application for qualification (regulators)."""
    return outcome(service.apply_body(actor, body.id, body.name, body.province, body.note))


def _body_route(step: str, summary: str) -> None:
    def route(body_id: str, body: ReasonIn, actor: CurrentActor, service: VerificationDep) -> JSONResponse:
        return outcome(getattr(service, step)(actor, body.id, body_id, body.reason))

    route.__doc__ = summary
    route.__name__ = f"body_{step}"
    _write(f"/bodies/{{body_id}}/{step}")(route)


for _step, _summary in (
    ("qualify", "applied → qualified: the body meets the entry requirements (regulators)."),
    ("suspend", "qualified → suspended: a breach of conduct stops new work (regulators)."),
    ("reinstate", "suspended → qualified (regulators)."),
    ("withdraw", "→ withdrawn, for good: the body leaves the market (regulators)."),
):
    _body_route(_step, _summary)


@_read("/bodies")
def bodies(
    _actor: OptionalActor,
    service: VerificationDep,
    status: Annotated[str | None, Query(description="applied | qualified | suspended | withdrawn")] = None,
) -> dict[str, Any] | JSONResponse:
    """The public register of verification bodies and their qualification status."""
    return answer(lambda: {"bodies": service.bodies(status)})


@_read("/bodies/{body_id}")
def body_detail(
    body_id: str, _actor: OptionalActor, service: VerificationDep
) -> dict[str, Any] | JSONResponse:
    """A body with its qualification history (public)."""
    return answer(lambda: service.body(body_id))


@_write("/verifiers")
def add_verifier(body: VerifierIn, actor: CurrentActor, service: VerificationDep) -> JSONResponse:
    """Attach a user with the verifier role to a body (regulators)."""
    return outcome(service.add_verifier(actor, body.id, body.username, body.body))


# --- verifications ----------------------------------------------------------------------------------


@_write("/verifications")
def assign(body: AssignmentIn, actor: CurrentActor, service: VerificationDep) -> JSONResponse:
    """Assign a qualified body to an entity's year (regulators); conflict of interest is refused."""
    return outcome(service.assign(actor, body.id, body.entity_id, body.year, body.body, body.mode))


@_read("/verifications")
def verifications(
    actor: CurrentActor,
    service: VerificationDep,
    entity_id: str | None = None,
    year: int | None = None,
    body: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=page_size_max)] = 100,
) -> dict[str, Any] | JSONResponse:
    """Verifications; a verifier sees only their own body's."""

    def call() -> dict[str, Any]:
        own = service.visible_body(actor)
        if own is not None and body not in (None, own):
            raise Refused(Code.VERIFICATION_NOT_OF_BODY, f"{actor.username!r} verifies for {own!r} only")
        return {"verifications": service.verifications(entity_id, year, own or body, status, limit)}

    return answer(call)


@_read("/verifications/{verification_id}")
def verification(
    verification_id: str, actor: CurrentActor, service: VerificationDep
) -> dict[str, Any] | JSONResponse:
    """A verification with its nonconformities; a verifier sees only their own body's."""

    def call() -> dict[str, Any]:
        own = service.visible_body(actor)
        found = service.verification(verification_id)
        if own is not None and found["body"] != own:
            raise Refused(
                Code.VERIFICATION_NOT_OF_BODY, f"verification {verification_id!r} is another body's"
            )
        return found

    return answer(call)


@_write("/verifications/{verification_id}/start")
def start(
    verification_id: str, body: CommandIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """assigned → in_progress (a verifier of the body)."""
    return outcome(service.start(actor, body.id, verification_id))


@_write("/verifications/{verification_id}/nonconformities")
def raise_nonconformity(
    verification_id: str, body: NonconformityIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """Record a nonconformity (a verifier of the body, verification in progress)."""
    return outcome(
        service.raise_nonconformity(
            actor, body.id, verification_id, body.description, body.parameter, body.month
        )
    )


@_write("/nonconformities/{nonconformity_id}/close")
def close_nonconformity(
    nonconformity_id: str, body: ClosureIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """Close a nonconformity with the corrective action taken."""
    return outcome(service.close_nonconformity(actor, body.id, nonconformity_id, body.closure))


@_write("/verifications/{verification_id}/submit")
def submit(
    verification_id: str, body: SubmissionIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """in_progress → submitted with the verified emissions; every nonconformity must be closed."""
    return outcome(
        service.submit(actor, body.id, verification_id, body.verified_emissions, body.report_sha256)
    )


@_write("/verifications/{verification_id}/accept")
def accept(
    verification_id: str, body: CommandIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """submitted → verified: the verified emissions become the compliance figure (regulators)."""
    return outcome(service.accept(actor, body.id, verification_id))


@_write("/verifications/{verification_id}/return")
def return_for_rework(
    verification_id: str, body: ReasonIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """submitted → in_progress: send the report back for rework (regulators)."""
    return outcome(service.return_for_rework(actor, body.id, verification_id, body.reason))


@_write("/verifications/{verification_id}/cancel")
def cancel(
    verification_id: str, body: ReasonIn, actor: CurrentActor, service: VerificationDep
) -> JSONResponse:
    """Cancel an unfinished verification; the entity-year may be assigned again (regulators)."""
    return outcome(service.cancel(actor, body.id, verification_id, body.reason))


@_read("/verified/{entity_id}/{year}")
def verified_emissions(
    entity_id: str, year: int, _actor: CurrentActor, service: VerificationDep
) -> dict[str, Any] | JSONResponse:
    """The compliance figure: accepted verified emissions of an entity-year (null until accepted)."""
    return answer(
        lambda: {
            "entity_id": entity_id,
            "year": year,
            "verified_emissions_tco2e": service.verified_emissions(entity_id, year),
        }
    )


@_read("/eligibility/{entity_id}/{year}")
def eligibility(
    entity_id: str, year: int, _actor: CurrentActor, service: VerificationDep
) -> dict[str, Any] | JSONResponse:
    """Whether the entity's year may be verified the streamlined way, and why."""
    return answer(lambda: service.eligibility(entity_id, year))


# --- the evaluation ---------------------------------------------------------------------------------


@_read("/evaluations")
def evaluations(
    _actor: OptionalActor,
    service: VerificationDep,
    year: Annotated[int | None, Query(description="Reporting year; default the newest published.")] = None,
) -> dict[str, Any] | JSONResponse:
    """The published evaluation of verification bodies, with its formula (public)."""
    return answer(lambda: service.evaluations(year))


@_read("/evaluations/preview")
def evaluation_preview(
    actor: CurrentActor, service: VerificationDep, year: Annotated[int, Query()]
) -> dict[str, Any] | JSONResponse:
    """Each body's score as it stands now, unpublished (regulators)."""
    return answer(lambda: service.evaluation_preview(actor, year))


@_write("/evaluations")
def publish_evaluation(body: PublicationIn, actor: CurrentActor, service: VerificationDep) -> JSONResponse:
    """Publish a year's evaluation (regulators); published figures never change."""
    return outcome(service.publish_evaluation(actor, body.year))


# --- parameter tracing ------------------------------------------------------------------------------


@trace_router.get("/{entity_id}/{year}", responses=ERROR_RESPONSES, response_model=None)
def trace_entity_year(
    entity_id: str, year: int, actor: CurrentActor, services: ServicesDep
) -> dict[str, Any] | JSONResponse:
    """The chain of an entity's year: parameters and rule results → report → verification → later figures.

    Regulators trace any entity; reviewers the entities of their region; verifiers the entity-years
    their body verifies.
    """
    require_role(actor, {Role.REGULATOR, Role.REVIEWER, Role.VERIFIER}, "tracing an entity's data")

    def call() -> dict[str, Any]:
        check_request(entity_id, year)
        authorise(services.engine, actor, entity_id, year)
        return trace(services.engine, entity_id, year, actor)

    return answer(call)
