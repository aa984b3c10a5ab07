"""Compliance over HTTP (the real app, real bearer tokens) and on the command line, on SQLite and
PostgreSQL: roles per route, the error shape, the public list page, and the CLI's JSON and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from compliance_market import MEE, Market, build_market, cheap_hashes, done
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from carbonmarket.api.app import create_app
from carbonmarket.cli import app as cli_app
from carbonmarket.compliance import api as compliance_api
from carbonmarket.compliance.service import Compliance
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.identity.service import Identity

SECRET = "compliance-test-secret-0123456789abcdef"


@pytest.fixture
def market(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Market:
    """The small market with 2024 open; alice represents E1, gd-dee is Guangdong's authority."""
    cheap_hashes(monkeypatch)
    built = build_market(
        engine, users=[("alice", "entity_representative"), ("gd-dee", "provincial_authority")]
    )
    identity = Identity(engine, SECRET)
    done(identity.grant(LOCAL_OPERATOR, "alice", "E1-H", "initiate"))
    done(built.compliance.assign_authority(MEE, "gd-dee", "Guangdong"))
    built.deliver("alloc", [("E1-H", "CEA24", 990_000), ("E1-H", "CEA25", 10), ("E3-H", "CEA24", 50_000)])
    done(built.compliance.open_year(MEE, "open-2024", 2024))
    return built


@pytest.fixture
def client(db_url: str, market: Market) -> Iterator[TestClient]:
    """The real app over the same database, its compliance service on the market's clock."""
    app = create_app(db_url, Settings(jwt_secret=SECRET))
    app.dependency_overrides[compliance_api.compliance_service] = lambda: Compliance(
        market.engine, clock=market.clock, facts=market.facts, prices=market.prices
    )
    with TestClient(app) as opened:
        yield opened


def bearer(engine: Engine, username: str) -> dict[str, str]:
    identity = Identity(engine, SECRET)
    return {"Authorization": f"Bearer {identity.token_for(identity.actor(username))}"}


def test_an_entity_surrenders_over_http_and_only_for_itself(client: TestClient, market: Market) -> None:
    alice = bearer(market.engine, "alice")
    body = {"id": "web-1", "entity_id": "E1", "items": [{"instrument": "CEA24", "quantity": 600_000}]}
    created = client.post("/api/compliance/years/2024/surrenders", json=body, headers=alice)
    assert created.status_code == 201, created.text
    assert (created.json()["owed_t"], created.json()["status"]) == (400_000, "partly")
    assert client.post("/api/compliance/years/2024/surrenders", json=body, headers=alice).status_code == 200
    other = {"id": "web-2", "entity_id": "E3", "items": [{"instrument": "CEA24", "quantity": 1}]}
    forbidden = client.post("/api/compliance/years/2024/surrenders", json=other, headers=alice)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    borrowing = {"id": "web-3", "entity_id": "E1", "items": [{"instrument": "CEA25", "quantity": 10}]}
    refused = client.post("/api/compliance/years/2024/surrenders", json=borrowing, headers=alice)
    assert (refused.status_code, refused.json()["code"]) == (422, "compliance_vintage_not_eligible")
    fraction = {"id": "web-4", "entity_id": "E1", "items": [{"instrument": "CEA24", "quantity": 1.5}]}
    assert client.post("/api/compliance/years/2024/surrenders", json=fraction, headers=alice).json()[
        "code"
    ] == ("quantity_not_integer")
    anonymous = client.post("/api/compliance/years/2024/surrenders", json=body)
    assert anonymous.status_code == 401
    position = client.get("/api/compliance/years/2024/entities/E1", headers=alice).json()
    assert (position["surrendered_t"], position["offset_cap_t"]) == (600_000, 50_000)
    assert client.get("/api/compliance/years/2024/entities/E3", headers=alice).status_code == 403
    assert market.registry.reconcile().ok


def test_roles_decide_who_opens_closes_and_orders(client: TestClient, market: Market) -> None:
    alice, gd, mee = (bearer(market.engine, u) for u in ("alice", "gd-dee", "mee"))
    assert (
        client.post("/api/compliance/years", json={"id": "o", "year": 2025}, headers=alice).status_code == 403
    )
    assert client.get("/api/compliance/years/2024/status", headers=alice).status_code == 403
    status = client.get("/api/compliance/years/2024/status", headers=gd).json()
    assert (status["province"], [r["entity_id"] for r in status["rows"]]) == ("Guangdong", ["E1", "E2"])
    hubei = client.get("/api/compliance/years/2024/status?province=Hubei", headers=gd)
    assert (hubei.status_code, hubei.json()["code"]) == (403, "compliance_out_of_province")
    order = client.post(
        "/api/compliance/years/2024/mandatory", json={"id": "m", "entity_id": "E3"}, headers=gd
    )
    assert (order.status_code, order.json()["code"]) == (403, "compliance_out_of_province")
    market.clock.set(datetime(2026, 1, 5, tzinfo=UTC))
    order = client.post(
        "/api/compliance/years/2024/mandatory", json={"id": "m1", "entity_id": "E1"}, headers=gd
    )
    assert (order.status_code, order.json()["surrendered_t"]) == (201, 990_000)
    assert client.post("/api/compliance/years/2024/close", json={"id": "c"}, headers=gd).status_code == 403
    closed = client.post(
        "/api/compliance/years/2024/close", json={"id": "c", "price_fen": 8_000}, headers=mee
    )
    assert (closed.status_code, closed.json()["rate_percent"]) == (201, "79.20")  # 990,000 / 1,250,000
    public = client.get("/api/compliance/list").json()
    assert [r["entity_id"] for r in public["non_compliant"]] == ["E1", "E2", "E3"]
    page = client.get("/compliance/list")
    assert page.status_code == 200 and "79.20%" in page.text and "E2" in page.text
    assert "Content-Security-Policy" in page.headers


def test_the_risk_dashboard_data_counts_holdings_and_funds(client: TestClient, market: Market) -> None:
    gd = bearer(market.engine, "gd-dee")
    risk = client.get("/api/compliance/years/2024/risk?price_fen=8000", headers=gd).json()
    rows = {r["entity_id"]: r for r in risk["rows"]}
    # E1 owes 1,000,000 t and holds 990,000 t of CEA24: cover 99% → high (below 100%, above 50%).
    assert (rows["E1"]["cover_percent"], rows["E1"]["level"]) == (99, "high")
    # E2 owes 200,000 t and holds nothing: critical.
    assert (rows["E2"]["cover_percent"], rows["E2"]["level"]) == (0, "critical")
    assert risk["by_level"]["critical"] == 1 and "E3" not in rows
    for page in ("/compliance/position", "/compliance/dashboard"):
        assert client.get(page).status_code == 200


def run_cli(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli_app, [*args, "--db", url, "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_the_cli_opens_reports_and_refuses_with_exit_1(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI runs on the real clock, so only steps that do not depend on today's date are checked.
    cheap_hashes(monkeypatch)
    build_market(engine, verified={"E1": 1_000, "E3": 500}, year=2025)
    code, opened = run_cli(db_url, "compliance", "open", "--year", "2025", "--id", "open-25")
    assert (code, opened["entities"], opened["obligation_t"]) == (0, 2, 1_500)
    code, years = run_cli(db_url, "compliance", "years")
    assert {y["year"]: y["status"] for y in years["years"]}[2025] == "open"
    code, bad = run_cli(
        db_url,
        "compliance",
        "surrender",
        "--entity",
        "E1",
        "--year",
        "2025",
        "--item",
        "CEA24=10",
        "--id",
        "s1",
    )
    assert (code, bad["ok"], bad["code"]) == (1, False, "compliance_vintage_not_eligible")
    code, bad = run_cli(
        db_url, "compliance", "surrender", "--entity", "E1", "--year", "2025", "--item", "CEA25", "--id", "s2"
    )
    assert (code, bad["code"]) == (1, "invalid_request")
    code, status = run_cli(db_url, "compliance", "status", "--year", "2025")
    assert (code, status["obligation_t"], status["by_status"]["not_met"]) == (0, 1_500, 2)
    code, position = run_cli(db_url, "compliance", "status", "--year", "2025", "--entity", "E3")
    assert (code, position["owed_t"], position["offset_cap_t"]) == (0, 500, 25)
    code, bad = run_cli(db_url, "compliance", "close", "--year", "2025", "--id", "c", "--price", "80.001")
    assert (code, bad["code"]) == (1, "compliance_invalid_price")
    code, listed = run_cli(db_url, "compliance", "list")
    assert (code, listed["code"]) == (1, "compliance_list_not_published")
