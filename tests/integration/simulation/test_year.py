"""A whole compliance year of a small generated market through the real platform, on SQLite and
PostgreSQL: every stage, the summary of issue 7's interface, units conserved, a rerun that moves
nothing, and a calibration input that moves its outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from carbonmarket.cli import app
from carbonmarket.core.calendar import MarketCalendar
from carbonmarket.simulation.spec import load_scenario
from carbonmarket.simulation.year import run_year

INTERFACE_KEYS = {
    "entities",
    "verified_emissions_t",
    "allowances_issued_t",
    "deficit_ratio",
    "compliance_rate",
    "ccer_offset_entities",
    "ccer_offset_t",
    "trading_days",
    "traded_volume_t",
    "traded_value_cny",
    "listed_volume_t",
    "bulk_volume_t",
    "bidding_volume_t",
    "close_min_cny",
    "close_max_cny",
    "close_year_end_cny",
    "seconds",
}


def _small_year(url: str, entities: int = 60, seed: int = 7, **levers: Any) -> dict[str, Any]:
    scenario = load_scenario("demo")
    for section, values in levers.items():
        scenario = scenario.with_values(section, **values)
    return run_year(url, scenario, entities=entities, seed=seed, progress=False)


def test_a_small_market_runs_its_whole_year_and_every_tonne_is_accounted_for(db_url: str) -> None:
    summary = _small_year(db_url)
    assert set(summary) >= INTERFACE_KEYS
    assert summary["entities"] == 60
    assert set(summary["entities_by_sector"]) == {"power", "steel", "cement", "aluminium"}
    assert summary["monthly_records"] >= 60 * 12
    assert summary["verified_emissions_t"] > 0 and summary["allowances_issued_t"] > 0
    # Industry 2024 is allocated at its verified emissions: only power can be short or long.
    assert -0.2 < summary["deficit_ratio"] < 0.2
    assert 0.9 <= summary["compliance_rate"] <= 1.0
    assert summary["trading_days"] == MarketCalendar.load().trading_days_in_year(2025)
    by_modality = summary["listed_volume_t"] + summary["bulk_volume_t"] + summary["bidding_volume_t"]
    assert by_modality == summary["traded_volume_t"] > 0
    assert summary["close_min_cny"] <= summary["close_year_end_cny"] <= summary["close_max_cny"]
    assert summary["reconcile_ok"] is True
    assert summary["ccer_offset_t"] <= 0.05 * summary["verified_emissions_t"]


def test_running_the_same_year_again_on_the_same_database_moves_nothing(sqlite_url: str) -> None:
    first = _small_year(sqlite_url, entities=25, seed=3)
    again = _small_year(sqlite_url, entities=25, seed=3)
    figures = INTERFACE_KEYS - {"seconds"}
    assert {k: again[k] for k in figures} == {k: first[k] for k in figures}
    assert again["reconcile_ok"] is True


def test_a_stricter_benchmark_deepens_the_deficit(tmp_path: Any) -> None:
    looser = _small_year(f"sqlite:///{tmp_path / 'a.db'}", 40, 5, allocation={"benchmark_factor": "1.0"})
    stricter = _small_year(f"sqlite:///{tmp_path / 'b.db'}", 40, 5, allocation={"benchmark_factor": "0.95"})
    assert stricter["verified_emissions_t"] == looser["verified_emissions_t"]
    assert stricter["allowances_issued_t"] < looser["allowances_issued_t"]
    assert stricter["deficit_ratio"] > looser["deficit_ratio"]


def test_the_demo_command_prints_the_summary_last_as_one_json_object(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(
        app, ["demo", "--entities", "20", "--seed", "2", "--no-serve", "--json", "--db", url]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert set(summary) >= INTERFACE_KEYS
    assert summary["entities"] == 20
    assert {u["username"] for u in summary["users"]} >= {"regulator", "plant"}


@pytest.mark.parametrize("entities", ["-5", "0", "300000"])
def test_the_demo_refuses_absurd_sizes_before_touching_the_database(tmp_path: Any, entities: str) -> None:
    url = f"sqlite:///{tmp_path / 'never.db'}"
    result = CliRunner().invoke(app, ["demo", "--entities", entities, "--no-serve", "--json", "--db", url])
    assert result.exit_code == 1
    assert "--entities must be between 1 and 200,000" in result.output
    assert not (tmp_path / "never.db").exists()
