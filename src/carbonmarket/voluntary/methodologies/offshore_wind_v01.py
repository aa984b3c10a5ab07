"""CCER-01-002-V01 offshore wind: ER = EG_PJ × EF_grid,CM; PE = 0; LE = 0 (DOMAIN-SOURCES §5 [P W])."""

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

data = load_data("offshore_wind_v01.toml")


def conditions(project: Mapping[str, Value]) -> list[str]:
    """Applicability of W: more than 30 km offshore or deeper than 30 m (DOMAIN-SOURCES §5 [P W])."""
    far = number(project, "distance_offshore_km") > data.constant("distance_offshore_km_min")
    deep = number(project, "water_depth_m") > data.constant("water_depth_m_min")
    if far or deep:
        return []
    return [
        f"the farm must lie more than {data.constant('distance_offshore_km_min')} km offshore or in water "
        f"deeper than {data.constant('water_depth_m_min')} m (CCER-01-002-V01 applicability)"
    ]


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """BE_y = (EG_export − EG_import) × EF_CM; offshore wind has no project emissions or leakage (W)."""
    eg = number(monitored, "eg_export_mwh") - number(monitored, "eg_import_mwh")
    ef_cm, steps = combined_margin(
        text(project, "grid_region"), period.year, data.constant("w_om"), data.constant("w_bm")
    )
    baseline = eg * ef_cm
    steps["EG_PJ"] = f"{monitored['eg_export_mwh']} − {monitored['eg_import_mwh']} = {eg} MWh"
    steps["BE"] = f"{eg} MWh × {ef_cm} tCO2/MWh = {baseline} t"
    return Calculation(baseline, project_t=Decimal(0), leakage_t=Decimal(0), steps=steps)
