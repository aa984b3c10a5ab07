"""The benchmark's pure parts: pgbench's report, percentiles, the ratio, CPU shares, the summary."""

from __future__ import annotations

import pytest

from carbonmarket.benchmarks.pgbench import fair_scale, pgbench_env
from carbonmarket.benchmarks.report import (
    LoadFigures,
    Summary,
    busy_share,
    merge_counts,
    parse_pgbench_output,
    parse_pgbench_progress,
    parse_proc_stat,
    percentile,
    ratio,
    target_ratio,
)
from carbonmarket.benchmarks.scratch import is_sqlite, parse_url, scratch_name

PGBENCH_15 = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 4
query mode: simple
number of clients: 4
number of threads: 4
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 11337
number of failed transactions: 0 (0.000%)
latency average = 1.764 ms
latency stddev = 0.912 ms
initial connection time = 9.876 ms
tps = 2267.405486 (without initial connection time)
"""

PGBENCH_12 = """\
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
number of clients: 2
number of transactions actually processed: 5000
latency average = 2.000 ms
tps = 990.100000 (including connections establishing)
tps = 1000.500000 (excluding connections establishing)
"""


def test_pgbench_tps_is_read_without_connection_time() -> None:
    figures = parse_pgbench_output(PGBENCH_15)
    assert figures.tps == pytest.approx(2267.405486)
    assert figures.latency_avg_ms == pytest.approx(1.764)
    assert figures.failed == 0


def test_old_pgbench_reports_use_the_figure_excluding_connections() -> None:
    figures = parse_pgbench_output(PGBENCH_12)
    assert figures.tps == pytest.approx(1000.5)
    assert figures.failed is None


def test_pgbench_output_without_a_tps_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="tps"):
        parse_pgbench_output("pgbench: error: connection to server failed\n")


def test_pgbench_progress_lines_give_the_elapsed_seconds() -> None:
    assert parse_pgbench_progress("progress: 3.0 s, 812.4 tps, lat 4.9 ms stddev 1.2, 0 failed\n") == 3.0
    assert parse_pgbench_progress("starting vacuum...end.") is None


def test_percentile_uses_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_percentile_of_nothing_is_none_and_bad_ranks_are_refused() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_ratio_is_ours_over_pgbench_and_missing_when_either_is() -> None:
    assert ratio(600.0, 2000.0) == pytest.approx(0.3)
    assert ratio(600.0, None) is None
    assert ratio(None, 2000.0) is None
    assert ratio(600.0, 0.0) is None


def test_refusal_counts_of_clients_add_up() -> None:
    merged = merge_counts([{"insufficient_balance": 2}, {}, {"insufficient_balance": 1, "forbidden": 1}])
    assert merged == {"forbidden": 1, "insufficient_balance": 3}


def test_cpu_share_is_read_from_the_aggregate_proc_stat_line() -> None:
    before = parse_proc_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n")
    after = parse_proc_stat("cpu  250 0 100 850 50 0 0 0 0 0\n")
    assert before == (150, 1000)
    assert after == (350, 1250)
    assert busy_share(before, after) == pytest.approx(0.8)
    assert busy_share(after, after) is None
    with pytest.raises(ValueError):
        parse_proc_stat("intr 1 2 3\n")


def test_pgbench_scale_gives_each_client_a_branch_of_its_own() -> None:
    assert fair_scale(1) == 1
    assert fair_scale(8) == 8


def test_pgbench_connects_with_the_urls_host_port_and_user() -> None:
    env = pgbench_env(parse_url("postgresql://bench:secret@db.example:6543/postgres"))
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"]) == (
        "db.example",
        "6543",
        "bench",
        "secret",
    )


def test_urls_are_told_apart_and_scratch_names_are_fresh() -> None:
    assert is_sqlite(parse_url("sqlite:///carbonmarket.db"))
    assert not is_sqlite(parse_url("postgresql://postgres@127.0.0.1:5432/postgres"))
    assert parse_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    first, second = scratch_name("ledger"), scratch_name("ledger")
    assert first.startswith("cm_bench_ledger_") and first != second


def _load(**overrides: object) -> LoadFigures:
    values: dict[str, object] = {
        "clients": 4,
        "transfers": 1000,
        "refusals": {"insufficient_balance": 2},
        "elapsed_s": 2.0,
        "latencies_ms": [1.0, 2.0, 3.0, 4.0],
        "statements": 12_024,
        "client_cpu_s": 3.006,
        "host_busy": 0.97,
    }
    values.update(overrides)
    return LoadFigures(**values)  # type: ignore[arg-type]


def test_summary_prints_throughput_ratio_and_the_required_fields() -> None:
    summary = Summary(
        database="postgresql", seconds=2.0, accounts=100, load=_load(), reconcile_ok=True, pgbench_tps=2000.0
    ).as_json()
    required = {"transfers_per_s", "pgbench_tps", "ratio", "clients", "database", "seconds", "transfers"}
    assert required | {"refusals", "reconcile_ok", "latency_p50_ms", "latency_p99_ms"} <= summary.keys()
    assert summary["transfers_per_s"] == 500.0
    assert summary["ratio"] == 0.25
    assert summary["meets_target"] is False
    assert summary["target_ratio"] == target_ratio
    assert summary["refusals"] == 2
    assert summary["statements_per_transfer"] == 12.0
    assert summary["client_cpu_ms_per_transfer"] == 3.0
    assert (summary["latency_p50_ms"], summary["latency_p99_ms"]) == (2.0, 4.0)


def test_summary_on_sqlite_has_no_pgbench_figure_and_says_why() -> None:
    summary = Summary(
        database="sqlite",
        seconds=2.0,
        accounts=100,
        load=_load(clients=1),
        reconcile_ok=True,
        notes=["one writer"],
    ).as_json()
    assert summary["pgbench_tps"] is None
    assert summary["ratio"] is None
    assert summary["meets_target"] is None
    assert summary["note"] == "one writer"


def test_a_run_with_no_transfers_reports_zero_not_a_division_error() -> None:
    load = _load(transfers=0, refusals={}, elapsed_s=0.0, latencies_ms=[], statements=0)
    summary = Summary(database="postgresql", seconds=1.0, accounts=2, load=load, reconcile_ok=True).as_json()
    assert summary["transfers_per_s"] == 0.0
    assert summary["statements_per_transfer"] is None
    assert summary["latency_p50_ms"] is None
