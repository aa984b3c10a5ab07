"""Scenarios load and refuse bad files; the calibration table pairs published and simulated figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonmarket.simulation.calibration import calibration_table, published_figures
from carbonmarket.simulation.spec import ScenarioError, load_scenario, packaged_scenarios, parse_scenario


def test_the_packaged_scenarios_load_and_cn_2023_carries_the_published_figures() -> None:
    assert {"cn-2023", "demo"} <= set(packaged_scenarios())
    figures = published_figures(load_scenario("cn-2023"))
    assert figures["verified_emissions_t"] == 5_240_000_000
    assert figures["compliance_rate"] == pytest.approx(0.9998)
    assert figures["trading_days"] == 242


def test_unknown_scenarios_and_broken_files_are_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")
    with pytest.raises(ScenarioError, match="no scenario file"):
        load_scenario(str(tmp_path / "missing.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[market\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(str(broken))
    with pytest.raises(ScenarioError, match="'year' must be a section"):
        parse_scenario("year = 2023\n", "flat")


def test_published_figures_must_be_figures_the_run_produces() -> None:
    with pytest.raises(ScenarioError, match="happiness: not a figure"):
        published_figures(parse_scenario("[published]\nhappiness = 1\n", "x"))
    with pytest.raises(ScenarioError, match="must be a number"):
        published_figures(parse_scenario('[published]\ntrading_days = "242"\n', "x"))
    with pytest.raises(ScenarioError, match="has no \\[published\\]"):
        published_figures(parse_scenario("[market]\nyear = 2023\n", "x"))


def test_the_table_gives_each_figure_its_relative_error_and_whether_it_is_within_five_percent() -> None:
    scenario = parse_scenario(
        "[published]\ntraded_volume_t = 200\nclose_min_cny = 70\ntrading_days = 242\n", "t"
    )
    table = calibration_table(scenario, {"traded_volume_t": 189, "close_min_cny": 80.5, "trading_days": 242})
    rows = {r["name"]: r for r in table["figures"]}
    assert rows["traded_volume_t"]["error"] == pytest.approx(-0.055)
    assert not rows["traded_volume_t"]["within"]
    assert rows["close_min_cny"]["error"] == pytest.approx(0.15)
    assert rows["trading_days"] == {
        "name": "trading_days",
        "published": 242.0,
        "simulated": 242,
        "error": 0.0,
        "within": True,
    }
    assert table["within"] == 1
