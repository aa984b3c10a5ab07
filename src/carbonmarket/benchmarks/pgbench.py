"""PostgreSQL's own pgbench (TPC-B-like default script) on the same server, as the yardstick.

pgbench runs in a scratch database of its own: `pgbench -i -s SCALE`, then
`pgbench -c N -j N -T SECONDS -n -P 1`, and the database is dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import URL

from carbonmarket.benchmarks import scratch
from carbonmarket.benchmarks.host import host_cpu
from carbonmarket.benchmarks.report import (
    PgbenchFigures,
    busy_share,
    parse_pgbench_output,
    parse_pgbench_progress,
)

# pgbench -T takes whole seconds.
pgbench_seconds_min = 1
# Generous limits so a wedged pgbench cannot hang the benchmark for ever.
init_timeout_s = 600
run_grace_s = 120


@dataclass(frozen=True)
class PgbenchRun:
    """One measured pgbench run and how it was made."""

    figures: PgbenchFigures
    clients: int
    threads: int
    scale: int
    seconds: int
    version: str
    host_busy: float | None


def find_pgbench() -> str | None:
    """The pgbench executable on PATH, or None."""
    return shutil.which("pgbench")


def fair_scale(clients: int) -> int:
    """The scale factor: one pgbench branch row per client, as the pgbench docs advise.

    TPC-B updates one random branch row per transaction; with fewer branches than clients the
    clients queue on those rows and pgbench measures lock waits rather than the server. Our own
    load spreads over many accounts, so the comparable pgbench has at least one branch per client.
    """
    return max(clients, 1)


def pgbench_env(url: URL) -> dict[str, str]:
    """The libpq environment (host, port, user, password) for the server behind `url`."""
    env = dict(os.environ)
    host = url.host or url.query.get("host")
    if isinstance(host, str) and host:
        env["PGHOST"] = host
    if url.port:
        env["PGPORT"] = str(url.port)
    if url.username:
        env["PGUSER"] = url.username
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def run_pgbench(
    url: URL,
    clients: int,
    seconds: float,
    on_progress: Callable[[float], None] | None = None,
) -> PgbenchRun:
    """Initialise pgbench tables in a scratch database on `url`'s server and run TPC-B-like load."""
    executable = find_pgbench()
    if executable is None:
        raise FileNotFoundError("pgbench is not on PATH (Debian: apt-get install postgresql-client)")
    scale = fair_scale(clients)
    duration = max(pgbench_seconds_min, round(seconds))
    env = pgbench_env(url)
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    with scratch.postgres_database(url, "pgbench") as database:
        name = str(database.database)
        subprocess.run(
            [executable, "-i", "-q", "-s", str(scale), name],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            timeout=init_timeout_s,
        )
        scratch.settle(database)
        command = [executable, "-c", str(clients), "-j", str(clients), "-T", str(duration), "-n", "-P", "1"]
        before = host_cpu()
        output = _run_with_progress([*command, name], env, duration + run_grace_s, on_progress)
        after = host_cpu()
    busy = busy_share(before, after) if before and after else None
    return PgbenchRun(parse_pgbench_output(output), clients, clients, scale, duration, version, busy)


def _run_with_progress(
    command: list[str], env: dict[str, str], timeout_s: float, on_progress: Callable[[float], None] | None
) -> str:
    """Run pgbench, passing its per-second progress lines (stderr) on; return its report (stdout)."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        errors: list[str] = []
        for line in process.stderr:
            elapsed = parse_pgbench_progress(line)
            if elapsed is None:
                errors.append(line)
            elif on_progress is not None:
                on_progress(elapsed)
        output = process.stdout.read()
        code = process.wait(timeout=timeout_s)
    if code != 0:
        raise RuntimeError(f"pgbench exited with {code}: {''.join(errors).strip()[-2000:]}")
    return output
