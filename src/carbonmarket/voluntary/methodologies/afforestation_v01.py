"""CCER-14-001-V01 afforestation: ΔC = ΔV × D × BEF × (1 + R) × CF × 44/12 (IPCC; [?] defaults)."""

from __future__ import annotations

from collections.abc import Mapping

from carbonmarket.voluntary.methodologies.base import (
    Calculation,
    Period,
    Value,
    load_data,
    number,
    text,
)

data = load_data("afforestation_v01.toml")


def conditions(project: Mapping[str, Value]) -> list[str]:
    """Afforestation is planting on land that was not forest (applicability [?])."""
    if text(project, "previous_land_use") == "forest":
        return ["afforestation needs land that was not forest before planting (CCER-14-001-V01)"]
    return []


def calculate(project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period) -> Calculation:
    """Removals = carbon stock change of the planted trees above and below ground, as CO2."""
    species = text(project, "species")
    d, bef, r = (data.table("species", species, column) for column in ("d", "bef", "r"))
    cf = data.constant("carbon_fraction")
    delta_v = number(monitored, "stock_volume_end_m3") - number(monitored, "stock_volume_start_m3")
    biomass = delta_v * d * bef * (1 + r)
    carbon = biomass * cf
    removals = carbon * data.constant("molar_mass_co2") / data.constant("molar_mass_c")
    steps = {
        "ΔV": f"{monitored['stock_volume_end_m3']} − {monitored['stock_volume_start_m3']} = {delta_v} m3",
        "biomass": f"{delta_v} × {d} × {bef} × (1 + {r}) = {biomass} t d.m. ({species})",
        "carbon": f"{biomass} × {cf} = {carbon} tC",
        "ΔC_actual": f"{carbon} × 44/12 = {removals} tCO2",
    }
    # For a sink the "baseline" side of ER = BE − PE − LE is the removal achieved; the baseline
    # stock change is subtracted as project-side emissions so the shape stays one formula.
    baseline_change = data.constant("baseline_stock_change_t")
    return Calculation(removals, baseline_change, data.constant("leakage_t"), steps)
