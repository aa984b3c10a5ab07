"""The cement engine against a worked example computed by hand (formula and defaults tagged [?])."""

from __future__ import annotations

from decimal import Decimal

from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.sectors import cement
from carbonmarket.mrv.sectors.common import Origin, decimal_text, round_once


def record(month: int = 1, **values: str) -> MonthlyRecord:
    merged = {
        "clinker_output_t": "10000",
        "clinker_cao_fraction": "0.65",
        "non_carbonate_cao_fraction": "0.05",
        "kiln_coal_consumed_t": "1200",
        **values,
    }
    return MonthlyRecord(
        "E-C", "LINE-1", Sector.CEMENT, 2025, month, {k: Decimal(v) for k, v in merged.items()}
    )


def test_clinker_process_and_kiln_coal_of_one_month() -> None:
    # process: 10,000 t clinker × 0.65 CaO × (1 − 0.05) = 6,175 t CaO from carbonates × 44/56 = 4,851.785714 t
    # kiln coal: 1,200 t × 23.736 GJ/t = 28,483.2 GJ × 0.02618 tC/GJ = 745.690176 tC × 0.99 = 738.233274 tC
    #   × 44/12 = 2,706.855339 t
    # total: 4,851.785714 + 2,706.855339 = 7,558.641053 t → 7,559 t
    result = cement.account([record()])
    process, kiln = result.lines
    assert decimal_text(process.tonnes) == "4851.785714"
    assert decimal_text(kiln.tonnes) == "2706.855339"
    assert decimal_text(result.total) == "7558.641053"
    assert round_once(result.total) == 7559


def test_clinker_made_only_from_non_carbonate_calcium_releases_no_process_co2() -> None:
    # Share 1: all CaO from carbide slag and the like → (1 − 1) = 0 → process CO2 0 t.
    process = cement.account([record(non_carbonate_cao_fraction="1")]).lines[0]
    assert process.tonnes == 0


def test_cement_defaults_are_tagged_unconfirmed_because_the_guideline_was_not_found() -> None:
    result = cement.account([record()])
    kiln = result.lines[1]
    assert [i.tag for i in kiln.inputs if i.origin is Origin.DEFAULT] == ["?", "?", "?"]
    assert "[?]" in result.lines[0].formula
    assert "not found" in result.notes[0]
