"""Review, verification and trace over HTTP on SQLite and PostgreSQL, and the reviewer's queue page.

The app is built here from the platform's own parts (auth router, error handlers, static files)
plus this part's routers, as `api/app.py` will include them: the test does not wait for the lead's
wiring. Every request carries a real bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from carbonmarket.api import auth
from carbonmarket.api.deps import Services
from carbonmarket.api.errors import install_error_handlers
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.review import api as review_api
from carbonmarket.mrv.review import pages as review_pages
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.verification import api as verification_api
from carbonmarket.registry.service import Registry

SECRET = "review-api-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are made for their roles; tokens are minted directly, so hashing strength does not matter."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


def build_app(url: str) -> FastAPI:
    """The platform's app skeleton with this part's routers and page."""
    engine = make_engine(url)
    app = FastAPI()
    app.state.services = Services(
        engine=engine,
        settings=Settings(jwt_secret=SECRET),
        registry=Registry(engine),
        identity=Identity(engine, SECRET),
        schema_head=None,
    )
    install_error_handlers(app)
    for router in (
        auth.router,
        review_api.router,
        verification_api.router,
        verification_api.trace_router,
        review_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("carbonmarket.web", "static")]), name="static")
    return app


@dataclass
class Client:
    """A test client that signs requests as a user."""

    http: TestClient
    identity: Identity
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = self.identity.token_for(self.identity.actor(user))
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, user: str, body: dict[str, Any]) -> Any:
        return self.http.post(path, json=body, headers=self.headers(user))

    def get(self, path: str, user: str | None = None) -> Any:
        return self.http.get(path, headers=self.headers(user) if user else {})


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    """Users at each tier, a verifier, two entities on the roster, and the app over them."""
    engine = make_engine(db_url)
    identity = Identity(engine, SECRET)
    for user, role in (
        ("mee", "regulator"),
        ("gd", "reviewer"),
        ("js", "reviewer"),
        ("alice", "verifier"),
        ("rep", "entity_representative"),
    ):
        done(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role))
    roster = Roster(engine)
    done(roster.add_entity(LOCAL_OPERATOR, "E-SZ", "Shenzhen Power", "power", "Guangdong", "Shenzhen"))
    done(roster.add_entity(LOCAL_OPERATOR, "E-NJ", "Nanjing Power", "power", "Jiangsu", "Nanjing"))
    app = build_app(db_url)
    with TestClient(app) as http:
        yield Client(http, identity)
    app.state.services.engine.dispose()
    engine.dispose()


def test_a_case_is_opened_referred_and_resolved_over_http(client: Client) -> None:
    for user, province in (("gd", "Guangdong"), ("js", "Jiangsu")):
        answer = client.post(
            "/api/mrv/review/reviewers",
            "mee",
            {"id": f"a-{user}", "username": user, "tier": "provincial", "province": province},
        )
        assert answer.status_code == 201, answer.text
    opened = client.post(
        "/api/mrv/review/cases",
        "mee",
        {"id": "C1", "entity_id": "E-SZ", "year": 2024, "month": 3, "title": "intensity 40% above peers"},
    )
    assert opened.status_code == 201 and opened.json()["tier"] == "national", opened.text
    replay = client.post(
        "/api/mrv/review/cases",
        "mee",
        {"id": "C1", "entity_id": "E-SZ", "year": 2024, "month": 3, "title": "intensity 40% above peers"},
    )
    assert (replay.status_code, replay.json()["result"]) == (200, "exists")
    early = client.post(
        "/api/mrv/review/cases/C1/resolve", "mee", {"id": "s0", "outcome": "explained", "explanation": "x"}
    )
    assert (early.status_code, early.json()["code"]) == (422, "review_case_not_in_review")
    referred = client.post("/api/mrv/review/cases/C1/refer", "mee", {"id": "r1", "reason": "check the plant"})
    assert referred.json()["tier"] == "provincial"
    wrong = client.post("/api/mrv/review/cases/C1/take", "js", {"id": "t0"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "review_out_of_scope")
    assert client.post("/api/mrv/review/cases/C1/take", "gd", {"id": "t1"}).status_code == 201
    message = client.post(
        "/api/mrv/review/cases/C1/messages",
        "gd",
        {"id": "m1", "text": "heat meter photo", "attachments": [{"name": "meter.jpg", "sha256": "1a" * 32}]},
    )
    assert message.status_code == 201, message.text
    resolved = client.post(
        "/api/mrv/review/cases/C1/resolve",
        "gd",
        {"id": "s1", "outcome": "explained", "explanation": "new heat customer since March"},
    )
    assert resolved.json()["status"] == "closed"
    case = client.get("/api/mrv/review/cases/C1", "gd").json()
    assert [m["kind"] for m in case["thread"]] == ["opened", "referred", "taken", "comment", "resolved"]
    assert client.get("/api/mrv/review/cases/C1", "js").status_code == 403
    assert client.get("/api/mrv/review/queue", "gd").json()["scope"]["province"] == "Guangdong"
    assert client.get("/api/mrv/review/queue", "rep").status_code == 403
    assert client.get("/api/mrv/review/queue").status_code == 401
    misspelt = client.post("/api/mrv/review/cases/C1/take", "gd", {"id": "t9", "nte": "typo"})
    assert (misspelt.status_code, misspelt.json()["code"]) == (422, "invalid_request")


def test_a_verification_runs_over_http_and_its_evaluation_is_public(client: Client) -> None:
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("mee", "/api/mrv/verification/bodies", {"id": "B1", "name": "Body One", "province": "Guangdong"}),
        ("mee", "/api/mrv/verification/bodies/B1/qualify", {"id": "q1", "reason": "meets entry rules"}),
        ("mee", "/api/mrv/verification/verifiers", {"id": "v1", "username": "alice", "body": "B1"}),
        (
            "mee",
            "/api/mrv/verification/verifications",
            {"id": "V1", "entity_id": "E-SZ", "year": 2024, "body": "B1"},
        ),
        ("alice", "/api/mrv/verification/verifications/V1/start", {"id": "s1"}),
        (
            "alice",
            "/api/mrv/verification/verifications/V1/nonconformities",
            {"id": "NC1", "description": "no lab report"},
        ),
        (
            "alice",
            "/api/mrv/verification/nonconformities/NC1/close",
            {"id": "c1", "closure": "lab report supplied"},
        ),
        (
            "alice",
            "/api/mrv/verification/verifications/V1/submit",
            {"id": "sub1", "verified_emissions": 812345},
        ),
        ("mee", "/api/mrv/verification/verifications/V1/accept", {"id": "acc1"}),
    ]
    for user, path, body in steps:
        answer = client.post(path, user, body)
        assert answer.status_code == 201, (path, answer.text)
    figure = client.get("/api/mrv/verification/verified/E-SZ/2024", "rep").json()
    assert figure["verified_emissions_tco2e"] == 812345
    fraction = client.post(
        "/api/mrv/verification/verifications/V1/submit", "alice", {"id": "x", "verified_emissions": 1.5}
    )
    assert fraction.status_code == 422
    assert (
        client.post("/api/mrv/verification/verifications/V1/accept", "alice", {"id": "x2"}).status_code == 403
    )
    assert (
        client.get("/api/mrv/verification/verifications/V1", "alice").json()["nonconformities"][0]["status"]
        == "closed"
    )
    assert client.get("/api/mrv/verification/verifications?body=B2", "alice").status_code == 403
    assert client.get("/api/mrv/verification/bodies").json()["bodies"][0]["status"] == "qualified"
    assert client.get("/api/mrv/verification/evaluations").json()["code"] == "evaluation_not_found"
    assert client.get("/api/mrv/verification/evaluations/preview?year=2024", "alice").status_code == 403
    published = client.http.post(
        "/api/mrv/verification/evaluations", json={"year": 2024}, headers=client.headers("mee")
    )
    assert published.status_code == 201, published.text
    public = client.get("/api/mrv/verification/evaluations?year=2024").json()
    assert public["bodies"][0]["body_id"] == "B1" and public["bodies"][0]["rated"] is True
    eligibility = client.get("/api/mrv/verification/eligibility/E-SZ/2025", "mee").json()
    assert eligibility["eligible"] is False and eligibility["required_years"] == [2022, 2023, 2024]


def test_the_trace_is_open_to_regulators_regional_reviewers_and_the_verifying_body(client: Client) -> None:
    client.post(
        "/api/mrv/review/reviewers",
        "mee",
        {"id": "a", "username": "js", "tier": "provincial", "province": "Jiangsu"},
    )
    client.post("/api/mrv/verification/bodies", "mee", {"id": "B1", "name": "Body One"})
    client.post("/api/mrv/verification/bodies/B1/qualify", "mee", {"id": "q", "reason": "ok"})
    client.post("/api/mrv/verification/verifiers", "mee", {"id": "v", "username": "alice", "body": "B1"})
    traced = client.get("/api/mrv/trace/E-SZ/2024", "mee")
    assert traced.status_code == 200 and traced.json()["entity_id"] == "E-SZ"
    assert {
        "parameters",
        "alerts",
        "cases",
        "report",
        "verification",
        "allocation",
        "compliance",
        "edges",
    } <= set(traced.json())
    assert client.get("/api/mrv/trace/E-SZ/2024", "js").status_code == 403
    assert client.get("/api/mrv/trace/E-NJ/2024", "js").status_code == 200
    assert client.get("/api/mrv/trace/E-SZ/2024", "alice").status_code == 403
    client.post(
        "/api/mrv/verification/verifications",
        "mee",
        {"id": "V1", "entity_id": "E-SZ", "year": 2024, "body": "B1"},
    )
    assert client.get("/api/mrv/trace/E-SZ/2024", "alice").status_code == 200
    assert client.get("/api/mrv/trace/E-SZ/2024", "rep").status_code == 403
    assert client.get("/api/mrv/trace/E-SZ/2024").status_code == 401


def test_the_queue_page_is_a_shell_with_our_own_script_and_the_site_policy(client: Client) -> None:
    page = client.http.get("/mrv/review")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<script type="module" src="/static/mrv_review.js"></script>' in html
    assert "<script>" not in html and "onclick" not in html and "style=" not in html
    for element in ('id="cases"', 'id="alerts"', 'id="act-form"', 'value="confirmed_error"'):
        assert element in html
    script = client.http.get("/static/mrv_review.js")
    assert script.status_code == 200 and '"/api/mrv/review"' in script.text and "/queue" in script.text
    assert client.http.head("/mrv/review").status_code == 200
