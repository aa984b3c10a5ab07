"""Review rules with no database: the case's state machine, tiers and scopes, attachments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.review.model import (
    ALERT_STATUS_ON_RESOLUTION,
    NATIONAL_SCOPE,
    CaseState,
    CaseStatus,
    Outcome,
    Scope,
    Tier,
    check_comment,
    check_confirm_correction,
    check_may_act,
    check_may_open,
    check_refer,
    check_resolve,
    check_take,
    check_year,
    lower_tier,
    make_scope,
    parse_attachments,
    parse_outcome,
    parse_tier,
)

DIGEST = "ab" * 32


def case(
    status: CaseStatus = CaseStatus.OPEN,
    tier: Tier = Tier.NATIONAL,
    province: str | None = "Guangdong",
    city: str | None = "Shenzhen",
) -> CaseState:
    return CaseState("C1", tier, status, province, city)


def code_of(call: Callable[..., Any], *args: Any) -> Code:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value.refusal.code


def test_a_case_is_taken_resolved_and_its_correction_confirmed_in_that_order() -> None:
    assert check_take(case(CaseStatus.OPEN)) is CaseStatus.IN_REVIEW
    assert (
        check_resolve(case(CaseStatus.IN_REVIEW), Outcome.CONFIRMED_ERROR) is CaseStatus.CORRECTION_REQUIRED
    )
    assert check_confirm_correction(case(CaseStatus.CORRECTION_REQUIRED)) is CaseStatus.CLOSED


def test_an_explained_or_false_alert_closes_the_case_at_once() -> None:
    assert check_resolve(case(CaseStatus.IN_REVIEW), Outcome.EXPLAINED) is CaseStatus.CLOSED
    assert check_resolve(case(CaseStatus.IN_REVIEW), Outcome.FALSE_ALERT) is CaseStatus.CLOSED


def test_out_of_order_steps_are_refused_with_named_codes() -> None:
    assert code_of(check_resolve, case(CaseStatus.OPEN), Outcome.EXPLAINED) is Code.REVIEW_CASE_NOT_IN_REVIEW
    assert code_of(check_take, case(CaseStatus.IN_REVIEW)) is Code.REVIEW_CASE_NOT_OPEN
    assert code_of(check_take, case(CaseStatus.CORRECTION_REQUIRED)) is Code.REVIEW_CASE_NOT_OPEN
    assert (
        code_of(check_confirm_correction, case(CaseStatus.IN_REVIEW))
        is Code.REVIEW_CASE_NOT_AWAITING_CORRECTION
    )
    assert (
        code_of(check_confirm_correction, case(CaseStatus.OPEN)) is Code.REVIEW_CASE_NOT_AWAITING_CORRECTION
    )
    assert code_of(check_refer, case(CaseStatus.CORRECTION_REQUIRED)) is Code.REVIEW_CASE_NOT_IN_REVIEW
    assert (
        code_of(check_resolve, case(CaseStatus.CORRECTION_REQUIRED), Outcome.EXPLAINED)
        is Code.REVIEW_CASE_NOT_IN_REVIEW
    )


def test_nothing_happens_to_a_closed_case() -> None:
    closed = case(CaseStatus.CLOSED)
    assert code_of(check_take, closed) is Code.REVIEW_CASE_CLOSED
    assert code_of(check_refer, closed) is Code.REVIEW_CASE_CLOSED
    assert code_of(check_resolve, closed, Outcome.EXPLAINED) is Code.REVIEW_CASE_CLOSED
    assert code_of(check_confirm_correction, closed) is Code.REVIEW_CASE_CLOSED
    assert code_of(check_comment, closed) is Code.REVIEW_CASE_CLOSED


def test_a_case_is_referred_down_one_tier_at_a_time_and_the_municipal_tier_is_the_last() -> None:
    assert check_refer(case(CaseStatus.OPEN, Tier.NATIONAL)) is Tier.PROVINCIAL
    assert check_refer(case(CaseStatus.IN_REVIEW, Tier.PROVINCIAL)) is Tier.MUNICIPAL
    assert code_of(check_refer, case(CaseStatus.IN_REVIEW, Tier.MUNICIPAL)) is Code.REVIEW_NO_LOWER_TIER
    assert [lower_tier(t) for t in Tier] == [Tier.PROVINCIAL, Tier.MUNICIPAL, None]


def test_a_case_without_a_place_cannot_go_where_no_reviewer_could_take_it() -> None:
    assert (
        code_of(check_refer, case(tier=Tier.NATIONAL, province=None, city=None)) is Code.REVIEW_INVALID_SCOPE
    )
    assert code_of(check_refer, case(tier=Tier.PROVINCIAL, city=None)) is Code.REVIEW_INVALID_SCOPE


def test_a_reviewer_acts_only_at_the_case_tier() -> None:
    provincial = Scope(Tier.PROVINCIAL, "Guangdong")
    assert code_of(check_may_act, provincial, case(tier=Tier.NATIONAL), "take") is Code.REVIEW_WRONG_TIER
    assert (
        code_of(check_may_act, NATIONAL_SCOPE, case(tier=Tier.PROVINCIAL), "take") is Code.REVIEW_WRONG_TIER
    )
    check_may_act(provincial, case(tier=Tier.PROVINCIAL), "take")


def test_a_reviewer_acts_only_within_the_province_or_city() -> None:
    jiangsu = Scope(Tier.PROVINCIAL, "Jiangsu")
    guangzhou = Scope(Tier.MUNICIPAL, "Guangdong", "Guangzhou")
    shenzhen = Scope(Tier.MUNICIPAL, "Guangdong", "Shenzhen")
    assert code_of(check_may_act, jiangsu, case(tier=Tier.PROVINCIAL), "take") is Code.REVIEW_OUT_OF_SCOPE
    assert code_of(check_may_act, guangzhou, case(tier=Tier.MUNICIPAL), "take") is Code.REVIEW_OUT_OF_SCOPE
    check_may_act(shenzhen, case(tier=Tier.MUNICIPAL), "take")
    assert code_of(check_may_open, jiangsu, Tier.PROVINCIAL, "Guangdong", None) is Code.REVIEW_OUT_OF_SCOPE
    assert code_of(check_may_open, jiangsu, Tier.NATIONAL, "Jiangsu", None) is Code.REVIEW_WRONG_TIER


def test_the_national_scope_covers_every_place_even_an_unknown_one() -> None:
    assert NATIONAL_SCOPE.covers("Guangdong", "Shenzhen")
    assert NATIONAL_SCOPE.covers(None, None)
    assert Scope(Tier.PROVINCIAL, "Guangdong").covers("Guangdong", "Foshan")
    assert not Scope(Tier.PROVINCIAL, "Guangdong").covers(None, None)


def test_scopes_need_the_region_their_tier_names() -> None:
    assert make_scope("national", None, None) == NATIONAL_SCOPE
    assert make_scope("provincial", " Guangdong ", "") == Scope(Tier.PROVINCIAL, "Guangdong")
    assert make_scope("municipal", "Guangdong", "Shenzhen") == Scope(Tier.MUNICIPAL, "Guangdong", "Shenzhen")
    assert code_of(make_scope, "national", "Guangdong", None) is Code.REVIEW_INVALID_SCOPE
    assert code_of(make_scope, "provincial", None, None) is Code.REVIEW_INVALID_SCOPE
    assert code_of(make_scope, "provincial", "Guangdong", "Shenzhen") is Code.REVIEW_INVALID_SCOPE
    assert code_of(make_scope, "municipal", "Guangdong", None) is Code.REVIEW_INVALID_SCOPE
    assert code_of(make_scope, "county", None, None) is Code.REVIEW_INVALID_TIER


def test_unknown_words_are_refused() -> None:
    assert parse_tier("provincial") is Tier.PROVINCIAL
    assert parse_outcome("false_alert") is Outcome.FALSE_ALERT
    assert code_of(parse_outcome, "fine") is Code.REVIEW_INVALID_OUTCOME
    assert code_of(check_year, 1999) is Code.REVIEW_INVALID_YEAR
    assert code_of(check_year, True) is Code.REVIEW_INVALID_YEAR


def test_attachments_are_named_by_their_sha256() -> None:
    parsed = parse_attachments([{"name": " lab report.pdf ", "sha256": DIGEST}])
    assert parsed[0].name == "lab report.pdf" and parsed[0].sha256 == DIGEST
    assert parse_attachments(None) == []
    assert (
        code_of(parse_attachments, [{"name": "x", "sha256": DIGEST.upper()}])
        is Code.REVIEW_INVALID_ATTACHMENT
    )
    assert code_of(parse_attachments, [{"name": "x", "sha256": "ab"}]) is Code.REVIEW_INVALID_ATTACHMENT
    assert code_of(parse_attachments, [{"name": "", "sha256": DIGEST}]) is Code.REVIEW_INVALID_ATTACHMENT
    assert (
        code_of(parse_attachments, [{"name": "x", "sha256": DIGEST}] * 21) is Code.REVIEW_INVALID_ATTACHMENT
    )


def test_every_outcome_names_the_alert_status_it_leaves() -> None:
    assert set(ALERT_STATUS_ON_RESOLUTION) == set(Outcome)
