"""The compliance rules without a database: vintages, CCER eligibility and the 5% cap, status,
Art. 24 penalties, banking's T, mandatory and differentiated surrender, risk levels, the data file."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from carbonmarket.compliance.model import (
    CcerFacts,
    Position,
    RiskLevel,
    Status,
    banking_limit,
    check_banking_quantity,
    check_ccer,
    check_multiple,
    check_price,
    check_surrender,
    check_vintage,
    national_rate,
    offset_cap,
    parse_items,
    parse_rules,
    penalty,
    plan_differentiated,
    plan_mandatory,
    risk_of,
    rules,
    status_of,
)
from carbonmarket.core.instruments import parse_instrument
from carbonmarket.core.results import Code, Refused

RULES = rules()


def refusal(code: Code, call: object, *args: object) -> str:
    with pytest.raises(Refused) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.refusal.code is code, caught.value.refusal
    return caught.value.refusal.message


def test_the_offset_cap_is_five_percent_of_the_obligation_rounded_down() -> None:
    # Vector 12: 1,000,000 t → 50,000 t; 999,999 t → 49,999.95 → 49,999 t.
    assert offset_cap(1_000_000, RULES.offsets.ratio_percent) == 50_000
    assert offset_cap(999_999, 5) == 49_999


def test_vintages_settle_their_year_and_earlier_but_never_a_later_one() -> None:
    check_vintage(RULES.year(2023), parse_instrument("CEA19-20"))
    check_vintage(RULES.year(2024), parse_instrument("CEA24"))
    assert "no borrowing" in refusal(
        Code.COMPLIANCE_VINTAGE_NOT_ELIGIBLE, check_vintage, RULES.year(2023), parse_instrument("CEA24")
    )
    # From 2025 the 2019-2024 vintages count only once converted by banking (A 附5).
    assert "banking" in refusal(
        Code.COMPLIANCE_VINTAGE_NOT_ELIGIBLE, check_vintage, RULES.year(2025), parse_instrument("CEA23")
    )


def test_old_registry_ccers_count_until_the_end_of_2024_only() -> None:
    old = CcerFacts(date(2016, 1, 5), "energy", False)
    check_ccer(RULES.offsets, RULES.year(2023), "CCER-OLD-2016", old, date(2024, 12, 31))
    message = refusal(
        Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
        check_ccer,
        RULES.offsets,
        RULES.year(2024),
        "CCER-OLD-2016",
        old,
        date(2025, 1, 1),
    )
    assert "2017-03-14" in message


def test_ccers_for_2025_come_from_projects_registered_after_22_january_2024() -> None:
    late = CcerFacts(date(2024, 1, 23), "energy", False)
    early = CcerFacts(date(2024, 1, 22), "energy", False)
    check_ccer(RULES.offsets, RULES.year(2025), "CCER-A-2025", late, date(2026, 5, 1))
    refusal(
        Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
        check_ccer,
        RULES.offsets,
        RULES.year(2025),
        "CCER-B-2025",
        early,
        date(2026, 5, 1),
    )


def test_ccers_of_covered_sectors_article_6_credits_and_unknown_projects_are_refused() -> None:
    on = date(2025, 6, 1)
    for facts, words in (
        (CcerFacts(date(2024, 5, 1), "Cement", False), "Cement sector"),
        (CcerFacts(date(2024, 5, 1), "forestry", True), "Article 6"),
        (None, "no project facts"),
        (CcerFacts(None, "forestry", False), "registration date"),
    ):
        message = refusal(
            Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
            check_ccer,
            RULES.offsets,
            RULES.year(2024),
            "CCER-X-2024",
            facts,
            on,
        )
        assert words in message


def test_a_surrender_stops_at_what_is_owed_and_the_cumulative_ccer_cap() -> None:
    start = Position(obligation=1_000_000, surrendered=0, ccer=0)
    after = check_surrender(start, 900_000, 40_000, 5)
    assert (after.surrendered, after.ccer, after.owed, after.status) == (
        940_000,
        40_000,
        60_000,
        Status.PARTLY,
    )
    # 40,000 + 10,001 = 50,001 > 50,000.
    assert "50000 t" in refusal(Code.COMPLIANCE_OFFSET_LIMIT_EXCEEDED, check_surrender, after, 0, 10_001, 5)
    assert "60000 t still owed" in refusal(
        Code.COMPLIANCE_BEYOND_OBLIGATION, check_surrender, after, 60_001, 0, 5
    )
    done = check_surrender(after, 50_000, 10_000, 5)
    assert (done.owed, done.status) == (0, Status.MET)
    refusal(Code.COMPLIANCE_NOTHING_OWED, check_surrender, done, 1, 0, 5)


def test_status_is_met_partly_or_not_met() -> None:
    assert [status_of(100, 100), status_of(100, 1), status_of(100, 0), status_of(0, 0)] == [
        Status.MET,
        Status.PARTLY,
        Status.NOT_MET,
        Status.MET,
    ]


def test_art_24_fine_is_shortfall_times_price_times_five_to_ten_and_the_cut_is_the_shortfall() -> None:
    # Vector 11: 10,000 t short, CNY 80/t → CNY 4.0-8.0 M (400,000,000-800,000,000 fen); cut 10,000 t.
    fine = penalty(RULES.penalty, 10_000, 8_000, 7)
    assert (fine.fine_min_fen, fine.fine_max_fen, fine.fine_fen, fine.allocation_cut) == (
        400_000_000,
        800_000_000,
        560_000_000,
        10_000,
    )
    assert penalty(RULES.penalty, 0, 8_000, 5).fine_fen == 0
    no_price = penalty(RULES.penalty, 10, None, 5)
    assert (no_price.fine_fen, no_price.allocation_cut) == (None, 10)
    assert "5 to 10" in refusal(Code.COMPLIANCE_INVALID_MULTIPLE, check_multiple, RULES.penalty, 4)
    refusal(Code.COMPLIANCE_INVALID_PRICE, check_price, 0)
    refusal(Code.COMPLIANCE_INVALID_PRICE, check_price, 80.5)


def test_banking_limit_follows_vector_6() -> None:
    # Sold 300,000, bought 100,000, holding 500,000: T = min(10,000 + 1.5 × 200,000, 500,000) = 310,000.
    assert banking_limit(RULES.banking, 200_000, 500_000).limit_t == 310_000
    # A net buyer: NS → 0, T = 10,000 if held; capped at holdings; 1.5 × 1 = 1.5 rounds down.
    assert banking_limit(RULES.banking, -50_000, 500_000).limit_t == 10_000
    assert banking_limit(RULES.banking, 200_000, 4_000).limit_t == 4_000
    assert banking_limit(RULES.banking, 1, 10**9).limit_t == 10_001
    limit = banking_limit(RULES.banking, 200_000, 500_000)
    check_banking_quantity(limit, 300_000, 10_000)
    refusal(Code.COMPLIANCE_BANKING_ABOVE_LIMIT, check_banking_quantity, limit, 300_000, 10_001)


def test_differentiated_allocation_follows_vector_9() -> None:
    # Held 1.2 Mt for 1.0 Mt owed → 1.0 surrendered, 0.2 released; held 0.8 → 0.2 still to buy.
    plan = plan_differentiated(1_000_000, 1_200_000)
    assert (plan.surrendered, plan.released, plan.still_owed) == (1_000_000, 200_000, 0)
    short = plan_differentiated(1_000_000, 800_000)
    assert (short.surrendered, short.released, short.still_owed) == (800_000, 0, 200_000)


def test_mandatory_surrender_takes_the_oldest_holdings_first_up_to_what_is_owed() -> None:
    assert plan_mandatory(150, [("CEA21", 100), ("CEA23", 100), ("CEA24", 100)]) == [
        ("CEA21", 100),
        ("CEA23", 50),
    ]
    assert plan_mandatory(500, [("CEA24", 100)]) == [("CEA24", 100)]
    assert plan_mandatory(5, []) == []


def test_risk_levels_come_from_the_cover_thresholds() -> None:
    risk = RULES.risk
    # Owed 1,000: 1,200 t held → 120% low; 1,000 → 100% medium; 500 → 50% high; 499 → critical.
    assert [risk_of(risk, 1_000, held, 0, None).level for held in (1_200, 1_000, 500, 499)] == [
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.CRITICAL,
    ]
    # Funds count at the price: 400 t held + CNY 48,000 at CNY 80/t = 600 t → 1,000 t: 100%.
    funded = risk_of(risk, 1_000, 400, 4_800_000, 8_000)
    assert (funded.funds_t, funded.cover_percent, funded.level) == (600, 100, RiskLevel.MEDIUM)
    assert risk_of(risk, 0, 0, 0, None).level is RiskLevel.NONE


def test_the_national_rate_matches_the_2023_report_form() -> None:
    # 9,998 of 10,000 t surrendered → 99.98% (Progress Report §5 gives 99.98% for 2023).
    rate = national_rate([Position(5_000, 5_000, 0), Position(5_000, 4_998, 0), Position(0, 0, 0)])
    assert (rate.as_json()["rate_percent"], rate.entities_met, rate.entities) == ("99.98", 2, 3)


def test_deadlines_end_at_midnight_in_beijing() -> None:
    assert RULES.cutoff(2023) == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert RULES.cutoff(2024) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    refusal(Code.COMPLIANCE_UNKNOWN_YEAR, RULES.year, 2019)
    refusal(Code.COMPLIANCE_UNKNOWN_YEAR, RULES.year, True)


def test_surrender_lines_are_parsed_strictly() -> None:
    assert parse_items([("cea24", "1000")]) == [("CEA24", 1_000)]
    refusal(Code.INVALID_REQUEST, parse_items, [])
    refusal(Code.INVALID_REQUEST, parse_items, [("CEA24", 1), ("CEA24", 2)])
    refusal(Code.QUANTITY_NOT_INTEGER, parse_items, [("CEA24", "1.5")])
    refusal(Code.QUANTITY_NOT_POSITIVE, parse_items, [("CEA24", -5)])
    refusal(Code.QUANTITY_TOO_LARGE, parse_items, [("CEA24", 10**13)])
    refusal(Code.INVALID_INSTRUMENT_ID, parse_items, [("EUA24", 1)])


def test_a_data_file_that_allows_borrowing_is_rejected_at_load() -> None:
    from importlib import resources

    text = (resources.files("carbonmarket.compliance") / "data" / "cycles.toml").read_text("utf-8")
    broken = text.replace('vintages = ["CEA19-20", "CEA21", "CEA22", "CEA23"]', 'vintages = ["CEA24"]', 1)
    assert broken != text
    with pytest.raises(ValueError, match="borrowing"):
        parse_rules(broken)
