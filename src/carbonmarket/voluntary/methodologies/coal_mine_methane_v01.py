"""CCER-10-001-V01 coal mine methane (< 8% CH4): BE = CH4 destroyed × GWP + EG × EF; PE = CO2 + EC × EF."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from carbonmarket.voluntary.methodologies.base import (
    Calculation,
    Period,
    Value,
    load_data,
    number,
    text,
)
from carbonmarket.voluntary.methodologies.grid import combined_margin

data = load_data("coal_mine_methane_v01.toml")


def conditions(project: Mapping[str, Value]) -> list[str]:
    """Low-concentration gas (< 8% CH4) measured by networked meters (DOMAIN.md §6 [reg])."""
    unmet = []
    limit = data.constant("ch4_concentration_pct_max")
    if number(project, "ch4_concentration_pct") >= limit:
        unmet.append(
            f"the gas holds {project['ch4_concentration_pct']}% CH4; the methodology is for < {limit}%"
        )
    if project.get("networked_metering") is not True:
        unmet.append("CCER-10-001-V01 needs networked metering (readings uploaded every second)")
    return unmet


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """Methane destroyed counts at its GWP; oxidising it emits 44/16 t CO2 per t; power used is debited."""
    volume = number(monitored, "ch4_volume_m3")
    efficiency = number(monitored, "destruction_efficiency")
    density = data.constant("ch4_density")
    destroyed = volume * density * efficiency
    gwp = data.constant("gwp_ch4")
    ef_cm, steps = combined_margin(
        text(project, "grid_region"), period.year, data.constant("w_om"), data.constant("w_bm")
    )
    generated = number(monitored, "electricity_generated_mwh")
    consumed = number(monitored, "electricity_consumed_mwh")
    baseline = destroyed * gwp + generated * ef_cm
    oxidation = destroyed * data.constant("molar_mass_co2") / data.constant("molar_mass_ch4")
    power = consumed * ef_cm
    steps.update(
        {
            "CH4_destroyed": f"{volume} m3 × {density} t/m3 × {efficiency} = {destroyed} t",
            "BE": f"{destroyed} × {gwp} + {generated} MWh × {ef_cm} = {baseline} t",
            "PE_oxidation": f"{destroyed} × 44/16 = {oxidation} t",
            "PE_electricity": f"{consumed} MWh × {ef_cm} = {power} t",
        }
    )
    return Calculation(baseline, oxidation + power, Decimal(0), steps)
