"""CCER-01-001-V01 solar thermal: ER = EG_PJ × EF_CM − Σ FC·NCV·CC·OF·44/12 (DOMAIN-SOURCES §5 [P T])."""

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

data = load_data("solar_thermal_v01.toml")
# Monitored fuel input → the fuel's row in the defaults table.
FUEL_INPUTS = {"fc_natural_gas_10k_nm3": "natural_gas", "fc_diesel_t": "diesel"}


def conditions(project: Mapping[str, Value]) -> list[str]:
    """Fossil backup must stay an auxiliary heat source (limit [?], data file)."""
    limit = data.constant("backup_share_max")
    if number(project, "backup_share") > limit:
        return [f"fossil backup supplies {project['backup_share']} of the heat input, above {limit}"]
    return []


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """BE as for offshore wind; PE from the fossil fuels burned at the plant (T)."""
    eg = number(monitored, "eg_export_mwh") - number(monitored, "eg_import_mwh")
    ef_cm, steps = combined_margin(
        text(project, "grid_region"), period.year, data.constant("w_om"), data.constant("w_bm")
    )
    baseline = eg * ef_cm
    steps["EG_PJ"] = f"{monitored['eg_export_mwh']} − {monitored['eg_import_mwh']} = {eg} MWh"
    steps["BE"] = f"{eg} MWh × {ef_cm} tCO2/MWh = {baseline} t"
    project_t = Decimal(0)
    for name, fuel in FUEL_INPUTS.items():
        fc = number(monitored, name)
        if fc == 0:
            continue
        ncv, cc, of = (data.table("fuels", fuel, column) for column in ("ncv", "cc", "of"))
        emissions = fc * ncv * cc * of * data.constant("molar_mass_co2") / data.constant("molar_mass_c")
        steps[f"PE_{fuel}"] = f"{fc} × {ncv} × {cc} × {of} × 44/12 = {emissions} t"
        project_t += emissions
    steps["PE"] = f"{project_t} t"
    return Calculation(baseline, project_t, Decimal(0), steps)
