"""Monthly records on SQLite and PostgreSQL: versions, corrections, idempotency, rules, plans, reports.

The validation model is another part of issue 3; most tests here replace it with a stub whose
findings they choose (`rules`), so they test what records do with findings, not the catalogue.
`test_the_real_validation_model_runs_on_submission` runs the real one when it is installed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from carbonmarket.audit.service import verify
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.db.tables import audit_log
from carbonmarket.db.tables_records import mrv_record_values, mrv_records
from carbonmarket.mrv.model import Finding, MonthlyRecord, RuleCategory, Severity
from carbonmarket.mrv.records import service
from carbonmarket.mrv.records.model import RawRecord
from carbonmarket.mrv.records.service import Records

REP = Actor("rep-1", Role.ENTITY_REPRESENTATIVE)
PUBLIC = Actor("someone", Role.PUBLIC)
GAS_MONTH = {
    "coal_consumed_t": "0",
    "coal_ncv_gj_per_t": "0",
    "gas_consumed_10k_nm3": "21",
    "electricity_generated_mwh": "1000",
    "electricity_supplied_mwh": "970",
    "heat_supplied_gj": "0",
    "operating_hours_h": "500",
    "load_rate_fraction": "0.6",
}


@dataclass
class RulesStub:
    """A validation model whose findings the test chooses; it records what it was shown and saved."""

    findings: list[Finding] = field(default_factory=list)
    previous: list[list[MonthlyRecord]] = field(default_factory=list)
    saved: list[tuple[str, str, int, int, list[Finding]]] = field(default_factory=list)
    fail_saving: bool = False


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> RulesStub:
    stub = RulesStub()

    def evaluate(record: MonthlyRecord, previous: Any) -> list[Finding]:
        stub.previous.append(list(previous))
        return list(stub.findings)

    def save(
        connection: Connection, record_id: str, record: MonthlyRecord, findings: list[Finding], _clock: Any
    ) -> None:
        if stub.fail_saving:
            raise RuntimeError("alert store down")
        stub.saved.append((record_id, record.entity_id, record.year, record.month, findings))

    monkeypatch.setattr(service, "evaluate_rules", evaluate)
    monkeypatch.setattr(service, "save_alerts", save)
    return stub


@pytest.fixture
def records(engine: Engine) -> Records:
    return Records(engine, FixedClock(datetime(2025, 2, 10, 9, 0, tzinfo=UTC)))


def gas_month(
    month: int, gas: str = "21", facility: str = "UNIT-G", entity: str = "E-1", **extra: str
) -> RawRecord:
    return RawRecord(
        entity, facility, "power", 2024, month, {**GAS_MONTH, "gas_consumed_10k_nm3": gas, **extra}
    )


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome) -> Code:
    assert isinstance(outcome, Refusal), outcome
    return outcome.code


def finding(severity: Severity, message: str = "looks odd") -> Finding:
    return Finding("TEST-001", RuleCategory.THRESHOLD, severity, "gas_consumed_10k_nm3", message)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_submitted_month_is_version_1_and_shows_in_the_history(records: Records, rules: RulesStub) -> None:
    data = done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert (data["record_id"], data["version"], data["supersedes"]) == ("UNIT-G/2024-01/v1", 1, None)
    assert data["estimate_tco2e"] == "454.65"
    history = records.history(REP, "E-1", 2024)
    (entry,) = history["records"]
    assert entry["current"] is True
    assert entry["values"]["gas_consumed_10k_nm3"] == "21"
    assert entry["submitted_by"] == "rep-1"


def test_a_second_submission_of_a_month_is_refused_without_correct(
    records: Records, rules: RulesStub
) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert (
        refused(records.submit_raw(REP, "s-2", gas_month(1, gas="22"))) is Code.RECORD_MONTH_ALREADY_SUBMITTED
    )


def test_a_correction_is_a_new_version_and_the_history_keeps_the_old_one(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    data = done(
        records.submit_raw(REP, "s-2", gas_month(1, gas="22"), correct=True, reason="meter recalibrated")
    )
    assert (data["record_id"], data["version"], data["supersedes"]) == (
        "UNIT-G/2024-01/v2",
        2,
        "UNIT-G/2024-01/v1",
    )
    first, second = records.history(REP, "E-1", 2024)["records"]
    assert (first["version"], first["current"], first["values"]["gas_consumed_10k_nm3"]) == (1, False, "21")
    assert (second["version"], second["current"], second["reason"]) == (2, True, "meter recalibrated")
    # Never overwritten: both versions and both sets of values are rows of their own.
    assert count(engine, mrv_records) == 2
    assert count(engine, mrv_record_values) == 2 * len(GAS_MONTH)


def test_a_correction_needs_a_reason_an_existing_month_and_a_change(
    records: Records, rules: RulesStub
) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert refused(records.submit_raw(REP, "c-1", gas_month(1, gas="22"), correct=True)) is (
        Code.RECORD_CORRECTION_REASON_REQUIRED
    )
    assert (
        refused(records.submit_raw(REP, "c-2", gas_month(2), correct=True, reason="x"))
        is Code.RECORD_NOT_FOUND
    )
    assert refused(records.submit_raw(REP, "c-3", gas_month(1, gas="21.0"), correct=True, reason="x")) is (
        Code.RECORD_CORRECTION_UNCHANGED
    )


def test_the_same_command_id_returns_the_first_result_and_another_body_is_refused(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    first = records.submit_raw(REP, "s-1", gas_month(1))
    again = records.submit_raw(REP, "s-1", gas_month(1))
    assert isinstance(first, Done) and isinstance(again, Done)
    assert (first.result, again.result) == ("created", "exists")
    assert again.data == first.data
    assert (
        refused(records.submit_raw(REP, "s-1", gas_month(1, gas="30"))) is Code.EXISTS_WITH_DIFFERENT_FIELDS
    )
    assert count(engine, mrv_records) == 1


def test_bad_input_is_refused_with_every_problem_listed(records: Records, rules: RulesStub) -> None:
    outcome = records.submit_raw(REP, "s-1", gas_month(1, gas="-1", heat_supplied_gj="lots"))
    assert isinstance(outcome, Refusal)
    assert {p["code"] for p in outcome.details["problems"]} == {
        "record_value_negative",
        "record_value_not_a_number",
    }


def test_a_facility_stays_with_its_entity_and_sector(records: Records, rules: RulesStub) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert (
        refused(records.submit_raw(REP, "s-2", gas_month(2, entity="E-2"))) is Code.RECORD_FACILITY_MISMATCH
    )
    cement = RawRecord(
        "E-1",
        "UNIT-G",
        "cement",
        2024,
        2,
        {
            "clinker_output_t": "1",
            "clinker_cao_fraction": "0.6",
            "non_carbonate_cao_fraction": "0",
            "kiln_coal_consumed_t": "1",
        },
    )
    assert refused(records.submit_raw(REP, "s-3", cement)) is Code.RECORD_FACILITY_MISMATCH


def test_an_error_finding_refuses_the_record_and_stores_nothing(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    rules.findings = [finding(Severity.WARNING), finding(Severity.ERROR, "gas above the unit's capacity")]
    outcome = records.submit_raw(REP, "s-1", gas_month(1))
    assert isinstance(outcome, Refusal) and outcome.code is Code.RECORD_REJECTED_BY_RULES
    assert "gas above the unit's capacity" in outcome.message
    assert len(outcome.details["findings"]) == 2
    assert count(engine, mrv_records) == 0 and rules.saved == []


def test_warnings_come_back_in_the_result_and_are_saved_as_alerts(records: Records, rules: RulesStub) -> None:
    rules.findings = [finding(Severity.WARNING, "gas per MWh above the norm")]
    data = done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert [f["message"] for f in data["findings"]] == ["gas per MWh above the norm"]
    assert data["findings"][0]["severity"] == "warning"
    assert rules.saved == [("UNIT-G/2024-01/v1", "E-1", 2024, 1, rules.findings)]


def test_alerts_are_saved_in_the_records_transaction(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    rules.findings = [finding(Severity.WARNING)]
    rules.fail_saving = True
    with pytest.raises(RuntimeError):
        records.submit_raw(REP, "s-1", gas_month(1))
    assert count(engine, mrv_records) == 0


def test_the_rules_see_the_facilitys_other_months(records: Records, rules: RulesStub) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    done(records.submit_raw(REP, "s-2", gas_month(2)))
    done(records.submit_raw(REP, "s-3", gas_month(1, gas="25"), correct=True, reason="typo"))
    seen = rules.previous[-1]
    # The correction of January is judged against February, not against its own earlier version.
    assert [(r.year, r.month) for r in seen] == [(2024, 2)]


def test_the_annual_report_sums_current_versions_and_rounds_once(records: Records, rules: RulesStub) -> None:
    for m in range(1, 13):
        done(records.submit_raw(REP, f"s-{m}", gas_month(m)))
    done(records.submit_raw(REP, "fix-3", gas_month(3, gas="42"), correct=True, reason="second meter missed"))
    report = records.annual_report("E-1", 2024)
    # Each month: 21 × 389.31 × 0.01532 × 0.99 × 44/12 = 454.653191916 t;
    # March after its correction: 42 ×10^4 Nm3 → 909.306383832 t.
    # Year: 11 × 454.653191916 + 909.306383832 = 5,910.491494908 t → 5,910 t (rounded once).
    assert report["emissions_tco2e"] == 5910
    assert report["emissions_exact_tco2e"] == "5910.491495"
    assert [m["tco2e"] for m in report["months"][:3]] == ["454.653192", "454.653192", "909.306384"]
    march = next(v for v in report["record_versions"] if v["month"] == 3)
    assert (march["record_id"], march["version"], march["reason"]) == (
        "UNIT-G/2024-03/v2",
        2,
        "second meter missed",
    )
    assert len(report["lines"]) == 12 and report["lines"][2]["record_id"] == "UNIT-G/2024-03/v2"
    ncv = next(d for d in report["defaults_used"] if d["name"] == "gas_ncv_gj_per_10k_nm3")
    assert (ncv["value"], ncv["tag"], len(ncv["used_in"])) == ("389.31", "?", 12)
    (facility,) = report["facilities"]
    assert facility["months_missing"] == []
    # Intensity: 5,910.491 t / 12,000 MWh generated = 0.4925 t/MWh.
    assert facility["intensity"]["value"] == "0.4925"
    assert report["parameters_used"][2]["values"]["gas_consumed_10k_nm3"] == "42"


def test_the_report_of_an_entity_with_power_and_aluminium_lists_each_gas(
    records: Records, rules: RulesStub
) -> None:
    done(records.submit_raw(REP, "p-1", gas_month(1, entity="E-MIX", facility="UNIT-M")))
    smelter = RawRecord(
        "E-MIX",
        "POT-1",
        "aluminium",
        2024,
        1,
        {"molten_aluminium_output_t": "1000", "net_anode_consumed_t": "400"},
    )
    done(records.submit_raw(REP, "a-1", smelter))
    report = records.annual_report("E-MIX", 2024)
    # 454.653192 (gas) + 1,431.466667 (anode) + 225.42 (CF4) + 37.74 (C2F6) = 2,149.279859 → 2,149 t.
    assert report["emissions_tco2e"] == 2149
    assert report["gases"]["CF4"] == {"tco2e": "225.42", "kg": "34"}
    assert report["gases"]["CO2"]["tco2e"] == "1886.119859"
    assert [f["sector"] for f in report["facilities"]] == ["aluminium", "power"]
    with pytest.raises(Refused) as unknown:
        records.annual_report("E-MIX", 2024, gwp_version="AR9")
    assert unknown.value.refusal.code is Code.RECORD_UNKNOWN_GWP_VERSION
    assert records.annual_report("E-MIX", 2024, gwp_version="AR4")["emissions_tco2e"] == 2179


def test_an_annual_report_without_records_is_refused(records: Records) -> None:
    with pytest.raises(Refused) as missing:
        records.annual_report("E-NONE", 2024)
    assert missing.value.refusal.code is Code.RECORD_NOT_FOUND


def test_the_public_may_neither_submit_nor_read(records: Records, rules: RulesStub) -> None:
    assert refused(records.submit_raw(PUBLIC, "s-1", gas_month(1))) is Code.FORBIDDEN
    with pytest.raises(Refused) as forbidden:
        records.history(PUBLIC, "E-1", 2024)
    assert forbidden.value.refusal.code is Code.FORBIDDEN


def test_every_submission_and_refusal_is_in_an_intact_audit_chain(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    refused(records.submit_raw(REP, "s-2", gas_month(1)))
    check = verify(engine)
    assert check.ok
    with engine.connect() as connection:
        actions = [r.action for r in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]
    assert actions == ["mrv.record.submit", "refused"]


def test_the_check_saves_nothing_and_says_what_a_submission_would_meet(
    records: Records, rules: RulesStub, engine: Engine
) -> None:
    answer = records.check(REP, gas_month(1, gas="abc"))
    assert answer["valid"] is False and answer["problems"][0]["code"] == "record_value_not_a_number"
    rules.findings = [finding(Severity.WARNING)]
    answer = records.check(REP, gas_month(1))
    assert (answer["valid"], answer["estimate_tco2e"], answer["submitted_version"]) == (True, "454.65", None)
    assert len(answer["findings"]) == 1
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert records.check(REP, gas_month(1))["submitted_version"] == 1
    rules.findings = [finding(Severity.ERROR)]
    assert records.check(REP, gas_month(2))["valid"] is False
    assert count(engine, mrv_records) == 1


def test_monitoring_plans_are_versioned_and_show_in_submissions_and_reports(
    records: Records, rules: RulesStub
) -> None:
    plan = {"coal_carbon_content_tc_per_gj": {"method": "measured", "lab": "CNAS L0001", "meter_ids": []}}
    first = done(records.set_plan(REP, "p-1", "E-1", "UNIT-G", "power", 2024, 1, plan))
    assert (first["plan_id"], first["version"]) == ("UNIT-G/plan/v1", 1)
    assert refused(records.set_plan(REP, "p-2", "E-1", "UNIT-G", "power", 2024, 6, plan)) is (
        Code.RECORD_CORRECTION_REASON_REQUIRED
    )
    done(records.set_plan(REP, "p-3", "E-1", "UNIT-G", "power", 2024, 6, plan, "new lab from June"))
    assert refused(records.set_plan(REP, "p-4", "E-2", "UNIT-G", "power", 2024, 1, plan)) is (
        Code.RECORD_FACILITY_MISMATCH
    )
    data = done(records.submit_raw(REP, "s-1", gas_month(1)))
    assert data["plan_deviations"] == [
        "coal_carbon_content_tc_per_gj is measured under the monitoring plan but was not reported"
    ]
    versions = records.plans(REP, "UNIT-G")["versions"]
    assert [(v["version"], v["valid_from"], v["reason"]) for v in versions] == [
        (1, "2024-01", None),
        (2, "2024-06", "new lab from June"),
    ]
    assert records.annual_report("E-1", 2024)["facilities"][0]["monitoring_plan_version"] == 2


def test_two_submissions_of_one_month_at_once_store_one_version(engine: Engine, rules: RulesStub) -> None:
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(4)

    def submit(n: int) -> None:
        barrier.wait()
        outcomes.append(Records(engine).submit_raw(REP, f"race-{n}", gas_month(1, gas=str(20 + n))))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["Done", "Refusal", "Refusal", "Refusal"]
    assert {o.code for o in outcomes if isinstance(o, Refusal)} == {Code.RECORD_MONTH_ALREADY_SUBMITTED}
    assert count(engine, mrv_records) == 1


def test_the_real_validation_model_runs_on_submission(records: Records) -> None:
    pytest.importorskip("carbonmarket.mrv.rules.engine")
    # 800 operating hours in April (720 h in the month) is impossible; the model must say so, whether as
    # an error that refuses the record or as a finding that goes to review.
    outcome = records.submit_raw(
        LOCAL_OPERATOR,
        "real-1",
        RawRecord("E-R", "UNIT-R", "power", 2024, 4, {**GAS_MONTH, "operating_hours_h": "800"}),
    )
    if isinstance(outcome, Refusal):
        assert outcome.code is Code.RECORD_REJECTED_BY_RULES
    else:
        assert outcome.data["findings"]


def test_warnings_become_open_alerts_in_the_review_queue(
    records: Records, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("carbonmarket.mrv.rules.store")
    from carbonmarket.db.tables_rules import mrv_alerts

    def evaluate(_record: MonthlyRecord, _previous: Any) -> list[Finding]:
        return [finding(Severity.WARNING, "gas per MWh above the norm")]

    # Only the model is stubbed: the alerts go through the real rules store into mrv_alerts.
    monkeypatch.setattr(service, "evaluate_rules", evaluate)
    done(records.submit_raw(REP, "s-1", gas_month(1)))
    with engine.connect() as connection:
        alerts = connection.execute(select(mrv_alerts)).all()
    assert [(a.record_id, a.facility_id, a.rule_id, a.status, a.created_at[:10]) for a in alerts] == [
        ("UNIT-G/2024-01/v1", "UNIT-G", "TEST-001", "open", "2025-02-10")
    ]
