"""Facts about the machine the benchmark runs on, read from Linux's /proc (None elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

from carbonmarket.benchmarks.report import parse_proc_stat


def host_cpu() -> tuple[int, int] | None:
    """This machine's (busy, total) CPU jiffies, or None where /proc/stat does not exist."""
    try:
        return parse_proc_stat(Path("/proc/stat").read_text())
    except (OSError, ValueError):
        return None


def cpu_count() -> int | None:
    """How many CPUs this process may run on (what the clients and a local server share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()
