"""`carbonmarket bench allocation`: calculate, pre-allocate and true up a year for N synthetic entities.

For each size N (default 3,500, the national market's entity count after the 2025 expansion,
DOMAIN.md §1 [seed]) the run makes a scratch database beside `--db` (a PostgreSQL scratch database on
the same server, dropped afterwards, as `benchmarks/scratch.py` does), migrates it and sets it up
*untimed and in bulk*: N power entities with one unit each (a mix of the four categories), their
verified emissions for 2022 and 2023 (one INSERT ... executemany per table, straight into the
roster and verification tables, since a set-up of 100,000 entities through one command each would
measure the set-up, not allocation), the 2023 plan, and the 2023 activity data through the
allocation CSV import. Then three timed stages, each one command as a regulator runs it:

1. `calc` — the dry run of the year (reads and formulas, nothing moves);
2. `issue` — the pre-allocation: issuance into CN-ISSUANCE, holders and `-H` accounts opened, linked
   batches to every entity, lines and entity-years written;
3. `true-up` — the final allocation: top-ups issued and delivered, excesses withdrawn.

It prints seconds per stage, entities per second and the total beside the target (≤ 10 s for
3,500 entities, ≤ 180 s for 100,000: issue 4) as `ratio = total / target` (≤ 1 meets it), and checks
the ledger's reconciliation afterwards.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert

from carbonmarket.allocation.service import Allocation, packaged_plan_text
from carbonmarket.benchmarks.scratch import is_sqlite, parse_url, postgres_database, sqlite_file, url_text
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables_review import mrv_verification_bodies, mrv_verifications
from carbonmarket.db.tables_roster import roster_entities, roster_facilities
from carbonmarket.registry.service import Registry

YEAR = 2023
PLAN = "power-2023"
entities_max = 1_000_000
rows_per_insert = 5_000
# CEA23 ceiling per synthetic entity (the largest synthetic unit emits about 4 Mt a year).
ceiling_per_entity_t = 6_000_000
# Targets of issue 4 (seconds for the three stages together): 3,500 entities and 100,000 entities;
# sizes in between have no target of their own and show how the time grows.
target_small_s = 10.0
target_small_entities = 3_500
target_large_s = 180.0
target_large_entities = 100_000
# (fuel, rated MW, share of units): mostly large coal, as the national fleet is.
FLEET = (("coal", "600", 0.55), ("coal", "350", 0.25), ("cfb", "300", 0.1), ("gas", "400", 0.1))


def target_s(entities: int) -> float | None:
    """The issue's target for a size: 10 s up to the national market's size, 3 min from 100,000."""
    if entities <= target_small_entities:
        return target_small_s
    return target_large_s if entities >= target_large_entities else None


def run_allocation_benchmark(database_url: str, sizes: list[int], progress: bool = False) -> dict[str, Any]:
    """Run the three stages for each size on a scratch database of the URL's kind; figures as one dict."""
    for size in sizes:
        if not 1 <= size <= entities_max:
            raise ValueError(f"entities must be 1..{entities_max}")
    url = parse_url(database_url)
    say = _progress(progress)
    runs = []
    for size in sizes:
        scratch = sqlite_file(url) if is_sqlite(url) else postgres_database(url, "alloc")
        with scratch as scratch_url:
            runs.append(_one_size(url_text(scratch_url), size, say))
    growth = [
        {"entities": r["entities"], "total_s": r["total_s"], "per_entity_ms": r["per_entity_ms"]}
        for r in runs
    ]
    return {
        "benchmark": "allocation",
        "database": url.get_backend_name(),
        "year": YEAR,
        "plan": PLAN,
        "runs": runs,
        "growth": growth,
        "ok": all(r["reconciled"] for r in runs),
    }


def _one_size(url: str, size: int, say: Callable[[str], None]) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        activity_csv = _set_up(engine, size)
        service = Allocation(engine)
        _done(service.import_activity(LOCAL_OPERATOR, activity_csv, "bench.csv", "bench-import"))
        setup_s = time.perf_counter() - started
        say(f"{size} entities: set-up {setup_s:.1f} s")
        stages: dict[str, float] = {}
        clock = time.perf_counter()
        summary = service.calc(YEAR)["summary"]
        stages["calc_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        pre = _done(service.preallocate(LOCAL_OPERATOR, "bench-pre", YEAR))
        stages["issue_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        final = _done(service.true_up(LOCAL_OPERATOR, "bench-tu", YEAR))
        stages["true_up_s"] = time.perf_counter() - clock
        total = sum(stages.values())
        target = target_s(size)
        reconciled = bool(Registry(engine).reconcile().ok)
        say(
            f"{size} entities: "
            + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
            + f"; total {total:.2f} s"
        )
        return {
            "entities": size,
            "setup_s": round(setup_s, 2),
            **{k: round(v, 3) for k, v in stages.items()},
            "total_s": round(total, 3),
            "entities_per_s": round(size / total, 1),
            "per_entity_ms": round(total / size * 1000, 4),
            "target_s": target_s(size),
            "ratio": None if target is None else round(total / target, 3),
            "preallocated_t": pre["delivered_t"],
            "final_t": summary["final_t"],
            "true_up": {k: final[k] for k in ("issued_t", "delivered_t", "withdrawn_t", "shortfall_t")},
            "reconciled": reconciled,
        }
    finally:
        engine.dispose()


def _set_up(engine: Engine, size: int) -> bytes:
    """Roster, verified emissions of 2022 and 2023, the plan and central accounts; the activity CSV."""
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    _done(registry.open_central_accounts(LOCAL_OPERATOR))
    # The packaged CEA23 ceiling (10 Gt, about twice the real 2023 issuance) is below what a synthetic
    # market of 20,000+ national-sized entities needs; a regulator would raise it the same way.
    _done(registry.set_cap(LOCAL_OPERATOR, "bench-cap", "CEA23", max(10**10, size * ceiling_per_entity_t)))
    _done(Allocation(engine).publish_plan(LOCAL_OPERATOR, "bench-plan", packaged_plan_text(PLAN)))
    rng = random.Random(4)
    at = "2024-01-01T00:00:00.000000+00:00"
    entities, facilities, verifications = [], [], []
    lines = ["entity_id,facility_id,year,electricity_generated_mwh,heat_supplied_gj,load_rate_fraction"]
    weights = [share for _, _, share in FLEET]
    for n in range(size):
        entity_id = f"BE{n:07d}"
        fuel, capacity, _ = rng.choices(FLEET, weights)[0]
        entities.append(
            {
                "id": entity_id,
                "name": f"Bench power {n}",
                "sector": "power",
                "province": f"P{n % 31:02d}",
                "city": None,
                "status": "active",
                "inclusion_year": 2021,
                "version": 1,
                "created_at": at,
                "updated_at": at,
            }
        )
        category = {"gas": "IV", "cfb": "III"}.get(fuel, "I" if capacity == "600" else "II")
        facilities.append(
            {
                "id": f"{entity_id}-U1",
                "entity_id": entity_id,
                "sector": "power",
                "kind": "power_unit",
                "name": None,
                "fuel": fuel,
                "capacity_kw": int(capacity) * 1000,
                "cooling": "water",
                "category": category,
                "category_plan": "2023-2024",
                "line_type": None,
                "capacity_t_per_year": None,
                "status": "active",
                "version": 1,
                "created_at": at,
                "updated_at": at,
            }
        )
        hours = int(capacity) * rng.randint(3500, 5500)
        generated = hours  # MWh: rated MW × equivalent full-load hours
        load = rng.randint(45, 90)
        heat = rng.choice((0, 0, rng.randint(100_000, 2_000_000)))
        intensity = 0.36 if fuel == "gas" else 0.82
        verified_2023 = int(generated * intensity * rng.uniform(0.92, 1.08) + heat * 0.1)
        verified_2022 = int(verified_2023 * rng.uniform(0.95, 1.05))
        for year, tonnes in ((2022, verified_2022), (2023, verified_2023)):
            verifications.append(
                {
                    "id": f"V-{entity_id}-{year}",
                    "entity_id": entity_id,
                    "year": year,
                    "body_id": "BENCH-VB",
                    "status": "verified",
                    "mode": "full",
                    "live_key": f"{entity_id}:{year}",
                    "assigned_by": "bench",
                    "assigned_at": at,
                    "returns": 0,
                    "verified_emissions_tco2e": tonnes,
                    "accepted_by": "bench",
                    "accepted_at": at,
                }
            )
        lines.append(f"{entity_id},{entity_id}-U1,{YEAR},{generated},{heat},0.{load:02d}")
    with engine.begin() as connection:
        connection.execute(
            insert(mrv_verification_bodies),
            [
                {
                    "id": "BENCH-VB",
                    "name": "Bench verifier",
                    "status": "qualified",
                    "applied_at": at,
                    "updated_at": at,
                }
            ],
        )
        for table, rows in (
            (roster_entities, entities),
            (roster_facilities, facilities),
            (mrv_verifications, verifications),
        ):
            for start in range(0, len(rows), rows_per_insert):
                connection.execute(insert(table), rows[start : start + rows_per_insert])
    return ("\n".join(lines) + "\n").encode()


def _done(outcome: Outcome) -> dict[str, Any]:
    if not isinstance(outcome, Done):
        raise RuntimeError(f"benchmark step refused: {outcome}")
    return outcome.data


def _progress(enabled: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if enabled:
            print(text, file=sys.stderr, flush=True)

    return say
