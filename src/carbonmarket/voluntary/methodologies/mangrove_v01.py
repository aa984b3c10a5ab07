"""CCER-14-002-V01 mangrove: biomass change × (1 + R) × CF plus soil carbon, × 44/12 ([?] defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from carbonmarket.voluntary.methodologies.base import (
    Calculation,
    Period,
    Value,
    load_data,
    number,
)

data = load_data("mangrove_v01.toml")


def conditions(project: Mapping[str, Value]) -> list[str]:
    """A new mangrove stand in the intertidal zone, not the replanting of an existing one ([?])."""
    unmet = []
    if project.get("intertidal") is not True:
        unmet.append("mangroves are planted in the intertidal zone (CCER-14-002-V01)")
    if project.get("previous_land_use") == "mangrove":
        unmet.append("the site must not already be mangrove")
    return unmet


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """Removals = area × ΔAGB × (1 + R) × CF + area × soil rate × days/365, as CO2."""
    area = number(project, "area_ha")
    r, cf = data.constant("root_shoot_ratio"), data.constant("carbon_fraction")
    delta_agb = number(monitored, "agb_end_t_per_ha") - number(monitored, "agb_start_t_per_ha")
    biomass_carbon = area * delta_agb * (1 + r) * cf
    years = Decimal(period.days) / data.constant("days_per_year")
    rate = data.constant("soil_carbon_rate")
    soil_carbon = area * rate * years
    carbon = biomass_carbon + soil_carbon
    removals = carbon * data.constant("molar_mass_co2") / data.constant("molar_mass_c")
    steps = {
        "ΔAGB": f"{monitored['agb_end_t_per_ha']} − {monitored['agb_start_t_per_ha']} = {delta_agb} t/ha",
        "biomass_carbon": f"{area} ha × {delta_agb} × (1 + {r}) × {cf} = {biomass_carbon} tC",
        "soil_carbon": f"{area} ha × {rate} × {period.days}/365 = {soil_carbon} tC",
        "ΔC_actual": f"({biomass_carbon} + {soil_carbon}) × 44/12 = {removals} tCO2",
    }
    return Calculation(removals, Decimal(0), data.constant("leakage_t"), steps)
