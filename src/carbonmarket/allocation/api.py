"""HTTP routes of the allocation context, under `/api/allocation`.

Thin: parse, authorise, call one `Allocation` use case. Writes carry a client-chosen `id` and answer
201 `created` or 200 `exists`; errors have the API's one shape. Regulators publish plans, import
activity data, pre-allocate and true up; regulators, registry operators and provincial authorities
order deductions and read every entity; an entity representative reads its own entity's allocation
(it holds a right on `<entity>-H`). Published plans are public documents.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carbonmarket.allocation.service import Allocation
from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, outcome_response
from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.results import Code, Refused

READERS = {Role.REGULATOR, Role.REGISTRY_OPERATOR, Role.PROVINCIAL_AUTHORITY}
# A plan file or an activity CSV sent as text in JSON; the service enforces the byte limits.
text_length_max = 64 * 1024 * 1024


def allocation_service(services: ServicesDep) -> Allocation:
    """The allocation use cases over the app's database."""
    return Allocation(services.engine)


AllocationDep = Annotated[Allocation, Depends(allocation_service)]
router = APIRouter(prefix="/api/allocation", tags=["allocation"])


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PlanIn(Body):
    """A plan file's TOML text to publish under a command id."""

    id: StrictStr = Field(description="Command id.")
    toml: StrictStr = Field(max_length=text_length_max)


class PlanCheckIn(Body):
    """A plan file's TOML text to validate."""

    toml: StrictStr = Field(max_length=text_length_max)


class ActivityIn(Body):
    """An activity-data CSV as text (see `allocation/importer.py` for the columns)."""

    id: StrictStr | None = Field(None, description="Command id; default: derived from the file's bytes.")
    file_name: StrictStr = "activity.csv"
    csv: StrictStr = Field(max_length=text_length_max)


class RunIn(Body):
    """A pre-allocation or true-up of a year."""

    id: StrictStr = Field(description="Command id.")
    year: StrictInt


class TrueUpIn(RunIn):
    """A true-up, optionally of one entity."""

    entity_id: StrictStr | None = None


class DeductionIn(Body):
    """A deduction an entity owes against its next allocations."""

    id: StrictStr = Field(description="Command id.")
    entity_id: StrictStr
    quantity: StrictInt | StrictStr
    reason: StrictStr


def may_read_entity(actor: Actor, entity_id: str) -> None:
    """Authorities read every entity; a representative reads the entity whose holding account it holds."""
    if actor.superuser or actor.role in READERS or actor.may_view(f"{entity_id}-H"):
        return
    raise Refused(
        Code.FORBIDDEN,
        f"{actor.username!r} may read the allocation of entities it represents, not {entity_id!r}",
    )


# --- plans ----------------------------------------------------------------------------------------


@router.get("/plans", responses=ERROR_RESPONSES)
def plans(service: AllocationDep, _actor: OptionalActor) -> dict[str, Any]:
    """Published plan versions (public) and the packaged plan files."""
    return {"ok": True, **service.plans()}


@router.get("/plans/{plan_id}", responses=ERROR_RESPONSES)
def plan(
    plan_id: str,
    service: AllocationDep,
    _actor: OptionalActor,
    version: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    """One published plan version with every value, tag and source (public)."""
    return {"ok": True, **service.plan(plan_id, version)}


@router.post("/plans/check", responses=ERROR_RESPONSES)
def check_plan(body: PlanCheckIn, service: AllocationDep, _actor: CurrentActor) -> dict[str, Any]:
    """Validate a plan file without publishing it."""
    from carbonmarket.allocation.service import plan_json, read_plan

    return {"ok": True, **plan_json(read_plan(body.toml))}


@router.post("/plans", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def publish_plan(body: PlanIn, actor: CurrentActor, service: AllocationDep) -> JSONResponse:
    """Publish a plan (regulators); a revised plan of the same id becomes its next version."""
    return outcome_response(service.publish_plan(actor, body.id, body.toml))


# --- activity, calculation, runs --------------------------------------------------------------------


@router.post("/activity", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def import_activity(body: ActivityIn, actor: CurrentActor, service: AllocationDep) -> JSONResponse:
    """Import activity data (regulators); rows with bad data are listed with the reason."""
    return outcome_response(service.import_activity(actor, body.csv.encode("utf-8"), body.file_name, body.id))


@router.get("/calc", responses=ERROR_RESPONSES)
def calc(
    actor: CurrentActor,
    service: AllocationDep,
    year: Annotated[int, Query()],
    entity: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Dry run of a year (authorities), or of one's own entity (its representative)."""
    if entity is None:
        require_role(actor, READERS, "calculating a year's allocation")
    else:
        may_read_entity(actor, entity)
    return {"ok": True, **service.calc(year, entity)}


@router.post("/preallocations", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def preallocate(body: RunIn, actor: CurrentActor, service: AllocationDep) -> JSONResponse:
    """Pre-allocate a year into every entity's holding account (regulators; once per year)."""
    return outcome_response(service.preallocate(actor, body.id, body.year))


@router.post("/true-ups", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def true_up(body: TrueUpIn, actor: CurrentActor, service: AllocationDep) -> JSONResponse:
    """Settle a year at its final allocation (regulators): top up or withdraw."""
    return outcome_response(service.true_up(actor, body.id, body.year, body.entity_id))


@router.post("/deductions", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def deduction(body: DeductionIn, actor: CurrentActor, service: AllocationDep) -> JSONResponse:
    """Order a deduction from an entity's next allocations (regulators, operators, provincial authorities)."""
    return outcome_response(
        service.order_deduction(actor, body.id, body.entity_id, body.quantity, body.reason)
    )


# --- reads ------------------------------------------------------------------------------------------


@router.get("/years/{year}", responses=ERROR_RESPONSES)
def year_overview(year: int, actor: CurrentActor, service: AllocationDep) -> dict[str, Any]:
    """A year's allocation by sector and its runs (authorities)."""
    require_role(actor, READERS, "reading a year's allocation")
    return {"ok": True, **service.year_overview(year)}


@router.get("/entities/{entity_id}", responses=ERROR_RESPONSES)
def entity(entity_id: str, actor: CurrentActor, service: AllocationDep) -> dict[str, Any]:
    """An entity's allocation per year and what it owes."""
    may_read_entity(actor, entity_id)
    return {"ok": True, **service.entity_allocations(entity_id)}


@router.get("/entities/{entity_id}/years/{year}", responses=ERROR_RESPONSES)
def entity_trace(entity_id: str, year: int, actor: CurrentActor, service: AllocationDep) -> dict[str, Any]:
    """Every allocation line of an entity-year (the trace)."""
    may_read_entity(actor, entity_id)
    return {"ok": True, **service.trace(entity_id, year)}
