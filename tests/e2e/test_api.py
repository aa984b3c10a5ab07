"""The HTTP API end to end, on SQLite and PostgreSQL: sign-in, rights, idempotency, refusals.

A small market is built through the services with the local operator (as `carbonmarket init` and
an operator at the CLI would), then every request goes through the real app over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry

SECRET = "e2e-test-secret-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"
ISSUED = 1_000_000
TO_PLANT_A = 250_000


@dataclass
class Market:
    """A running app over a small populated registry; users are signed in on first use."""

    client: TestClient
    identity: Identity
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        """The Authorization header of a user."""
        if user not in self.tokens:
            # Minted directly: signing in through the form costs an argon2 verification, and the
            # password flow has tests of its own below.
            self.tokens[user] = self.identity.token_for(self.identity.actor(user))
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, user: str, body: dict[str, Any] | None = None) -> Any:
        """POST JSON as a user."""
        return self.client.post(path, json=body, headers=self.headers(user))

    def get(self, path: str, user: str) -> Any:
        """GET as a user."""
        return self.client.get(path, headers=self.headers(user))

    def balance(self, account: str, instrument: str = "CEA24") -> int:
        """An account's balance of one instrument, read through the API as the regulator."""
        response = self.get(f"/api/registry/accounts/{account}/balance", "regulator")
        assert response.status_code == 200, response.text
        return int(response.json()["balances"].get(instrument, 0))


def build_registry(url: str) -> None:
    """Holders, accounts and users of a small market, made by the local operator."""
    engine = make_engine(url)
    try:
        registry = Registry(engine)
        identity = Identity(engine, SECRET)
        registry.define_defaults(LOCAL_OPERATOR)
        steps = [
            registry.add_holder(LOCAL_OPERATOR, "MEE", "Ministry of Ecology and Environment", "government"),
            registry.add_holder(LOCAL_OPERATOR, "PLANT-A", "Huaneng Plant A", "entity"),
            registry.add_holder(LOCAL_OPERATOR, "PLANT-B", "Datang Plant B", "entity"),
            registry.open_account(LOCAL_OPERATOR, "ISSUANCE", "MEE", "issuance"),
            registry.open_account(LOCAL_OPERATOR, "CANCEL", "MEE", "cancellation"),
            registry.open_account(LOCAL_OPERATOR, "SURRENDER", "MEE", "surrender"),
            registry.open_account(LOCAL_OPERATOR, "HOLD-A", "PLANT-A", "holding"),
            registry.open_account(LOCAL_OPERATOR, "HOLD-B", "PLANT-B", "holding"),
            identity.add_user(LOCAL_OPERATOR, "regulator", PASSWORD, "regulator"),
            identity.add_user(LOCAL_OPERATOR, "operator", PASSWORD, "registry_operator"),
            identity.add_user(LOCAL_OPERATOR, "rep-a", PASSWORD, "entity_representative", "PLANT-A"),
            identity.add_user(LOCAL_OPERATOR, "rep-b", PASSWORD, "entity_representative", "PLANT-B"),
            identity.grant(LOCAL_OPERATOR, "rep-a", "HOLD-A", "initiate"),
            identity.grant(LOCAL_OPERATOR, "rep-b", "HOLD-B", "initiate"),
        ]
        for outcome in steps:
            assert isinstance(outcome, Done), outcome
    finally:
        engine.dispose()


@pytest.fixture
def market(db_url: str) -> Iterator[Market]:
    """The app over a fresh market."""
    build_registry(db_url)
    engine = make_engine(db_url)
    with TestClient(create_app(db_url, Settings(jwt_secret=SECRET))) as client:
        yield Market(client, Identity(engine, SECRET))
    engine.dispose()


@pytest.fixture
def funded(market: Market) -> Market:
    """The market after the regulator issued CEA24 and delivered some to plant A."""
    issued = market.post(
        "/api/registry/issuances",
        "regulator",
        {"id": "issue-1", "instrument": "CEA24", "quantity": ISSUED, "to": "ISSUANCE"},
    )
    assert issued.status_code == 201, issued.text
    delivered = market.post(
        "/api/registry/transfers",
        "regulator",
        {
            "id": "deliver-a",
            "from": "ISSUANCE",
            "to": "HOLD-A",
            "instrument": "CEA24",
            "quantity": TO_PLANT_A,
        },
    )
    assert delivered.status_code == 201, delivered.text
    return market


def transfer_body(command_id: str, quantity: object, source: str = "HOLD-A") -> dict[str, Any]:
    """A transfer of CEA24 to plant B's account."""
    return {"id": command_id, "from": source, "to": "HOLD-B", "instrument": "CEA24", "quantity": quantity}


# --- service health and documentation --------------------------------------------------------------


def test_health_names_the_database_and_its_schema_revision(market: Market, db_url: str) -> None:
    response = market.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert body["revision"]


def test_openapi_document_and_docs_page_are_served(market: Market) -> None:
    schema = market.client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/auth/token", "/api/registry/transfers", "/api/public/instruments", "/api/users"):
        assert path in paths
    docs = market.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    # The UI's code comes from the installed package, never a CDN (the market may run offline).
    assert "cdn" not in docs.text.lower()
    assert market.client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


# --- signing in ----------------------------------------------------------------------------------


def test_login_with_the_right_password_returns_a_bearer_token_and_role(market: Market) -> None:
    response = market.client.post("/api/auth/token", data={"username": "rep-a", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "entity_representative"
    me = market.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["accounts"] == [{"account": "HOLD-A", "rights": ["initiate"]}]


@pytest.mark.parametrize("username", ["rep-a", "nobody"])
def test_login_with_a_wrong_password_or_unknown_user_is_refused_401(market: Market, username: str) -> None:
    response = market.client.post(
        "/api/auth/token", data={"username": username, "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert response.json()["ok"] is False
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_requests_without_a_token_or_with_a_forged_one_are_refused_401(market: Market) -> None:
    missing = market.client.get("/api/registry/accounts/HOLD-A/balance")
    forged = market.client.get(
        "/api/registry/accounts/HOLD-A/balance", headers={"Authorization": "Bearer not.a.token"}
    )
    for response in (missing, forged):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


# --- who may do what ------------------------------------------------------------------------------


def test_regulator_issues_and_entity_representative_transfers_from_its_own_account(funded: Market) -> None:
    response = funded.post("/api/registry/transfers", "rep-a", transfer_body("a-to-b-1", 40_000))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["result"] == "created"
    assert body["status"] == "completed"
    assert funded.balance("HOLD-A") == TO_PLANT_A - 40_000
    assert funded.balance("HOLD-B") == 40_000
    assert funded.balance("ISSUANCE") == ISSUED - TO_PLANT_A


def test_representative_is_forbidden_to_transfer_from_an_account_it_has_no_right_on(funded: Market) -> None:
    response = funded.post("/api/registry/transfers", "rep-b", transfer_body("b-steals", 10, source="HOLD-A"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert funded.balance("HOLD-A") == TO_PLANT_A


def test_representative_is_forbidden_to_issue_units(funded: Market) -> None:
    response = funded.post(
        "/api/registry/issuances",
        "rep-a",
        {"id": "rep-issue", "instrument": "CEA24", "quantity": 5, "to": "ISSUANCE"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert funded.balance("ISSUANCE") == ISSUED - TO_PLANT_A


def test_representative_sees_its_own_account_but_not_another(funded: Market) -> None:
    own = funded.get("/api/registry/accounts/HOLD-A/balance", "rep-a")
    assert own.status_code == 200
    assert own.json()["balances"] == {"CEA24": TO_PLANT_A}
    history = funded.get("/api/registry/accounts/HOLD-A/history", "rep-a")
    assert [e["transaction"] for e in history.json()["entries"]] == ["deliver-a"]
    other = funded.get("/api/registry/accounts/HOLD-B/balance", "rep-a")
    assert other.status_code == 403
    assert other.json()["code"] == "forbidden"


def test_an_unknown_account_is_404(funded: Market) -> None:
    response = funded.get("/api/registry/accounts/NO-SUCH/balance", "regulator")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_account"


def test_transactions_and_reconciliation_are_for_operators_and_regulators_only(funded: Market) -> None:
    for path in ("/api/registry/transactions", "/api/registry/reconciliation"):
        assert funded.get(path, "rep-a").status_code == 403
    listed = funded.get("/api/registry/transactions", "operator")
    assert {t["id"] for t in listed.json()["transactions"]} == {"issue-1", "deliver-a"}
    report = funded.get("/api/registry/reconciliation", "regulator").json()
    assert report["ok"] is True
    assert report["debits_equal_credits"] is True


# --- idempotency ----------------------------------------------------------------------------------


def test_a_replayed_id_returns_exists_and_the_same_id_with_another_body_is_409(funded: Market) -> None:
    first = funded.post("/api/registry/transfers", "rep-a", transfer_body("retry-me", 1_000))
    again = funded.post("/api/registry/transfers", "rep-a", transfer_body("retry-me", 1_000))
    changed = funded.post("/api/registry/transfers", "rep-a", transfer_body("retry-me", 2_000))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["result"] == "exists"
    assert again.json()["transaction"] == first.json()["transaction"]
    assert changed.status_code == 409
    assert changed.json()["code"] == "exists_with_different_fields"
    assert funded.balance("HOLD-B") == 1_000


# --- quantities -----------------------------------------------------------------------------------


BAD_QUANTITIES: list[tuple[object, str]] = [
    ("1.5", "quantity_not_integer"),
    (1.5, "quantity_not_integer"),
    ("ten", "quantity_not_integer"),
    (-5, "quantity_not_positive"),
    ("-5", "quantity_not_positive"),
    (0, "quantity_not_positive"),
    (10**13, "quantity_too_large"),
    (str(10**13), "quantity_too_large"),
    (True, "invalid_request"),
    (None, "invalid_request"),
]


def test_bad_quantities_are_refused_with_their_codes_and_leave_balances_alone(funded: Market) -> None:
    # One test for all cases: each needs the same populated market, which is slow to build twice.
    for number, (quantity, code) in enumerate(BAD_QUANTITIES):
        response = funded.post("/api/registry/transfers", "rep-a", transfer_body(f"bad-{number}", quantity))
        assert response.status_code == 422, (quantity, response.text)
        assert response.json()["code"] == code, (quantity, response.text)
        assert response.json()["ok"] is False
    assert funded.balance("HOLD-A") == TO_PLANT_A
    assert funded.balance("HOLD-B") == 0


def test_a_quantity_as_a_string_of_whole_tonnes_is_accepted(funded: Market) -> None:
    response = funded.post("/api/registry/transfers", "rep-a", transfer_body("as-text", "1200"))
    assert response.status_code == 201, response.text
    assert funded.balance("HOLD-B") == 1_200


def test_malformed_bodies_come_back_as_invalid_request(funded: Market) -> None:
    missing = funded.post("/api/registry/transfers", "rep-a", {"id": "x", "from": "HOLD-A"})
    extra = funded.post("/api/registry/transfers", "rep-a", {**transfer_body("y", 1), "memo": "typo"})
    not_json = funded.client.post(
        "/api/registry/transfers",
        content=b"{not json",
        headers={**funded.headers("rep-a"), "Content-Type": "application/json"},
    )
    for response in (missing, extra, not_json):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_request"
        assert response.json()["message"]


def test_oversized_bodies_are_refused_413(funded: Market) -> None:
    response = funded.client.post(
        "/api/registry/transfers",
        content=b"x" * 100_000,
        headers={**funded.headers("rep-a"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


# --- public data ----------------------------------------------------------------------------------


def test_public_instruments_show_issued_retired_and_supply_without_sign_in(funded: Market) -> None:
    retired = funded.post(
        "/api/registry/surrenders",
        "rep-a",
        {"id": "surrender-a", "from": "HOLD-A", "to": "SURRENDER", "instrument": "CEA24", "quantity": 60_000},
    )
    assert retired.status_code == 201, retired.text
    response = funded.client.get("/api/public/instruments")
    assert response.status_code == 200
    by_id = {row["instrument"]: row for row in response.json()["instruments"]}
    assert by_id["CEA24"]["issued"] == ISSUED
    assert by_id["CEA24"]["retired"] == 60_000
    assert by_id["CEA24"]["supply"] == ISSUED - 60_000
    assert by_id["CEA23"]["supply"] == 0


def test_a_cancellation_certificate_is_public(funded: Market) -> None:
    response = funded.post(
        "/api/registry/cancellations",
        "rep-a",
        {
            "id": "retire-1",
            "from": "HOLD-A",
            "to": "CANCEL",
            "instrument": "CEA24",
            "quantity": 500,
            "beneficiary": "Shanghai Marathon 2025",
            "purpose": "offset the event's travel",
        },
    )
    assert response.status_code == 201, response.text
    certificate_id = response.json()["certificate"]
    public = funded.client.get(f"/api/public/certificates/{certificate_id}")
    assert public.status_code == 200
    assert public.json()["beneficiary"] == "Shanghai Marathon 2025"
    assert public.json()["quantity"] == 500
    assert funded.client.get("/api/public/certificates/CERT-none").status_code == 404


# --- the remaining write routes -------------------------------------------------------------------


def test_operator_creates_a_user_and_grants_a_right_who_then_acts(funded: Market) -> None:
    created = funded.post(
        "/api/users",
        "operator",
        {"username": "rep-a2", "password": PASSWORD, "role": "entity_representative", "holder": "PLANT-A"},
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.json()
    granted = funded.post("/api/users/rep-a2/rights", "operator", {"account": "HOLD-A", "right": "initiate"})
    assert granted.status_code == 201, granted.text
    assert (
        funded.post(
            "/api/users", "rep-a", {"username": "x1", "password": PASSWORD, "role": "regulator"}
        ).status_code
        == 403
    )
    token = funded.client.post("/api/auth/token", data={"username": "rep-a2", "password": PASSWORD})
    assert token.status_code == 200
    funded.tokens["rep-a2"] = token.json()["access_token"]
    moved = funded.post("/api/registry/transfers", "rep-a2", transfer_body("by-a2", 7))
    assert moved.status_code == 201, moved.text


def test_operator_sets_up_a_holder_and_an_account_and_regulator_defines_an_instrument(market: Market) -> None:
    holder = market.post(
        "/api/registry/holders", "operator", {"id": "BANK", "name": "ICBC", "kind": "financial"}
    )
    assert holder.status_code == 201, holder.text
    account = market.post(
        "/api/registry/accounts", "operator", {"id": "BANK-T", "holder": "BANK", "type": "trading"}
    )
    assert account.status_code == 201, account.text
    central = market.post(
        "/api/registry/accounts", "operator", {"id": "BANK-X", "holder": "BANK", "type": "issuance"}
    )
    assert central.status_code == 422
    assert central.json()["code"] == "account_holder_kind_not_allowed"
    missing = market.post(
        "/api/registry/accounts", "operator", {"id": "GHOST-T", "holder": "GHOST", "type": "holding"}
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_holder"
    instrument = market.post(
        "/api/registry/instruments", "regulator", {"id": "CCER-PV01-2024", "cap": "5000"}
    )
    assert instrument.status_code == 201, instrument.text
    blocked = market.post(
        "/api/registry/accounts/BANK-T/status",
        "operator",
        {"id": "block-1", "status": "blocked", "reason": "KYC"},
    )
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["status"] == "blocked"


def test_freeze_release_pledge_and_execution_move_and_release_units(funded: Market) -> None:
    frozen = funded.post(
        "/api/registry/freezes",
        "operator",
        {
            "id": "freeze-1",
            "account": "HOLD-A",
            "instrument": "CEA24",
            "quantity": 200_000,
            "reason": "court order",
        },
    )
    assert frozen.status_code == 201, frozen.text
    blocked = funded.post("/api/registry/transfers", "rep-a", transfer_body("while-frozen", 100_000))
    assert blocked.json()["code"] == "insufficient_balance"
    released = funded.post("/api/registry/holds/freeze-1/release", "operator", {"reason": "order lifted"})
    assert released.status_code == 201, released.text
    pledged = funded.post(
        "/api/registry/pledges",
        "rep-a",
        {
            "id": "pledge-1",
            "account": "HOLD-A",
            "instrument": "CEA24",
            "quantity": 10_000,
            "pledgee": "HOLD-B",
        },
    )
    assert pledged.status_code == 201, pledged.text
    executed = funded.post("/api/registry/holds/pledge-1/execute", "rep-b", {"quantity": 4_000})
    assert executed.status_code == 201, executed.text
    assert funded.balance("HOLD-B") == 4_000
    assert funded.balance("HOLD-A") == TO_PLANT_A - 4_000
    gone = funded.post("/api/registry/holds/no-such-hold/release", "operator")
    assert gone.status_code == 404


def test_regulator_reverses_a_transfer(funded: Market) -> None:
    funded.post("/api/registry/transfers", "rep-a", transfer_body("mistake", 3_000))
    forbidden = funded.post(
        "/api/registry/reversals", "rep-a", {"id": "undo-0", "original": "mistake", "reason": "typo"}
    )
    assert forbidden.status_code == 403
    reversed_ = funded.post(
        "/api/registry/reversals",
        "regulator",
        {"id": "undo-1", "original": "mistake", "reason": "wrong account"},
    )
    assert reversed_.status_code == 201, reversed_.text
    assert funded.balance("HOLD-B") == 0
    assert funded.balance("HOLD-A") == TO_PLANT_A


def test_four_eyes_approval_and_rejection_of_transfers(funded: Market, db_url: str) -> None:
    # Plant C's account needs a second person to approve outgoing transfers.
    engine = make_engine(db_url)
    registry, identity = Registry(engine), Identity(engine, SECRET)
    for outcome in (
        registry.add_holder(LOCAL_OPERATOR, "PLANT-C", "Plant C", "entity"),
        registry.open_account(LOCAL_OPERATOR, "HOLD-C", "PLANT-C", "holding", approval_required=True),
        identity.add_user(LOCAL_OPERATOR, "clerk-c", PASSWORD, "entity_representative", "PLANT-C"),
        identity.add_user(LOCAL_OPERATOR, "boss-c", PASSWORD, "entity_representative", "PLANT-C"),
        identity.grant(LOCAL_OPERATOR, "clerk-c", "HOLD-C", "initiate"),
        identity.grant(LOCAL_OPERATOR, "boss-c", "HOLD-C", "approve"),
        registry.transfer(LOCAL_OPERATOR, "deliver-c", "ISSUANCE", "HOLD-C", "CEA24", 1_000),
    ):
        assert isinstance(outcome, Done), outcome
    engine.dispose()

    proposed = funded.post("/api/registry/transfers", "clerk-c", transfer_body("c-1", 300, source="HOLD-C"))
    assert proposed.json()["status"] == "awaiting_approval"
    assert funded.post("/api/registry/transactions/c-1/approve", "clerk-c").status_code == 403
    approved = funded.post("/api/registry/transactions/c-1/approve", "boss-c")
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"] == "completed"

    funded.post("/api/registry/transfers", "clerk-c", transfer_body("c-2", 200, source="HOLD-C"))
    rejected = funded.post("/api/registry/transactions/c-2/reject", "boss-c", {"reason": "not agreed"})
    assert rejected.status_code == 201, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert funded.balance("HOLD-C") == 700
    assert funded.balance("HOLD-B") == 300
