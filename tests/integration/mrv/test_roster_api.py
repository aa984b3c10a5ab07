"""The roster over HTTP, on SQLite and PostgreSQL: public reads, keepers' writes, file upload.

The app here is assembled from the platform's own parts (error handlers, services, the auth
router) plus the roster router, as `create_app` will once the lead includes it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook

from carbonmarket.api import auth
from carbonmarket.api.deps import Services
from carbonmarket.api.errors import install_error_handlers
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.roster.api import router
from carbonmarket.registry.service import Registry

SECRET = "roster-test-secret-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"
ROOT = "/api/mrv/roster"


@dataclass
class Api:
    """A running app; users are signed in on first use."""

    client: TestClient
    identity: Identity
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        if user not in self.tokens:
            self.tokens[user] = self.identity.token_for(self.identity.actor(user))
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, user: str | None, body: dict[str, Any]) -> Any:
        return self.client.post(ROOT + path, json=body, headers=self.headers(user))

    def get(self, path: str, user: str | None = None, **params: Any) -> Any:
        return self.client.get(ROOT + path, params=params, headers=self.headers(user))

    def upload(self, user: str | None, name: str, data: bytes, **form: Any) -> Any:
        files = {"file": (name, data, "application/octet-stream")}
        return self.client.post(ROOT + "/imports", files=files, data=form, headers=self.headers(user))


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The roster router over a database with a regulator, an operator and an entity's representative."""
    engine = make_engine(db_url)
    registry = Registry(engine)
    identity = Identity(engine, SECRET)
    for outcome in (
        registry.add_holder(LOCAL_OPERATOR, "PLANT-A", "Huaneng Plant A", "entity"),
        identity.add_user(LOCAL_OPERATOR, "regulator", PASSWORD, "regulator"),
        identity.add_user(LOCAL_OPERATOR, "operator", PASSWORD, "registry_operator"),
        identity.add_user(LOCAL_OPERATOR, "rep-a", PASSWORD, "entity_representative", "PLANT-A"),
    ):
        assert isinstance(outcome, Done), outcome
    app = FastAPI()
    app.state.services = Services(engine, Settings(jwt_secret=SECRET), registry, identity, schema_head=None)
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(router)
    with TestClient(app) as client:
        yield Api(client, identity)
    engine.dispose()


ENTITY = {
    "id": "GD-0001",
    "name": "Huaneng Shantou Power",
    "sector": "power",
    "province": "Guangdong",
    "city": "Shantou",
    "inclusion_year": 2021,
}


def test_keepers_create_and_change_entities_and_a_replay_answers_exists(api: Api) -> None:
    created = api.post("/entities", "operator", ENTITY)
    assert created.status_code == 201, created.text
    assert created.json()["entity"]["status"] == "active"
    replay = api.post("/entities", "operator", ENTITY)
    assert (replay.status_code, replay.json()["result"]) == (200, "exists")
    clash = api.post("/entities", "operator", {**ENTITY, "name": "Other"})
    assert (clash.status_code, clash.json()["code"]) == (409, "exists_with_different_fields")
    unit = api.post(
        "/entities/GD-0001/facilities",
        "regulator",
        {"id": "GD-0001-U1", "fuel": "coal", "capacity_mw": 660.5, "cooling": "water"},
    )
    assert unit.status_code == 201, unit.text
    assert (unit.json()["facility"]["category"], unit.json()["facility"]["capacity_mw"]) == ("I", "660.5")
    changed = api.post(
        "/entities/GD-0001/changes",
        "regulator",
        {"id": "c-1", "set": {"status": "suspended"}, "reason": "idle"},
    )
    assert changed.status_code == 201 and changed.json()["changes"] == {"status": ["active", "suspended"]}
    derated = api.post(
        "/facilities/GD-0001-U1/changes",
        "operator",
        {"id": "c-2", "set": {"capacity_mw": "350"}, "reason": "derated"},
    )
    assert derated.status_code == 201 and derated.json()["facility"]["category"] == "II"
    assert api.get("/facilities/GD-0001-U1").json()["facility"]["capacity_mw"] == "350"


def test_the_roster_is_public_but_who_changed_it_is_shown_to_keepers_only(api: Api) -> None:
    assert api.post("/entities", "operator", ENTITY).status_code == 201
    public = api.get("/entities/GD-0001")
    assert public.status_code == 200
    body = public.json()
    assert body["entity"]["name"] == "Huaneng Shantou Power" and body["facilities"] == []
    assert body["history"][0]["reason"] == "listed on the roster" and "actor" not in body["history"][0]
    assert api.get("/entities/GD-0001", "regulator").json()["history"][0]["actor"] == "operator"
    missing = api.get("/entities/NOPE")
    assert (missing.status_code, missing.json()["code"]) == (404, "roster_entity_not_found")


def test_other_roles_and_anonymous_callers_cannot_write(api: Api) -> None:
    forbidden = api.post("/entities", "rep-a", ENTITY)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    anonymous = api.post("/entities", None, ENTITY)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    upload = api.upload("rep-a", "r.csv", b"account_id,2019\nA1,30000\n")
    assert upload.status_code == 403
    assert api.get("/entities").json()["total"] == 0


def test_search_is_paged_within_page_size_max(api: Api) -> None:
    for n in range(3):
        body = {
            **ENTITY,
            "id": f"JS-{n}",
            "name": f"Jiangsu Steel {n}",
            "sector": "steel",
            "province": "Jiangsu",
        }
        assert api.post("/entities", "operator", body).status_code == 201
    page = api.get("/entities", q="steel", page=2, page_size=2).json()
    assert (page["total"], [e["entity_id"] for e in page["entities"]]) == (3, ["JS-2"])
    too_big = api.get("/entities", page_size=501)
    assert (too_big.status_code, too_big.json()["code"]) == (422, "invalid_request")
    assert api.get("/entities", sector="aviation").json()["code"] == "roster_invalid_sector"


def test_bad_bodies_are_refused_in_the_api_shape(api: Api) -> None:
    typo = api.post("/entities", "operator", {**ENTITY, "provice": "X"})
    assert (typo.status_code, typo.json()["code"]) == (422, "invalid_request")
    refused = api.post("/entities", "operator", {**ENTITY, "sector": "aviation"})
    assert (refused.status_code, refused.json()["code"]) == (422, "roster_invalid_sector")


def test_an_uploaded_csv_or_excel_file_is_imported_and_answers_the_import_interface(api: Api) -> None:
    text = "统一社会信用代码,年份,排放量\nGD-0001,2024,3100000\nGD-0002,2024,25999\nGD-0003,2024,Excluded\n"
    first = api.upload("operator", "guangdong.csv", text.encode("gbk"), year="2024", threshold="26000")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["ok"], body["rows"], body["included"], body["excluded"], body["encoding"]) == (
        True,
        3,
        1,
        1,
        "gbk",
    )
    assert body["rejected"] == [
        {"row": 4, "entity": "GD-0003", "reason": "2024: 'Excluded' is not a number of tonnes"}
    ]
    again = api.upload("regulator", "same.csv", text.encode("gbk"), year="2024", threshold="20000")
    assert (again.status_code, again.json()["result"], again.json()["included"]) == (200, "exists", 2)

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["account_id", 2023, 2024], ["GD-0004", 10, 40000], ["GD-0005", "Not Reported", 1]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    excel = api.upload("operator", "wide.xlsx", out.getvalue())
    assert excel.status_code == 201, excel.text
    assert (excel.json()["layout"], excel.json()["year"], excel.json()["included"]) == ("wide", 2024, 1)

    inclusion = api.get("/inclusion", year=2024).json()
    assert (inclusion["reported"], inclusion["included"]) == (4, 2)
    assert [e["entity"] for e in inclusion["entities"]] == ["GD-0001", "GD-0004"]
    unreadable = api.upload("operator", "x.csv", b"nothing,useful\n1,2\n")
    assert (unreadable.status_code, unreadable.json()["code"]) == (422, "roster_layout_unknown")
