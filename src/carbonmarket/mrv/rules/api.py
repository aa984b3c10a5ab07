"""The validation model over HTTP: the catalogue (public reading) and a dry-run check of a record.

Thin (DESIGN.md `api.py`): parse, call the pure engine, answer. The catalogue is public: entities
must be able to read the rules their data is judged by. The dry run stores nothing, so it needs no
rights beyond being signed in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.errors import ERROR_RESPONSES, refusal_response
from carbonmarket.core.results import Code, Refusal, Refused
from carbonmarket.mrv.model import RuleCategory, Sector
from carbonmarket.mrv.rules.catalogue import catalogue, catalogue_version, rule_by_id
from carbonmarket.mrv.rules.engine import evaluate, findings_json, parse_check_request

router = APIRouter(prefix="/api/mrv/rules", tags=["mrv-rules"])

Number = float | int | str


class PreviousIn(BaseModel):
    """An earlier month of the same facility."""

    model_config = ConfigDict(extra="forbid")
    year: int
    month: int
    values: dict[str, Number] = Field(default_factory=dict)


class CheckIn(BaseModel):
    """A monthly record to judge, with its facility context and earlier months; nothing is stored."""

    model_config = ConfigDict(extra="forbid")
    sector: str
    entity_id: str = Field(default="entity", max_length=64)
    facility_id: str = Field(default="facility", max_length=64)
    year: int
    month: int
    values: dict[str, Number] = Field(default_factory=dict)
    context: dict[str, Number] = Field(default_factory=dict)
    previous: list[PreviousIn] = Field(default_factory=list)


@router.get("", responses=ERROR_RESPONSES)
def list_rules(
    _actor: OptionalActor,
    sector: Sector | None = Query(default=None),
    category: RuleCategory | None = Query(default=None),
) -> dict[str, Any]:
    """The catalogue, optionally of one sector or category."""
    rules = [
        r.as_json()
        for r in catalogue()
        if (sector is None or sector in r.sectors) and (category is None or r.category is category)
    ]
    return {"ok": True, "version": catalogue_version(), "count": len(rules), "rules": rules}


@router.get("/{rule_id}", responses=ERROR_RESPONSES, response_model=None)
def show_rule(rule_id: str, _actor: OptionalActor) -> dict[str, Any] | JSONResponse:
    """One rule with its check, rationale and source."""
    rule = rule_by_id(rule_id)
    if rule is None:
        return refusal_response(Refusal(Code.UNKNOWN_RULE, f"there is no rule {rule_id!r}"))
    return {"ok": True, **rule.as_json()}


@router.post("/check", responses=ERROR_RESPONSES, response_model=None)
def check_record(body: CheckIn, _actor: CurrentActor) -> dict[str, Any] | JSONResponse:
    """Judge a record against the catalogue (a dry run: live feedback while entering data)."""
    try:
        record, previous, context = parse_check_request(body.model_dump())
    except Refused as refused:
        return refusal_response(refused.refusal)
    findings = evaluate(record, previous, context=context)
    return {"ok": True, "findings": findings_json(findings)}
