"""Iron and steel: the enterprise-level mass balance of ST eq. (1) (DOMAIN-SOURCES.md §3 ST).

    E = Σ FC × NCV × CC × 44/12                      coke, injected coal, natural gas (no OF at this level)
      + Σ P_carbonate × EF                           limestone 0.440, dolomite 0.476 tCO2/t (A.2)
      − Σ AD_product × EF                            crude steel 0.037 (A.2, ST §3.5), exported carbon
                                                     products at the pig-iron factor 0.172 [?]

Every CC and A.2 factor is a default by rule (ST §6.2.3, §6.2.4); coke NCV is always the A.1 default
(§6.2.2.2); the catalogue has no NCV measurement for injected coal or gas, so A.1 applies (§6.2.2.4).
Electrodes and purchased carbon-bearing materials (DRI, pig iron, scrap) are not in the monthly
catalogue and so are not counted. Sinter and hot-metal outputs are production data, not emissions.

Pure; nothing is rounded here — see `carbonmarket.mrv.sectors.common` for the one rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors.common import (
    FactorSet,
    Input,
    Line,
    SectorResult,
    check_facility_year,
    co2_per_c,
    factor_set,
    product,
    required,
)

FUEL_FORMULA = "FC × NCV × CC × 44/12 (ST eq. 1)"
PROCESS_FORMULA = "P × EF (ST eq. 1, table A.2)"
DEDUCTION_FORMULA = "− AD × EF (ST eq. 1, table A.2)"

# (parameter, source, NCV factor, CC factor, unit of the parameter)
_FUELS = (
    ("coke_consumed_t", "coke", "coke_ncv_gj_per_t", "coke_carbon_content_tc_per_gj", "t"),
    (
        "coal_injected_t",
        "injected coal",
        "injected_coal_ncv_gj_per_t",
        "injected_coal_carbon_content_tc_per_gj",
        "t",
    ),
    (
        "gas_consumed_10k_nm3",
        "natural gas",
        "gas_ncv_gj_per_10k_nm3",
        "gas_carbon_content_tc_per_gj",
        "10^4 Nm3",
    ),
)
# (parameter, source, emission factor)
_CARBONATES = (
    ("limestone_consumed_t", "limestone (process)", "limestone_ef_tco2_per_t"),
    ("dolomite_consumed_t", "dolomite (process)", "dolomite_ef_tco2_per_t"),
)
_PRODUCTS = (
    ("crude_steel_output_t", "carbon in crude steel (deducted)", "crude_steel_ef_tco2_per_t"),
    (
        "carbon_products_exported_t",
        "exported carbon products (deducted)",
        "exported_carbon_product_ef_tco2_per_t",
    ),
)


def account(records: Sequence[MonthlyRecord], *, factors: FactorSet | None = None) -> SectorResult:
    """One steel enterprise's year by ST eq. (1): fuel carbon + carbonates − carbon leaving in products."""
    facility, year = check_facility_year(records, Sector.STEEL)
    f = factors or factor_set(Sector.STEEL)
    lines: list[Line] = []
    for record in sorted(records, key=lambda r: r.month):
        for name, source, ncv, cc, unit in _FUELS:
            amount = required(record, name)
            if amount > 0:
                inputs: tuple[Input, ...] = (
                    Input.measured(name, amount, unit),
                    Input.default(f.get(ncv, year)),
                    Input.default(f.get(cc, year)),
                    co2_per_c(),
                )
                lines.append(
                    Line(facility, record.month, source, "CO2", FUEL_FORMULA, inputs, product(inputs))
                )
        for name, source, ef in _CARBONATES:
            amount = required(record, name)
            if amount > 0:
                inputs = (Input.measured(name, amount, "t"), Input.default(f.get(ef, year)))
                lines.append(
                    Line(facility, record.month, source, "CO2", PROCESS_FORMULA, inputs, product(inputs))
                )
        for name, source, ef in _PRODUCTS:
            amount = required(record, name)
            if amount > 0:
                inputs = (Input.measured(name, amount, "t"), Input.default(f.get(ef, year)))
                tonnes = -product(inputs)
                lines.append(Line(facility, record.month, source, "CO2", DEDUCTION_FORMULA, inputs, tonnes))
    return SectorResult(Sector.STEEL, facility, year, f.version, tuple(lines))
