"""The roster over HTTP: search and read entities (public), keep the roster and import files (keepers).

Thin by design: each route parses, takes the actor from the bearer token and calls one `Roster`
use case, which does every check. Write conventions as in `carbonmarket.api.registry`: the body
carries the client-chosen command id as `id` (an entity's and a facility's id is its command id),
201 `created`, 200 `exists` on a replay, `{"ok": false, "code", "message"}` on a refusal; only
regulators and registry operators may write. The roster is public, as the published lists of key
emitting entities are; who made each change is shown to keepers only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import services
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, outcome_response
from carbonmarket.mrv.roster.importer import file_bytes_max
from carbonmarket.mrv.roster.service import KEEPERS, Roster, page_size_max


def roster(request: Request) -> Roster:
    """The roster use cases over the app's database."""
    return Roster(services(request).engine)


RosterDep = Annotated[Roster, Depends(roster)]
router = APIRouter(prefix="/api/mrv/roster", tags=["mrv roster"])
Value = StrictStr | StrictInt | StrictFloat | None


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EntityIn(Body):
    """A new roster entity; `id` is the entity id and the command id."""

    id: StrictStr
    name: StrictStr
    sector: StrictStr = Field(description="power | steel | cement | aluminium")
    province: StrictStr
    city: StrictStr | None = None
    inclusion_year: StrictInt | None = None
    status: StrictStr = Field("active", description="active | suspended | removed")
    reason: StrictStr = "listed on the roster"


class ChangeIn(Body):
    """Fields to change and why; the old values stay in the history."""

    id: StrictStr = Field(description="Command id.")
    set_: dict[str, Value] = Field(alias="set", description="field → new value; null clears it.")
    reason: StrictStr


class FacilityIn(Body):
    """A power unit (fuel, capacity_mw, cooling) or a process line (line_type); `id` is the facility id."""

    id: StrictStr
    name: StrictStr | None = None
    fuel: StrictStr | None = Field(None, description="coal | unconventional_coal | cfb | gas")
    capacity_mw: StrictStr | StrictInt | StrictFloat | None = Field(None, description="Rated power, MW.")
    cooling: StrictStr | None = Field(None, description="water | air")
    plan: StrictStr | None = Field(None, description="Allocation plan of the category; default 2023-2024.")
    line_type: StrictStr | None = None
    capacity_t_per_year: StrictInt | None = None
    reason: StrictStr = "facility recorded"


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _write(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a write route: 201 on `created`, 200 on `exists`."""
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


# --- reads --------------------------------------------------------------------------------------


@router.get("/entities", responses=ERROR_RESPONSES)
def list_entities(
    _actor: OptionalActor,
    service: RosterDep,
    q: Annotated[str | None, Query(max_length=200, description="Part of an entity id or name.")] = None,
    sector: str | None = None,
    province: str | None = None,
    status: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=page_size_max)] = 50,
) -> dict[str, Any]:
    """Roster entities by id, searched and filtered, a page at a time."""
    return {"ok": True, **service.entities(q, sector, province, status, page, page_size)}


@router.get("/entities/{entity_id}", responses=ERROR_RESPONSES)
def entity_detail(entity_id: str, actor: OptionalActor, service: RosterDep) -> dict[str, Any]:
    """An entity with its facilities, its history of changes and its reported emissions."""
    detail = service.entity_detail(entity_id)
    if actor is None or not (actor.superuser or actor.role in KEEPERS):
        detail["history"] = [{k: v for k, v in h.items() if k != "actor"} for h in detail["history"]]
    return {"ok": True, **detail}


@router.get("/facilities/{facility_id}", responses=ERROR_RESPONSES)
def facility_detail(facility_id: str, _actor: OptionalActor, service: RosterDep) -> dict[str, Any]:
    """A facility; capacity in MW as decimal text."""
    facility = service.facility(facility_id)
    capacity = facility["capacity_mw"]
    return {"ok": True, "facility": {**facility, "capacity_mw": None if capacity is None else str(capacity)}}


@router.get("/inclusion", responses=ERROR_RESPONSES)
def inclusion(
    _actor: OptionalActor,
    service: RosterDep,
    year: int,
    threshold: Annotated[int | None, Query(description="t CO2e; default 26,000 (DOMAIN.md §1).")] = None,
    limit: Annotated[int, Query(ge=0, le=page_size_max)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Who is in for a year at a threshold, from every import; largest emitters first."""
    return {"ok": True, **service.inclusion(year, threshold, limit, offset)}


# --- writes -------------------------------------------------------------------------------------


@_write("/entities")
def add_entity(body: EntityIn, actor: CurrentActor, service: RosterDep) -> JSONResponse:
    """Put an entity on the roster (regulators and registry operators)."""
    return outcome_response(
        service.add_entity(
            actor,
            body.id,
            body.name,
            body.sector,
            body.province,
            body.city,
            body.inclusion_year,
            body.status,
            body.reason,
        )
    )


@_write("/entities/{entity_id}/changes")
def change_entity(entity_id: str, body: ChangeIn, actor: CurrentActor, service: RosterDep) -> JSONResponse:
    """Change an entity's fields or status, with a reason kept in its history."""
    return outcome_response(service.change_entity(actor, body.id, entity_id, body.set_, body.reason))


@_write("/entities/{entity_id}/facilities")
def add_facility(entity_id: str, body: FacilityIn, actor: CurrentActor, service: RosterDep) -> JSONResponse:
    """Record a power unit (its category derived) or a process line of an entity."""
    capacity: Any = body.capacity_mw
    return outcome_response(
        service.add_facility(
            actor,
            body.id,
            entity_id,
            name=body.name,
            fuel=body.fuel,
            capacity_mw=None if capacity is None else str(capacity),
            cooling=body.cooling,
            plan=body.plan,
            line_type=body.line_type,
            capacity_t_per_year=body.capacity_t_per_year,
            reason=body.reason,
        )
    )


@_write("/facilities/{facility_id}/changes")
def change_facility(
    facility_id: str, body: ChangeIn, actor: CurrentActor, service: RosterDep
) -> JSONResponse:
    """Change a facility; a power unit's category follows its fuel and rated power."""
    return outcome_response(service.change_facility(actor, body.id, facility_id, body.set_, body.reason))


@_write("/imports")
def import_file(
    actor: CurrentActor,
    service: RosterDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or .xlsx; long or wide layout.")],
    id: Annotated[str | None, Form(description="Command id; default: from the file's sha256.")] = None,
    year: Annotated[int | None, Form(description="Year to summarise; default: the file's latest.")] = None,
    threshold: Annotated[int | None, Form(description="t CO2e; default 26,000 (DOMAIN.md §1).")] = None,
) -> JSONResponse:
    """Import an emissions file in one transaction; answers rows, included, excluded, rejected for a year."""
    # One byte past the limit is enough for the service to refuse the file as too large.
    data = file.file.read(file_bytes_max + 1)
    return outcome_response(service.import_file(actor, data, file.filename or "upload", year, threshold, id))
