"""Compliance over HTTP, under `/api/compliance`: years, surrender, positions, status, mandatory
compliance, close and penalties, the public list, risk, banking.

Thin by design: each route parses its body, takes the actor from the bearer token and calls one
`Compliance` use case, which does every check (who may act is the service's rule: an entity's
representative for its own entity, a provincial authority for its province, the regulator for
opening and closing). Conventions are the registry API's (api/registry.py): writes carry a
client-chosen `id`, answer 201 `created` or 200 `exists`, and refuse in the one error shape.
`compliance_out_of_province` answers 403 like `forbidden`: understood, but not this actor's to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, error_response, outcome_response
from carbonmarket.api.registry import Quantity
from carbonmarket.compliance.service import Compliance
from carbonmarket.core.results import Code, Outcome, Refusal, Refused

router = APIRouter(prefix="/api/compliance", tags=["compliance"])
SCOPE_CODES = frozenset({Code.COMPLIANCE_OUT_OF_PROVINCE})


def outcome(result: Outcome) -> JSONResponse:
    """A write's outcome in the API's shape, with province refusals as 403."""
    if isinstance(result, Refusal) and result.code in SCOPE_CODES:
        return error_response(result.code.value, result.message, 403, result.details or None)
    return outcome_response(result)


def answer(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | JSONResponse:
    """Run a query: `{"ok": true, ...}`, or its refusal in the API's shape."""
    try:
        return {"ok": True, **call()}
    except Refused as refused:
        if refused.refusal.code in SCOPE_CODES:
            return outcome(refused.refusal)
        raise


def compliance_service(services: ServicesDep) -> Compliance:
    """The compliance use cases over the app's database."""
    return Compliance(services.engine)


ComplianceDep = Annotated[Compliance, Depends(compliance_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class OpenIn(Body):
    """Open a compliance year for surrender."""

    id: StrictStr = Field(description="Command id.")
    year: StrictInt


class ItemIn(Body):
    """One surrender line."""

    instrument: StrictStr = Field(description="CEA24, CEA19-20, CCER-<PROJECT>-<YYYY>")
    quantity: Quantity


class SurrenderIn(Body):
    """A surrender of allowances and CCERs for an entity."""

    id: StrictStr = Field(description="Command id; names the ledger batch CS-<id>.")
    entity_id: StrictStr
    items: list[ItemIn] = Field(min_length=1, max_length=50)


class CloseIn(Body):
    """Close a year; the Art. 24 price defaults to the exchange's monthly average."""

    id: StrictStr = Field(description="Command id.")
    price_fen: StrictInt | None = Field(None, description="Fen per tonne of the month before the deadline.")
    multiple: StrictInt | None = Field(None, description="Fine multiple, 5-10 (R Art. 24).")


class MandatoryIn(Body):
    """Mandatory compliance for one entity or every owing entity of a province."""

    id: StrictStr = Field(description="Command id.")
    entity_id: StrictStr | None = None
    province: StrictStr | None = None
    source_account: StrictStr | None = Field(
        None, description="A provincial account (differentiated allocation)."
    )
    held: Quantity | None = Field(None, description="Tonnes of source_account held for the entity.")


class AuthorityIn(Body):
    """Assign a provincial authority user to a province."""

    username: StrictStr
    province: StrictStr


class BankingIn(Body):
    """A banking application; `id` is the application id."""

    id: StrictStr
    entity_id: StrictStr
    quantity: Quantity


class ConvertIn(Body):
    """Convert a banking application."""

    id: StrictStr = Field(description="Command id.")


# --- years ------------------------------------------------------------------------------------------


@router.get("/years", responses=ERROR_RESPONSES)
def years(service: ComplianceDep) -> dict[str, Any]:
    """Configured compliance years with their deadline, vintages and state (public)."""
    return {"ok": True, "years": service.years()}


@router.post("/years", status_code=201, responses=WRITE_RESPONSES)
def open_year(body: OpenIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Open a year for surrender (regulator)."""
    return outcome(service.open_year(actor, body.id, body.year))


@router.post("/years/{year}/close", status_code=201, responses=WRITE_RESPONSES)
def close_year(year: int, body: CloseIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Close a year after its deadline (regulator): results, penalties, cuts, the public list."""
    return outcome(service.close_year(actor, body.id, year, body.price_fen, body.multiple))


# --- surrender and positions -----------------------------------------------------------------------------


@router.post("/years/{year}/surrenders", status_code=201, responses=WRITE_RESPONSES)
def surrender(year: int, body: SurrenderIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Surrender for an entity (its representative: the initiate right on `<entity>-H`)."""
    items = [(item.instrument, item.quantity) for item in body.items]
    return outcome(service.surrender(actor, body.id, body.entity_id, year, items))


@router.get("/years/{year}/entities/{entity_id}", responses=ERROR_RESPONSES)
def position(year: int, entity_id: str, actor: CurrentActor, service: ComplianceDep) -> Any:
    """An entity's position: obligation, owed, surrendered by instrument, offset room, holdings."""
    return answer(lambda: service.position(actor, entity_id, year))


@router.get("/years/{year}/entities/{entity_id}/trace", responses=ERROR_RESPONSES)
def trace(year: int, entity_id: str, actor: CurrentActor, service: ComplianceDep) -> Any:
    """The compliance link of the entity-year's chain (who may see the position may see this)."""

    def read() -> dict[str, Any]:
        service.position(actor, entity_id, year)
        return service.trace(entity_id, year)

    return answer(read)


@router.get("/years/{year}/status", responses=ERROR_RESPONSES)
def status(
    year: int,
    actor: CurrentActor,
    service: ComplianceDep,
    province: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 100,
) -> Any:
    """Status per entity and the compliance rate (regulator; a provincial authority for its province)."""
    return answer(lambda: service.status(actor, year, province, limit))


# --- mandatory compliance, close, penalties ----------------------------------------------------------------


@router.post("/years/{year}/mandatory", status_code=201, responses=WRITE_RESPONSES)
def mandatory(year: int, body: MandatoryIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Order the registry to surrender for an entity (or a province) what it holds, up to what it owes."""
    if (body.entity_id is None) == (body.province is None):
        return error_response(Code.INVALID_REQUEST.value, "give exactly one of entity_id and province", 422)
    if body.province is not None:
        return outcome(service.mandatory_province(actor, body.id, body.province, year))
    assert body.entity_id is not None
    return outcome(service.mandatory(actor, body.id, body.entity_id, year, body.source_account, body.held))


@router.get("/years/{year}/penalties", responses=ERROR_RESPONSES)
def penalties(year: int, actor: CurrentActor, service: ComplianceDep, province: str | None = None) -> Any:
    """A closed year's Art. 24 penalties and allocation cuts."""
    return answer(lambda: service.penalties(actor, year, province))


@router.get("/list", responses=ERROR_RESPONSES)
def public_list(service: ComplianceDep, year: int | None = None) -> Any:
    """The public compliance list of a closed year (no sign-in needed)."""
    return answer(lambda: service.public_list(year))


@router.get("/years/{year}/risk", responses=ERROR_RESPONSES)
def risk(
    year: int,
    actor: CurrentActor,
    service: ComplianceDep,
    province: str | None = None,
    price_fen: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    """Compliance risk per entity and alerts before the deadline (the provincial dashboard's data)."""
    return answer(lambda: service.risk(actor, year, province, price_fen))


@router.post("/authorities", status_code=201, responses=WRITE_RESPONSES)
def assign_authority(body: AuthorityIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Assign a provincial authority user to a province (regulator)."""
    return outcome(service.assign_authority(actor, body.username, body.province))


# --- banking ---------------------------------------------------------------------------------------------


@router.get("/banking/{entity_id}/limit", responses=ERROR_RESPONSES)
def banking_limit(entity_id: str, actor: CurrentActor, service: ComplianceDep) -> Any:
    """The entity's banking limit T now (A 附5)."""
    return answer(lambda: service.banking_limit(actor, entity_id))


@router.post("/banking", status_code=201, responses=WRITE_RESPONSES)
def apply_banking(body: BankingIn, actor: CurrentActor, service: ComplianceDep) -> JSONResponse:
    """Apply to convert old vintages into 2025 allowances (the entity's representative)."""
    return outcome(service.apply_banking(actor, body.id, body.entity_id, body.quantity))


@router.post("/banking/{application_id}/convert", status_code=201, responses=WRITE_RESPONSES)
def convert(
    application_id: str, body: ConvertIn, actor: CurrentActor, service: ComplianceDep
) -> JSONResponse:
    """Convert an application (regulator): old vintages deleted, CEA25 issued and delivered."""
    return outcome(service.convert(actor, body.id, application_id))
