"""The records API and the entry page over HTTP, on SQLite and PostgreSQL.

The routers are mounted on a small app of their own, as `api/app.py` will mount them once the lead
wires them (the shared app is not this part's to edit); auth, services and error handling are the
real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from carbonmarket.api.deps import Services
from carbonmarket.api.errors import install_error_handlers
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.model import Finding, MonthlyRecord, RuleCategory, Sector, Severity, parameters_of
from carbonmarket.mrv.records import api, pages, service
from carbonmarket.registry.service import Registry

SECRET = "records-api-test-secret-0123456789abcdef0123"
PASSWORD = "correct horse battery"
MONTH = {
    "entity_id": "E-1",
    "facility_id": "UNIT-1",
    "sector": "power",
    "year": 2024,
    "month": 1,
    "values": {
        "coal_consumed_t": "1000",
        "coal_ncv_gj_per_t": 20.5,
        "gas_consumed_10k_nm3": 0,
        "electricity_generated_mwh": "3000",
        "electricity_supplied_mwh": "2800",
        "heat_supplied_gj": "0",
        "operating_hours_h": "600",
        "load_rate_fraction": "0.7",
        "oil_consumed_t": None,
    },
    "evidence": {"lab_report_id": "LR-2024-01"},
}


class Client:
    """The app over HTTP with one token per user."""

    def __init__(self, client: TestClient, identity: Identity) -> None:
        self.client = client
        self.identity = identity

    def headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        return {"Authorization": f"Bearer {self.identity.token_for(self.identity.actor(user))}"}

    def post(self, path: str, user: str | None, body: dict[str, Any]) -> Any:
        return self.client.post(path, json=body, headers=self.headers(user))

    def get(self, path: str, user: str | None) -> Any:
        return self.client.get(path, headers=self.headers(user))


@pytest.fixture(autouse=True)
def stub_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A validation model that warns about load rates below 0.5 and refuses coal NCV above 30 GJ/t."""

    def evaluate(record: MonthlyRecord, _previous: Any) -> list[Finding]:
        found = []
        if record.values.get("load_rate_fraction", 1) < 0.5:
            found.append(
                Finding("T-LOAD", RuleCategory.THRESHOLD, Severity.WARNING, "load_rate_fraction", "low")
            )
        if record.values.get("coal_ncv_gj_per_t", 0) > 30:
            found.append(
                Finding("T-NCV", RuleCategory.EXTREME, Severity.ERROR, "coal_ncv_gj_per_t", "NCV > 30")
            )
        return found

    monkeypatch.setattr(service, "evaluate_rules", evaluate)


@pytest.fixture
def http(db_url: str) -> Iterator[Client]:
    engine = make_engine(db_url)
    identity = Identity(engine, SECRET)
    for user, role in (("rep", "entity_representative"), ("regulator", "regulator"), ("citizen", "public")):
        assert isinstance(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role), Done)
    app = FastAPI()
    app.state.services = Services(engine, Settings(jwt_secret=SECRET), Registry(engine), identity, None)
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("carbonmarket.web", "static")]), name="static")
    with TestClient(app) as client:
        yield Client(client, identity)
    engine.dispose()


def test_submit_replay_and_refuse_a_second_submission_of_the_month(http: Client) -> None:
    created = http.post("/api/mrv/records", "rep", {"id": "m-1", **MONTH})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["ok"], body["result"], body["record_id"], body["version"]) == (
        True,
        "created",
        "UNIT-1/2024-01/v1",
        1,
    )
    assert body["estimate_tco2e"] == "2295.7"
    replay = http.post("/api/mrv/records", "rep", {"id": "m-1", **MONTH})
    assert (replay.status_code, replay.json()["result"]) == (200, "exists")
    again = http.post("/api/mrv/records", "rep", {"id": "m-2", **MONTH})
    assert (again.status_code, again.json()["code"]) == (422, "record_month_already_submitted")
    other_body = http.post("/api/mrv/records", "rep", {"id": "m-1", **MONTH, "month": 2})
    assert (other_body.status_code, other_body.json()["code"]) == (409, "exists_with_different_fields")


def test_a_correction_over_http_keeps_the_history(http: Client) -> None:
    http.post("/api/mrv/records", "rep", {"id": "m-1", **MONTH})
    changed = {**MONTH, "values": {**MONTH["values"], "coal_consumed_t": "1010"}}
    no_reason = http.post("/api/mrv/records", "rep", {"id": "m-2", **changed, "correct": True})
    assert no_reason.json()["code"] == "record_correction_reason_required"
    fixed = http.post(
        "/api/mrv/records", "rep", {"id": "m-3", **changed, "correct": True, "reason": "re-weighed"}
    )
    assert fixed.status_code == 201 and fixed.json()["supersedes"] == "UNIT-1/2024-01/v1"
    history = http.get("/api/mrv/records/E-1/2024", "regulator").json()
    assert [(r["version"], r["current"]) for r in history["records"]] == [(1, False), (2, True)]


def test_refusals_list_every_problem_and_the_rules_errors(http: Client) -> None:
    bad = {**MONTH, "values": {**MONTH["values"], "coal_consumed_t": "-1", "heat_supplied_gj": "some"}}
    answer = http.post("/api/mrv/records", "rep", {"id": "m-1", **bad})
    assert answer.status_code == 422
    assert {p["code"] for p in answer.json()["details"]["problems"]} == {
        "record_value_negative",
        "record_value_not_a_number",
    }
    hot = {**MONTH, "values": {**MONTH["values"], "coal_ncv_gj_per_t": "31"}}
    rejected = http.post("/api/mrv/records", "rep", {"id": "m-2", **hot})
    assert rejected.json()["code"] == "record_rejected_by_rules"
    assert rejected.json()["details"]["findings"][0]["rule_id"] == "T-NCV"
    misspelt = http.post("/api/mrv/records", "rep", {"id": "m-3", **MONTH, "colour": "red"})
    assert (misspelt.status_code, misspelt.json()["code"]) == (422, "invalid_request")


def test_the_check_is_a_dry_run_with_findings(http: Client) -> None:
    low = {**MONTH, "values": {**MONTH["values"], "load_rate_fraction": "0.3"}}
    answer = http.post("/api/mrv/records/check", "rep", low)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["valid"], body["estimate_tco2e"], body["submitted_version"]) == (True, "2295.7", None)
    assert [f["rule_id"] for f in body["findings"]] == ["T-LOAD"]
    assert http.get("/api/mrv/records/E-1/2024", "regulator").json()["records"] == []


def test_the_annual_report_over_http(http: Client) -> None:
    for month in (1, 2):
        http.post("/api/mrv/records", "rep", {"id": f"m-{month}", **MONTH, "month": month})
    report = http.get("/api/mrv/records/E-1/2024/report", "regulator")
    assert report.status_code == 200
    # 2 × (1,000 t × 20.5 GJ/t × 0.03085 × 0.99 × 44/12) = 2 × 2,295.70275 = 4,591.4055 t → 4,591 t
    assert report.json()["emissions_tco2e"] == 4591
    assert http.get("/api/mrv/records/E-9/2024/report", "regulator").status_code == 404
    assert http.get("/api/mrv/records/E-1/2024/report?gwp=AR9", "regulator").status_code == 422
    assert http.get("/api/mrv/records/E-1/1999", "regulator").status_code == 422


def test_who_may_do_what(http: Client) -> None:
    anonymous = http.post("/api/mrv/records", None, {"id": "m-1", **MONTH})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    public = http.post("/api/mrv/records", "citizen", {"id": "m-1", **MONTH})
    assert (public.status_code, public.json()["code"]) == (403, "forbidden")
    assert http.get("/api/mrv/records/E-1/2024", "citizen").status_code == 403
    assert http.get("/api/mrv/records/E-1/2024/report", "citizen").status_code == 403


def test_monitoring_plans_over_http(http: Client) -> None:
    plan = {
        "id": "plan-1",
        "entity_id": "E-1",
        "facility_id": "UNIT-1",
        "sector": "power",
        "valid_from_year": 2024,
        "valid_from_month": 1,
        "parameters": {"coal_consumed_t": {"method": "measured", "meter_ids": ["BELT-1"]}},
    }
    assert http.post("/api/mrv/records/plans", "rep", plan).status_code == 201
    shown = http.get("/api/mrv/records/plans/UNIT-1", "regulator").json()
    assert shown["versions"][0]["parameters"]["coal_consumed_t"]["meter_ids"] == ["BELT-1"]
    assert http.get("/api/mrv/records/plans/UNIT-9", "regulator").status_code == 404


def test_the_entry_page_has_a_field_per_catalogue_parameter_and_no_inline_script(http: Client) -> None:
    page = http.client.get("/mrv/entry")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    for sector in Sector:
        for spec in parameters_of(sector):
            assert f'id="{sector.value}-{spec.name}" data-parameter="{spec.name}"' in html
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert all(not body.strip() for body in scripts)
    assert '<script type="module" src="/static/mrv_entry.js"></script>' in html
    assert " style=" not in html
    script = http.client.get("/static/mrv_entry.js")
    assert script.status_code == 200 and "/api/mrv/records/check" in script.text
