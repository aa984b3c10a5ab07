"""The validation model through its CLI (`rules_app`) and its API router (`/api/mrv/rules`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carbonmarket.api.auth import current_actor, optional_actor
from carbonmarket.api.errors import install_error_handlers
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.mrv.rules.api import router
from carbonmarket.mrv.rules.catalogue import catalogue
from carbonmarket.mrv.rules.cli import rules_app

RECORD: dict[str, Any] = {
    "sector": "power",
    "entity_id": "E1",
    "facility_id": "U1",
    "year": 2024,
    "month": 6,
    "values": {
        "coal_consumed_t": "160000",
        "coal_ncv_gj_per_t": 21.5,
        "gas_consumed_10k_nm3": 0,
        "electricity_generated_mwh": 338000,
        "electricity_supplied_mwh": 360000,
        "heat_supplied_gj": 150000,
        "operating_hours_h": 700,
        "load_rate_fraction": 0.8,
    },
    "context": {"capacity_mw": 600, "unit_category": "I"},
    "previous": [{"year": 2024, "month": 5, "values": {"coal_consumed_t": 150000}}],
}

runner = CliRunner()


def cli(*args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(rules_app, [*args, "--json"])
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert (result.exit_code == 0) is ok, result.output
    return data


def test_cli_lists_the_catalogue_and_filters_by_sector_and_category() -> None:
    assert len(cli("list")["rules"]) == len(catalogue())
    cement = cli("list", "--sector", "cement", "--category", "standard_value")["rules"]
    assert cement and all("cement" in r["sectors"] and r["category"] == "standard_value" for r in cement)
    assert cli("list", "--sector", "shipping", ok=False)["code"] == "invalid_request"


def test_cli_shows_one_rule_and_refuses_an_unknown_one() -> None:
    shown = cli("show", "PWR-EXT-014")
    assert shown["check"].startswith("electricity_generated_mwh <= 0") and shown["rationale"]
    assert cli("show", "PWR-EXT-999", ok=False)["code"] == "unknown_rule"


def test_cli_checks_a_record_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(RECORD))
    rules = {f["rule_id"] for f in cli("check", str(path))["findings"]}
    assert "PWR-EXT-014" in rules  # supply above generation
    path.write_text("{not json")
    assert cli("check", str(path), ok=False)["code"] == "invalid_record"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[current_actor] = lambda: LOCAL_OPERATOR
    app.dependency_overrides[optional_actor] = lambda: None
    return TestClient(app)


def test_api_lists_rules_and_shows_one(client: TestClient) -> None:
    listed = client.get("/api/mrv/rules", params={"sector": "aluminium"}).json()
    assert listed["count"] == len([r for r in catalogue() if "aluminium" in [s.value for s in r.sectors]])
    assert client.get("/api/mrv/rules/ALU-STD-001").json()["id"] == "ALU-STD-001"
    missing = client.get("/api/mrv/rules/ALU-STD-999")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_rule"


def test_api_dry_run_returns_findings_and_refuses_bad_records(client: TestClient) -> None:
    checked = client.post("/api/mrv/rules/check", json=RECORD)
    assert checked.status_code == 200
    assert "PWR-EXT-014" in {f["rule_id"] for f in checked.json()["findings"]}
    bad = client.post("/api/mrv/rules/check", json=RECORD | {"sector": "shipping"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_record"
    text = client.post("/api/mrv/rules/check", json=RECORD | {"values": {"coal_consumed_t": "lots"}})
    assert text.status_code == 422 and text.json()["code"] == "invalid_record"
