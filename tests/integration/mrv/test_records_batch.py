"""`Records.submit_batch` and `Records.annual_emissions`: the bulk paths give what the per-record ones give.

The records come from the seeded generator with injected anomalies, so the real validation model
raises warnings on some and errors on others; a batch must store, refuse and alert exactly as
submitting the same records one at a time does.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Refusal
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables_rules import mrv_alerts
from carbonmarket.mrv.model import MonthlyRecord
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.rules import generator


def generated_records() -> list[MonthlyRecord]:
    """Twelve months of 16 facilities of the four sectors, a quarter of them given an anomaly."""
    dataset = generator.inject(generator.generate(16, start_year=2024, seed=4), rate=0.25, seed=9)
    records = [
        record
        for sector, frame in dataset.frames().items()
        for record, _context in generator.records_of(frame, sector)
    ]
    return sorted(records, key=lambda r: (r.month, r.facility_id))


def alerts_of(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as connection:
        return {(row.record_id, row.rule_id) for row in connection.execute(select(mrv_alerts))}


@pytest.fixture
def second_engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    upgrade(url)
    return make_engine(url)


def test_a_batch_stores_refuses_and_alerts_as_one_by_one_submissions(
    engine: Engine, second_engine: Engine
) -> None:
    records = generated_records()
    one_by_one = Records(second_engine)
    refused_singly = set()
    for n, record in enumerate(records):
        outcome = one_by_one.submit(LOCAL_OPERATOR, f"single-{n}", record)
        if isinstance(outcome, Refusal):
            refused_singly.add((record.facility_id, record.month, outcome.code.value))

    outcome = Records(engine).submit_batch(LOCAL_OPERATOR, "batch-1", records)
    assert isinstance(outcome, Done) and outcome.result == "created"
    refused_in_batch = {(r["facility_id"], r["month"], r["code"]) for r in outcome.data["rejected"]}
    assert refused_in_batch == refused_singly
    assert refused_singly, "the injected anomalies include errors that refuse a record"
    assert outcome.data["accepted"] == len(records) - len(refused_singly)
    assert alerts_of(engine) == alerts_of(second_engine)
    assert outcome.data["warnings"] == sum(len(r["findings"]) for r in outcome.data["with_findings"])
    for entity in sorted({r.entity_id for r in records})[:6]:
        batch = Records(engine).history(LOCAL_OPERATOR, entity, 2024)["records"]
        single = Records(second_engine).history(LOCAL_OPERATOR, entity, 2024)["records"]
        assert [(r["record_id"], r["values"]) for r in batch] == [
            (r["record_id"], r["values"]) for r in single
        ]


def test_a_batch_again_answers_exists_and_a_new_id_finds_every_month_submitted(engine: Engine) -> None:
    records = generated_records()[:40]
    service = Records(engine)
    first = service.submit_batch(LOCAL_OPERATOR, "batch-a", records)
    assert isinstance(first, Done)
    again = service.submit_batch(LOCAL_OPERATOR, "batch-a", records)
    assert isinstance(again, Done) and again.result == "exists" and again.data == first.data
    other = service.submit_batch(LOCAL_OPERATOR, "batch-b", records)
    assert isinstance(other, Done) and other.data["accepted"] == 0
    assert {r["code"] for r in other.data["rejected"]} == {"record_month_already_submitted"}


def test_a_batch_refuses_a_facility_under_another_entity_and_a_malformed_record(engine: Engine) -> None:
    records = [r for r in generated_records() if r.month <= 2][:10]
    service = Records(engine)
    assert isinstance(
        service.submit_batch(LOCAL_OPERATOR, "batch-jan", [r for r in records if r.month == 1]), Done
    )
    moved = replace(records[-1], entity_id="E-SOMEONE-ELSE", month=3)
    broken = replace(records[-1], month=4, values={})
    outcome = service.submit_batch(LOCAL_OPERATOR, "batch-bad", [moved, broken])
    assert isinstance(outcome, Done)
    codes = {r["index"]: r["code"] for r in outcome.data["rejected"]}
    assert codes[0] == "record_facility_mismatch"
    assert 1 in codes and codes[1] != "record_facility_mismatch"
    assert outcome.data["accepted"] == 0


def test_annual_emissions_equal_every_entitys_annual_report(engine: Engine) -> None:
    records = generated_records()
    service = Records(engine)
    service.submit_batch(LOCAL_OPERATOR, "batch-year", records)
    figures = service.annual_emissions(2024)
    assert figures and set(figures) <= {r.entity_id for r in records}
    for entity, tonnes in figures.items():
        assert tonnes == service.annual_report(entity, 2024)["emissions_tco2e"]
    assert service.annual_emissions(2023) == {}
