"""All SQL of MRV monthly records and monitoring plans. Rows are inserted, never updated or deleted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, insert, or_, select, tuple_

from carbonmarket.audit.model import canonical_json
from carbonmarket.db.tables_records import mrv_monitoring_plans, mrv_record_values, mrv_records
from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.records.model import (
    MonitoringPlan,
    StoredRecord,
    parse_plan,
    plan_as_json,
    values_text,
)

# Ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
in_list_max = 500

# --- records ---------------------------------------------------------------------------------------


def insert_record(
    connection: Connection,
    *,
    record_id: str,
    record: MonthlyRecord,
    version: int,
    supersedes: str | None,
    reason: str | None,
    command_id: str,
    actor: str,
    at: str,
) -> None:
    """Store one version of a facility-month and its values."""
    connection.execute(
        insert(mrv_records).values(
            record_id=record_id,
            entity_id=record.entity_id,
            facility_id=record.facility_id,
            sector=record.sector.value,
            year=record.year,
            month=record.month,
            version=version,
            supersedes=supersedes,
            reason=reason,
            evidence=canonical_json(dict(record.evidence)),
            command_id=command_id,
            submitted_by=actor,
            at=at,
        )
    )
    values = values_text(record.values)
    if values:
        connection.execute(
            insert(mrv_record_values),
            [{"record_id": record_id, "parameter": name, "value": text} for name, text in values.items()],
        )


def insert_records(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store many first versions at once (one executemany per table): `rows` hold `insert_record`'s
    keyword arguments (record_id, record, version, supersedes, reason, command_id, actor, at)."""
    if not rows:
        return
    connection.execute(
        insert(mrv_records),
        [
            {
                "record_id": row["record_id"],
                "entity_id": row["record"].entity_id,
                "facility_id": row["record"].facility_id,
                "sector": row["record"].sector.value,
                "year": row["record"].year,
                "month": row["record"].month,
                "version": row["version"],
                "supersedes": row["supersedes"],
                "reason": row["reason"],
                "evidence": canonical_json(dict(row["record"].evidence)),
                "command_id": row["command_id"],
                "submitted_by": row["actor"],
                "at": row["at"],
            }
            for row in rows
        ],
    )
    values = [
        {"record_id": row["record_id"], "parameter": name, "value": text}
        for row in rows
        for name, text in values_text(row["record"].values).items()
    ]
    if values:
        connection.execute(insert(mrv_record_values), values)


def latest(connection: Connection, facility_id: str, year: int, month: int) -> StoredRecord | None:
    """The current (highest) version of a facility-month, or None when it was never submitted."""
    row = connection.execute(
        select(mrv_records)
        .where(
            mrv_records.c.facility_id == facility_id,
            mrv_records.c.year == year,
            mrv_records.c.month == month,
        )
        .order_by(mrv_records.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _with_values(connection, [row])[0]


def facility_identity(connection: Connection, facility_id: str) -> tuple[str, str] | None:
    """The entity and sector a facility first reported under (records, else its monitoring plan)."""
    for table in (mrv_records, mrv_monitoring_plans):
        row = connection.execute(
            select(table.c.entity_id, table.c.sector)
            .where(table.c.facility_id == facility_id)
            .order_by(table.c.at)
            .limit(1)
        ).first()
        if row is not None:
            return row.entity_id, row.sector
    return None


def facility_identities(connection: Connection, facility_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """`facility_identity` of many facilities at once: the entity and sector each first reported under."""
    wanted = sorted(set(facility_ids))
    found: dict[str, tuple[str, str]] = {}
    for table in (mrv_records, mrv_monitoring_plans):
        missing = [f for f in wanted if f not in found]
        first: dict[str, tuple[str, tuple[str, str]]] = {}
        for start in range(0, len(missing), in_list_max):
            chunk = missing[start : start + in_list_max]
            rows = connection.execute(
                select(
                    table.c.facility_id, table.c.entity_id, table.c.sector, func.min(table.c.at).label("at")
                )
                .where(table.c.facility_id.in_(chunk))
                .group_by(table.c.facility_id, table.c.entity_id, table.c.sector)
            )
            for row in rows:
                earlier = first.get(row.facility_id)
                if earlier is None or row.at < earlier[0]:
                    first[row.facility_id] = (row.at, (row.entity_id, row.sector))
        found.update({facility: identity for facility, (_at, identity) in first.items()})
    return found


def current_records_of_facilities(
    connection: Connection, facility_ids: Iterable[str], years: Sequence[int]
) -> list[StoredRecord]:
    """The current version of every month of many facilities in the given years (a few IN queries)."""
    wanted = sorted(set(facility_ids))
    stored: list[StoredRecord] = []
    for start in range(0, len(wanted), in_list_max):
        chunk = wanted[start : start + in_list_max]
        stored.extend(
            _current(connection, [mrv_records.c.year.in_(list(years)), mrv_records.c.facility_id.in_(chunk)])
        )
    return stored


def current_records_of_year(connection: Connection, year: int) -> list[StoredRecord]:
    """The current version of every facility-month of a year, of every entity (the year's reports)."""
    return _current(connection, [mrv_records.c.year == year])


def current_records(
    connection: Connection,
    *,
    years: Sequence[int],
    entity_id: str | None = None,
    facility_id: str | None = None,
) -> list[StoredRecord]:
    """The current version of every facility-month of an entity or a facility in the given years."""
    assert entity_id is not None or facility_id is not None, "by entity or by facility"
    scope: list[ColumnElement[bool]] = [mrv_records.c.year.in_(list(years))]
    if entity_id is not None:
        scope.append(mrv_records.c.entity_id == entity_id)
    if facility_id is not None:
        scope.append(mrv_records.c.facility_id == facility_id)
    return _current(connection, scope)


def _current(connection: Connection, scope: Sequence[ColumnElement[bool]]) -> list[StoredRecord]:
    """The current (highest) version of every facility-month within `scope`, by facility and month."""
    newest = (
        select(
            mrv_records.c.facility_id,
            mrv_records.c.year,
            mrv_records.c.month,
            func.max(mrv_records.c.version).label("version"),
        )
        .where(*scope)
        .group_by(mrv_records.c.facility_id, mrv_records.c.year, mrv_records.c.month)
        .subquery()
    )
    rows = connection.execute(
        select(mrv_records)
        .join(
            newest,
            and_(
                mrv_records.c.facility_id == newest.c.facility_id,
                mrv_records.c.year == newest.c.year,
                mrv_records.c.month == newest.c.month,
                mrv_records.c.version == newest.c.version,
            ),
        )
        .order_by(mrv_records.c.facility_id, mrv_records.c.year, mrv_records.c.month)
    ).all()
    return _with_values(connection, rows)


def all_versions(connection: Connection, entity_id: str, year: int, limit: int) -> list[StoredRecord]:
    """Every version of an entity's records of a year, by facility, month and version."""
    rows = connection.execute(
        select(mrv_records)
        .where(mrv_records.c.entity_id == entity_id, mrv_records.c.year == year)
        .order_by(mrv_records.c.facility_id, mrv_records.c.month, mrv_records.c.version)
        .limit(limit)
    ).all()
    return _with_values(connection, rows)


def _with_values(connection: Connection, rows: Sequence[Row[Any]]) -> list[StoredRecord]:
    """Records rows with their values, read in a few IN queries."""
    values: dict[str, dict[str, Decimal]] = {row.record_id: {} for row in rows}
    ids = list(values)
    for start in range(0, len(ids), in_list_max):
        chunk = ids[start : start + in_list_max]
        for value in connection.execute(
            select(mrv_record_values).where(mrv_record_values.c.record_id.in_(chunk))
        ):
            values[value.record_id][value.parameter] = Decimal(value.value)
    return [
        StoredRecord(
            record_id=row.record_id,
            version=row.version,
            record=MonthlyRecord(
                row.entity_id,
                row.facility_id,
                Sector(row.sector),
                row.year,
                row.month,
                values[row.record_id],
                json.loads(row.evidence),
            ),
            supersedes=row.supersedes,
            reason=row.reason,
            command_id=row.command_id,
            submitted_by=row.submitted_by,
            at=row.at,
        )
        for row in rows
    ]


def existing_months(
    connection: Connection, keys: Iterable[tuple[str, int, int]]
) -> dict[tuple[str, int, int], int]:
    """The latest version of each (facility, year, month) among `keys` that was already submitted."""
    wanted = list(keys)
    found: dict[tuple[str, int, int], int] = {}
    for start in range(0, len(wanted), in_list_max):
        chunk = wanted[start : start + in_list_max]
        rows = connection.execute(
            select(
                mrv_records.c.facility_id,
                mrv_records.c.year,
                mrv_records.c.month,
                func.max(mrv_records.c.version).label("version"),
            )
            .where(tuple_(mrv_records.c.facility_id, mrv_records.c.year, mrv_records.c.month).in_(chunk))
            .group_by(mrv_records.c.facility_id, mrv_records.c.year, mrv_records.c.month)
        )
        for row in rows:
            found[(row.facility_id, row.year, row.month)] = row.version
    return found


# --- monitoring plans ------------------------------------------------------------------------------


def insert_plan(
    connection: Connection,
    *,
    plan_id: str,
    plan: MonitoringPlan,
    version: int,
    reason: str | None,
    command_id: str,
    actor: str,
    at: str,
) -> None:
    """Store one version of a facility's monitoring plan."""
    connection.execute(
        insert(mrv_monitoring_plans).values(
            plan_id=plan_id,
            entity_id=plan.entity_id,
            facility_id=plan.facility_id,
            sector=plan.sector.value,
            version=version,
            valid_from_year=plan.valid_from_year,
            valid_from_month=plan.valid_from_month,
            parameters=canonical_json(plan_as_json(plan)["parameters"]),
            reason=reason,
            command_id=command_id,
            submitted_by=actor,
            at=at,
        )
    )


def latest_plan_version(connection: Connection, facility_id: str) -> int | None:
    """The highest plan version of a facility, or None."""
    version = connection.execute(
        select(func.max(mrv_monitoring_plans.c.version)).where(
            mrv_monitoring_plans.c.facility_id == facility_id
        )
    ).scalar_one()
    return None if version is None else int(version)


def plan_in_force(
    connection: Connection, facility_id: str, year: int, month: int
) -> tuple[int, MonitoringPlan] | None:
    """The newest plan version valid from or before the month, with its version number."""
    row = connection.execute(
        select(mrv_monitoring_plans)
        .where(
            mrv_monitoring_plans.c.facility_id == facility_id,
            or_(
                mrv_monitoring_plans.c.valid_from_year < year,
                and_(
                    mrv_monitoring_plans.c.valid_from_year == year,
                    mrv_monitoring_plans.c.valid_from_month <= month,
                ),
            ),
        )
        .order_by(mrv_monitoring_plans.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.version, _plan(row))


def plan_versions(connection: Connection, facility_id: str) -> list[dict[str, Any]]:
    """Every version of a facility's plan, oldest first, as shown."""
    rows = connection.execute(
        select(mrv_monitoring_plans)
        .where(mrv_monitoring_plans.c.facility_id == facility_id)
        .order_by(mrv_monitoring_plans.c.version)
    ).all()
    return [
        {
            "plan_id": row.plan_id,
            "version": row.version,
            **plan_as_json(_plan(row)),
            "reason": row.reason,
            "submitted_by": row.submitted_by,
            "at": row.at,
        }
        for row in rows
    ]


def _plan(row: Row[Any]) -> MonitoringPlan:
    """A stored plan row as the model's plan (it was checked when stored)."""
    return parse_plan(
        row.entity_id,
        row.facility_id,
        row.sector,
        row.valid_from_year,
        row.valid_from_month,
        json.loads(row.parameters),
    )
