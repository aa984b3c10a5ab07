"""Regional grid emission factors (data/grid_factors.toml) and the energy methodologies' combined margin.

EF_grid,CM,y = w_OM × EF_OM,y + w_BM × EF_BM,y of the project's regional grid, for year y or else the
latest prior year published (DOMAIN-SOURCES §5 [P W, T]).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from carbonmarket.core.results import Code, Refused

REGIONS = ("North", "Northeast", "East", "Central", "Northwest", "South", "Southwest")


@dataclass(frozen=True)
class GridFactor:
    """One regional grid's margins for one year, tCO2/MWh."""

    region: str
    year: int
    om: Decimal
    bm: Decimal
    tag: str


@functools.cache
def _document() -> dict[str, Any]:
    text = resources.files("carbonmarket.voluntary").joinpath("data", "grid_factors.toml").read_text("utf-8")
    document = tomllib.loads(text)
    if document.get("schema_version") != 1:
        raise ValueError("grid_factors.toml: schema_version must be 1")
    return document


def grid_factor(region: str, year: int) -> GridFactor:
    """The factors of `region` for `year`, or the latest prior year published (DOMAIN-SOURCES §5 [P W])."""
    years = sorted((int(y) for y in _document()["years"]), reverse=True)
    for published in years:
        if published <= year:
            entry = _document()["years"][str(published)]["regions"].get(region)
            if entry is None:
                raise Refused(Code.CCER_METHODOLOGY_INPUT_INVALID, f"no grid factors for region {region!r}")
            return GridFactor(region, published, Decimal(entry["om"]), Decimal(entry["bm"]), entry["tag"])
    raise Refused(
        Code.CCER_METHODOLOGY_INPUT_INVALID,
        f"no grid factors published for {year} or earlier (first year {min(years)})",
    )


def combined_margin(region: str, year: int, w_om: Decimal, w_bm: Decimal) -> tuple[Decimal, dict[str, str]]:
    """EF_CM = w_OM·EF_OM + w_BM·EF_BM with the steps shown."""
    factor = grid_factor(region, year)
    ef_cm = w_om * factor.om + w_bm * factor.bm
    steps = {
        "grid_factor_year": str(factor.year),
        "EF_OM": f"{factor.om} tCO2/MWh ({region} {factor.year}, {factor.tag})",
        "EF_BM": f"{factor.bm} tCO2/MWh ({region} {factor.year}, {factor.tag})",
        "EF_CM": f"{w_om} × {factor.om} + {w_bm} × {factor.bm} = {ef_cm} tCO2/MWh",
    }
    return ef_cm, steps
