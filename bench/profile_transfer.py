"""Where one client's transfer time goes: SQL statements (count and wall time) and CPU by library.

Usage:
    python bench/profile_transfer.py [DATABASE_URL] [--transfers N]

It populates a scratch database on the server behind DATABASE_URL (default: the local
PostgreSQL; a sqlite:/// URL works too), runs N transfers in this one process, and prints:
  1. wall and CPU milliseconds per transfer without a profiler;
  2. every SQL statement per transfer with its mean wall time (round trip + server work);
  3. a cProfile of CPU time (time.process_time), grouped by library, so the client's own cost
     (SQLAlchemy, psycopg, our code, json, hashlib) is separated from waiting on the server.
The scratch database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import random
import time
from typing import Any

from sqlalchemy import Engine, event

from carbonmarket.benchmarks import scratch
from carbonmarket.benchmarks.ledger import INSTRUMENT, account_id, populate
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db import raw
from carbonmarket.db.engine import make_engine
from carbonmarket.registry.service import Registry

ACCOUNTS = 200
WARMUP = 50


def main() -> None:
    """Parse the arguments, build a scratch registry, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("url", nargs="?", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--transfers", type=int, default=1000)
    args = parser.parse_args()
    target = scratch.parse_url(args.url)
    database = (
        scratch.sqlite_file(target)
        if scratch.is_sqlite(target)
        else scratch.postgres_database(target, "profile")
    )
    with database as url:
        populate(url, ACCOUNTS)
        engine = make_engine(scratch.url_text(url))
        try:
            profile(engine, args.transfers)
        finally:
            engine.dispose()


def profile(engine: Engine, count: int) -> None:
    """Run the three measurements on a populated registry."""
    registry = Registry(engine)
    rng = random.Random(1)

    def transfers(tag: str) -> None:
        for number in range(count):
            sender, receiver = rng.sample(range(ACCOUNTS), 2)
            registry.transfer(
                LOCAL_OPERATOR, f"p-{tag}-{number}", account_id(sender), account_id(receiver), INSTRUMENT, 1
            )

    transfers("warm")
    cpu, wall = time.process_time(), time.perf_counter()
    transfers("plain")
    wall_ms = (time.perf_counter() - wall) * 1000 / count
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    print(f"per transfer, no profiler: {wall_ms:.3f} ms wall, {cpu_ms:.3f} ms CPU in this process")

    counts, seconds = _statement_timer(engine)
    transfers("sql")
    print("\nSQL statements per transfer (mean wall ms each, as the client waits for it):")
    for key, number in counts.most_common():
        print(f"  {number / count:5.2f} x {seconds[key] * 1000 / number:7.3f} ms  {key}")
    per_transfer_ms = sum(seconds.values()) * 1000 / count
    print(f"  total {sum(counts.values()) / count:.2f} statements, {per_transfer_ms:.3f} ms")
    event.remove(engine, "before_cursor_execute", _before)
    event.remove(engine, "after_cursor_execute", _after)
    raw.statement_observers.remove(_after_raw)

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    transfers("cprofile")
    profiler.disable()
    _print_cpu_groups(pstats.Stats(profiler), count)


_counts: collections.Counter[str] = collections.Counter()
_seconds: collections.Counter[str] = collections.Counter()


def _before(connection: Any, *_args: Any) -> None:
    connection.info["statement_started"] = time.perf_counter()


def _after(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    key = " ".join(statement.split()[:3])[:70]
    _counts[key] += 1
    _seconds[key] += time.perf_counter() - connection.info["statement_started"]


def _after_raw(statement: str, seconds: float) -> None:
    key = " ".join(statement.split()[:3])[:70]
    _counts[key] += 1
    _seconds[key] += seconds


def _statement_timer(engine: Engine) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """Time every statement the engine sends, keyed by its first words (both SQLAlchemy's and db/raw's)."""
    event.listen(engine, "before_cursor_execute", _before)
    event.listen(engine, "after_cursor_execute", _after)
    raw.statement_observers.append(_after_raw)
    return _counts, _seconds


def _print_cpu_groups(stats: pstats.Stats, count: int) -> None:
    """CPU time (own time of each function) summed by library."""
    groups: collections.Counter[str] = collections.Counter()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, own, *_rest) in raw.items():
        groups[_group(filename, name)] += own
    total = sum(groups.values())
    print(f"\nCPU by library under cProfile ({total * 1000 / count:.3f} ms per transfer; the profiler")
    print("inflates the absolute figure, the shares are what to read):")
    for group, own in groups.most_common(15):
        print(f"  {own / total * 100:5.1f}%  {group}")


def _group(filename: str, name: str) -> str:
    """A library-level label for a profiled function."""
    for marker in ("sqlalchemy/", "carbonmarket/"):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return marker + (tail.split("/")[0] if marker == "sqlalchemy/" else tail)
    if "psycopg" in filename:
        return "psycopg"
    if filename == "~":
        return "builtins (" + name.split(" of ")[0].strip("<>") + ")"
    return "stdlib " + filename.rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
