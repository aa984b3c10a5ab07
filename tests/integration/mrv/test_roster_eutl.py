"""The real EU Transaction Log file through `import roster`, checked against figures computed here.

The expected figures are computed in this test from the CSV with the csv module alone, so the
importer is checked against an independent reading; the README's rounded figures (about 10,500
installations reported for 2019, 1.53 billion tonnes, about 4,000 at or above 26,000 t) are
checked too.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from carbonmarket.db.engine import make_engine
from carbonmarket.db.tables_roster import roster_emissions, roster_imports
from carbonmarket.mrv.roster.cli import import_app, roster_app

runner = CliRunner()
PACKAGED = Path(str(resources.files("carbonmarket.mrv") / "data" / "eutl" / "verified_emissions_wide.csv"))
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "eutl" / "verified_emissions_wide.csv"


def eu_file() -> Path:
    """The shared copy when this checkout sits beside it, else the one shipped in the package."""
    return SHARED if SHARED.is_file() else PACKAGED


def independent_figures(path: Path, year: int, threshold_t: int) -> dict[str, Any]:
    """Installations reported, total tonnes and how many reach the threshold, read with csv only."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        column = header.index(str(year))
        rows = list(reader)
    figures = [int(row[column]) for row in rows if row[column].strip().isdigit()]
    return {
        "rows": len(rows),
        "reported": len(figures),
        "total_t": sum(figures),
        "at_or_above": sum(1 for f in figures if f >= threshold_t),
        "not_numbers": len(rows) - len(figures),
    }


def invoke(app: Any, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(app, list(args))
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    data: dict[str, Any] = json.loads(lines[-1])
    assert (result.exit_code == 0) is ok, (result.exit_code, result.output)
    return data


def test_the_packaged_copy_is_the_shared_file_byte_for_byte() -> None:
    assert PACKAGED.is_file()
    if SHARED.is_file():
        assert PACKAGED.read_bytes() == SHARED.read_bytes()


def test_the_eu_file_imports_and_yields_the_2019_inclusion_list_at_26000_t(db_url: str) -> None:
    path = eu_file()
    expected = independent_figures(path, 2019, 26_000)
    # The README's rounded figures, so a changed file cannot pass silently.
    assert expected["rows"] == 16_040
    assert 10_400 <= expected["reported"] <= 10_600
    assert round(expected["total_t"] / 1e9, 2) == 1.53
    assert 3_900 <= expected["at_or_above"] <= 4_100

    out = invoke(
        import_app, "roster", str(path), "--year", "2019", "--threshold", "26000", "--db", db_url, "--json"
    )
    assert (out["ok"], out["result"], out["layout"], out["encoding"]) == (True, "created", "wide", "utf-8")
    assert out["rows"] == expected["rows"]
    assert out["included"] == expected["at_or_above"]
    assert out["excluded"] == expected["reported"] - expected["at_or_above"]
    assert out["reported_t"] == expected["total_t"]
    assert len(out["rejected"]) == expected["not_numbers"]
    assert out["rows"] == out["included"] + out["excluded"] + len(out["rejected"])
    assert set(out["rejected"][0]) == {"row", "entity", "reason"}
    reasons = {r["reason"] for r in out["rejected"]}
    assert reasons == {
        "2019: blank: no emissions reported",
        "2019: 'Not Reported' is not a number of tonnes",
        "2019: 'Excluded' is not a number of tonnes",
    }

    # The same inclusion list comes back from the database, for this and any other year and threshold.
    listed = invoke(
        roster_app, "inclusion", "--year", "2019", "--threshold", "26000", "--db", db_url, "--json"
    )
    assert (listed["reported"], listed["included"], listed["reported_t"]) == (
        expected["reported"],
        expected["at_or_above"],
        expected["total_t"],
    )
    assert listed["entities"][0]["emissions_t"] >= listed["entities"][-1]["emissions_t"] >= 26_000
    for year, threshold in ((2005, 100_000), (2013, 26_000), (2021, 0)):
        other = independent_figures(path, year, threshold)
        got = invoke(
            roster_app,
            "inclusion",
            "--year",
            str(year),
            "--threshold",
            str(threshold),
            "--db",
            db_url,
            "--json",
        )
        assert (got["reported"], got["included"], got["reported_t"]) == (
            other["reported"],
            other["at_or_above"],
            other["total_t"],
        )

    # Importing the file again stores nothing new and answers for the year now asked.
    engine = make_engine(db_url)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(roster_emissions)).scalar_one()
    again = invoke(import_app, "roster", str(path), "--year", "2018", "--db", db_url, "--json")
    assert again["result"] == "exists" and again["threshold_t"] == 26_000
    assert again["included"] == independent_figures(path, 2018, 26_000)["at_or_above"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(roster_emissions)).scalar_one() == stored
        assert connection.execute(select(func.count()).select_from(roster_imports)).scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize("year", [2004, 2022])
def test_a_year_the_eu_file_does_not_have_is_refused(year: int, sqlite_url: str) -> None:
    out = invoke(
        import_app, "roster", str(eu_file()), "--year", str(year), "--db", sqlite_url, "--json", ok=False
    )
    assert out["code"] == "roster_invalid_year" and "2005–2021" in out["message"]
