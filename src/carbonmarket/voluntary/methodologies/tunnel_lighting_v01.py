"""CCER-07-001-V01 highway tunnel lighting: ER = (P_BL × H / 1000 − EC_PJ) × EF_grid ([?] formulas)."""

from __future__ import annotations

from collections.abc import Mapping

from carbonmarket.core.results import Code, Refused
from carbonmarket.voluntary.methodologies.base import (
    Calculation,
    Period,
    Value,
    load_data,
    number,
    text,
)
from carbonmarket.voluntary.methodologies.grid import combined_margin

data = load_data("tunnel_lighting_v01.toml")
_HOURS_PER_DAY = 24


def conditions(project: Mapping[str, Value]) -> list[str]:
    """Highway tunnels only, replacing a lighting system of known power ([?])."""
    unmet = []
    if project.get("road_class") == "other":
        unmet.append("CCER-07-001-V01 is for tunnels on highways (expressway, class 1 or class 2)")
    if number(project, "baseline_power_kw") <= 0:
        unmet.append("the baseline lighting power must be positive")
    return unmet


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """Baseline electricity: the replaced system's power for the hours operated; the project's is metered."""
    hours = number(monitored, "operating_hours")
    if hours > period.days * _HOURS_PER_DAY:
        raise Refused(
            Code.CCER_METHODOLOGY_INPUT_INVALID,
            f"operating_hours {hours} exceeds the {period.days * _HOURS_PER_DAY} hours of the period",
        )
    ef_cm, steps = combined_margin(
        text(project, "grid_region"), period.year, data.constant("w_om"), data.constant("w_bm")
    )
    power = number(project, "baseline_power_kw")
    ec_baseline = power * hours / data.constant("kw_per_mw")
    ec_project = number(monitored, "ec_project_mwh")
    baseline = ec_baseline * ef_cm
    project_t = ec_project * ef_cm
    steps.update(
        {
            "EC_BL": f"{power} kW × {hours} h / 1000 = {ec_baseline} MWh",
            "BE": f"{ec_baseline} MWh × {ef_cm} = {baseline} t",
            "PE": f"{ec_project} MWh × {ef_cm} = {project_t} t",
        }
    )
    return Calculation(baseline, project_t, data.constant("leakage_t"), steps)
