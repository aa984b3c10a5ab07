"""Aluminium smelting: anode consumption (CO2) and anode effects (CF4, C2F6) (DOMAIN.md §1-2).

    E_anode = net anode consumed × anode carbon fraction × 44/12                       [t CO2]
    EF_CF4  = slope × AEM (kg CF4 per t Al), slope 0.143; EF_C2F6 = 0.1 × EF_CF4        (slope method)
            or, when AEM (anode-effect minutes per cell-day) is not reported, the defaults
            EF_CF4 = 0.034 and EF_C2F6 = 0.0034 kg per t Al
    E_PFC   = P × (EF_CF4 × GWP_CF4 + EF_C2F6 × GWP_C2F6) / 1000                       [t CO2e]

with P the molten aluminium output and GWP from the versioned table mrv/data/gwp.toml (AR5 by
default: CF4 6630, C2F6 11100; AR4 7390 / 12200). The 2024 aluminium guideline was NOT read, so the
anode carbon fraction is unconfirmed [?] and the slope constants are second-hand [S]
(mrv/sectors/data/aluminium.toml says where each comes from).

Pure; nothing is rounded here — see `carbonmarket.mrv.sectors.common` for the one rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors.common import (
    KG_PER_T,
    FactorSet,
    GwpTable,
    Input,
    Line,
    Origin,
    SectorResult,
    check_facility_year,
    co2_per_c,
    factor_set,
    gwp_table,
    product,
    ratio_input,
    required,
)

ALUMINIUM_T = "molten_aluminium_output_t"
ANODE_T = "net_anode_consumed_t"
AEM = "anode_effect_minutes_per_cell_day"


def account(
    records: Sequence[MonthlyRecord], *, factors: FactorSet | None = None, gwp_version: str | None = None
) -> SectorResult:
    """One smelter's year: anode CO2 and anode-effect CF4 and C2F6 per month, weighted by GWP."""
    facility, year = check_facility_year(records, Sector.ALUMINIUM)
    f = factors or factor_set(Sector.ALUMINIUM)
    gwp = gwp_table(gwp_version)
    lines: list[Line] = []
    for record in sorted(records, key=lambda r: r.month):
        anode = required(record, ANODE_T)
        if anode > 0:
            inputs = (
                Input.measured(ANODE_T, anode, "t"),
                Input.default(f.get("anode_carbon_fraction", year)),
                co2_per_c(),
            )
            lines.append(
                Line(
                    facility,
                    record.month,
                    "anode consumption",
                    "CO2",
                    "net anode × carbon fraction × 44/12",
                    inputs,
                    product(inputs),
                )
            )
        output = required(record, ALUMINIUM_T)
        if output > 0:
            lines.extend(_pfc_lines(record, f, gwp, year))
    notes = (f"GWP {gwp.version} [{gwp.tag}]: {gwp.source}",)
    return SectorResult(Sector.ALUMINIUM, facility, year, f.version, tuple(lines), notes)


def _pfc_lines(record: MonthlyRecord, f: FactorSet, gwp: GwpTable, year: int) -> list[Line]:
    """CF4 and C2F6 of one month: by the slope method when AEM is reported, else by default factors."""
    produced = Input.measured(ALUMINIUM_T, required(record, ALUMINIUM_T), "t Al")
    per_kg = ratio_input("t_per_kg", Fraction(1, KG_PER_T), "1/1000", "1 t = 1000 kg")
    minutes = record.values.get(AEM)
    if minutes is not None:
        slope = Input.default(f.get("cf4_slope_kg_per_t_al_per_aem", year))
        aem = Input.measured(AEM, minutes, "min/(cell·day)")
        cf4_factor: tuple[Input, ...] = (slope, aem)
        c2f6_factor: tuple[Input, ...] = (slope, aem, Input.default(f.get("c2f6_to_cf4_ratio", year)))
        how = "slope method"
        cf4_formula = "P × 0.143 × AEM × GWP_CF4 / 1000"
        c2f6_formula = "P × 0.143 × AEM × 0.1 × GWP_C2F6 / 1000"
    else:
        cf4_factor = (Input.default(f.get("cf4_default_kg_per_t_al", year)),)
        c2f6_factor = (Input.default(f.get("c2f6_default_kg_per_t_al", year)),)
        how = "default factors (no anode-effect minutes reported)"
        cf4_formula = "P × EF_CF4 default × GWP_CF4 / 1000"
        c2f6_formula = "P × EF_C2F6 default × GWP_C2F6 / 1000"
    lines = []
    for gas, factor_inputs, formula in (
        ("CF4", cf4_factor, cf4_formula),
        ("C2F6", c2f6_factor, c2f6_formula),
    ):
        weight = Input(
            f"gwp_{gas.lower()}",
            Fraction(gwp.values[gas]),
            "tCO2e/t",
            Origin.DEFAULT,
            format(gwp.values[gas], "f"),
            gwp.tag,
            f"GWP {gwp.version}: {gwp.source}",
        )
        inputs = (produced, *factor_inputs, weight, per_kg)
        kilograms = product((produced, *factor_inputs))
        lines.append(
            Line(
                record.facility_id,
                record.month,
                f"anode effect {gas} ({how})",
                gas,
                formula,
                inputs,
                product(inputs),
                gas_kg=kilograms,
            )
        )
    return lines
