"""The rules' expression language: a whitelist parsed by us, never Python's eval, with fixed semantics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbonmarket.mrv.model import MonthlyRecord, RuleCategory, Sector, Severity
from carbonmarket.mrv.rules.engine import environment, evaluate, verdict
from carbonmarket.mrv.rules.model import (
    Example,
    ExpressionError,
    Rule,
    allowed_names,
    parameter_names,
    parse_check,
    reads,
)

POWER = (Sector.POWER,)


def parse(text: str) -> object:
    return parse_check(text, allowed_names(POWER), parameter_names(POWER))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo pwned') == 0",
        "open('/etc/passwd') == 1",
        "coal_consumed_t.__class__ == 1",
        "(lambda: 1)() == 1",
        "[x for x in (1, 2)] == 1",
        "coal_consumed_t if True else 1",
        "coal_consumed_t ** 2 > 1",
        "coal_consumed_t // 2 > 1",
        "coal_consumed_t[0] > 1",
        "eval('1') == 1",
        "prev.prev.coal_consumed_t > 1",
        "prev.hours_in_month > 1",
        "unknown_name > 1",
        "crude_steel_output_t > 1",
        "coal_consumed_t",
        "coal_consumed_t + 1",
        "True",
        "coal_consumed_t > 'text'",
        "unit_category < 'I'",
        "min(coal_consumed_t) > 1",
        "abs(coal_consumed_t, 1) > 1",
        "present(1 + 2)",
        "coal_consumed_t > 1; x = 2",
        "f'{coal_consumed_t}' == 'a'",
        "coal_consumed_t := 3",
        "1" + " + 1" * 60 + " > 0",
        "coal_consumed_t > " + "1" * 1200,
    ],
)
def test_the_parser_refuses_anything_outside_the_language(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse(text)


def test_the_parser_builds_its_own_tree_for_the_whole_language() -> None:
    tree = parse(
        "not (coal_consumed_t < 0) and (-coal_consumed_t / 2 + 1 * 3 - max(1, 2, 3) "
        "<= abs(min(coal_consumed_t, 4)) "
        "or unit_category in ('I', 'II') or unit_category != 'IV') and 0 <= load_rate_fraction <= 1 "
        "and present(prev.coal_consumed_t)"
    )
    names = {n.key for n in reads(tree)}  # type: ignore[arg-type]
    assert names == {"coal_consumed_t", "unit_category", "load_rate_fraction"}


def rule_of(check: str) -> Rule:
    expression = parse_check(check, allowed_names(POWER), parameter_names(POWER))
    empty = Example(values={})
    return Rule(
        "PWR-TST-001", RuleCategory.LOGIC, POWER, (), check, expression, Severity.WARNING, None,
        "message {coal_consumed_t}", "rationale", "source", empty, empty, reads(expression),
    )  # fmt: skip


def judge(check: str, values: dict[str, str], prev: dict[str, str] | None = None) -> bool | None:
    record = MonthlyRecord("E", "F", Sector.POWER, 2024, 6, {k: Decimal(v) for k, v in values.items()})
    previous = [] if prev is None else [
        MonthlyRecord("E", "F", Sector.POWER, 2024, 5, {k: Decimal(v) for k, v in prev.items()})
    ]  # fmt: skip
    return verdict(rule_of(check), environment(record, previous, None))


def test_a_rule_is_skipped_not_failed_when_a_parameter_is_missing() -> None:
    assert judge("coal_carbon_content_tc_per_gj <= 0.031", {}) is None
    assert judge("coal_carbon_content_tc_per_gj <= 0.031", {"coal_carbon_content_tc_per_gj": "0.05"}) is False


def test_a_presence_rule_fails_on_a_missing_parameter() -> None:
    assert judge("present(coal_consumed_t)", {}) is False
    assert judge("present(coal_consumed_t)", {"coal_consumed_t": "1"}) is True


def test_division_by_zero_skips_the_rule() -> None:
    assert (
        judge(
            "coal_consumed_t / electricity_generated_mwh < 1",
            {"coal_consumed_t": "5", "electricity_generated_mwh": "0"},
        )
        is None
    )


def test_and_or_follow_three_valued_logic_around_a_division_by_zero() -> None:
    values = {"coal_consumed_t": "5", "electricity_generated_mwh": "0"}
    assert judge("coal_consumed_t > 1 or coal_consumed_t / electricity_generated_mwh < 1", values) is True
    assert judge("coal_consumed_t < 1 and coal_consumed_t / electricity_generated_mwh < 1", values) is False


def test_prev_reads_only_the_immediately_preceding_month() -> None:
    check = "coal_consumed_t <= 2 * prev.coal_consumed_t"
    assert judge(check, {"coal_consumed_t": "500"}, {"coal_consumed_t": "100"}) is False
    assert judge(check, {"coal_consumed_t": "500"}) is None


def test_a_gap_before_the_record_gives_months_since_prev_and_no_prev_values() -> None:
    record = MonthlyRecord("E", "F", Sector.POWER, 2024, 3, {})
    earlier = MonthlyRecord("E", "F", Sector.POWER, 2023, 12, {"coal_consumed_t": Decimal(1)})
    env = environment(record, [earlier], None)
    assert env["months_since_prev"] == 3 and "prev.coal_consumed_t" not in env


def test_non_finite_values_count_as_missing() -> None:
    assert judge("coal_consumed_t >= 0", {"coal_consumed_t": "NaN"}) is None
    assert judge("present(coal_consumed_t)", {"coal_consumed_t": "Infinity"}) is False


def test_messages_show_the_records_values() -> None:
    record = MonthlyRecord("E", "F", Sector.POWER, 2024, 6, {"coal_consumed_t": Decimal("-3")})
    (finding,) = evaluate(record, [], rules=[rule_of("coal_consumed_t >= 0")])
    assert finding.message == "message -3"


def test_a_clean_record_of_a_coal_unit_has_no_findings() -> None:
    values = {
        "coal_consumed_t": "160000",
        "coal_ncv_gj_per_t": "21.5",
        "coal_carbon_content_tc_per_gj": "0.0268",
        "gas_consumed_10k_nm3": "0",
        "electricity_generated_mwh": "360000",
        "electricity_supplied_mwh": "338000",
        "heat_supplied_gj": "150000",
        "operating_hours_h": "700",
        "load_rate_fraction": "0.857",
    }
    record = MonthlyRecord("E", "F", Sector.POWER, 2024, 6, {k: Decimal(v) for k, v in values.items()})
    context = {"capacity_mw": Decimal(600), "unit_category": "I", "oxidation_fraction": Decimal("0.99")}
    assert evaluate(record, [], context=context) == []
