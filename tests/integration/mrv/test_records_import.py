"""Importing monthly data on SQLite and PostgreSQL: valid rows kept, bad rows listed, nothing half-written."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Connection, Engine, func, select

from carbonmarket.core.actors import Actor, Role
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.db.tables_records import mrv_records
from carbonmarket.mrv.model import Finding, MonthlyRecord, RuleCategory, Severity
from carbonmarket.mrv.records import service, store
from carbonmarket.mrv.records.importer import read_monthly_file
from carbonmarket.mrv.records.model import RawRecord
from carbonmarket.mrv.records.service import Records

REGULATOR = Actor("province-1", Role.REGULATOR)
HEADER = (
    "entity_id,facility_id,sector,year,month,coal_consumed_t,coal_ncv_gj_per_t,gas_consumed_10k_nm3,"
    "electricity_generated_mwh,electricity_supplied_mwh,heat_supplied_gj,operating_hours_h,load_rate_fraction,"
    "evidence_lab_report_id"
)


def row(month: int, coal: str = "1000", facility: str = "UNIT-1", lab: str = "华北实验室-001") -> str:
    return f"E-1,{facility},power,2024,{month},{coal},20.5,0,3000,2800,0,600,0.7,{lab}"


def gbk_file(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("gbk")


@pytest.fixture(autouse=True)
def quiet_rules(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stub validation model: an error for any month whose coal is 999 t, else nothing."""
    flagged: list[str] = []

    def evaluate(record: MonthlyRecord, _previous: Any) -> list[Finding]:
        if record.values.get("coal_consumed_t") == 999:
            return [
                Finding(
                    "TEST-9",
                    RuleCategory.STANDARD,
                    Severity.ERROR,
                    "coal_consumed_t",
                    "999 t is a test error",
                )
            ]
        return []

    def save(
        _connection: Connection, record_id: str, _record: MonthlyRecord, _findings: list[Finding], _clock: Any
    ) -> None:
        flagged.append(record_id)

    monkeypatch.setattr(service, "evaluate_rules", evaluate)
    monkeypatch.setattr(service, "save_alerts", save)
    return flagged


@pytest.fixture
def records(engine: Engine) -> Records:
    return Records(engine)


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(mrv_records)).scalar_one())


def imported(records: Records, data: bytes, command_id: str = "imp-1", **options: Any) -> Outcome:
    return records.import_records(REGULATOR, command_id, read_monthly_file(data, "monthly.csv"), **options)


def test_a_gbk_file_keeps_its_valid_rows_and_lists_the_others(records: Records, engine: Engine) -> None:
    data = gbk_file(
        row(1), row(2, coal="不详"), row(3, coal="-4"), row(4), row(4, coal="1001"), row(5, coal="999")
    )
    outcome = imported(records, data)
    assert isinstance(outcome, Done)
    result = outcome.data
    assert (result["encoding"], result["rows"], result["accepted"]) == ("gbk", 6, 1)
    assert [(r["row"], r["code"]) for r in result["rejected"]] == [
        (3, "record_value_not_a_number"),
        (4, "record_value_negative"),
        (5, "record_duplicate_month_in_file"),
        (6, "record_duplicate_month_in_file"),
        (7, "record_rejected_by_rules"),
    ]
    assert result["records"] == [{"row": 2, "record_id": "UNIT-1/2024-01/v1", "findings": []}]
    assert stored(engine) == 1
    history = records.history(REGULATOR, "E-1", 2024)["records"]
    assert history[0]["evidence"] == {"lab_report_id": "华北实验室-001"}


def test_importing_the_same_file_again_returns_the_first_result(records: Records, engine: Engine) -> None:
    data = gbk_file(row(1), row(2))
    first = imported(records, data)
    again = imported(records, data)
    assert isinstance(first, Done) and isinstance(again, Done)
    assert (first.result, again.result, again.data) == ("created", "exists", first.data)
    assert stored(engine) == 2


def test_months_already_submitted_are_rejected_unless_the_import_corrects(
    records: Records, engine: Engine
) -> None:
    imported(records, gbk_file(row(1), row(2)))
    second = imported(records, gbk_file(row(2, coal="1100"), row(3)), "imp-2")
    assert isinstance(second, Done)
    assert [(r["row"], r["code"]) for r in second.data["rejected"]] == [(2, "record_month_already_submitted")]
    assert second.data["accepted"] == 1
    assert isinstance(imported(records, gbk_file(row(2, coal="1200")), "imp-3", correct=True), Refusal), (
        "a correcting import needs a reason"
    )
    corrected = imported(
        records, gbk_file(row(2, coal="1200"), row(4)), "imp-4", correct=True, reason="re-weighed"
    )
    assert isinstance(corrected, Done)
    assert [r["record_id"] for r in corrected.data["records"]] == ["UNIT-1/2024-02/v2", "UNIT-1/2024-04/v1"]
    assert stored(engine) == 5


def test_a_facility_of_another_entity_is_a_rejected_row(records: Records) -> None:
    records.submit_raw(
        REGULATOR,
        "own",
        RawRecord(
            "E-9",
            "UNIT-9",
            "power",
            2024,
            1,
            dict(zip(HEADER.split(",")[5:13], row(1).split(",")[5:13], strict=True)),
        ),
    )
    outcome = imported(records, gbk_file(row(1, facility="UNIT-9"), row(1)))
    assert isinstance(outcome, Done)
    assert [(r["row"], r["code"]) for r in outcome.data["rejected"]] == [(2, "record_facility_mismatch")]


def test_nothing_is_half_written_when_the_database_fails_midway(
    records: Records, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = store.insert_record
    calls = {"n": 0}

    def failing_insert(connection: Connection, **values: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        real_insert(connection, **values)

    monkeypatch.setattr(store, "insert_record", failing_insert)
    with pytest.raises(RuntimeError):
        imported(records, gbk_file(row(1), row(2), row(3), row(4)))
    assert stored(engine) == 0


def test_an_excel_file_is_imported(records: Records, engine: Engine) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    for month in (1, 2, 3):
        sheet.append(
            ["E-1", "UNIT-1", "power", 2024, month, 1000 + month, 20.5, 0, 3000, 2800, 0, 600, 0.7, None]
        )
    sheet.append(["E-1", "UNIT-1", "power", 2024, 4, "n/a", 20.5, 0, 3000, 2800, 0, 600, 0.7, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome = records.import_records(REGULATOR, "xl-1", read_monthly_file(buffer.getvalue(), "m.xlsx"))
    assert isinstance(outcome, Done)
    assert (outcome.data["format"], outcome.data["accepted"]) == ("xlsx", 3)
    assert [(r["row"], r["code"]) for r in outcome.data["rejected"]] == [(5, "record_value_not_a_number")]
    report = records.annual_report("E-1", 2024)
    # 1001 + 1002 + 1003 = 3,006 t × 20.5 GJ/t = 61,623 GJ; × 0.03085 tC/GJ (the default: never measured)
    #   = 1,901.06955 tC; × 0.99 = 1,882.0588545 tC; × 44/12 = 6,900.8824665 t → 6,901 t
    assert report["emissions_exact_tco2e"] == "6900.882467"
    assert report["emissions_tco2e"] == 6901


def test_the_public_may_not_import(records: Records) -> None:
    outcome = records.import_records(Actor("x", Role.PUBLIC), "p-1", read_monthly_file(gbk_file(row(1))))
    assert isinstance(outcome, Refusal) and outcome.code is Code.FORBIDDEN
