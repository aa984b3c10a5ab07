"""The allocation formulas, by hand: DOMAIN-SOURCES.md test vectors 1-5, 7, 8, 10, one unit per
category and plan year, and the plan files' validation. No database."""

from __future__ import annotations

import tomllib
from decimal import Decimal as D
from importlib import resources
from typing import Any

import pytest

from carbonmarket.allocation.model import (
    Band,
    Plan,
    UnitActivity,
    alpha,
    apply_caps,
    floor_t,
    industry_allocation,
    load_factor,
    parse_plan,
    power_unit,
    preallocation_t,
    settle,
    solve_balance_value,
    split_cap,
)
from carbonmarket.core.results import Code, Refused


def plan_data(name: str) -> dict[str, Any]:
    return tomllib.loads((resources.files("carbonmarket.allocation") / "data" / name).read_text("utf-8"))


def plan(name: str) -> Plan:
    return parse_plan(plan_data(name))


FILES = {
    "2019": "power_2019_2020.toml",
    "2021": "power_2021.toml",
    "2022": "power_2022.toml",
    "2023": "power_2023.toml",
    "2024": "power_2024.toml",
    "2025": "power_2025_draft.toml",
    "2026": "power_2026_draft.toml",
}


def benchmark(year: str, category: str) -> tuple[D, D]:
    b = plan(FILES[year]).power.benchmarks[category]  # type: ignore[union-attr]
    return b.electricity_t_per_mwh, b.heat_t_per_gj


# --- vector 1: the benchmarks of plan A follow from its balance values -----------------------------


BALANCE_2023 = {"I": D("0.7982"), "II": D("0.8155"), "III": D("0.8352"), "IV": D("0.3239")}
ELECTRICITY_FACTOR = {"I": D("0.996"), "II": D("0.992"), "III": D("0.992"), "IV": D("1.02")}


@pytest.mark.parametrize("category", ["I", "II", "III", "IV"])
def test_vector_1_the_2023_benchmarks_are_the_balance_values_adjusted_and_2024_is_half_a_percent_lower(
    category: str,
) -> None:
    e2023, h2023 = benchmark("2023", category)
    e2024, h2024 = benchmark("2024", category)
    # Rounded to 4 decimals, within ±0.0001: I 0.7982 × 0.996 = 0.79501 → 0.7950; gas 0.3239 × 1.02 =
    # 0.33038 → 0.3304 (published 0.3305); 2024: I 0.7950 × 0.995 = 0.79103 → 0.7910; II 0.8050 vs 0.8049.
    assert abs(_four(BALANCE_2023[category] * ELECTRICITY_FACTOR[category]) - e2023) <= D("0.0001")
    assert abs(_four(e2023 * D("0.995")) - e2024) <= D("0.0001")
    # Heat: coal 0.1041 × 0.997 = 0.10379 → 0.1038; gas 0.0525 × 1.02 = 0.05355 → 0.0536.
    balance_heat, heat_factor = (D("0.0525"), D("1.02")) if category == "IV" else (D("0.1041"), D("0.997"))
    assert abs(_four(balance_heat * heat_factor) - h2023) <= D("0.0001")
    assert abs(_four(h2023 * D("0.995")) - h2024) <= D("0.0001")


def _four(value: D) -> D:
    return value.quantize(D("0.0001"), rounding="ROUND_HALF_UP")


# --- vectors 2 and 3: the load factors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ("0.64", "1.048797"),  # 1.015^(16 − 12.8) = 1.015^3.2
        ("0.60", "1.061364"),  # 1.015^4 = 1.0613635506 → 6 decimals
        ("0.50", "1.093443"),  # 1.015^6
        ("0.40", "1.126493"),  # 1.015^8
        ("0.65", "1.000000"),
        ("0.95", "1.000000"),
    ],
)
def test_vector_2_plan_a_peak_shaving_factor(load: str, expected: str) -> None:
    assert load_factor(plan(FILES["2023"]).power.load, D(load)) == D(expected)  # type: ignore[union-attr, arg-type]


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        ("49.99", "1.100321"),
        ("45", "1.126059"),
        ("40", "1.160254"),
        ("30", "1.281146"),
        ("20", "1.608868"),
        ("10", "2.747225"),
        ("50", "1.000000"),
    ],
)
def test_vector_3_plan_b_factor_from_gb_21258(percent: str, expected: str) -> None:
    # 7.254 − 0.633(1 − e^(−F/29.822)) − 5.643(1 − e^(−F/6.871)), F in %, rounded to 6 decimals.
    factor = plan(FILES["2025"]).power.load  # type: ignore[union-attr]
    assert load_factor(factor, D(percent) / 100) == D(expected)  # type: ignore[arg-type]


def test_the_2019_load_factor_rows_meet_at_85_80_and_75_percent() -> None:
    factor = plan(FILES["2019"]).power.load  # type: ignore[union-attr]
    assert factor is not None
    # 1 + 0.0014(85 − 85) = 1; 1 + 0.0014(85 − 80) = 1.007 = 1.007 + 0.0016(80 − 80);
    # 1.007 + 0.0016(80 − 75) = 1.015 = 1.015^(16 − 15).
    assert [load_factor(factor, D(f)) for f in ("0.85", "0.80", "0.75")] == [D(1), D("1.007"), D("1.015")]
    assert load_factor(factor, D("0.7499999")) == D("1.015000")


# --- vector 4 and one unit per category and plan year -------------------------------------------------


def test_vector_4_category_i_unit_2023() -> None:
    unit = UnitActivity("U1", "I", "water", D(3_000_000), None, D(2_000_000), D("0.60"))
    result = power_unit(plan(FILES["2023"]).power, unit)  # type: ignore[arg-type]
    # Ff 1.061364; Ae = ⌊3e6 × 0.7950 × 1.061364⌋ = ⌊2,531,353.14⌋; Ah = 2e6 × 0.1038 = 207,600.
    assert (result.electricity_t, result.heat_t, result.total_t) == (2_531_353, 207_600, 2_738_953)


# Qe = 1,000,000 MWh and Qh = 100,000 GJ for every case; supplied electricity with a heat-supply
# ratio of 0.10 for the 2019-22 plans (F_heat = 1 − 0.22 × 0.1 = 0.978; gas 1 − 0.6 × 0.1 = 0.94).
CASES = [
    # year, category, cooling, load, Ae arithmetic → Ae, Ah
    ("2019", "I", "air", "0.82", "877,000 × 1.05 × 0.978 × (1 + 0.0014 × 3) = 904,373.78", 904_373, 12_600),
    ("2019", "II", "water", "0.77", "979,000 × 0.978 × (1.007 + 0.0016 × 3) = 968,760.05", 968_760, 12_600),
    (
        "2019",
        "III",
        "water",
        "0.60",
        "1,146,000 × 0.978 (no load factor for III) = 1,120,788",
        1_120_788,
        12_600,
    ),
    ("2019", "IV", "water", "0.60", "392,000 × 0.94 = 368,480", 368_480, 5_900),
    ("2021", "I", "air", "0.70", "821,800 × 1.05 × 0.978 × 1.015^2 = 869,413.49", 869_413, 11_110),
    ("2021", "II", "water", "0.90", "877,300 × 0.978 = 857,999.4", 857_999, 11_110),
    ("2021", "III", "water", "0.90", "935,000 × 0.978 = 914,430", 914_430, 11_110),
    ("2021", "IV", "water", "0.90", "392,000 × 0.94 = 368,480", 368_480, 5_600),
    ("2022", "I", "water", "0.85", "817,700 × 0.978 = 799,710.6", 799_710, 11_050),
    ("2022", "II", "water", "0.80", "872,900 × 0.978 × 1.007 = 859,672.07", 859_672, 11_050),
    ("2022", "III", "water", "0.80", "930,300 × 0.978 = 909,833.4", 909_833, 11_050),
    ("2022", "IV", "water", "0.80", "390,100 × 0.94 = 366,694", 366_694, 5_570),
    ("2023", "I", "water", "0.60", "795,000 × 1.061364 = 843,784.38", 843_784, 10_380),
    ("2023", "II", "water", "0.55", "809,000 × 1.015^(16 − 11) (1.077284) = 871,522.76", 871_522, 10_380),
    ("2023", "III", "water", "0.50", "828,500 (Ff only for I and II)", 828_500, 10_380),
    ("2023", "IV", "water", "0.50", "330,500", 330_500, 5_360),
    ("2024", "I", "water", "0.64", "791,000 × 1.048797 = 829,598.43", 829_598, 10_330),
    ("2024", "II", "water", "0.80", "804,900 (F ≥ 65%)", 804_900, 10_330),
    ("2024", "III", "water", "0.50", "824,400", 824_400, 10_330),
    ("2024", "IV", "water", "0.50", "328,800", 328_800, 5_330),
    ("2025", "I", "water", "0.45", "790,200 × 1.126059 = 889,811.82", 889_811, 10_270),
    ("2025", "II", "water", "0.30", "801,700 × 1.281146 = 1,027,094.75", 1_027_094, 10_270),
    ("2025", "III", "water", "0.30", "816,200", 816_200, 10_270),
    ("2025", "IV", "water", "0.30", "328,800", 328_800, 5_330),
    ("2026", "I", "water", "0.20", "789,400 × 1.608868 = 1,270,040.40", 1_270_040, 10_210),
    ("2026", "II", "water", "0.60", "798,500 (F ≥ 50%)", 798_500, 10_210),
    ("2026", "III", "water", "0.60", "808,000", 808_000, 10_210),
    ("2026", "IV", "water", "0.60", "328,800", 328_800, 5_330),
]


@pytest.mark.parametrize(("year", "category", "cooling", "load", "arithmetic", "ae", "ah"), CASES)
def test_one_hand_computed_unit_per_category_and_plan_year(
    year: str, category: str, cooling: str, load: str, arithmetic: str, ae: int, ah: int
) -> None:
    unit = UnitActivity(
        "U", category, cooling, D(1_000_000), D(1_000_000), D(100_000), D(load), heat_ratio=D("0.10")
    )
    result = power_unit(plan(FILES[year]).power, unit)  # type: ignore[arg-type]
    assert (result.electricity_t, result.heat_t) == (ae, ah), arithmetic


def test_plans_from_2023_count_generated_and_earlier_plans_supplied_electricity() -> None:
    unit = UnitActivity("U", "II", "water", D(1_000_000), D(900_000), D(0), D("0.90"), heat_ratio=D(0))
    # 2023: 1,000,000 × 0.8090 = 809,000; 2021: 900,000 × 0.8773 = 789,570.
    assert power_unit(plan(FILES["2023"]).power, unit).total_t == 809_000  # type: ignore[arg-type]
    assert power_unit(plan(FILES["2021"]).power, unit).total_t == 789_570  # type: ignore[arg-type]


# --- vectors 5, 7, 8, 10 -------------------------------------------------------------------------


def test_vector_5_the_gap_cap_tops_an_entity_up_to_eighty_percent() -> None:
    a2023 = plan(FILES["2023"])
    # initial 70, verified 100: gap (100 − 70)/100 = 0.30 > 0.20 → top-up 10 → 80.
    capped = apply_caps([(70, False, None)], 100, a2023)
    assert (capped.gap_topup_t, capped.final_t) == (10, 80)
    # initial 85: gap 0.15 ≤ 0.20 → no top-up.
    assert apply_caps([(85, False, None)], 100, a2023).final_t == 85


def test_vector_5_a_gas_unit_below_its_verified_emissions_is_topped_up_to_them() -> None:
    capped = apply_caps([(90, True, 100)], 100, plan(FILES["2023"]))
    assert (capped.gas_topup_t, capped.final_t) == (10, 100)


def test_plan_b_rounds_the_gap_rate_to_two_decimals_before_comparing() -> None:
    # 7,960 of 10,000: gap 0.204 → 0.20, not above 20% → no top-up under B; A tops up to 8,000.
    assert apply_caps([(7_960, False, None)], 10_000, plan(FILES["2025"])).final_t == 7_960
    assert apply_caps([(7_960, False, None)], 10_000, plan(FILES["2023"])).final_t == 8_000


def test_vector_7_allocations_are_floored_to_whole_tonnes() -> None:
    assert floor_t(D("1789.70")) == 1_789
    assert preallocation_t(D("0.50"), D("3579.4")) == 1_789  # 0.5 × 3,579.4 = 1,789.7


def test_vector_8_a_deduction_is_taken_from_the_pre_allocation_and_returned_at_the_true_up() -> None:
    # Pre-allocation 50,000 with 70,000 owed: 50,000 deducted, 0 issued, 20,000 still owed.
    pre = settle(entitled_t=50_000, delivered_t=0, deducted_t=0, owed_t=70_000, available_t=0)
    assert (pre.deliver_t, pre.deducted_delta_t, pre.owed_after_t) == (0, 50_000, 20_000)
    # Final 30,000: only 30,000 can be deducted → 20,000 returned; issued (30,000 − 50,000) + 20,000 = 0.
    final = settle(30_000, pre.delivered_after_t, pre.deducted_after_t, pre.owed_after_t, available_t=0)
    assert (final.deliver_t, final.withdraw_t, final.deducted_delta_t) == (0, 0, -20_000)
    assert final.owed_after_t == 40_000  # 70,000 − 30,000 actually deducted


def test_a_withdrawal_never_overdraws_and_the_rest_is_owed() -> None:
    # Delivered 1,000, final 600 → excess 400, but only 150 held: withdraw 150, owe 250.
    s = settle(entitled_t=600, delivered_t=1_000, deducted_t=0, owed_t=0, available_t=150)
    assert (s.withdraw_t, s.shortfall_t, s.owed_after_t, s.delivered_after_t) == (150, 250, 250, 850)


BAND = Band(D("0.15"), D("-0.20"), D("0.20"), D("0.03"), D("-0.03"))


@pytest.mark.parametrize(
    ("intensity", "expected_t"),
    [
        ("0.90", 1_015_000),  # X = (1 − 0.9)/1 = 10% → α = 0.015 → 1.015 E
        ("0.75", 1_030_000),  # X = 25% → +0.03
        ("1.25", 970_000),  # X = −25% → −0.03
        ("1.00", 1_000_000),  # X = 0
    ],
)
def test_vector_10_industry_alpha_band(intensity: str, expected_t: int) -> None:
    assert industry_allocation(BAND, 1_000_000, D(intensity), D(1)).allocation_t == expected_t


def test_alpha_is_continuous_at_the_band_edges() -> None:
    assert alpha(BAND, D("0.2")) == D("0.03") == BAND.slope * D("0.2")
    assert alpha(BAND, D("-0.2")) == D("-0.03")


def test_the_balance_value_solves_the_balance_equation() -> None:
    members = [(1_000_000, D("1.5")), (2_000_000, D("1.8")), (500_000, D("2.4"))]
    bp = solve_balance_value(BAND, members)
    total = sum(industry_allocation(BAND, e, i, bp).allocation_t for e, i in members)
    assert abs(total - 3_500_000) <= 3  # floors of three entities


def test_an_absolute_cap_splits_into_free_auction_and_reserve_that_add_up() -> None:
    rules = plan("cap_cement_2027_example.toml").cap
    assert rules is not None
    split = split_cap(1_000_000_001, rules)
    # 90% = 900,000,000.9 → 900,000,000; 8% = 80,000,000.08 → 80,000,000; reserve the rest.
    assert (split.free_t, split.auction_t, split.reserve_t) == (900_000_000, 80_000_000, 20_000_001)


# --- plan files: validation -------------------------------------------------------------------------


def test_every_packaged_plan_file_is_valid_and_names_its_source() -> None:
    for entry in (resources.files("carbonmarket.allocation") / "data").iterdir():
        if entry.name.endswith(".toml"):
            parsed = parse_plan(tomllib.loads(entry.read_text("utf-8")))
            assert parsed.source and parsed.years


def test_a_plan_with_an_unknown_unit_category_is_refused_naming_it() -> None:
    data = plan_data(FILES["2023"])
    data["benchmarks"]["V"] = {"electricity_t_per_mwh": "0.5", "heat_t_per_gj": "0.1"}
    with pytest.raises(Refused) as raised:
        parse_plan(data)
    assert raised.value.refusal.code is Code.ALLOCATION_UNKNOWN_CATEGORY
    assert "'V'" in raised.value.refusal.message


def test_a_plan_missing_a_benchmark_is_refused_naming_the_category() -> None:
    data = plan_data(FILES["2023"])
    del data["benchmarks"]["III"]
    with pytest.raises(Refused) as raised:
        parse_plan(data)
    assert raised.value.refusal.code is Code.ALLOCATION_MISSING_BENCHMARK
    assert "III" in raised.value.refusal.message


def test_a_benchmark_written_as_a_float_or_absurdly_large_is_refused() -> None:
    data = plan_data(FILES["2023"])
    data["benchmarks"]["I"] = {"electricity_t_per_mwh": 0.795, "heat_t_per_gj": "0.1038"}
    with pytest.raises(Refused, match="decimal string"):
        parse_plan(data)
    data["benchmarks"]["I"] = {"electricity_t_per_mwh": "795", "heat_t_per_gj": "0.1038"}
    with pytest.raises(Refused, match="outside"):
        parse_plan(data)


def test_a_plan_year_outside_its_vintage_is_refused() -> None:
    data = plan_data(FILES["2023"])
    data["year"] = [{"year": 2024, "vintage": "CEA23"}]
    with pytest.raises(Refused, match="not in the vintage"):
        parse_plan(data)


def test_cap_shares_must_add_up_to_one() -> None:
    data = plan_data("cap_cement_2027_example.toml")
    data["shares"]["auction"] = "0.09"
    with pytest.raises(Refused, match="add up"):
        parse_plan(data)
