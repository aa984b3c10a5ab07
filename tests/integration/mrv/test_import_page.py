"""Importing files through the import page's API routes, on SQLite and PostgreSQL, with the real app.

`POST /api/mrv/records/imports` runs the monthly-data importer on an uploaded CSV or Excel file with
the real validation model: valid rows are stored together, every other row comes back with its reason,
and the alerts the model raised go to the review queue. A reviewer imports the entities of their
region only. The pages (`/mrv/import`, `/mrv/verification`, `/mrv/trace`) are shells with no inline
script. A property test checks that no row of any file is lost: each is accepted or rejected.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from carbonmarket.api.app import create_app
from carbonmarket.audit import store as audit_store
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables_records import mrv_records
from carbonmarket.identity import service as identity_service
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.records import importer
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.review.service import Review
from carbonmarket.mrv.roster.service import Roster

SECRET = "import-page-test-secret-0123456789abcdef0123"
PASSWORD = "correct horse battery"
COLUMNS = (
    "entity_id,facility_id,sector,year,month,coal_consumed_t,coal_ncv_gj_per_t,gas_consumed_10k_nm3,"
    "electricity_generated_mwh,electricity_supplied_mwh,heat_supplied_gj,operating_hours_h,load_rate_fraction,"
    "evidence_lab_report_id"
)
GAS_COLUMN = COLUMNS.split(",").index("gas_consumed_10k_nm3")


def month_row(month: int, gas: str = "21", entity: str = "E-GD", facility: str = "UNIT-G") -> str:
    """A gas unit's month that passes the real validation model (as in test_trace_chain.py); generation
    varies a little so no month looks copied from the one before."""
    generation = f"{1000 + month},{970 + month}"
    return f"{entity},{facility},power,2024,{month},0,0,{gas},{generation},0,500,0.6,实验室-{month:02d}"


def csv_file(*rows: str, encoding: str = "gbk") -> bytes:
    return ("\n".join([COLUMNS, *rows]) + "\n").encode(encoding)


class Http:
    """The real app over HTTP, with one bearer token per user."""

    def __init__(self, client: TestClient, identity: Identity, engine: Engine) -> None:
        self.client = client
        self.identity = identity
        self.engine = engine

    def headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        return {"Authorization": f"Bearer {self.identity.token_for(self.identity.actor(user))}"}

    def upload(self, user: str | None, data: bytes, name: str = "monthly.csv", **form: str) -> Any:
        return self.client.post(
            "/api/mrv/records/imports",
            files={"file": (name, data, "application/octet-stream")},
            data=form,
            headers=self.headers(user),
        )

    def get(self, path: str, user: str | None = None) -> Any:
        return self.client.get(path, headers=self.headers(user))

    def stored(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(mrv_records)).scalar_one())


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2 at its lowest cost: these tests sign no one in with a password, they mint tokens."""
    monkeypatch.setattr(
        identity_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def http(db_url: str) -> Iterator[Http]:
    """The app with a roster of two entities, the users of each role and a Guangdong reviewer."""
    engine = make_engine(db_url)
    identity = Identity(engine, SECRET)
    for user, role in (
        ("regulator", "regulator"),
        ("gd-reviewer", "reviewer"),
        ("new-reviewer", "reviewer"),
        ("national-reviewer", "reviewer"),
        ("rep", "entity_representative"),
        ("verifier", "verifier"),
        ("citizen", "public"),
    ):
        done(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role))
    roster = Roster(engine)
    done(roster.add_entity(LOCAL_OPERATOR, "E-GD", "Shenzhen Gas Power", "power", "Guangdong", "Shenzhen"))
    done(roster.add_entity(LOCAL_OPERATOR, "E-SD", "Jinan Coal Power", "power", "Shandong", "Jinan"))
    review = Review(engine)
    done(review.assign_reviewer(LOCAL_OPERATOR, "scope-gd", "gd-reviewer", "provincial", "Guangdong"))
    done(review.assign_reviewer(LOCAL_OPERATOR, "scope-cn", "national-reviewer", "national"))
    app = create_app(db_url, Settings(jwt_secret=SECRET))
    with TestClient(app) as client:
        yield Http(client, identity, engine)
    engine.dispose()


def test_a_reviewer_imports_a_gbk_file_keeping_valid_rows_and_listing_the_others(http: Http) -> None:
    data = csv_file(
        month_row(1),
        month_row(2),
        month_row(3, gas="40"),  # 40 × 10^4 Nm3 for ~1,000 MWh trips a threshold rule: an alert, kept
        month_row(4).replace(",500,", ",五百,"),  # text in a number field
        month_row(5, gas="-3"),  # a negative value
        month_row(6),
        month_row(6, gas="22"),  # the same facility-month twice: which one is right is unknowable
        month_row(1, entity="E-SD", facility="UNIT-S"),  # Shandong: outside the reviewer's region
        month_row(1, entity="E-XX", facility="UNIT-X"),  # not on the roster: cannot be placed
        month_row(7).replace(",500,", ",30000 min,"),  # operating hours in minutes, not the catalogue's h
    )
    answer = http.upload("gd-reviewer", data)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["result"], body["format"], body["encoding"], body["rows"]) == ("created", "csv", "gbk", 10)
    # 10 rows: months 1, 2 and 3 accepted (rows 2-4); rows 5-11 rejected, each with its reason.
    assert body["accepted"] == 3
    assert [(r["row"], r["code"]) for r in body["rejected"]] == [
        (5, "record_value_not_a_number"),
        (6, "record_value_negative"),
        (7, "record_duplicate_month_in_file"),
        (8, "record_duplicate_month_in_file"),
        (9, "review_out_of_scope"),
        (10, "review_entity_not_found"),
        (11, "record_unit_mismatch"),
    ]
    reasons = {r["row"]: r["reason"] for r in body["rejected"]}
    assert "五百" in reasons[5] and "operating_hours_h" in reasons[5]
    assert "Shandong/Jinan, outside the region of 'gd-reviewer'" in reasons[9]
    assert reasons[11] == "operating_hours_h: '30000 min' is in min, but operating_hours_h is in h"
    (march,) = [r for r in body["records"] if r["row"] == 4]
    assert march["record_id"] == "UNIT-G/2024-03/v1"
    assert [f["parameter"] for f in march["findings"]] == ["gas_consumed_10k_nm3"]
    assert http.stored() == 3
    # The alert waits in the review queue, for the regulator at the national tier.
    queue = http.get("/api/mrv/review/queue", "regulator").json()
    assert [a["alert_id"].startswith("UNIT-G/2024-03/v1/") for a in queue["alerts"]] == [True]


def test_the_same_file_again_answers_exists_with_the_first_result(http: Http) -> None:
    data = csv_file(month_row(1), month_row(2), encoding="utf-8")
    first = http.upload("regulator", data)
    again = http.upload("regulator", data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "result": "exists"}
    assert http.stored() == 2
    # Someone else's upload, or another id, is another attempt: both months are already submitted.
    for other in (http.upload("rep", data).json(), http.upload("regulator", data, id="second-try").json()):
        assert (other["result"], other["accepted"]) == ("created", 0)
        assert {r["code"] for r in other["rejected"]} == {"record_month_already_submitted"}
    corrected = http.upload(
        "regulator",
        csv_file(month_row(2, gas="20"), encoding="utf-8"),
        correct="true",
        reason="meter re-read",
    ).json()
    assert [r["record_id"] for r in corrected["records"]] == ["UNIT-G/2024-02/v2"]
    assert http.stored() == 3


def test_an_excel_workbook_and_a_large_csv_are_uploaded_and_read(http: Http) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS.split(","))
    for month in (1, 2):
        sheet.append(
            ["E-GD", "UNIT-G", "power", 2024, month, 0, 0, 21, 1000 + month, 970 + month, 0, 500, 0.6]
        )
    sheet.append(["E-GD", "UNIT-G", "power", 2024, 3, 0, 0, "n/a", 1003, 973, 0, 500, 0.6])
    buffer = io.BytesIO()
    workbook.save(buffer)
    body = http.upload("national-reviewer", buffer.getvalue(), name="guangdong-2024.xlsx").json()
    assert (body["format"], body["accepted"]) == ("xlsx", 2)
    assert [(r["row"], r["code"], r["parameter"]) for r in body["rejected"]] == [
        (4, "record_value_not_a_number", "gas_consumed_10k_nm3")
    ]
    # Uploads may exceed the 64 KB limit of JSON commands (api/limits.py): 1,500 rows of ~60 bytes,
    # each of a sector that does not exist, are all read and all rejected.
    large = csv_file(*(month_row(1, facility=f"U-{n}").replace(",power,", ",gold,") for n in range(1500)))
    assert len(large) > 64 * 1024
    answer = http.upload("regulator", large)
    assert answer.status_code == 201, answer.json()
    assert (answer.json()["rows"], answer.json()["accepted"]) == (1500, 0)
    assert {r["code"] for r in answer.json()["rejected"]} == {"record_unknown_sector"}


def test_a_file_that_cannot_be_read_is_refused_whole_leaves_nothing_and_is_audited(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_columns = b"entity,facility,month\nE-GD,UNIT-G,1\n"
    answer = http.upload("regulator", wrong_columns)
    assert answer.status_code == 422
    assert answer.json()["code"] == "record_columns_invalid"
    assert "the header lacks entity_id, facility_id, sector, year" in answer.json()["message"]
    not_text = http.upload("regulator", b"\x00\x81\xfe\xff" * 8)
    assert (not_text.status_code, not_text.json()["code"]) == (422, "record_file_unreadable")
    data = csv_file(month_row(1), month_row(2))
    monkeypatch.setattr(importer, "file_bytes_max", len(data) - 1)
    too_large = http.upload("regulator", data)
    assert (too_large.status_code, too_large.json()["code"]) == (422, "record_file_too_large")
    assert http.stored() == 0
    with http.engine.connect() as connection:
        refused = [row for row in audit_store.recent(connection, 20) if row.action == "refused"]
    assert len(refused) == 3 and all("mrv.record.import" in row.payload for row in refused)


def test_who_may_not_import(http: Http) -> None:
    for user, status, code in (
        (None, 401, "not_authenticated"),
        ("citizen", 403, "forbidden"),
        ("verifier", 403, "forbidden"),
        ("new-reviewer", 403, "review_reviewer_not_assigned"),
    ):
        answer = http.upload(user, csv_file(month_row(1)))
        assert (answer.status_code, answer.json()["code"]) == (status, code), user
    assert http.stored() == 0


# --- the pages: shells whatever the database, so one app on SQLite serves them --------------------


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'carbonmarket.db'}"
    upgrade(url)
    with TestClient(create_app(url, Settings(jwt_secret=SECRET))) as client:
        yield client


def test_the_mrv_pages_are_shells_with_their_own_scripts_and_no_inline_script(pages: TestClient) -> None:
    for path, script in (
        ("/mrv/import", "/static/mrv_import.js"),
        ("/mrv/verification", "/static/mrv_verification.js"),
        ("/mrv/trace", "/static/mrv_trace.js"),
    ):
        answer = pages.get(path)
        assert answer.status_code == 200, path
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert f'<script type="module" src="{script}"></script>' in answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", answer.text), f"{path} has an inline script"
        assert pages.get(script).status_code == 200
    # The import page names the file's columns from the catalogue and the threshold from roster.toml.
    page = pages.get("/mrv/import").text
    assert "<code>coal_consumed_t</code>" in page and 'value="26000"' in page


def test_the_trace_page_prefills_its_form_from_the_query_and_escapes_it(pages: TestClient) -> None:
    page = pages.get("/mrv/trace?entity=E-GD&year=2024").text
    assert 'value="E-GD"' in page and 'value="2024"' in page
    hostile = pages.get('/mrv/trace?entity="><script>alert(1)</script>&year=2024').text
    assert "<script>alert(1)" not in hostile and "&#34;&gt;&lt;script&gt;" in hostile


# --- nothing lost, nothing invented -----------------------------------------------------------------

CELLS = st.sampled_from(["21", "21.5", "0", "-2", "abc", "", "1e3", "1,000", "21 kg"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(1, 12), CELLS), min_size=1, max_size=14))
def test_every_row_of_a_file_is_either_stored_or_rejected_with_a_reason(
    engine: Engine, rows: list[tuple[int, str]]
) -> None:
    facility = f"U-{uuid.uuid4().hex[:10]}"
    lines = []
    for month, gas in rows:
        cells = month_row(month, facility=facility).split(",")
        cells[GAS_COLUMN] = f'"{gas}"'
        lines.append(",".join(cells))
    with engine.connect() as connection:
        before = int(connection.execute(select(func.count()).select_from(mrv_records)).scalar_one())
    outcome = Records(engine).import_file(
        Actor("province", Role.REGULATOR), csv_file(*lines, encoding="utf-8"), "m.csv", f"imp-{facility}"
    )
    result = done(outcome)
    rejected_rows = {r["row"] for r in result["rejected"]}
    accepted_rows = {r["row"] for r in result["records"]}
    assert not rejected_rows & accepted_rows, "a row is either accepted or rejected"
    assert rejected_rows | accepted_rows == set(range(2, len(rows) + 2)), "no row is silently dropped"
    assert all(r["reason"] for r in result["rejected"])
    with engine.connect() as connection:
        after = int(connection.execute(select(func.count()).select_from(mrv_records)).scalar_one())
    assert after - before == result["accepted"] == len(accepted_rows)
