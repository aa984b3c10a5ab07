"""`carbonmarket bench compliance`: surrender for every entity and close the year, at national scale.

For each size N (3,500 entities: the national market after the 2025 expansion, DOMAIN.md §1; and
100,000 synthetic ones) a scratch database is made beside the given one (a scratch PostgreSQL
database on the same server, or a scratch SQLite file on the same disk) and dropped afterwards, so
the data behind `--db` is never touched. Set-up is untimed and in bulk: the roster's entities, one
accepted verification per entity (the obligation), registry holders and accounts, and the year's
allowances issued and delivered through `registry.postings` in linked batches.

Timed stages, each one command of the compliance service (bench/compliance.md says how to read them):
1. `open`: the regulator opens 2024; obligations are read from the N verified figures.
2. `surrender`: one batch command surrenders for every entity (2% of them fall short by 10%), with
   every check of a single surrender (vintage, what is owed, CCER cap) and its ledger legs.
3. `close`: the regulator closes the year after the deadline: results, Art. 24 penalties, cuts.
Then (untimed) `Registry.reconcile()` replays the ledger; `reconcile_ok` must be true.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import URL, Connection, Engine, insert, text

from carbonmarket.benchmarks import scratch
from carbonmarket.compliance.service import Compliance
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables_review import mrv_verifications
from carbonmarket.db.tables_roster import roster_entities
from carbonmarket.mrv.verification import store as verification_store
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from carbonmarket.registry.service import Registry

# The issue's targets, seconds for the three timed stages together.
targets_s = {3_500: 10.0, 100_000: 180.0}
entities_max = 200_000
rows_per_insert = 5_000
moves_per_setup_batch = 5_000
short_every = 50  # one entity in 50 surrenders only 90% of its obligation
year = 2024
provinces = ("Guangdong", "Shandong", "Jiangsu", "Inner Mongolia", "Hebei", "Shanxi", "Henan", "Zhejiang")
price_fen = 8_000  # CNY 80.00/t, vector 11's price


def run_compliance_benchmark(url: str, sizes: list[int], progress: bool = False) -> dict[str, Any]:
    """Run every size on the database kind behind `url`; one dict with the figures of each run."""
    for size in sizes:
        if not 1 <= size <= entities_max:
            raise ValueError(f"sizes must be 1..{entities_max}, not {size}")
    parsed = scratch.parse_url(url)
    runs = [_run(parsed, size, progress) for size in sizes]
    return {
        "ok": all(r["reconcile_ok"] for r in runs),
        "benchmark": "compliance",
        "database": "sqlite" if scratch.is_sqlite(parsed) else "postgresql",
        "runs": runs,
        "growth": _growth(runs),
    }


def _run(url: URL, size: int, progress: bool) -> dict[str, Any]:
    with _scratch(url) as scratch_url:
        upgrade(scratch.url_text(scratch_url))
        engine = make_engine(scratch.url_text(scratch_url))
        try:
            started = time.perf_counter()
            _set_up(engine, size)
            _analyse(engine)
            setup_s = time.perf_counter() - started
            _say(progress, f"{size} entities set up in {setup_s:.1f} s")
            stages = _timed_stages(engine, size)
            _say(progress, f"{size} entities: {stages}")
            reconciled = Registry(engine).reconcile().ok
        finally:
            engine.dispose()
    total = sum(stages.values())
    target = targets_s.get(size)
    return {
        "entities": size,
        "setup_s": round(setup_s, 2),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "total_s": round(total, 3),
        "target_s": target,
        "ratio_to_target": None if target is None else round(total / target, 3),
        "meets_target": None if target is None else total <= target,
        "per_entity_ms": round(total / size * 1000, 4),
        "reconcile_ok": reconciled,
    }


@contextlib.contextmanager
def _scratch(url: URL) -> Iterator[URL]:
    if scratch.is_sqlite(url):
        with scratch.sqlite_file(url) as made:
            yield made
    else:
        with scratch.postgres_database(url, "compliance") as made:
            yield made


def _say(progress: bool, line: str) -> None:
    if progress:
        sys.stderr.write(line + "\n")


def _entity(i: int) -> str:
    return f"BE{i:06d}"


def _obligation(i: int) -> int:
    """A spread of sizes like the market's: 26,000 t (the threshold) to about 2 Mt."""
    return 26_000 + (i * 7_919) % 2_000_000


def _set_up(engine: Engine, size: int) -> None:
    """The synthetic market, written in bulk (untimed): roster, verifications, accounts, allowances."""
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    _check(registry.open_central_accounts(LOCAL_OPERATOR))
    # 100,000 synthetic entities emit far more than the packaged 10 Gt ceiling of a vintage.
    _check(registry.set_cap(LOCAL_OPERATOR, "bench-cap", "CEA24", 10**12))
    at = "2025-04-01T00:00:00.000000+00:00"
    ids = [_entity(i) for i in range(size)]
    with engine.begin() as connection:
        _fast_setup(connection)
        verification_store.insert_body(
            connection,
            id="BB1",
            name="Bench body",
            province=None,
            status="qualified",
            applied_at=at,
            qualified_at=at,
            updated_at=at,
        )
        for start in range(0, size, rows_per_insert):
            chunk = range(start, min(start + rows_per_insert, size))
            connection.execute(
                insert(roster_entities),
                [
                    {
                        "id": ids[i],
                        "name": f"Bench entity {i}",
                        "sector": "power",
                        "province": provinces[i % len(provinces)],
                        "city": None,
                        "status": "active",
                        "inclusion_year": 2021,
                        "version": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                    for i in chunk
                ],
            )
            connection.execute(
                insert(mrv_verifications),
                [
                    {
                        "id": f"BV-{ids[i]}",
                        "entity_id": ids[i],
                        "year": year,
                        "body_id": "BB1",
                        "status": "verified",
                        "mode": "full",
                        "live_key": f"{ids[i]}:{year}",
                        "assigned_by": "bench",
                        "assigned_at": at,
                        "returns": 0,
                        "verified_emissions_tco2e": _obligation(i),
                        "accepted_by": "bench",
                        "accepted_at": at,
                    }
                    for i in chunk
                ],
            )
        # Holders and their holding and trading accounts through the registry's own bulk opening.
        names = [(ids[i], f"Bench entity {i}") for i in range(size)]
        for account_type in ("holding", "trading"):
            postings.ensure_entity_accounts(connection, LOCAL_OPERATOR, names, account_type, at)
    _deliver(engine, size)


def _fast_setup(connection: Connection) -> None:
    """Set-up commits need not survive a crash (as in the ledger benchmark); the timed stages use defaults."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL synchronous_commit = off"))


def _deliver(engine: Engine, size: int) -> None:
    """Issue the year's CEA24 and deliver each entity its obligation, one linked batch per command.

    Each batch commits on its own and PostgreSQL's statistics are refreshed after it: the ledger
    reads a batch's balances with one `(account, instrument) IN (...)` list, which PostgreSQL plans
    as a scan of the whole instrument while it believes the table empty (bench/compliance.md).
    """
    clock = FixedClock(datetime(2025, 5, 1, tzinfo=UTC))
    moves = [Move("CN-ISSUANCE", f"{_entity(i)}-H", "CEA24", _obligation(i)) for i in range(size)]

    def issue(connection: Connection, at: str) -> dict[str, Any]:
        _fast_setup(connection)
        total = sum(m.quantity for m in moves)
        postings.issue(connection, LOCAL_OPERATOR, "bench-issue", "CEA24", total, "CN-ISSUANCE", at)
        return {"issued": total}

    _check(run_command(engine, clock, LOCAL_OPERATOR, "bench.issue", "bench-issue", {}, issue))
    for n, start in enumerate(range(0, size, moves_per_setup_batch)):
        part = moves[start : start + moves_per_setup_batch]

        def deliver(connection: Connection, at: str, part: list[Move] = part, n: int = n) -> dict[str, Any]:
            _fast_setup(connection)
            postings.move(connection, LOCAL_OPERATOR, f"bench-alloc-{n}", "allocation", part, at)
            return {"delivered": len(part)}

        _check(run_command(engine, clock, LOCAL_OPERATOR, "bench.deliver", f"bench-deliver-{n}", {}, deliver))
        _analyse(engine)


def _analyse(engine: Engine) -> None:
    """Refresh PostgreSQL's statistics (set-up only; SQLite plans by its indexes alone)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def _timed_stages(engine: Engine, size: int) -> dict[str, float]:
    """Open, surrender for every entity, close: seconds of each."""
    clock = FixedClock(datetime(2025, 6, 1, tzinfo=UTC))
    service = Compliance(engine, clock=clock)
    stages: dict[str, float] = {}
    started = time.perf_counter()
    _check(service.open_year(LOCAL_OPERATOR, "bench-open", year))
    stages["open"] = time.perf_counter() - started
    lines = []
    for i in range(size):
        owed = _obligation(i)
        lines.append((_entity(i), "CEA24", owed * 9 // 10 if i % short_every == 0 else owed))
    started = time.perf_counter()
    _check(service.surrender_batch(LOCAL_OPERATOR, "bench-surrender", year, lines))
    stages["surrender"] = time.perf_counter() - started
    clock.set(datetime(2026, 1, 2, tzinfo=UTC))
    started = time.perf_counter()
    closed = _check(service.close_year(LOCAL_OPERATOR, "bench-close", year, price_fen=price_fen))
    stages["close"] = time.perf_counter() - started
    expected_short = len(range(0, size, short_every))
    assert size - closed["entities_met"] == expected_short, (closed["entities_met"], expected_short)
    return stages


def _check(outcome: Outcome) -> dict[str, Any]:
    if not isinstance(outcome, Done):
        raise RuntimeError(f"benchmark step refused: {outcome}")
    return outcome.data


def _growth(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How time grows from the smallest to the largest run: the exponent k in time ∝ N^k."""
    if len(runs) < 2:
        return None
    import math

    small, large = min(runs, key=lambda r: r["entities"]), max(runs, key=lambda r: r["entities"])
    if small["entities"] == large["entities"] or small["total_s"] <= 0:
        return None
    exponent = math.log(large["total_s"] / small["total_s"]) / math.log(large["entities"] / small["entities"])
    return {
        "from_entities": small["entities"],
        "to_entities": large["entities"],
        "time_ratio": round(large["total_s"] / small["total_s"], 2),
        "size_ratio": round(large["entities"] / small["entities"], 2),
        "exponent": round(exponent, 3),
    }
