"""Power generation: the emission-factor method, fuel by fuel (DOMAIN.md §2; DOMAIN-SOURCES.md §3).

    E = Σ_months (E_coal + E_gas + E_oil)          [+ E_purchased_electricity for years ≤ 2022]
    E_fuel = FC × NCV × CC × OF × 44/12            (t × GJ/t × tC/GJ × 1 × tCO2/tC = tCO2)
    E_purchased_electricity = MWh × grid EF        (reported beside the total from 2023)

Coal: NCV is measured every month (a required parameter). The carbon content per unit heat CC is
measured or not; over the year, if it was measured in at least `coal_carbon_measured_months_min`
(3) months, the arithmetic mean of the measured months fills the unmeasured ones; otherwise the
unmeasured months take the default (0.03085 tC/GJ from 2021, 0.03356 before) [S]. Gas and oil use
default NCV, CC and OF from mrv/sectors/data/power.toml (no monthly gas or oil NCV in the catalogue).

Pure, Decimal in and exact rationals inside; nothing is rounded here — the entity's annual sum is
rounded once by `common.round_once` (see `carbonmarket.mrv.sectors.common`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors.common import (
    FactorSet,
    Input,
    Line,
    SectorResult,
    check_facility_year,
    co2_per_c,
    decimal_text,
    factor_set,
    product,
    required,
)

COAL_T = "coal_consumed_t"
COAL_NCV = "coal_ncv_gj_per_t"
COAL_CC = "coal_carbon_content_tc_per_gj"
GAS = "gas_consumed_10k_nm3"
OIL_T = "oil_consumed_t"
PURCHASED_MWH = "purchased_electricity_mwh"

FUEL_FORMULA = "FC × NCV × CC × OF × 44/12"


def account(records: Sequence[MonthlyRecord], *, factors: FactorSet | None = None) -> SectorResult:
    """One power facility's year: coal, gas and oil combustion per month, purchased electricity beside."""
    facility, year = check_facility_year(records, Sector.POWER)
    f = factors or factor_set(Sector.POWER)
    ordered = sorted(records, key=lambda r: r.month)
    fill, fill_note = _coal_carbon_fill(ordered, f, year)
    oxidation = Input.default(f.get("coal_oxidation_fraction", year))
    grid = f.find("grid_emission_factor_tco2_per_mwh", year)
    in_total_until = int(f.get("purchased_electricity_in_total_last_year", year).value)
    lines: list[Line] = []
    notes = [fill_note] if fill_note else []
    for record in ordered:
        coal = required(record, COAL_T)
        if coal > 0:
            measured_cc = record.values.get(COAL_CC)
            cc = Input.measured(COAL_CC, measured_cc, "tC/GJ") if measured_cc is not None else fill
            inputs: tuple[Input, ...] = (
                Input.measured(COAL_T, coal, "t"),
                Input.measured(COAL_NCV, required(record, COAL_NCV), "GJ/t"),
                cc,
                oxidation,
                co2_per_c(),
            )
            lines.append(_line(record, "coal combustion", inputs))
        gas = required(record, GAS)
        if gas > 0:
            inputs = (
                Input.measured(GAS, gas, "10^4 Nm3"),
                Input.default(f.get("gas_ncv_gj_per_10k_nm3", year)),
                Input.default(f.get("gas_carbon_content_tc_per_gj", year)),
                Input.default(f.get("gas_oxidation_fraction", year)),
                co2_per_c(),
            )
            lines.append(_line(record, "natural gas combustion", inputs))
        oil = record.values.get(OIL_T)
        if oil is not None and oil > 0:
            inputs = (
                Input.measured(OIL_T, oil, "t"),
                Input.default(f.get("oil_ncv_gj_per_t", year)),
                Input.default(f.get("oil_carbon_content_tc_per_gj", year)),
                Input.default(f.get("oil_oxidation_fraction", year)),
                co2_per_c(),
            )
            lines.append(_line(record, "fuel oil combustion", inputs))
        purchased = record.values.get(PURCHASED_MWH)
        if purchased is not None and purchased > 0:
            if grid is None:
                notes.append(
                    f"month {record.month}: {purchased} MWh purchased electricity is an auxiliary item "
                    f"only from {year} (U26): no tonnes"
                )
                continue
            inputs = (Input.measured(PURCHASED_MWH, purchased, "MWh"), Input.default(grid))
            counted = year <= in_total_until
            lines.append(
                Line(
                    facility,
                    record.month,
                    "purchased electricity",
                    "CO2",
                    "MWh × grid EF",
                    inputs,
                    product(inputs),
                    in_total=counted,
                    note=None if counted else f"reported beside the total from {in_total_until + 1}",
                )
            )
    return SectorResult(Sector.POWER, facility, year, f.version, tuple(lines), tuple(notes))


def _line(record: MonthlyRecord, source: str, inputs: tuple[Input, ...]) -> Line:
    """A combustion line FC × NCV × CC × OF × 44/12 with its exact tonnes."""
    return Line(record.facility_id, record.month, source, "CO2", FUEL_FORMULA, inputs, product(inputs))


def _coal_carbon_fill(ordered: Sequence[MonthlyRecord], f: FactorSet, year: int) -> tuple[Input, str | None]:
    """The carbon content for months that did not measure it, and a note saying which rule chose it."""
    measured = [(r.month, r.values[COAL_CC]) for r in ordered if COAL_CC in r.values]
    burning = [r.month for r in ordered if required(r, COAL_T) > 0]
    gaps = [m for m in burning if m not in dict(measured)]
    minimum = int(f.get("coal_carbon_measured_months_min", year).value)
    default = f.get("coal_carbon_content_default_tc_per_gj", year)
    if len(measured) >= minimum:
        mean = sum((Fraction(v) for _, v in measured), Fraction(0)) / len(measured)
        months = ", ".join(str(m) for m, _ in measured)
        how = f"arithmetic mean of the {len(measured)} measured months ({months}) [S]"
        note = (
            f"coal carbon content measured in {len(measured)} months (≥ {minimum}): months "
            f"{', '.join(map(str, gaps))} use their mean {decimal_text(mean, 8)} tC/GJ"
            if gaps
            else None
        )
        return Input.filled(COAL_CC, mean, "tC/GJ", how), note
    note = (
        f"coal carbon content measured in {len(measured)} months (< {minimum}): months "
        f"{', '.join(map(str, gaps))} use the default {default.value} tC/GJ"
        if gaps
        else None
    )
    return Input.default(default), note
