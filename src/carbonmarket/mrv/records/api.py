"""Monthly records over HTTP: submit, check (a dry run for live feedback), history, annual report, plans.

Thin (DESIGN.md, `api.py`): parse the body, take the actor from the bearer token, call one `Records`
use case. Conventions are the registry's (api/registry.py): writes carry the client's command `id`;
201 `created`, 200 `exists` on a replay, 409 for the id reused with another body; refusals are
`{"ok": false, "code", "message", "details"?}`. Monthly values may be JSON strings ("1234.5", exact)
or numbers (read by their shortest decimal form); the service parses them and refuses text, negative
values and wrong units with its own codes, listing every problem of the record in `details.problems`.

Who may do what (until per-entity rights exist, see the report of issue 3): entity representatives,
regulators and registry operators submit and check; they and reviewers (for the entities of their
region) import files; any signed-in role but `public` reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, outcome_response
from carbonmarket.mrv.records.importer import file_bytes_max
from carbonmarket.mrv.records.model import RawRecord, year_max, year_min
from carbonmarket.mrv.records.service import Records, require_reader

router = APIRouter(prefix="/api/mrv/records", tags=["mrv records"])

# A monthly value as JSON: exact text, a whole number, or a number read by its shortest decimal form.
Value = StrictStr | StrictInt | StrictFloat
Year = Annotated[int, Path(ge=year_min, le=year_max)]


def records(services: ServicesDep) -> Records:
    """The records use cases over the app's database."""
    return Records(services.engine)


RecordsDep = Annotated[Records, Depends(records)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt parameter must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MonthIn(Body):
    """One facility's month: ids, period, parameter values by catalogue name, evidence references."""

    entity_id: StrictStr
    facility_id: StrictStr
    sector: StrictStr = Field(description="power | steel | cement | aluminium")
    year: StrictInt
    month: StrictInt
    values: dict[StrictStr, Value | None] = Field(
        description='Parameter name (mrv/data/parameters.toml) → value; null or "" for not given.'
    )
    evidence: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description='e.g. {"file_sha256": "<64 hex>", "lab_report_id": "LR-2024-031"}'
    )

    def raw(self) -> RawRecord:
        """The month as the service reads raw input."""
        return RawRecord(
            self.entity_id, self.facility_id, self.sector, self.year, self.month, self.values, self.evidence
        )


class SubmissionIn(MonthIn):
    """A month to submit; `correct` with a `reason` makes a new version of a month already submitted."""

    id: StrictStr = Field(description="Command id (rule 4): replaying it returns the first result.")
    correct: bool = False
    reason: StrictStr = ""


class PlanEntryIn(Body):
    """How one parameter is obtained."""

    method: StrictStr = Field(description="measured | calculated | default")
    lab: StrictStr | None = None
    meter_ids: list[StrictStr] = Field(default_factory=list)
    note: StrictStr | None = None


class PlanIn(Body):
    """A facility's monitoring plan, in force from a month on."""

    id: StrictStr = Field(description="Command id.")
    entity_id: StrictStr
    facility_id: StrictStr
    sector: StrictStr
    valid_from_year: StrictInt
    valid_from_month: StrictInt
    parameters: dict[StrictStr, PlanEntryIn]
    reason: StrictStr = Field("", description="Required for a revision (version 2 on).")


@router.post("", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def submit(body: SubmissionIn, actor: CurrentActor, service: RecordsDep) -> JSONResponse:
    """Submit a facility's month; the answer lists the validation model's findings and the version."""
    return outcome_response(
        service.submit_raw(actor, body.id, body.raw(), correct=body.correct, reason=body.reason)
    )


@router.post("/imports", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def import_file(
    actor: CurrentActor,
    service: RecordsDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or .xlsx, one row per facility-month.")],
    id: Annotated[str | None, Form(description="Command id; default: from the file's sha256.")] = None,
    correct: Annotated[bool, Form(description="Months already submitted become corrections.")] = False,
    reason: Annotated[str, Form(description="Why the corrections are made (needed with `correct`).")] = "",
) -> JSONResponse:
    """Import a monthly-data file: valid rows stored together, every other row listed with its reason."""
    # One byte past the limit is enough for the importer to refuse the file as too large.
    data = file.file.read(file_bytes_max + 1)
    return outcome_response(
        service.import_file(actor, data, file.filename, id or None, correct=correct, reason=reason)
    )


@router.post("/check", responses=ERROR_RESPONSES)
def check(body: MonthIn, actor: CurrentActor, service: RecordsDep) -> dict[str, Any]:
    """Evaluate a month without saving it: problems, findings, the month's estimate (for live feedback)."""
    return service.check(actor, body.raw())


@router.post("/plans", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def set_plan(body: PlanIn, actor: CurrentActor, service: RecordsDep) -> JSONResponse:
    """Record a new version of a facility's monitoring plan."""
    parameters = {name: entry.model_dump() for name, entry in body.parameters.items()}
    return outcome_response(
        service.set_plan(
            actor,
            body.id,
            body.entity_id,
            body.facility_id,
            body.sector,
            body.valid_from_year,
            body.valid_from_month,
            parameters,
            body.reason,
        )
    )


@router.get("/plans/{facility_id}", responses=ERROR_RESPONSES)
def plans(facility_id: str, actor: CurrentActor, service: RecordsDep) -> dict[str, Any]:
    """Every version of a facility's monitoring plan."""
    return {"ok": True, **service.plans(actor, facility_id)}


@router.get("/{entity_id}/{year}", responses=ERROR_RESPONSES)
def history(entity_id: str, year: Year, actor: CurrentActor, service: RecordsDep) -> dict[str, Any]:
    """Every version of an entity's monthly records of a year, each marked current or superseded."""
    return {"ok": True, **service.history(actor, entity_id, year)}


@router.get("/{entity_id}/{year}/report", responses=ERROR_RESPONSES)
def annual_report(
    entity_id: str,
    year: Year,
    actor: CurrentActor,
    service: RecordsDep,
    gwp: Annotated[str | None, Query(description="GWP table: AR5 (default) or AR4.")] = None,
) -> dict[str, Any]:
    """The entity's annual emissions (rounded once) with every line, parameter, default and version used."""
    require_reader(actor)
    return {"ok": True, **service.annual_report(entity_id, year, gwp_version=gwp)}
