"""Verification rules with no database: qualification, the verification's life, conflict of
interest, streamlined eligibility, the evaluation formula and the deadline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.verification.model import (
    BodyStatus,
    BodyYear,
    NonconformityStatus,
    VerificationState,
    VerificationStatus,
    YearRecord,
    check_accept,
    check_body_may_work,
    check_cancel,
    check_close_nonconformity,
    check_conflict_of_interest,
    check_in_progress,
    check_qualify,
    check_reinstate,
    check_return,
    check_start,
    check_submit,
    check_suspend,
    check_withdraw,
    evaluate,
    on_time,
    parse_rules,
    rules,
    streamlined_eligibility,
)

RULES_FILE = Path(__file__).parents[3] / "src/carbonmarket/mrv/verification/data/verification.toml"


def code_of(call: Callable[..., Any], *args: Any) -> Code:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value.refusal.code


def v(status: VerificationStatus) -> VerificationState:
    return VerificationState("V1", status)


# --- qualification -------------------------------------------------------------------------------------


def test_a_body_enters_is_suspended_reinstated_and_exits() -> None:
    assert check_qualify("B", BodyStatus.APPLIED) is BodyStatus.QUALIFIED
    assert check_suspend("B", BodyStatus.QUALIFIED) is BodyStatus.SUSPENDED
    assert check_reinstate("B", BodyStatus.SUSPENDED) is BodyStatus.QUALIFIED
    for status in (BodyStatus.APPLIED, BodyStatus.QUALIFIED, BodyStatus.SUSPENDED):
        assert check_withdraw("B", status) is BodyStatus.WITHDRAWN


def test_qualification_steps_out_of_order_are_refused() -> None:
    assert code_of(check_qualify, "B", BodyStatus.QUALIFIED) is Code.VERIFICATION_BODY_NOT_APPLIED
    assert code_of(check_qualify, "B", BodyStatus.SUSPENDED) is Code.VERIFICATION_BODY_NOT_APPLIED
    assert code_of(check_suspend, "B", BodyStatus.APPLIED) is Code.VERIFICATION_BODY_NOT_QUALIFIED
    assert code_of(check_suspend, "B", BodyStatus.SUSPENDED) is Code.VERIFICATION_BODY_NOT_QUALIFIED
    assert code_of(check_reinstate, "B", BodyStatus.QUALIFIED) is Code.VERIFICATION_BODY_NOT_SUSPENDED


def test_a_withdrawn_body_is_gone_for_good() -> None:
    for check in (check_qualify, check_suspend, check_reinstate, check_withdraw, check_body_may_work):
        assert code_of(check, "B", BodyStatus.WITHDRAWN) is Code.VERIFICATION_BODY_WITHDRAWN


def test_only_a_qualified_body_may_work() -> None:
    check_body_may_work("B", BodyStatus.QUALIFIED)
    assert code_of(check_body_may_work, "B", BodyStatus.APPLIED) is Code.VERIFICATION_BODY_NOT_QUALIFIED
    assert code_of(check_body_may_work, "B", BodyStatus.SUSPENDED) is Code.VERIFICATION_BODY_NOT_QUALIFIED


# --- a verification's life -------------------------------------------------------------------------------


def test_a_verification_is_started_submitted_and_accepted_in_that_order() -> None:
    assert check_start(v(VerificationStatus.ASSIGNED)) is VerificationStatus.IN_PROGRESS
    assert check_submit(v(VerificationStatus.IN_PROGRESS), 0) is VerificationStatus.SUBMITTED
    assert check_return(v(VerificationStatus.SUBMITTED)) is VerificationStatus.IN_PROGRESS
    assert check_accept(v(VerificationStatus.SUBMITTED)) is VerificationStatus.VERIFIED


def test_verification_steps_out_of_order_are_refused() -> None:
    assert code_of(check_start, v(VerificationStatus.IN_PROGRESS)) is Code.VERIFICATION_NOT_ASSIGNED
    assert code_of(check_submit, v(VerificationStatus.ASSIGNED), 0) is Code.VERIFICATION_NOT_IN_PROGRESS
    assert code_of(check_submit, v(VerificationStatus.SUBMITTED), 0) is Code.VERIFICATION_NOT_IN_PROGRESS
    assert code_of(check_accept, v(VerificationStatus.IN_PROGRESS)) is Code.VERIFICATION_NOT_SUBMITTED
    assert code_of(check_return, v(VerificationStatus.ASSIGNED)) is Code.VERIFICATION_NOT_SUBMITTED
    assert (
        code_of(check_in_progress, v(VerificationStatus.ASSIGNED), "x") is Code.VERIFICATION_NOT_IN_PROGRESS
    )


def test_a_submission_waits_for_every_nonconformity_to_close() -> None:
    assert (
        code_of(check_submit, v(VerificationStatus.IN_PROGRESS), 2) is Code.VERIFICATION_OPEN_NONCONFORMITIES
    )
    assert check_close_nonconformity("N", NonconformityStatus.OPEN) is NonconformityStatus.CLOSED
    assert code_of(check_close_nonconformity, "N", NonconformityStatus.CLOSED) is Code.NONCONFORMITY_NOT_OPEN


def test_a_finished_verification_takes_no_further_step() -> None:
    for status in (VerificationStatus.VERIFIED, VerificationStatus.CANCELLED):
        for check in (check_start, check_accept, check_return, check_cancel):
            assert code_of(check, v(status)) is Code.VERIFICATION_FINISHED
        assert code_of(check_submit, v(status), 0) is Code.VERIFICATION_FINISHED
    for status in (VerificationStatus.ASSIGNED, VerificationStatus.IN_PROGRESS, VerificationStatus.SUBMITTED):
        assert check_cancel(v(status)) is VerificationStatus.CANCELLED


# --- conflict of interest and streamlined verification -----------------------------------------------------


def test_a_body_may_not_verify_one_entity_beyond_the_consecutive_year_limit() -> None:
    check_conflict_of_interest("B", "E", 2024, [2022, 2023], 3)
    check_conflict_of_interest("B", "E", 2024, [2020, 2021, 2022], 3)  # 2023 broke the run
    with pytest.raises(Refused) as caught:
        check_conflict_of_interest("B", "E", 2024, [2021, 2022, 2023], 3)
    assert caught.value.refusal.code is Code.VERIFICATION_CONFLICT_OF_INTEREST
    assert caught.value.refusal.details["years"] == [2021, 2022, 2023]


def clean(year: int) -> YearRecord:
    return YearRecord(year, verified=True, nonconformities=0, confirmed_errors=0)


def test_three_clean_years_make_an_entity_eligible_for_streamlined_verification() -> None:
    result = streamlined_eligibility(2024, [clean(2021), clean(2022), clean(2023)], rules())
    assert result.eligible
    assert result.required_years == (2021, 2022, 2023) and result.clean_years == (2021, 2022, 2023)
    assert result.as_json()["mode"] == "streamlined"


def test_one_unclean_or_missing_year_keeps_verification_full() -> None:
    nonconformity = YearRecord(2022, verified=True, nonconformities=1, confirmed_errors=0)
    error = YearRecord(2022, verified=True, nonconformities=0, confirmed_errors=1)
    unverified = YearRecord(2022, verified=False, nonconformities=0, confirmed_errors=0)
    for bad in (nonconformity, error, unverified):
        result = streamlined_eligibility(2024, [clean(2021), bad, clean(2023)], rules())
        assert not result.eligible and result.clean_years == (2021, 2023)
        assert result.reasons[0].startswith("2022:")
    missing = streamlined_eligibility(2024, [clean(2022), clean(2023)], rules())
    assert missing.reasons == ("2021: no accepted verification",)


def test_the_clean_year_count_is_configurable() -> None:
    two = replace(rules(), clean_years_required=2)
    assert streamlined_eligibility(2024, [clean(2022), clean(2023)], two).eligible


# --- the evaluation ---------------------------------------------------------------------------------------


def test_the_evaluation_scores_the_shares_by_their_points_and_rounds_once() -> None:
    # 3 accepted verifications: 2 on time, 3 first pass, 2 without later findings.
    # 40 × 2/3 + 20 × 3/3 + 40 × 2/3 = 26.667 + 20 + 26.667 = 73.333 → 73, grade C (60 ≤ 73 < 75).
    facts = BodyYear("B", 2024, verifications=3, on_time=2, first_pass=3, clean_after=2, later_findings=1)
    result = evaluate(facts, rules())
    assert (result.score, result.grade, result.rated) == (73, "C", True)
    assert result.components["timeliness"]["earned"] == "26.67"
    assert result.components["first_pass"]["share"] == "1.0000"


def test_a_perfect_record_scores_full_marks_and_rounding_is_half_up() -> None:
    perfect = BodyYear("B", 2024, 4, 4, 4, 4, 0)
    assert (evaluate(perfect, rules()).score, evaluate(perfect, rules()).grade) == (100, "A")
    # One on time in eight: 40 × 1/8 + 20 × 8/8 + 40 × 8/8 = 5 + 20 + 40 = 65.
    assert evaluate(BodyYear("B", 2024, 8, 1, 8, 8, 0), rules()).score == 65
    # 40 × 1/2 + 20 × 1/2 + 40 × 1/2 = 50 → D; half-up: 40 × 5/16 + 20 + 40 = 72.5 → 73.
    assert evaluate(BodyYear("B", 2024, 2, 1, 1, 1, 1), rules()).grade == "D"
    assert evaluate(BodyYear("B", 2024, 16, 5, 16, 16, 0), rules()).score == 73


def test_a_body_with_no_accepted_verification_is_not_rated() -> None:
    result = evaluate(BodyYear("B", 2024, 0, 0, 0, 0, 0), rules())
    assert (result.rated, result.score, result.grade) == (False, None, None)


def test_the_published_formula_is_the_data_file() -> None:
    formula = rules().formula()
    components = formula["components"]
    assert isinstance(components, list) and [c["points"] for c in components] == [40, 20, 40]
    assert formula["score_max"] == 100 and "[?]" in str(formula["source"])


def test_a_rules_file_whose_points_do_not_add_up_is_rejected() -> None:
    text = RULES_FILE.read_text("utf-8").replace("points = 20", "points = 25")
    with pytest.raises(ValueError, match="add up"):
        parse_rules(text)
    with pytest.raises(ValueError, match="unknown measures"):
        parse_rules(RULES_FILE.read_text("utf-8").replace('"first_pass_share"', '"luck"'))


# --- the deadline ---------------------------------------------------------------------------------------


def test_verification_is_due_on_30_june_of_the_next_year_in_china() -> None:
    assert rules().deadline(2024) == date(2025, 6, 30)
    assert on_time("2025-06-30T15:59:59.000000+00:00", 2024, rules())  # 23:59:59 in Beijing
    assert not on_time("2025-06-30T16:00:00.000000+00:00", 2024, rules())  # 00:00 on 1 July in Beijing
    assert not on_time(None, 2024, rules())
