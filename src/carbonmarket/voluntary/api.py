"""HTTP routes of the voluntary context, under `/api/ccer`.

Thin: parse, take the actor from the bearer token, call one `Voluntary` use case. Writes carry a
client-chosen `id` and answer 201 `created` or 200 `exists`; errors have the platform's one shape.
Roles: `project_owner` (initiate right on `<owner>-H`) for its projects and reports, `vvb` for its
body's validations and verifications, `regulator` for bodies, decisions, issuance and Article 6;
reads are public, as the registry's information disclosure asks (Progress Report §6 [seed]).
Monitoring devices post readings with an API key (`X-API-Key`), not a user's token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, error_response, outcome_response
from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.clock import Clock
from carbonmarket.core.results import Code, Refused
from carbonmarket.registry.postings import holding_account
from carbonmarket.voluntary import methodologies
from carbonmarket.voluntary.service import Voluntary

router = APIRouter(prefix="/api/ccer", tags=["voluntary"])
PUBLIC = Actor("public", Role.PUBLIC)


def voluntary_service(services: ServicesDep, request: Request) -> Voluntary:
    """The voluntary market over the app's database; tests may set `app.state.ccer_clock`."""
    clock: Clock | None = getattr(request.app.state, "ccer_clock", None)
    return Voluntary(services.engine, clock=clock)


VoluntaryDep = Annotated[Voluntary, Depends(voluntary_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CommandIn(Body):
    """A step that needs only its command id."""

    id: StrictStr = Field(description="Command id.")


class DecisionIn(Body):
    """A decision with its reason."""

    id: StrictStr = Field(description="Command id.")
    approve: StrictBool
    reason: StrictStr


class VvbIn(Body):
    """A body; `id` is its id and the command id."""

    id: StrictStr
    name: StrictStr


class AccreditationIn(Body):
    """A body's status in one field."""

    id: StrictStr = Field(description="Command id.")
    field: StrictStr
    status: StrictStr = "accredited"


class StaffIn(Body):
    """Attach a user to a body."""

    id: StrictStr = Field(description="Command id.")
    username: StrictStr


class OwnerIn(Body):
    """A project owner's holder; `id` is the holder id and the command id."""

    id: StrictStr
    name: StrictStr


class ProjectIn(Body):
    """A project design document; `id` is the project id and the command id."""

    id: StrictStr
    name: StrictStr
    owner_id: StrictStr
    methodology: StrictStr
    sector: StrictStr
    province: StrictStr
    construction_start: StrictStr
    operation_start: StrictStr
    crediting_start: StrictStr
    crediting_end: StrictStr
    parameters: dict[str, Any]
    document_sha256: StrictStr
    expected_annual_t: StrictInt = 0


class ValidationIn(Body):
    """A validation with the dual commitment."""

    id: StrictStr = Field(description="Command id.")
    report_sha256: StrictStr
    opinion: StrictStr
    owner_commitment: StrictStr
    vvb_commitment: StrictStr
    vvb_id: StrictStr | None = None


class ReportIn(Body):
    """A monitoring report; `id` is the report id and the command id."""

    id: StrictStr
    project_id: StrictStr
    period_start: StrictStr
    period_end: StrictStr
    inputs: dict[str, Any] = Field(default_factory=dict)
    from_readings: dict[str, StrictStr] = Field(default_factory=dict)


class VerificationIn(Body):
    """A verification of a report."""

    id: StrictStr = Field(description="Command id.")
    verified_t: StrictInt
    report_sha256: StrictStr
    vvb_id: StrictStr | None = None


class IssuanceIn(Body):
    """Issuance of a registered report (default: the verified quantity)."""

    id: StrictStr = Field(description="Command id.")
    quantity: StrictInt | None = None


class CancellationIn(Body):
    """A voluntary or international cancellation."""

    id: StrictStr = Field(description="Command id.")
    account_id: StrictStr
    instrument_id: StrictStr
    quantity: StrictInt
    kind: StrictStr
    beneficiary: StrictStr
    purpose: StrictStr
    claim: StrictStr | None = None
    authorisation_id: StrictStr | None = None
    acquiring_party: StrictStr | None = None


class GecIn(Body):
    """A green certificate claim; `id` is the claim id and the command id."""

    id: StrictStr
    period_start: StrictStr
    period_end: StrictStr
    mwh: StrictInt
    reference: StrictStr


class AuthorisationIn(Body):
    """An Article 6 authorisation; `id` is its id and the command id."""

    id: StrictStr
    uses: StrictStr
    reference: StrictStr


class CommentIn(Body):
    """A public comment."""

    id: StrictStr = Field(description="Command id (any unique text).")
    kind: StrictStr
    subject: StrictStr
    author: StrictStr
    text: StrictStr


class ProposalIn(Body):
    """A methodology proposal; `id` is its id and the command id."""

    id: StrictStr
    code: StrictStr
    title: StrictStr
    field: StrictStr
    summary: StrictStr
    document_sha256: StrictStr


class ApiKeyIn(Body):
    """A new device key."""

    id: StrictStr = Field(description="Command id.")
    label: StrictStr


class ReadingsIn(Body):
    """A batch of readings; `batch` names it (resending the same batch is safe)."""

    batch: StrictStr
    readings: list[dict[str, Any]]


Endpoint = Callable[..., JSONResponse]


def _write(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a write route: 201 on `created`, 200 on `exists`, errors as WRITE_RESPONSES say."""
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


# --- reads (public) --------------------------------------------------------------------------------


@router.get("/methodologies", responses=ERROR_RESPONSES)
def list_methodologies() -> dict[str, Any]:
    """The published methodologies with their inputs and sourced constants."""
    return {"ok": True, "methodologies": [m.describe() for m in methodologies.published()]}


@router.get("/methodologies/{code}", responses=ERROR_RESPONSES)
def show_methodology(code: str) -> dict[str, Any]:
    """One methodology."""
    return {"ok": True, **methodologies.get(code).describe()}


@router.get("/overview", responses=ERROR_RESPONSES)
def overview(ccer: VoluntaryDep) -> dict[str, Any]:
    """Projects and reports in disclosure, registered projects, issuances, cancellations."""
    return {"ok": True, **ccer.public_overview()}


@router.get("/projects", responses=ERROR_RESPONSES)
def list_projects(
    ccer: VoluntaryDep,
    status: Annotated[list[str] | None, Query()] = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Projects, optionally of some states or one owner."""
    return {"ok": True, "projects": ccer.projects(status, owner)}


@router.get("/projects/{project_id}", responses=ERROR_RESPONSES)
def show_project(project_id: str, ccer: VoluntaryDep) -> dict[str, Any]:
    """A project with its reports, issuances, comments and history."""
    return {"ok": True, **ccer.project(project_id)}


@router.get("/reports/{report_id}", responses=ERROR_RESPONSES)
def show_report(report_id: str, ccer: VoluntaryDep) -> dict[str, Any]:
    """A monitoring report with its calculation."""
    return {"ok": True, **ccer.report(report_id)}


@router.get("/search", responses=ERROR_RESPONSES)
def search_serial(serial: str, ccer: VoluntaryDep) -> dict[str, Any]:
    """Where a serial number belongs and whether it is retired."""
    return {"ok": True, **ccer.search_serial(serial)}


@router.get("/certificates/{certificate_id}", responses=ERROR_RESPONSES)
def show_certificate(certificate_id: str, ccer: VoluntaryDep) -> dict[str, Any]:
    """A public cancellation certificate."""
    return {"ok": True, **ccer.certificate(certificate_id)}


@router.get("/vvbs", responses=ERROR_RESPONSES)
def list_vvbs(ccer: VoluntaryDep) -> dict[str, Any]:
    """The register of bodies and their accreditation per field."""
    return {"ok": True, "vvbs": ccer.vvbs()}


@router.get("/proposals", responses=ERROR_RESPONSES)
def list_proposals(ccer: VoluntaryDep) -> dict[str, Any]:
    """Methodology proposals."""
    return {"ok": True, "proposals": ccer.proposals()}


@router.get("/owners/{owner_id}/console", responses=ERROR_RESPONSES)
def owner_console(owner_id: str, actor: CurrentActor, ccer: VoluntaryDep) -> dict[str, Any]:
    """An owner's projects, states and next steps (the owner's users and regulators)."""
    if not (actor.role is Role.REGULATOR or actor.has_right(holding_account(owner_id), Permission.INITIATE)):
        raise Refused(Code.FORBIDDEN, f"{actor.username!r} does not act for owner {owner_id!r}")
    return {"ok": True, **ccer.owner_console(owner_id)}


@router.get("/projects/{project_id}/api-keys", responses=ERROR_RESPONSES)
def list_api_keys(project_id: str, actor: CurrentActor, ccer: VoluntaryDep) -> dict[str, Any]:
    """A project's live keys (ids and labels), for its owner."""
    owner = ccer.owner_of_project(project_id)
    if not (actor.role is Role.REGULATOR or actor.has_right(holding_account(owner), Permission.INITIATE)):
        raise Refused(Code.FORBIDDEN, f"{actor.username!r} does not act for owner {owner!r}")
    return {"ok": True, "keys": ccer.api_keys(project_id)}


# --- regulator: bodies, owners ---------------------------------------------------------------------


@_write("/vvbs")
def add_vvb(body: VvbIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Register a validation/verification body."""
    return outcome_response(ccer.add_vvb(actor, body.id, body.name))


@_write("/vvbs/{vvb_id}/accreditations")
def accredit(vvb_id: str, body: AccreditationIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Set a body's accreditation in a field."""
    return outcome_response(ccer.accredit(actor, body.id, vvb_id, body.field, body.status))


@_write("/vvbs/{vvb_id}/staff")
def add_staff(vvb_id: str, body: StaffIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Attach a user to a body."""
    return outcome_response(ccer.add_vvb_staff(actor, body.id, body.username, vvb_id))


@_write("/owners")
def open_owner(body: OwnerIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Open a project owner's holder and -H/-T accounts."""
    return outcome_response(ccer.open_owner(actor, body.id, body.name))


# --- projects --------------------------------------------------------------------------------------


@_write("/projects")
def submit_project(body: ProjectIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Submit a project design document."""
    fields = body.model_dump(exclude={"id"})
    return outcome_response(ccer.submit_project(actor, body.id, **fields))


@_write("/projects/{project_id}/validate")
def validate(project_id: str, body: ValidationIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Validation by the acting VVB."""
    return outcome_response(
        ccer.validate(
            actor,
            body.id,
            project_id,
            report_sha256=body.report_sha256,
            opinion=body.opinion,
            owner_commitment=body.owner_commitment,
            vvb_commitment=body.vvb_commitment,
            vvb_id=body.vvb_id,
        )
    )


@_write("/projects/{project_id}/disclose")
def disclose_project(
    project_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep
) -> JSONResponse:
    """Publish the design document for 20 working days."""
    return outcome_response(ccer.disclose_project(actor, body.id, project_id))


@_write("/projects/{project_id}/apply")
def apply_project(project_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Apply for registration."""
    return outcome_response(ccer.apply_registration(actor, body.id, project_id))


@_write("/projects/{project_id}/decision")
def decide_project(
    project_id: str, body: DecisionIn, actor: CurrentActor, ccer: VoluntaryDep
) -> JSONResponse:
    """Register or reject a project."""
    return outcome_response(
        ccer.decide_registration(actor, body.id, project_id, approve=body.approve, reason=body.reason)
    )


@_write("/projects/{project_id}/gec-claims")
def gec_claim(project_id: str, body: GecIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Record a green electricity certificate claim."""
    return outcome_response(
        ccer.record_gec_claim(
            actor,
            body.id,
            project_id,
            period_start=body.period_start,
            period_end=body.period_end,
            mwh=body.mwh,
            reference=body.reference,
        )
    )


@_write("/projects/{project_id}/article6")
def authorise(
    project_id: str, body: AuthorisationIn, actor: CurrentActor, ccer: VoluntaryDep
) -> JSONResponse:
    """Record an Article 6 authorisation."""
    return outcome_response(
        ccer.authorise_article6(actor, body.id, project_id, uses=body.uses, reference=body.reference)
    )


@_write("/projects/{project_id}/api-keys")
def issue_api_key(project_id: str, body: ApiKeyIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """A new device key (shown once)."""
    return outcome_response(ccer.issue_api_key(actor, body.id, project_id, body.label))


@_write("/api-keys/{key_id}/revoke")
def revoke_api_key(key_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Revoke a device key."""
    return outcome_response(ccer.revoke_api_key(actor, body.id, key_id))


# --- reports, issuance, cancellation ---------------------------------------------------------------


@_write("/reports")
def submit_report(body: ReportIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Submit a monitoring report."""
    return outcome_response(
        ccer.submit_report(
            actor,
            body.id,
            body.project_id,
            period_start=body.period_start,
            period_end=body.period_end,
            inputs=body.inputs,
            from_readings=body.from_readings,
        )
    )


@_write("/reports/{report_id}/verify")
def verify(report_id: str, body: VerificationIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Verification by the acting VVB."""
    return outcome_response(
        ccer.verify_report(
            actor,
            body.id,
            report_id,
            verified_t=body.verified_t,
            report_sha256=body.report_sha256,
            vvb_id=body.vvb_id,
        )
    )


@_write("/reports/{report_id}/disclose")
def disclose_report(report_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Publish the reduction report for 20 working days."""
    return outcome_response(ccer.disclose_report(actor, body.id, report_id))


@_write("/reports/{report_id}/apply")
def apply_report(report_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Apply for registration of the reductions."""
    return outcome_response(ccer.apply_report_registration(actor, body.id, report_id))


@_write("/reports/{report_id}/decision")
def decide_report(report_id: str, body: DecisionIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Register or reject the reductions."""
    return outcome_response(
        ccer.decide_report(actor, body.id, report_id, approve=body.approve, reason=body.reason)
    )


@_write("/reports/{report_id}/issue")
def issue(report_id: str, body: IssuanceIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Issue the report's CCERs into the owner's -H account."""
    return outcome_response(ccer.issue(actor, body.id, report_id, body.quantity))


@_write("/cancellations")
def cancel(body: CancellationIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Cancel CCERs for a voluntary claim or an Article 6 transfer."""
    return outcome_response(
        ccer.cancel(
            actor,
            body.id,
            account_id=body.account_id,
            instrument_id=body.instrument_id,
            quantity=body.quantity,
            kind=body.kind,
            beneficiary=body.beneficiary,
            purpose=body.purpose,
            claim=body.claim,
            authorisation_id=body.authorisation_id,
            acquiring_party=body.acquiring_party,
        )
    )


@_write("/comments")
def comment(body: CommentIn, actor: OptionalActor, ccer: VoluntaryDep) -> JSONResponse:
    """A public comment during a disclosure or consultation (no sign-in needed)."""
    return outcome_response(
        ccer.comment(actor or PUBLIC, body.id, body.kind, body.subject, body.author, body.text)
    )


@_write("/proposals")
def propose(body: ProposalIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Submit a methodology proposal."""
    fields = body.model_dump(exclude={"id"})
    return outcome_response(ccer.propose_methodology(actor, body.id, **fields))


@_write("/proposals/{proposal_id}/consult")
def consult(proposal_id: str, body: CommandIn, actor: CurrentActor, ccer: VoluntaryDep) -> JSONResponse:
    """Open the public consultation."""
    return outcome_response(ccer.open_consultation(actor, body.id, proposal_id))


@_write("/proposals/{proposal_id}/decision")
def decide_proposal(
    proposal_id: str, body: DecisionIn, actor: CurrentActor, ccer: VoluntaryDep
) -> JSONResponse:
    """Adopt or reject a proposal."""
    return outcome_response(
        ccer.decide_proposal(actor, body.id, proposal_id, adopt=body.approve, reason=body.reason)
    )


# --- monitoring devices ----------------------------------------------------------------------------


@_write("/monitoring/{project_id}/readings")
def post_readings(
    project_id: str,
    body: ReadingsIn,
    ccer: VoluntaryDep,
    x_api_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """A device's readings (key in `X-API-Key`): duplicates ignored, bad ones refused one by one."""
    if not x_api_key:
        return error_response(
            Code.CCER_API_KEY_INVALID.value, "send the device's key in the X-API-Key header", 401
        )
    try:
        device = ccer.key_actor(x_api_key, project_id)
    except Refused as refused:
        return error_response(refused.refusal.code.value, refused.refusal.message, 401)
    return outcome_response(ccer.ingest(device, project_id, body.batch, body.readings))
