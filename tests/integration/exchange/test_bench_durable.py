"""`carbonmarket bench exchange`: the durable path's benchmark on a scratch database, on both databases."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carbonmarket.cli import app
from carbonmarket.exchange.bench_durable import run_durable_benchmark


def test_repeated_runs_give_the_same_outcome_and_report_medians(db_url: str) -> None:
    result = run_durable_benchmark(db_url, orders=400, batch=150, repeat=3)
    assert result["repeat"] == 3 and len(result["runs_orders_per_s"]) == 3
    assert result["orders_per_s"] == sorted(result["runs_orders_per_s"])[1]
    assert result["reconcile_ok"] is True
    assert result["orders"] == 400 and result["accepted"] + result["refused"] == 400
    assert result["accepted"] > 300 and result["trades"] > 0  # the stream trades, and most of it is accepted
    assert result["client_cpu_seconds"] > 0 and result["seconds"] > 0
    assert result["ratio"] == round(result["orders_per_s"] / result["target_orders_per_s"], 3)


def test_the_cli_prints_the_json_and_refuses_a_bad_repeat(db_url: str) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app, ["bench", "exchange", "--db", db_url, "--orders", "120", "--batch", "60", "--json"]
    )
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output.strip().splitlines()[-1])
    assert figures["repeat"] == 1 and figures["reconcile_ok"] is True and figures["orders"] == 120
    refused = runner.invoke(app, ["bench", "exchange", "--db", db_url, "--orders", "120", "--repeat", "0"])
    assert refused.exit_code != 0
    assert "repeat 1-15" in refused.output


def test_both_modes_do_the_same_work(db_url: str) -> None:
    streamed = run_durable_benchmark(db_url, orders=400, batch=100)
    batches = run_durable_benchmark(db_url, orders=400, batch=100, mode="batches")
    assert (streamed["mode"], batches["mode"]) == ("stream", "batches")
    outcome = ("accepted", "refused", "trades", "reconcile_ok")
    assert [streamed[k] for k in outcome] == [batches[k] for k in outcome]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be one of stream, batches"):
        run_durable_benchmark("sqlite:////nonexistent-dir/never-made.db", orders=10, batch=5, mode="fast")


@pytest.mark.parametrize("bad", [{"orders": 0}, {"batch": 0}, {"repeat": 16}])
def test_out_of_range_figures_are_refused_before_anything_runs(bad: dict[str, int]) -> None:
    arguments = {"orders": 100, "batch": 10, "repeat": 1} | bad
    with pytest.raises(ValueError, match="orders must be 1-"):
        run_durable_benchmark("sqlite:////nonexistent-dir/never-made.db", **arguments)
