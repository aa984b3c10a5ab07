"""Cement clinker: calcination of carbonates plus kiln coal (DOMAIN.md §2; DOMAIN-SOURCES.md §3).

    E_process = clinker × CaO fraction × (1 − non-carbonate CaO share) × 44/56
    E_kiln    = kiln coal × NCV × CC × OF × 44/12

The CaO in clinker that came from carbonates (limestone) released its CO2 in the kiln, in the ratio of
molar masses CO2/CaO = 44/56; CaO brought in by non-carbonate alternative raw materials (carbide
slag and the like) released none, which is why the catalogue keeps that share as one of the cement
sector's 4 parameters (Progress Report §7 [seed]).

The 2024 cement guideline (CETS-AG-02.01-V01-2024) was NOT found [?]: this formula is the IPCC 2006
Vol. 3 Ch. 2 clinker method as the catalogue's parameters imply it, and the kiln-coal defaults are the
steel guideline's bituminous-coal values used by analogy — every default in
mrv/sectors/data/cement.toml is tagged "?" for that reason.

Pure; nothing is rounded here — see `carbonmarket.mrv.sectors.common` for the one rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors.common import (
    CO2_PER_CAO,
    FactorSet,
    Input,
    Line,
    Origin,
    SectorResult,
    check_facility_year,
    co2_per_c,
    factor_set,
    product,
    ratio_input,
    required,
)

CLINKER_T = "clinker_output_t"
CAO = "clinker_cao_fraction"
NON_CARBONATE = "non_carbonate_cao_fraction"
KILN_COAL_T = "kiln_coal_consumed_t"

PROCESS_FORMULA = "clinker × CaO × (1 − non-carbonate CaO share) × 44/56 [?]"
KILN_FORMULA = "FC × NCV × CC × OF × 44/12 [?]"


def account(records: Sequence[MonthlyRecord], *, factors: FactorSet | None = None) -> SectorResult:
    """One clinker line's year: the process CO2 of calcination and the CO2 of kiln coal, month by month."""
    facility, year = check_facility_year(records, Sector.CEMENT)
    f = factors or factor_set(Sector.CEMENT)
    lines: list[Line] = []
    for record in sorted(records, key=lambda r: r.month):
        clinker = required(record, CLINKER_T)
        if clinker > 0:
            share = required(record, NON_CARBONATE)
            carbonate_share = Input(
                "carbonate_cao_share",
                1 - Fraction(share),
                "1",
                Origin.MEASURED,
                f"(1 − {format(share, 'f')})",
                None,
                f"1 − {NON_CARBONATE}",
            )
            inputs: tuple[Input, ...] = (
                Input.measured(CLINKER_T, clinker, "t"),
                Input.measured(CAO, required(record, CAO), "1"),
                carbonate_share,
                ratio_input("co2_per_cao", CO2_PER_CAO, "44/56", "molar masses CO2/CaO = 44/56"),
            )
            lines.append(
                Line(
                    facility,
                    record.month,
                    "clinker calcination (process)",
                    "CO2",
                    PROCESS_FORMULA,
                    inputs,
                    product(inputs),
                )
            )
        coal = required(record, KILN_COAL_T)
        if coal > 0:
            inputs = (
                Input.measured(KILN_COAL_T, coal, "t"),
                Input.default(f.get("kiln_coal_ncv_gj_per_t", year)),
                Input.default(f.get("kiln_coal_carbon_content_tc_per_gj", year)),
                Input.default(f.get("kiln_coal_oxidation_fraction", year)),
                co2_per_c(),
            )
            lines.append(
                Line(
                    facility,
                    record.month,
                    "kiln coal combustion",
                    "CO2",
                    KILN_FORMULA,
                    inputs,
                    product(inputs),
                )
            )
    notes = ("cement guideline text not found: formula and defaults are unconfirmed [?]",)
    return SectorResult(Sector.CEMENT, facility, year, f.version, tuple(lines), notes)
