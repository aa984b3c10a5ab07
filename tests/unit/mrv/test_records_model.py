"""Records' rules without a database: reading values, checking a record whole, versions, plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.model import MonthlyRecord, Sector, parameters_of
from carbonmarket.mrv.records.model import (
    RawRecord,
    build_record,
    check_evidence,
    next_version,
    parse_plan,
    parse_value,
    plan_deviations,
    problems_of,
    record_id,
    same_content,
)

COAL = next(spec for spec in parameters_of(Sector.POWER) if spec.name == "coal_consumed_t")
GAS = next(spec for spec in parameters_of(Sector.POWER) if spec.name == "gas_consumed_10k_nm3")
POWER_VALUES = {
    "coal_consumed_t": "1000",
    "coal_ncv_gj_per_t": "20.5",
    "gas_consumed_10k_nm3": "0",
    "electricity_generated_mwh": "3000",
    "electricity_supplied_mwh": "2800",
    "heat_supplied_gj": "0",
    "operating_hours_h": "600",
    "load_rate_fraction": "0.7",
}


def raw(**changes: Any) -> RawRecord:
    fields: dict[str, Any] = {
        "entity_id": "E-1",
        "facility_id": "UNIT-1",
        "sector": "power",
        "year": 2024,
        "month": 3,
        "values": dict(POWER_VALUES),
        "evidence": {},
    }
    fields.update(changes)
    return RawRecord(**fields)


def code_of(value: object) -> Code:
    with pytest.raises(Refused) as refused:
        parse_value(value, COAL)
    return refused.value.refusal.code


def test_values_are_read_exactly_from_text_integers_and_floats() -> None:
    assert parse_value("1234.5", COAL) == Decimal("1234.5")
    assert parse_value("1,234.5", COAL) == Decimal("1234.5")
    assert parse_value(" 1200 t ", COAL) == Decimal("1200")
    assert parse_value(7, COAL) == Decimal(7)
    # A float is read by its shortest decimal form: 0.1 is 0.1, not 0.1000000000000000055511151231257827.
    assert parse_value(0.1, COAL) == Decimal("0.1")
    assert parse_value("1E+3", COAL) == Decimal(1000)
    assert str(parse_value("1E+3", COAL)) == "1000"
    assert parse_value("21 10^4 Nm3", GAS) == Decimal(21)


def test_text_in_a_number_field_is_refused_with_words() -> None:
    assert code_of("Not Reported") is Code.RECORD_VALUE_NOT_A_NUMBER
    assert code_of("1.2.3") is Code.RECORD_VALUE_NOT_A_NUMBER
    assert code_of("NaN") is Code.RECORD_VALUE_NOT_A_NUMBER
    assert code_of("Infinity") is Code.RECORD_VALUE_NOT_A_NUMBER
    assert code_of(True) is Code.RECORD_VALUE_NOT_A_NUMBER
    assert code_of([1]) is Code.RECORD_VALUE_NOT_A_NUMBER


def test_negative_values_are_refused() -> None:
    assert code_of("-5") is Code.RECORD_VALUE_NEGATIVE
    assert code_of(-0.5) is Code.RECORD_VALUE_NEGATIVE
    assert parse_value("-0", COAL) == 0


def test_a_value_in_another_unit_is_refused() -> None:
    assert code_of("1200 kg") is Code.RECORD_UNIT_MISMATCH
    assert code_of("85%") is Code.RECORD_UNIT_MISMATCH


def test_absurd_values_are_refused() -> None:
    assert code_of("1e13") is Code.RECORD_VALUE_OUT_OF_RANGE
    assert code_of("1e-400") is Code.RECORD_VALUE_OUT_OF_RANGE
    assert code_of("1e999999999") is Code.RECORD_VALUE_OUT_OF_RANGE


def test_a_good_record_is_built_with_decimal_values() -> None:
    record, problems = build_record(raw(values={**POWER_VALUES, "oil_consumed_t": ""}))
    assert problems == []
    assert record is not None
    assert record.values["coal_ncv_gj_per_t"] == Decimal("20.5")
    assert "oil_consumed_t" not in record.values


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    values = {**POWER_VALUES, "coal_consumed_t": "abc", "heat_supplied_gj": "-1", "clinker_output_t": "5"}
    del values["operating_hours_h"]
    record, problems = build_record(raw(month=13, values=values))
    assert record is None
    assert sorted((p.code.value, p.parameter) for p in problems) == sorted(
        [
            ("record_invalid_period", "month"),
            ("record_value_not_a_number", "coal_consumed_t"),
            ("record_value_negative", "heat_supplied_gj"),
            ("record_unknown_parameter", "clinker_output_t"),
            ("record_missing_parameter", "operating_hours_h"),
        ]
    )


def test_an_unknown_sector_and_bad_ids_are_problems() -> None:
    _record, problems = build_record(raw(sector="chemicals", entity_id="", facility_id="a b"))
    assert {p.code for p in problems} == {Code.RECORD_UNKNOWN_SECTOR, Code.INVALID_ID}


def test_records_built_in_code_pass_the_same_checks() -> None:
    record = MonthlyRecord("E-1", "UNIT-1", Sector.POWER, 2024, 1, {"coal_consumed_t": Decimal(-1)})
    codes = {p.code for p in problems_of(record)}
    assert Code.RECORD_VALUE_NEGATIVE in codes and Code.RECORD_MISSING_PARAMETER in codes


def test_evidence_hashes_must_be_sha256_digests() -> None:
    digest = "AB" * 32
    assert check_evidence({"file_sha256": digest, "lab_report_id": "LR-1"}) == {
        "file_sha256": digest.lower(),
        "lab_report_id": "LR-1",
    }
    for bad in (
        {"file_sha256": "abc"},
        {"Bad Key": "x"},
        {"lab_report_id": ""},
        {"lab_report_id": "x" * 201},
    ):
        with pytest.raises(Refused) as refused:
            check_evidence(bad)
        assert refused.value.refusal.code is Code.RECORD_INVALID_EVIDENCE


def test_a_month_is_submitted_once_and_corrected_with_a_reason() -> None:
    assert next_version(None, False, "", "U 2024-03") == 1
    assert next_version(1, True, "lab re-test", "U 2024-03") == 2
    cases = [
        ((1, False, ""), Code.RECORD_MONTH_ALREADY_SUBMITTED),
        ((1, True, "  "), Code.RECORD_CORRECTION_REASON_REQUIRED),
        ((None, True, "why"), Code.RECORD_NOT_FOUND),
    ]
    for (latest, correct, reason), code in cases:
        with pytest.raises(Refused) as refused:
            next_version(latest, correct, reason, "U 2024-03")
        assert refused.value.refusal.code is code
    assert record_id("UNIT-1", 2024, 3, 2) == "UNIT-1/2024-03/v2"


def test_versions_with_equal_numbers_say_the_same_thing() -> None:
    a = MonthlyRecord("E", "U", Sector.POWER, 2024, 1, {"coal_consumed_t": Decimal("1.0")})
    b = MonthlyRecord("E", "U", Sector.POWER, 2024, 1, {"coal_consumed_t": Decimal("1.00")})
    c = MonthlyRecord("E", "U", Sector.POWER, 2024, 1, {"coal_consumed_t": Decimal("1.01")})
    assert same_content(a, b) and not same_content(a, c)


def test_a_monitoring_plan_names_known_parameters_and_methods() -> None:
    plan = parse_plan(
        "E-1",
        "UNIT-1",
        "power",
        2024,
        1,
        {
            "coal_carbon_content_tc_per_gj": {"method": "measured", "lab": "CNAS L1234", "meter_ids": []},
            "coal_consumed_t": {"method": "measured", "meter_ids": ["BELT-1", "BELT-2"]},
            "oil_consumed_t": {"method": "default"},
        },
    )
    assert plan.parameters["coal_consumed_t"].meter_ids == ("BELT-1", "BELT-2")
    record, _ = build_record(raw(values={**POWER_VALUES, "oil_consumed_t": "3"}))
    assert record is not None
    assert plan_deviations(plan, record) == [
        "coal_carbon_content_tc_per_gj is measured under the monitoring plan but was not reported",
        "oil_consumed_t takes the default under the monitoring plan but a value was reported",
    ]
    bad_plans: list[dict[str, dict[str, Any]]] = [
        {"clinker_output_t": {"method": "measured"}},
        {"coal_consumed_t": {"method": "guessed"}},
        {"coal_consumed_t": {"method": "default"}},
        {"coal_consumed_t": {"method": "measured", "meter_ids": ["bad id"]}},
        {},
    ]
    for bad in bad_plans:
        with pytest.raises(Refused):
            parse_plan("E-1", "UNIT-1", "power", 2024, 1, bad)
