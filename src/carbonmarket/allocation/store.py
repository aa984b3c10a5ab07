"""All SQL of allocation: plans and their versions, activity imports, runs, lines, entity-years, deductions.

`allocated(connection, entity_id, year)` is the compliance context's read of the final allocation
(docs/markets-contract.md); it runs on the caller's connection, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update

from carbonmarket.db.tables_allocation import (
    alloc_activity,
    alloc_deductions,
    alloc_entity_years,
    alloc_imports,
    alloc_lines,
    alloc_plan_years,
    alloc_plans,
    alloc_runs,
)

# Rows per INSERT/UPDATE statement: one executemany per table, in slices whose parameters stay well
# under SQLite's and PostgreSQL's limits.
rows_per_statement = 5_000
# Ids per IN (...) list, for the same reason.
in_list_max = 5_000


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_many(connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    for chunk in _chunks(rows, rows_per_statement):
        connection.execute(insert(table), list(chunk))


# --- plans ----------------------------------------------------------------------------------------


def latest_version(connection: Connection, plan_id: str) -> Row[Any] | None:
    """The newest published version of a plan id."""
    return connection.execute(
        select(alloc_plans)
        .where(alloc_plans.c.plan_id == plan_id)
        .order_by(alloc_plans.c.version.desc())
        .limit(1)
    ).first()


def get_plan(connection: Connection, plan_id: str, version: int | None = None) -> Row[Any] | None:
    """One version of a plan (the newest when no version is given)."""
    if version is None:
        return latest_version(connection, plan_id)
    return connection.execute(
        select(alloc_plans).where(alloc_plans.c.plan_id == plan_id, alloc_plans.c.version == version)
    ).first()


def insert_plan(connection: Connection, years: Sequence[tuple[str, int]], **values: Any) -> int:
    """Store a published plan version and the sector-years it covers; returns its sequence number."""
    result = connection.execute(insert(alloc_plans).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    seq = int(key[0])
    _insert_many(connection, alloc_plan_years, [{"plan_seq": seq, "sector": s, "year": y} for s, y in years])
    return seq


def plan_versions(connection: Connection) -> list[Row[Any]]:
    """Every published plan version with the sector-years it covers, newest publication last."""
    years = (
        select(
            alloc_plan_years.c.plan_seq,
            func.min(alloc_plan_years.c.year).label("first_year"),
            func.max(alloc_plan_years.c.year).label("last_year"),
        )
        .group_by(alloc_plan_years.c.plan_seq)
        .subquery()
    )
    return list(
        connection.execute(
            select(
                alloc_plans.c.seq,
                alloc_plans.c.plan_id,
                alloc_plans.c.version,
                alloc_plans.c.kind,
                alloc_plans.c.status,
                alloc_plans.c.title,
                alloc_plans.c.sha256,
                alloc_plans.c.published_by,
                alloc_plans.c.published_at,
                years.c.first_year,
                years.c.last_year,
            )
            .join(years, years.c.plan_seq == alloc_plans.c.seq)
            .order_by(alloc_plans.c.seq)
        )
    )


def plans_in_force(connection: Connection, year: int) -> dict[str, Row[Any]]:
    """For each sector, the plan version in force for `year`: the newest publication covering it."""
    newest = (
        select(alloc_plan_years.c.sector, func.max(alloc_plan_years.c.plan_seq).label("plan_seq"))
        .where(alloc_plan_years.c.year == year)
        .group_by(alloc_plan_years.c.sector)
        .subquery()
    )
    rows = connection.execute(
        select(newest.c.sector, alloc_plans).join(alloc_plans, alloc_plans.c.seq == newest.c.plan_seq)
    )
    return {r.sector: r for r in rows}


def years_with_plans(connection: Connection) -> list[int]:
    """Every year some published plan covers."""
    return [
        int(r.year)
        for r in connection.execute(
            select(alloc_plan_years.c.year).distinct().order_by(alloc_plan_years.c.year)
        )
    ]


# --- activity -------------------------------------------------------------------------------------


def insert_import(connection: Connection, **values: Any) -> int:
    """Record an activity import and return its sequence number."""
    result = connection.execute(insert(alloc_imports).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_activity(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store an import's valid rows, one executemany per slice."""
    _insert_many(connection, alloc_activity, rows)


def activity_of_year(connection: Connection, year: int) -> dict[tuple[str, str], Row[Any]]:
    """The newest imported activity of every (entity, facility) for a year."""
    newest = (
        select(
            alloc_activity.c.entity_id,
            alloc_activity.c.facility_id,
            func.max(alloc_activity.c.import_seq).label("import_seq"),
        )
        .where(alloc_activity.c.year == year)
        .group_by(alloc_activity.c.entity_id, alloc_activity.c.facility_id)
        .subquery()
    )
    rows = connection.execute(
        select(alloc_activity)
        .join(
            newest,
            and_(
                newest.c.entity_id == alloc_activity.c.entity_id,
                newest.c.facility_id == alloc_activity.c.facility_id,
                newest.c.import_seq == alloc_activity.c.import_seq,
            ),
        )
        .where(alloc_activity.c.year == year)
    )
    return {(r.entity_id, r.facility_id): r for r in rows}


# --- runs, lines, entity-years ---------------------------------------------------------------------


def preallocation_of_year(connection: Connection, year: int) -> Row[Any] | None:
    """The pre-allocation run of a year, if there was one."""
    return connection.execute(select(alloc_runs).where(alloc_runs.c.preallocation_year == year)).first()


def insert_run(connection: Connection, **values: Any) -> None:
    """Record a run (its lines come after, naming it)."""
    connection.execute(insert(alloc_runs).values(**values))


def runs_of_year(connection: Connection, year: int) -> list[Row[Any]]:
    """A year's runs, oldest first."""
    return list(
        connection.execute(select(alloc_runs).where(alloc_runs.c.year == year).order_by(alloc_runs.c.at))
    )


def insert_lines(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store a run's allocation lines."""
    _insert_many(connection, alloc_lines, rows)


def lines_of(connection: Connection, entity_id: str, year: int) -> list[Row[Any]]:
    """An entity's allocation lines of a year, in the order they were written."""
    return list(
        connection.execute(
            select(alloc_lines)
            .where(alloc_lines.c.entity_id == entity_id, alloc_lines.c.year == year)
            .order_by(alloc_lines.c.seq)
        )
    )


def entity_years(connection: Connection, year: int) -> dict[str, Row[Any]]:
    """Where every entity stands for a year."""
    rows = connection.execute(select(alloc_entity_years).where(alloc_entity_years.c.year == year))
    return {r.entity_id: r for r in rows}


def entity_year(connection: Connection, entity_id: str, year: int) -> Row[Any] | None:
    """Where one entity stands for a year."""
    return connection.execute(
        select(alloc_entity_years).where(
            alloc_entity_years.c.entity_id == entity_id, alloc_entity_years.c.year == year
        )
    ).first()


def years_of_entity(connection: Connection, entity_id: str) -> list[Row[Any]]:
    """Every year an entity has an allocation for, oldest first."""
    return list(
        connection.execute(
            select(alloc_entity_years)
            .where(alloc_entity_years.c.entity_id == entity_id)
            .order_by(alloc_entity_years.c.year)
        )
    )


def insert_entity_years(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record entity-years seen for the first time."""
    _insert_many(connection, alloc_entity_years, rows)


_UPDATE_ENTITY_YEAR = (
    update(alloc_entity_years)
    .where(
        alloc_entity_years.c.entity_id == bindparam("key_entity"),
        alloc_entity_years.c.year == bindparam("key_year"),
    )
    .values(
        plan_id=bindparam("plan_id"),
        plan_version=bindparam("plan_version"),
        final_t=bindparam("final_t"),
        delivered_t=bindparam("delivered_t"),
        deducted_t=bindparam("deducted_t"),
        status=bindparam("status"),
        run_id=bindparam("run_id"),
        updated_at=bindparam("updated_at"),
    )
)


def update_entity_years(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Move entity-years on after a run, one executemany per slice."""
    for chunk in _chunks(rows, rows_per_statement):
        connection.execute(_UPDATE_ENTITY_YEAR, list(chunk))


def allocated(connection: Connection, entity_id: str, year: int) -> int | None:
    """The entity's final allocation for a year after true-up (whole t), or None before it."""
    row = connection.execute(
        select(alloc_entity_years.c.final_t).where(
            alloc_entity_years.c.entity_id == entity_id, alloc_entity_years.c.year == year
        )
    ).first()
    return None if row is None or row.final_t is None else int(row.final_t)


def year_summary(connection: Connection, year: int) -> list[Row[Any]]:
    """A year's allocation by sector: entities, pre-allocated, final, delivered and deducted tonnes."""
    e = alloc_entity_years
    return list(
        connection.execute(
            select(
                e.c.sector,
                func.count().label("entities"),
                func.sum(e.c.preallocated_t).label("preallocated_t"),
                func.sum(e.c.final_t).label("final_t"),
                func.sum(e.c.delivered_t).label("delivered_t"),
                func.sum(e.c.deducted_t).label("deducted_t"),
            )
            .where(e.c.year == year)
            .group_by(e.c.sector)
            .order_by(e.c.sector)
        )
    )


# --- deductions -----------------------------------------------------------------------------------


def owed(connection: Connection, entity_ids: Sequence[str] | None = None) -> dict[str, int]:
    """What each entity still owes in deductions (only entities owing something appear)."""
    query = select(
        alloc_deductions.c.entity_id, func.sum(alloc_deductions.c.quantity_t).label("owed")
    ).group_by(alloc_deductions.c.entity_id)
    found: dict[str, int] = {}
    if entity_ids is None:
        chunks: Iterable[Sequence[str] | None] = [None]
    else:
        chunks = _chunks(list(entity_ids), in_list_max)
    for chunk in chunks:
        scoped = query if chunk is None else query.where(alloc_deductions.c.entity_id.in_(list(chunk)))
        for row in connection.execute(scoped):
            if int(row.owed) != 0:
                found[row.entity_id] = int(row.owed)
    return found


def insert_deductions(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append deduction rows (never updated or deleted)."""
    _insert_many(connection, alloc_deductions, rows)


def deductions_of(connection: Connection, entity_id: str) -> list[Row[Any]]:
    """An entity's deduction history, oldest first."""
    return list(
        connection.execute(
            select(alloc_deductions)
            .where(alloc_deductions.c.entity_id == entity_id)
            .order_by(alloc_deductions.c.seq)
        )
    )
