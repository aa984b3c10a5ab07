"""The what-if report (simulation/report.py): a self-contained HTML with the chart divs, and CSVs
with one row per year × metric × percentile (and per sector)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from carbonmarket.simulation.policy import compare, read_levers, simulate
from carbonmarket.simulation.report import CHARTS, METRICS_COLUMNS, SECTORS_COLUMNS, write_report
from carbonmarket.simulation.spec import Entity, Market, Scenario, Traits, Unit


def small_market() -> Market:
    """Twelve coal plants and six steel mills, every third one offsetting with CCER."""
    entities = []
    for k in range(18):
        sector = "power" if k < 12 else "steel"
        unit = Unit(f"E{k}-U1", fuel="coal" if sector == "power" else None, output=1_000_000 + 150_000 * k)
        traits = Traits("complier", 60.0 + 10 * k, 0.02 + 0.002 * k, 0.5, k % 3 == 0)
        entities.append(Entity(f"E-{sector.upper()}-{k}", f"entity {k}", sector, "Hebei", (unit,), traits))
    return Market(year=2024, seed=1, entities=tuple(entities))


def run(name: str, **policy: Any) -> dict[str, Any]:
    section = {"first_year": 2025, "horizon": 2029, "seeds": 3, **policy}
    scenario = Scenario(name, {"market": {"year": 2024}, "policy": section}, f"test:{name}")
    return simulate(scenario, read_levers(scenario), small_market())


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    scenario = run("paid", paid_share={"2026": 0.0, "2027": 0.2}, reserve_price_cny=30.0)
    baseline = run("base")
    scenario["baseline"] = baseline
    scenario["comparison"] = compare(baseline, scenario)
    return scenario


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_html_holds_every_chart_the_levers_and_plotly_itself(
    result: dict[str, Any], tmp_path: Path
) -> None:
    paths = write_report(result, tmp_path / "out")
    page = paths["html"].read_text(encoding="utf-8")
    for chart in CHARTS:
        assert f'id="chart-{chart}"' in page
    assert "paid_share" in page and "reserve_price_cny" in page  # the levers at the top
    assert "CNY/t" in page and "Mt" in page
    assert "<script src=" not in page  # nothing to download when viewed
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # the bundle is inline
    assert page.index("Headline") < page.index("chart-price") < page.index("Levers")


def test_the_baseline_is_drawn_beside_the_scenario(result: dict[str, Any], tmp_path: Path) -> None:
    page = write_report(result, tmp_path)["html"].read_text(encoding="utf-8")
    assert "base p50" in page and "paid p50" in page
    alone = {**result, "baseline": None, "comparison": None}
    page_alone = write_report(alone, tmp_path / "alone")["html"].read_text(encoding="utf-8")
    assert "base p50" not in page_alone and "paid p50" in page_alone


def test_the_metrics_csv_has_a_row_per_run_year_metric_and_percentile(
    result: dict[str, Any], tmp_path: Path
) -> None:
    rows = read_csv(write_report(result, tmp_path)["metrics_csv"])
    assert tuple(rows[0]) == METRICS_COLUMNS
    metrics = len(result["metrics"])
    assert len(rows) == 2 * 5 * metrics * 3  # two runs, five years, three percentiles
    price = {
        (r["scenario"], int(r["year"]), r["percentile"]): float(r["value"])
        for r in rows
        if r["metric"] == "price_cny"
    }
    assert price[("paid", 2027, "p50")] == pytest.approx(result["metrics"]["price_cny"]["p50"][2])
    assert price[("paid", 2027, "p10")] <= price[("paid", 2027, "p50")] <= price[("paid", 2027, "p90")]
    units = {r["metric"]: r["unit"] for r in rows}
    assert units["price_cny"] == "CNY/t" and units["abatement_t"] == "t"
    revenue = [
        float(r["value"]) for r in rows if r["metric"] == "auction_revenue_cny" and r["scenario"] == "paid"
    ]
    assert sum(revenue) > 0


def test_the_sectors_csv_has_each_sector(result: dict[str, Any], tmp_path: Path) -> None:
    paths = write_report(result, tmp_path)
    rows = read_csv(paths["sectors_csv"])
    assert tuple(rows[0]) == SECTORS_COLUMNS
    assert {r["sector"] for r in rows} == {"power", "steel"}
    per_run = len(result["by_sector"]) * len(result["by_sector"]["power"]) * 5 * 3
    assert len(rows) == 2 * per_run
    deficits = [
        r for r in rows if r["metric"] == "deficit_t" and r["scenario"] == "paid" and r["percentile"] == "p50"
    ]
    assert len(deficits) == 2 * 5
    summary = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert summary["scenario"] == "paid" and summary["baseline"]["scenario"] == "base"
