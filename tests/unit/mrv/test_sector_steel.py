"""The steel engine against a worked example of ST eq. (1), computed by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors import steel
from carbonmarket.mrv.sectors.common import Origin, decimal_text, round_once

MONTH = {
    "crude_steel_output_t": "1500",
    "hot_metal_output_t": "1400",
    "sinter_output_t": "2000",
    "coke_consumed_t": "1000",
    "coal_injected_t": "500",
    "gas_consumed_10k_nm3": "10",
    "limestone_consumed_t": "200",
    "dolomite_consumed_t": "100",
    "carbon_products_exported_t": "50",
}


def record(month: int = 1, **values: str) -> MonthlyRecord:
    merged = {**MONTH, **values}
    return MonthlyRecord(
        "E-S", "WORKS-1", Sector.STEEL, 2025, month, {k: Decimal(v) for k, v in merged.items()}
    )


def test_one_month_by_the_mass_balance_of_st_equation_1() -> None:
    # coke:           1,000 t × 28.435 GJ/t = 28,435 GJ × 0.02942 tC/GJ = 836.5577 tC × 44/12 = 3,067.378233 t
    # injected coal:    500 t × 23.736 GJ/t = 11,868 GJ × 0.02618 = 310.70424 tC × 44/12   = 1,139.24888 t
    # natural gas:       10 ×10^4 Nm3 × 389.310 = 3,893.1 GJ × 0.01532 = 59.642292 tC × 44/12 = 218.688404 t
    # limestone:        200 t × 0.440 = 88 t;   dolomite: 100 t × 0.476 = 47.6 t
    # crude steel:   −1,500 t × 0.037 = −55.5 t; exported products: −50 t × 0.172 = −8.6 t
    # total: 3,067.378233 + 1,139.24888 + 218.688404 + 88 + 47.6 − 55.5 − 8.6 = 4,496.815517 t → 4,497 t
    result = steel.account([record()])
    by_source = {line.source: decimal_text(line.tonnes) for line in result.lines}
    assert by_source == {
        "coke": "3067.378233",
        "injected coal": "1139.24888",
        "natural gas": "218.688404",
        "limestone (process)": "88",
        "dolomite (process)": "47.6",
        "carbon in crude steel (deducted)": "-55.5",
        "exported carbon products (deducted)": "-8.6",
    }
    assert decimal_text(result.total) == "4496.815517"
    assert round_once(result.total) == 4497


def test_steel_has_no_oxidation_factor_at_enterprise_level() -> None:
    # ST eq. (1) multiplies FC × NCV × CC × 44/12 only: the gas line is 218.688404 t, not × 0.99.
    gas = next(line for line in steel.account([record()]).lines if line.source == "natural gas")
    assert [i.name for i in gas.inputs] == [
        "gas_consumed_10k_nm3",
        "gas_ncv_gj_per_10k_nm3",
        "gas_carbon_content_tc_per_gj",
        "co2_per_carbon",
    ]
    assert gas.tonnes == Fraction(10) * Fraction("389.310") * Fraction("0.01532") * Fraction(44, 12)


def test_every_steel_default_names_its_source_and_tag() -> None:
    for line in steel.account([record()]).lines:
        for used in line.inputs:
            if used.origin is Origin.DEFAULT:
                assert used.source and used.tag in {"P", "?"}
    injected = next(line for line in steel.account([record()]).lines if line.source == "injected coal")
    # The coal type of injected coal is assumed (bituminous), so its defaults are tagged unconfirmed.
    assert injected.inputs[1].tag == "?"


def test_a_year_sums_the_months_exactly_and_rounds_once() -> None:
    # Twelve identical months: 12 × 4,496.815517333… = 53,961.786208 t → 53,962 t.
    result = steel.account([record(m) for m in range(1, 13)])
    assert decimal_text(result.total) == "53961.786208"
    assert round_once(result.total) == 53962
