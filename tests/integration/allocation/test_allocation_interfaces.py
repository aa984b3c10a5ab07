"""Allocation through the CLI (`carbonmarket allocation ...`) and the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from allocation_helpers import ACTIVITY_HEADER, Market, done, market
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carbonmarket.allocation.service import packaged_plan_text
from carbonmarket.api.app import create_app
from carbonmarket.cli import app as cli_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity

SECRET = "allocation-api-test-secret-0123456789abcdef"
PASSWORD = "a-long-enough-password"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens are minted directly, so hashing strength does not matter here."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


def small_market(db_url: str) -> Market:
    m = market(make_engine(db_url))
    m.power_entity("E1", ("E1-U1", "coal", "600", "water"))
    m.power_entity("E2", ("E2-U1", "gas", "300", "water"))
    m.verify("E1", 2022, 2_000_000)
    m.verify("E2", 2022, 300_000)
    return m


def cli(db_url: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = CliRunner().invoke(cli_app, [*args, "--db", db_url, "--json"])
    assert (result.exit_code == 0) is ok, result.output
    parsed: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return parsed


def test_a_regulator_runs_the_year_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    m = small_market(db_url)
    assert cli(db_url, "allocation", "plan", "load", "power-2023")["kind"] == "power_benchmark"
    assert cli(db_url, "allocation", "plan", "publish", "power-2023", "--id", "pub-1")["version"] == 1
    assert cli(db_url, "allocation", "plan", "list")["plans"][0]["plan_id"] == "power-2023"
    activity = tmp_path / "activity.csv"
    activity.write_text(
        "\n".join(
            [ACTIVITY_HEADER, "E1,E1-U1,2023,3000000,,2000000,0.60,,,", "E2,E2-U1,2023,1000000,,0,0.7,,,"]
        )
    )
    assert cli(db_url, "allocation", "import-activity", str(activity))["stored"] == 2
    calc = cli(db_url, "allocation", "calc", "--year", "2023")
    assert calc["dry_run"] and calc["summary"]["preallocation_t"] == 1_400_000 + 210_000
    issued = cli(db_url, "allocation", "issue", "--year", "2023", "--id", "pre-23")
    assert issued["result"] == "created" and issued["delivered_t"] == 1_610_000
    assert cli(db_url, "allocation", "issue", "--year", "2023", "--id", "pre-23")["result"] == "exists"
    again = cli(db_url, "allocation", "issue", "--year", "2023", "--id", "pre-23b", ok=False)
    assert again == {"ok": False, "code": "allocation_already_preallocated", "message": again["message"]}
    m.verify("E1", 2023, 2_800_000)
    m.verify("E2", 2023, 350_000)
    trued = cli(db_url, "allocation", "true-up", "--year", "2023", "--id", "tu-23")
    # E1: 2,738,953 (vector 4) − 1,400,000; E2: gas topped up to 350,000 − 210,000.
    assert trued["delivered_t"] == (2_738_953 - 1_400_000) + (350_000 - 210_000)
    trace = cli(db_url, "allocation", "trace", "E1", "--year", "2023")
    assert trace["position"]["final_t"] == 2_738_953
    assert cli(db_url, "allocation", "show", "--year", "2023")["sectors"][0]["final_t"] == 2_738_953 + 350_000
    refused = cli(db_url, "allocation", "calc", "--year", "2031", ok=False)
    assert refused["code"] == "allocation_no_plan_for_year"
    assert m.reconciles()


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Market]]:
    m = small_market(db_url)
    identity = Identity(m.engine, SECRET)
    for user, role in (
        ("mee", "regulator"),
        ("rep1", "entity_representative"),
        ("rep2", "entity_representative"),
    ):
        done(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role))
    headers = {
        user: {"Authorization": f"Bearer {identity.token_for(identity.actor(user))}"}
        for user in ("mee", "rep1")
    }
    app = create_app(db_url, Settings(jwt_secret=SECRET))
    with TestClient(app) as client:
        yield client, headers, m


def test_the_api_publishes_runs_and_lets_a_representative_read_only_its_own_entity(
    api: tuple[TestClient, dict[str, dict[str, str]], Market],
) -> None:
    client, headers, m = api
    mee, rep = headers["mee"], headers["rep1"]
    plan = {"id": "pub-1", "toml": packaged_plan_text("power-2023")}
    assert client.post("/api/allocation/plans", json=plan, headers=rep).status_code == 403
    assert client.post("/api/allocation/plans", json=plan, headers=mee).status_code == 201
    assert client.post("/api/allocation/plans", json=plan, headers=mee).status_code == 200  # exists
    assert client.get("/api/allocation/plans").json()["plans"][0]["version"] == 1  # public
    csv = "\n".join(
        [ACTIVITY_HEADER, "E1,E1-U1,2023,3000000,,2000000,0.60,,,", "E2,E2-U1,2023,1000000,,0,0.7,,,"]
    )
    assert client.post("/api/allocation/activity", json={"csv": csv}, headers=mee).json()["stored"] == 2
    run = client.post("/api/allocation/preallocations", json={"id": "pre-23", "year": 2023}, headers=mee)
    assert run.status_code == 201 and run.json()["delivered_t"] == 1_610_000
    second = client.post("/api/allocation/preallocations", json={"id": "pre-23b", "year": 2023}, headers=mee)
    assert second.status_code == 422 and second.json()["code"] == "allocation_already_preallocated"
    early = client.post("/api/allocation/true-ups", json={"id": "tu", "year": 2023}, headers=mee)
    assert early.json()["code"] == "allocation_missing_verified"
    # The representative of E1 holds a right on E1-H: it reads E1, not E2.
    identity = Identity(m.engine, SECRET)
    done(identity.grant(LOCAL_OPERATOR, "rep1", "E1-H", "view"))
    rep = {"Authorization": f"Bearer {identity.token_for(identity.actor('rep1'))}"}
    own = client.get("/api/allocation/entities/E1", headers=rep)
    assert own.status_code == 200 and own.json()["years"][0]["preallocated_t"] == 1_400_000
    assert client.get("/api/allocation/entities/E2", headers=rep).status_code == 403
    assert client.get("/api/allocation/calc?year=2023", headers=rep).status_code == 403
    assert client.get("/api/allocation/calc?year=2023&entity=E1", headers=rep).status_code == 200
    lines = client.get("/api/allocation/entities/E1/years/2023", headers=rep).json()
    assert lines["runs"][0]["lines"][0]["result_t"] == 1_400_000
    bad = client.post(
        "/api/allocation/preallocations", json={"id": "x", "year": 2023, "extra": 1}, headers=mee
    )
    assert bad.status_code == 422 and bad.json()["ok"] is False
    assert m.reconciles()
