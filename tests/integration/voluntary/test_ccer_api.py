"""The voluntary market over HTTP on SQLite and PostgreSQL: an owner, two VVBs and the regulator take a
project from design document to issued and cancelled CCERs with real bearer tokens; the public reads
it all; a device posts readings with its API key; roles and keys are enforced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ccer_market import EXAMPLES, SHA, START
from fastapi.testclient import TestClient

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry

SECRET = "ccer-api-test-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens are minted directly, so hashing strength does not matter here."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


class Api:
    """A client that signs requests as one of the test's users."""

    def __init__(self, http: TestClient, tokens: dict[str, str], clock: FixedClock) -> None:
        self.http, self.tokens, self.clock = http, tokens, clock

    def post(self, path: str, body: dict[str, Any], as_: str | None = None, **headers: str) -> Any:
        if as_:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        return self.http.post(f"/api/ccer{path}", json=body, headers=headers)

    def ok(self, path: str, body: dict[str, Any], as_: str) -> dict[str, Any]:
        response = self.post(path, body, as_)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return data

    def get(self, path: str, as_: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        return self.http.get(f"/api/ccer{path}", headers=headers)


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    app = create_app(db_url, Settings(jwt_secret=SECRET))
    clock = FixedClock(START)
    app.state.ccer_clock = clock
    engine = app.state.services.engine
    identity = Identity(engine, SECRET)
    users = {
        "reg": ("regulator", None),
        "own": ("project_owner", "OWN1"),
        "own2": ("project_owner", "OWN2"),
        "val": ("vvb", None),
        "ver": ("vvb", None),
    }
    for name, (role, holder) in users.items():
        assert isinstance(
            identity.add_user(LOCAL_OPERATOR, name, "correct horse battery", role, holder), Done
        )
    for name, owner in (("own", "OWN1"), ("own2", "OWN2")):
        for account in (f"{owner}-H", f"{owner}-T"):
            assert isinstance(identity.grant(LOCAL_OPERATOR, name, account, "initiate"), Done)
    tokens = {name: identity.token_for(identity.actor(name)) for name in users}
    with TestClient(app) as http:
        yield Api(http, tokens, clock)


def test_a_project_goes_from_design_document_to_cancelled_ccers_over_http(api: Api) -> None:
    example = EXAMPLES["CCER-01-002-V01"]
    api.ok(
        "/projects",
        {
            "id": "WIND9",
            "name": "Rudong offshore wind",
            "owner_id": "OWN1",
            "methodology": "CCER-01-002-V01",
            "sector": "renewable_power",
            "province": "Jiangsu",
            "construction_start": "2022-03-01",
            "operation_start": "2023-12-01",
            "crediting_start": "2024-01-01",
            "crediting_end": "2033-12-31",
            "parameters": example["parameters"],
            "document_sha256": SHA,
            "expected_annual_t": 700000,
        },
        "own",
    )
    api.ok(
        "/projects/WIND9/validate",
        {
            "id": "v",
            "report_sha256": SHA,
            "opinion": "positive",
            "owner_commitment": "true",
            "vvb_commitment": "independent",
        },
        "val",
    )
    api.ok("/projects/WIND9/disclose", {"id": "d"}, "own")
    comment = api.post(
        "/comments", {"id": "c1", "kind": "project", "subject": "WIND9", "author": "Ann", "text": "Good"}
    )
    assert comment.status_code == 201
    api.clock.advance(timedelta(days=35))
    api.ok("/projects/WIND9/apply", {"id": "a"}, "own")
    assert (
        api.ok("/projects/WIND9/decision", {"id": "r", "approve": True, "reason": "complete"}, "reg")[
            "status"
        ]
        == "registered"
    )
    submitted = api.ok(
        "/reports",
        {
            "id": "WIND9-2024",
            "project_id": "WIND9",
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "inputs": example["monitored"],
        },
        "own",
    )
    assert submitted["claimed_t"] == 678_333
    api.ok("/reports/WIND9-2024/verify", {"id": "v2", "verified_t": 678_000, "report_sha256": SHA}, "ver")
    api.ok("/reports/WIND9-2024/disclose", {"id": "d2"}, "own")
    api.clock.advance(timedelta(days=35))
    api.ok("/reports/WIND9-2024/apply", {"id": "a2"}, "own")
    api.ok("/reports/WIND9-2024/decision", {"id": "r2", "approve": True, "reason": "verified"}, "reg")
    issued = api.ok("/reports/WIND9-2024/issue", {"id": "i"}, "reg")
    assert (issued["quantity"], issued["to"]) == (678_000, "OWN1-H")
    cancelled = api.ok(
        "/cancellations",
        {
            "id": "x",
            "account_id": "OWN1-H",
            "instrument_id": "CCER-WIND9-2024",
            "quantity": 1000,
            "kind": "voluntary",
            "claim": "event",
            "beneficiary": "Shanghai Marathon 2025",
            "purpose": "offset the race",
        },
        "own",
    )
    assert cancelled["serials"] == [["CCER-WIND9-2024-000001", "CCER-WIND9-2024-001000"]]
    found = api.get("/search?serial=CCER-WIND9-2024-000500").json()
    assert (found["retired"], found["status"], found["holder_account_type"]) == (
        True,
        "cancelled",
        "cancellation",
    )
    assert found["certificate"]["beneficiary"] == "Shanghai Marathon 2025"
    still = api.get("/search?serial=CCER-WIND9-2024-001001").json()
    assert (still["retired"], still["holder_account_type"]) == (False, "holding")
    certificate = api.get(f"/certificates/{cancelled['certificate']}").json()
    assert certificate["purpose"] == "offset the race"
    page = api.http.get("/ccer")
    assert page.status_code == 200 and "Shanghai Marathon 2025" in page.text and "WIND9" in page.text
    project_page = api.http.get("/ccer/projects/WIND9")
    assert "Ann" in project_page.text and "registered" in project_page.text
    console = api.get("/owners/OWN1/console", "own").json()
    assert console["projects"][0]["reports"][0]["status"] == "issued"
    assert api.get("/owners/OWN1/console", "own2").status_code == 403
    assert Registry(api.http.app.state.services.engine).reconcile().ok  # type: ignore[attr-defined]


def test_writes_need_a_token_and_the_right_role(api: Api) -> None:
    body = {"id": "VVBX", "name": "X"}
    assert api.post("/vvbs", body).status_code == 401
    refused = api.post("/vvbs", body, "own")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    example = EXAMPLES["CCER-01-002-V01"]
    other = api.post(
        "/projects",
        {
            "id": "P1",
            "name": "x",
            "owner_id": "OWN1",
            "methodology": "CCER-01-002-V01",
            "sector": "renewable_power",
            "province": "x",
            "construction_start": "2022-01-01",
            "operation_start": "2023-01-01",
            "crediting_start": "2024-01-01",
            "crediting_end": "2033-12-31",
            "parameters": example["parameters"],
            "document_sha256": SHA,
        },
        "own2",
    )
    assert other.status_code == 403
    unknown = api.post("/projects", {"id": "P1", "bogus": 1}, "own")
    assert unknown.status_code == 422 and unknown.json()["ok"] is False


def test_a_device_posts_readings_with_its_key_and_bad_ones_are_refused_one_by_one(api: Api) -> None:
    example = EXAMPLES["CCER-10-001-V01"]
    api.ok(
        "/projects",
        {
            "id": "VAM1",
            "name": "Yangquan VAM",
            "owner_id": "OWN1",
            "methodology": "CCER-10-001-V01",
            "sector": "coal_mining",
            "province": "Shanxi",
            "construction_start": "2022-01-01",
            "operation_start": "2023-06-01",
            "crediting_start": "2024-01-01",
            "crediting_end": "2033-12-31",
            "parameters": example["parameters"],
            "document_sha256": SHA,
        },
        "own",
    )
    key = api.ok("/projects/VAM1/api-keys", {"id": "k1", "label": "flow meter FM1"}, "own")["key"]
    now = START
    readings = [
        {"timestamp": (now - timedelta(seconds=10 - i)).isoformat(), "meter": "FM1", "value": "1.25"}
        for i in range(5)
    ]
    readings.append({"timestamp": (now + timedelta(hours=1)).isoformat(), "meter": "FM1", "value": 1})
    readings.append({"timestamp": (now - timedelta(seconds=60)).isoformat(), "meter": "FM1", "value": 1})
    readings.append({"timestamp": "yesterday", "meter": "FM1", "value": 1})
    first = api.post("/monitoring/VAM1/readings", {"batch": "b1", "readings": readings}, **{"X-API-Key": key})
    assert first.status_code == 201, first.text
    data = first.json()
    assert data["accepted"] == 5
    assert [r["code"] for r in data["refused"]] == [
        "ccer_reading_in_future",
        "ccer_reading_out_of_order",
        "ccer_reading_invalid",
    ]
    again = api.post(
        "/monitoring/VAM1/readings", {"batch": "b2", "readings": readings[:5]}, **{"X-API-Key": key}
    )
    assert again.json()["duplicates"] == 5 and again.json()["accepted"] == 0
    assert (
        api.post(
            "/monitoring/VAM1/readings", {"batch": "b3", "readings": []}, **{"X-API-Key": "nope"}
        ).status_code
        == 401
    )
    key_id = key.split("_")[1]
    api.ok(f"/api-keys/{key_id}/revoke", {"id": "rv"}, "own")
    assert (
        api.post(
            "/monitoring/VAM1/readings", {"batch": "b4", "readings": []}, **{"X-API-Key": key}
        ).status_code
        == 401
    )
    too_many = [{"timestamp": now.isoformat(), "meter": "FM1", "value": 1}] * 601  # the limit is 600
    key2 = api.ok("/projects/VAM1/api-keys", {"id": "k2", "label": "FM1 spare"}, "own")["key"]
    big = api.post("/monitoring/VAM1/readings", {"batch": "b5", "readings": too_many}, **{"X-API-Key": key2})
    assert big.status_code == 422 and big.json()["code"] == "ccer_readings_too_many"
    assert datetime.now(UTC) > now  # the test clock is in the past; readings were judged against it
