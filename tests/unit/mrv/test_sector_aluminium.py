"""The aluminium engine: anode CO2 and anode-effect PFCs by the slope method or defaults, GWP versions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors import aluminium
from carbonmarket.mrv.sectors.common import decimal_text, gwp_table, round_once


def record(month: int = 1, **values: str) -> MonthlyRecord:
    merged = {"molten_aluminium_output_t": "1000", "net_anode_consumed_t": "400", **values}
    return MonthlyRecord(
        "E-A", "POTLINE-1", Sector.ALUMINIUM, 2025, month, {k: Decimal(v) for k, v in merged.items() if v}
    )


def test_anode_consumption_and_pfc_by_the_slope_method() -> None:
    # anode: 400 t × 0.976 tC/t = 390.4 tC; × 44/12 = 1,431.466667 t CO2
    # CF4:  EF = 0.143 × 0.05 AE-min/cell-day = 0.00715 kg/t; × 1,000 t = 7.15 kg;
    #       × 6,630 / 1,000 = 47.4045 t CO2e
    # C2F6: EF = 0.1 × 0.00715 = 0.000715 kg/t; × 1,000 t = 0.715 kg; × 11,100 / 1,000 = 7.9365 t CO2e
    # total: 1,431.466667 + 47.4045 + 7.9365 = 1,486.807667 t → 1,487 t
    result = aluminium.account([record(anode_effect_minutes_per_cell_day="0.05")])
    anode, cf4, c2f6 = result.lines
    assert decimal_text(anode.tonnes) == "1431.466667"
    assert (cf4.gas, decimal_text(cf4.gas_kg or 0), decimal_text(cf4.tonnes)) == ("CF4", "7.15", "47.4045")
    assert (c2f6.gas, decimal_text(c2f6.gas_kg or 0), decimal_text(c2f6.tonnes)) == (
        "C2F6",
        "0.715",
        "7.9365",
    )
    assert "slope method" in cf4.source
    assert round_once(result.total) == 1487


def test_default_pfc_factors_apply_when_anode_effect_minutes_are_missing() -> None:
    # CF4: 1,000 t × 0.034 kg/t = 34 kg × 6,630 / 1,000 = 225.42 t; C2F6: 3.4 kg × 11,100 / 1,000 = 37.74 t
    _anode, cf4, c2f6 = aluminium.account([record()]).lines
    assert decimal_text(cf4.tonnes) == "225.42"
    assert decimal_text(c2f6.tonnes) == "37.74"
    assert "default factors" in cf4.source


def test_the_gwp_table_is_versioned() -> None:
    # AR4: 34 kg × 7,390 / 1,000 = 251.26 t; 3.4 kg × 12,200 / 1,000 = 41.48 t
    _anode, cf4, c2f6 = aluminium.account([record()], gwp_version="AR4").lines
    assert (decimal_text(cf4.tonnes), decimal_text(c2f6.tonnes)) == ("251.26", "41.48")
    assert gwp_table().version == "AR5"
    assert (gwp_table("AR5").values["CF4"], gwp_table("AR5").values["C2F6"]) == (6630, 11100)
    with pytest.raises(KeyError):
        gwp_table("AR9")


def test_zero_anode_effect_minutes_mean_no_pfc() -> None:
    _anode, cf4, c2f6 = aluminium.account([record(anode_effect_minutes_per_cell_day="0")]).lines
    assert cf4.tonnes == 0 and c2f6.tonnes == 0
