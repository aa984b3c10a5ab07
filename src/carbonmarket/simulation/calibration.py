"""Calibration: a scenario's published figures beside the ones its run produced.

The scenario's `[published]` table names the published outcomes (with their sources); the run gives
the simulated ones (`year.run_year`); the table pairs them with the relative error. Nothing here
moves an outcome towards its target: calibration is done on the scenario's inputs, by hand or by a
search over them, and this module only measures how close the outcome came.
"""

from __future__ import annotations

from typing import Any

from carbonmarket.simulation.spec import Scenario, ScenarioError

# Published name → the summary key of `run_year` that gives the simulated figure.
SUMMARY_KEYS = {
    "allowances_issued_t": "allowances_issued_t",
    "verified_emissions_t": "verified_emissions_t",
    "deficit_ratio": "deficit_ratio",
    "compliance_rate": "compliance_rate",
    "ccer_offset_entities": "ccer_offset_entities",
    "ccer_offset_t": "ccer_offset_t",
    "trading_days": "trading_days",
    "traded_volume_t": "traded_volume_t",
    "listed_volume_t": "listed_volume_t",
    "bulk_volume_t": "bulk_volume_t",
    "traded_value_cny": "traded_value_cny",
    "close_min_cny": "close_min_cny",
    "close_max_cny": "close_max_cny",
    "close_year_end_cny": "close_year_end_cny",
    "traders": "traders",
}
# The target for each figure: within ±5% of the published one.
tolerance = 0.05


def published_figures(scenario: Scenario) -> dict[str, float]:
    """The scenario's `[published]` figures, checked to be numbers the summary can be compared with."""
    figures = scenario.section("published")
    if not figures:
        raise ScenarioError(f"scenario {scenario.name!r} has no [published] figures to calibrate against")
    checked = {}
    for name, value in figures.items():
        if name not in SUMMARY_KEYS:
            raise ScenarioError(
                f"[published] {name}: not a figure the run produces ({', '.join(SUMMARY_KEYS)})"
            )
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ScenarioError(f"[published] {name} must be a number")
        checked[name] = float(value)
    return checked


def calibration_table(scenario: Scenario, summary: dict[str, Any]) -> dict[str, Any]:
    """`{"figures": [{"name", "published", "simulated", "error", "within"}...], ...}` for a run's summary."""
    rows = []
    for name, published in published_figures(scenario).items():
        simulated = summary.get(SUMMARY_KEYS[name])
        error = None if simulated is None or published == 0 else (float(simulated) - published) / published
        rows.append(
            {
                "name": name,
                "published": published,
                "simulated": simulated,
                "error": None if error is None else round(error, 4),
                "within": error is not None and abs(error) <= tolerance,
            }
        )
    return {
        "scenario": scenario.name,
        "tolerance": tolerance,
        "within": sum(1 for r in rows if r["within"]),
        "figures": rows,
        "summary": summary,
    }
