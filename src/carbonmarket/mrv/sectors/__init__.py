"""Sector accounting engines, emission-factor method: one module per sector, defaults as data.

`account(sector, records)` runs the right engine on one facility's current monthly records of one
year and returns its traceable lines and exact total; `common.round_once` rounds an annual sum.
"""

from __future__ import annotations

from collections.abc import Sequence

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors.common import SectorResult

# The output an annual intensity is reported against, per sector (power: generated electricity, the
# allocation basis of A 附3; steel: crude steel, ST table C.3; cement: clinker; aluminium: molten Al).
INTENSITY_BASIS: dict[Sector, tuple[str, str]] = {
    Sector.POWER: ("electricity_generated_mwh", "tCO2e/MWh"),
    Sector.STEEL: ("crude_steel_output_t", "tCO2e/t crude steel"),
    Sector.CEMENT: ("clinker_output_t", "tCO2e/t clinker"),
    Sector.ALUMINIUM: ("molten_aluminium_output_t", "tCO2e/t Al"),
}


def account(
    sector: Sector, records: Sequence[MonthlyRecord], *, gwp_version: str | None = None
) -> SectorResult:
    """One facility-year through its sector's engine (GWP version used by aluminium only)."""
    if sector is Sector.POWER:
        from carbonmarket.mrv.sectors import power

        return power.account(records)
    if sector is Sector.STEEL:
        from carbonmarket.mrv.sectors import steel

        return steel.account(records)
    if sector is Sector.CEMENT:
        from carbonmarket.mrv.sectors import cement

        return cement.account(records)
    from carbonmarket.mrv.sectors import aluminium

    assert sector is Sector.ALUMINIUM, f"no engine for {sector}"
    return aluminium.account(records, gwp_version=gwp_version)
