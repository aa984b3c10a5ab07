"""The pure parts of the benchmarks: parsing pgbench's output, percentiles, the ratio, the summary.

Nothing here touches a database, a process or a clock, so all of it is unit-tested.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The target: transfers per second at least this share of pgbench's TPC-B tps.
target_ratio = 0.3

# pgbench 14+ prints "(without initial connection time)"; 13 and older printed two tps lines,
# "(including connections establishing)" and "(excluding connections establishing)". We take the
# figure without connection set-up, because our own clients also connect before the clock starts.
_TPS_LINE = re.compile(
    r"^tps = (?P<tps>[0-9]+(?:\.[0-9]+)?) \((?P<kind>without initial connection time"
    r"|excluding connections establishing|including connections establishing)\)\s*$",
    re.MULTILINE,
)
_LATENCY_LINE = re.compile(r"^latency average = (?P<ms>[0-9]+(?:\.[0-9]+)?) ms\s*$", re.MULTILINE)
_FAILED_LINE = re.compile(r"^number of failed transactions: (?P<n>[0-9]+)", re.MULTILINE)
_PROGRESS_LINE = re.compile(r"^progress: (?P<s>[0-9]+(?:\.[0-9]+)?) s, (?P<tps>[0-9]+(?:\.[0-9]+)?) tps")


@dataclass(frozen=True)
class PgbenchFigures:
    """What one pgbench run reported: tps without connection time, mean latency, failures."""

    tps: float
    latency_avg_ms: float | None
    failed: int | None


def parse_pgbench_output(text: str) -> PgbenchFigures:
    """Read the tps (excluding connection set-up), mean latency and failures from pgbench's report."""
    found = {m.group("kind"): float(m.group("tps")) for m in _TPS_LINE.finditer(text)}
    tps = found.get("without initial connection time", found.get("excluding connections establishing"))
    if tps is None:
        raise ValueError("no 'tps = ... (without initial connection time)' line in pgbench's output")
    latency = _LATENCY_LINE.search(text)
    failed = _FAILED_LINE.search(text)
    return PgbenchFigures(
        tps=tps,
        latency_avg_ms=float(latency.group("ms")) if latency else None,
        failed=int(failed.group("n")) if failed else None,
    )


def parse_pgbench_progress(line: str) -> float | None:
    """The elapsed seconds of a `-P` progress line ("progress: 3.0 s, 812.4 tps, ..."), else None."""
    match = _PROGRESS_LINE.match(line.strip())
    return float(match.group("s")) if match else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 < q <= 100) by the nearest-rank method; None for no values."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is outside (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def ratio(transfers_per_s: float | None, pgbench_tps: float | None) -> float | None:
    """Our throughput as a share of pgbench's, or None when either side is missing or zero."""
    if transfers_per_s is None or pgbench_tps is None or pgbench_tps <= 0:
        return None
    return transfers_per_s / pgbench_tps


def merge_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Add up per-client counters (refusals by code), keys sorted."""
    total: dict[str, int] = {}
    for part in parts:
        for key, count in part.items():
            total[key] = total.get(key, 0) + count
    return dict(sorted(total.items()))


def parse_proc_stat(text: str) -> tuple[int, int]:
    """(busy, total) CPU jiffies of all cores from the first line of Linux's /proc/stat."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice]: guests are already
            # counted in user and nice, so only the first eight add up to the total.
            counted = ticks[:8]
            idle = counted[3] + (counted[4] if len(counted) > 4 else 0)
            return sum(counted) - idle, sum(counted)
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of CPU time the machine spent busy between two /proc/stat readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


@dataclass(frozen=True)
class LoadFigures:
    """What the clients measured together in the timed window."""

    clients: int
    transfers: int
    refusals: dict[str, int]
    elapsed_s: float
    latencies_ms: Sequence[float]
    statements: int
    client_cpu_s: float = 0.0
    host_busy: float | None = None

    @property
    def transfers_per_s(self) -> float:
        """Completed transfers divided by the longest client's window (conservative)."""
        return self.transfers / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def statements_per_transfer(self) -> float | None:
        """SQL statements sent per transfer call (completed or refused), BEGIN/COMMIT not counted."""
        calls = self.transfers + sum(self.refusals.values())
        return self.statements / calls if calls else None

    @property
    def client_cpu_ms_per_transfer(self) -> float | None:
        """CPU the client processes spent (Python, SQLAlchemy, driver) per transfer call."""
        calls = self.transfers + sum(self.refusals.values())
        return self.client_cpu_s * 1000 / calls if calls else None


@dataclass(frozen=True)
class Summary:
    """Everything the benchmark prints as its one JSON line."""

    database: str
    seconds: float
    accounts: int
    load: LoadFigures
    reconcile_ok: bool
    pgbench_tps: float | None = None
    pgbench: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The flat JSON object `carbonmarket bench ledger --json` prints (rounded for reading)."""
        found_ratio = ratio(self.load.transfers_per_s, self.pgbench_tps)
        per_transfer = self.load.statements_per_transfer
        return {
            "benchmark": "ledger",
            "database": self.database,
            "clients": self.load.clients,
            "seconds": self.seconds,
            "elapsed_s": round(self.load.elapsed_s, 3),
            "accounts": self.accounts,
            "transfers": self.load.transfers,
            "refusals": sum(self.load.refusals.values()),
            "refusal_codes": self.load.refusals,
            "transfers_per_s": round(self.load.transfers_per_s, 1),
            "latency_p50_ms": _rounded(percentile(self.load.latencies_ms, 50), 3),
            "latency_p99_ms": _rounded(percentile(self.load.latencies_ms, 99), 3),
            "statements_per_transfer": _rounded(per_transfer, 2),
            "client_cpu_ms_per_transfer": _rounded(self.load.client_cpu_ms_per_transfer, 3),
            "host_cpu_busy": _rounded(self.load.host_busy, 2),
            "pgbench_tps": _rounded(self.pgbench_tps, 1),
            "ratio": _rounded(found_ratio, 3),
            "target_ratio": target_ratio,
            "meets_target": None if found_ratio is None else found_ratio >= target_ratio,
            "reconcile_ok": self.reconcile_ok,
            "pgbench": self.pgbench or None,
            "server": self.server or None,
            "note": " ".join(self.notes) or None,
        }


def _rounded(value: float | None, digits: int) -> float | None:
    """Round for printing, keeping None."""
    return None if value is None else round(value, digits)
