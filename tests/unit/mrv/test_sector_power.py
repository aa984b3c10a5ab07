"""The power engine against worked examples computed by hand (DOMAIN.md §2, DOMAIN-SOURCES.md §3)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors import power
from carbonmarket.mrv.sectors.common import Origin, decimal_text, round_once

BASE = {
    "coal_consumed_t": "0",
    "coal_ncv_gj_per_t": "20",
    "gas_consumed_10k_nm3": "0",
    "electricity_generated_mwh": "3000",
    "electricity_supplied_mwh": "2800",
    "heat_supplied_gj": "0",
    "operating_hours_h": "600",
    "load_rate_fraction": "0.7",
}


def month(m: int, year: int = 2024, **values: str) -> MonthlyRecord:
    """A power unit's month: the base values with some replaced."""
    merged = {**BASE, **values}
    return MonthlyRecord(
        "E-1", "UNIT-1", Sector.POWER, year, m, {k: Decimal(v) for k, v in merged.items() if v != ""}
    )


def test_gas_reproduces_test_vector_13() -> None:
    # DOMAIN-SOURCES test vector 13: 21 ×10^4 Nm3 × 389.31 GJ/10^4 Nm3 = 8,175.51 GJ
    #   × 0.01532 tC/GJ = 125.2488132 tC; × 0.99 = 123.996325068 tC; × 44/12 = 454.653191916 t CO2 → 454.65 t.
    result = power.account([month(1, gas_consumed_10k_nm3="21")])
    (line,) = result.lines
    assert line.source == "natural gas combustion"
    assert line.tonnes == Fraction("21") * Fraction("389.31") * Fraction("0.01532") * Fraction(
        "0.99"
    ) * Fraction(44, 12)
    assert decimal_text(line.tonnes, 2) == "454.65"
    assert decimal_text(line.tonnes, 9) == "454.653191916"
    assert [i.origin for i in line.inputs] == [
        Origin.MEASURED,
        Origin.DEFAULT,
        Origin.DEFAULT,
        Origin.DEFAULT,
        Origin.CONSTANT,
    ]
    assert round_once(result.total) == 455


def test_coal_uses_the_measured_carbon_content_of_its_month() -> None:
    # 1,000 t × 20 GJ/t = 20,000 GJ; × 0.0265 tC/GJ = 530 tC; × 0.99 = 524.7 tC; × 44/12 = 1,923.9 t CO2.
    records = [month(m, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.0265") for m in (1, 2, 3)]
    result = power.account(records)
    assert [decimal_text(line.tonnes) for line in result.lines] == ["1923.9"] * 3
    assert result.lines[0].inputs[2].origin is Origin.MEASURED
    assert round_once(result.total) == 5772  # 3 × 1,923.9 = 5,771.7 → 5,772


def test_coal_measured_in_fewer_than_three_months_takes_the_default_in_the_others() -> None:
    # Measured in months 1-2 only (< 3): months 3-4 take the default 0.03085 tC/GJ [S].
    # Month 3: 1,000 t × 20 GJ/t × 0.03085 × 0.99 × 44/12 = 20,000 × 0.03085 = 617 tC; × 0.99 = 610.83 tC;
    #   × 44/12 = 2,239.71 t.
    records = [
        month(1, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.0265"),
        month(2, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.0265"),
        month(3, coal_consumed_t="1000"),
        month(4, coal_consumed_t="1000"),
    ]
    result = power.account(records)
    third = result.lines[2]
    assert third.inputs[2].origin is Origin.DEFAULT
    assert third.inputs[2].shown == "0.03085"
    assert third.inputs[2].tag == "S"
    assert decimal_text(third.tonnes) == "2239.71"
    # 2 × 1,923.9 + 2 × 2,239.71 = 8,327.22 → 8,327.
    assert round_once(result.total) == 8327
    assert "(< 3)" in result.notes[0]


def test_coal_measured_in_three_months_fills_the_others_with_their_mean() -> None:
    # Measured 0.026, 0.027, 0.028 in months 1-3: mean 0.027 fills month 4.
    # Month 4: 20,000 GJ × 0.027 = 540 tC; × 0.99 = 534.6 tC; × 44/12 = 1,960.2 t.
    records = [
        month(1, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.026"),
        month(2, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.027"),
        month(3, coal_consumed_t="1000", coal_carbon_content_tc_per_gj="0.028"),
        month(4, coal_consumed_t="1000"),
    ]
    fourth = power.account(records).lines[3]
    assert fourth.inputs[2].origin is Origin.FILLED
    assert fourth.inputs[2].value == Fraction("0.027")
    assert decimal_text(fourth.tonnes) == "1960.2"


def test_the_default_carbon_content_before_2021_was_0_03356() -> None:
    # 2020: 20,000 GJ × 0.03356 = 671.2 tC; × 0.99 = 664.488 tC; × 44/12 = 2,436.456 t.
    (line,) = power.account([month(1, year=2020, coal_consumed_t="1000")]).lines
    assert line.inputs[2].shown == "0.03356"
    assert decimal_text(line.tonnes) == "2436.456"


def test_fuel_oil_takes_the_liquid_fuel_defaults() -> None:
    # 10 t × 41.816 GJ/t = 418.16 GJ; × 0.02110 tC/GJ = 8.823176 tC; × 0.98 = 8.64671248 tC;
    #   × 44/12 = 31.704612427 t.
    (line,) = power.account([month(1, oil_consumed_t="10")]).lines
    assert line.source == "fuel oil combustion"
    assert decimal_text(line.tonnes, 9) == "31.704612427"
    assert all(i.tag == "?" for i in line.inputs[1:4])


def test_purchased_electricity_is_reported_beside_the_total_from_2023() -> None:
    # 100 MWh × 0.5703 tCO2/MWh = 57.03 t, shown but not counted in 2024.
    result = power.account([month(1, gas_consumed_10k_nm3="21", purchased_electricity_mwh="100")])
    electricity = result.lines[1]
    assert electricity.source == "purchased electricity"
    assert not electricity.in_total
    assert decimal_text(electricity.tonnes) == "57.03"
    assert decimal_text(result.reported_beside) == "57.03"
    assert round_once(result.total) == 455


def test_purchased_electricity_counted_in_the_total_until_2022() -> None:
    # 2022: 100 MWh × 0.5810 = 58.1 t, in the total.
    result = power.account([month(1, year=2022, purchased_electricity_mwh="100")])
    (line,) = result.lines
    assert line.in_total
    assert result.total == Fraction("58.1")


def test_purchased_electricity_from_2026_is_an_auxiliary_quantity_without_tonnes() -> None:
    result = power.account([month(1, year=2026, purchased_electricity_mwh="100")])
    assert result.lines == ()
    assert "auxiliary item" in result.notes[0]


def test_the_annual_figure_is_rounded_once_not_month_by_month() -> None:
    # 0.01 ×10^4 Nm3 a month: 0.01 × 389.31 × 0.01532 × 0.99 × 44/12 = 0.2165... t. Rounded month by
    # month that is 0 t twelve times; the exact year is 2.598 t, rounded once: 3 t.
    records = [month(m, gas_consumed_10k_nm3="0.01") for m in range(1, 13)]
    result = power.account(records)
    assert sum(round_once(line.tonnes) for line in result.lines) == 0
    assert decimal_text(result.total, 3) == "2.598"
    assert round_once(result.total) == 3


def test_round_once_rounds_half_away_from_zero() -> None:
    assert round_once(Fraction(5, 2)) == 3
    assert round_once(Fraction(-5, 2)) == -3
    assert round_once(Fraction("2.4999999")) == 2
    assert decimal_text(Fraction(1, 3), 6) == "0.333333"
    assert decimal_text(Fraction(2, 3), 6) == "0.666667"


def test_months_without_fuel_make_no_lines() -> None:
    assert power.account([month(1)]).lines == ()
