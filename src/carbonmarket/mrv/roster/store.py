"""All SQL of the roster: entities, facilities, their history, imports and reported emissions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update

from carbonmarket.db.tables_roster import (
    roster_changes,
    roster_emissions,
    roster_entities,
    roster_facilities,
    roster_imports,
)
from carbonmarket.mrv.model import Sector
from carbonmarket.mrv.roster.importer import Reported
from carbonmarket.mrv.roster.model import (
    Cooling,
    Entity,
    EntityStatus,
    Facility,
    FacilityKind,
    FacilityStatus,
    UnitCategory,
)

# Rows per INSERT statement when storing an import's figures: big enough to be fast, small enough
# that one statement's parameters stay well under both databases' limits.
emissions_insert_batch = 5_000

# --- entities -------------------------------------------------------------------------------------


def _entity(row: Row[Any]) -> Entity:
    """An entity row as the model's value."""
    return Entity(
        id=row.id,
        name=row.name,
        sector=Sector(row.sector),
        province=row.province,
        city=row.city,
        status=EntityStatus(row.status),
        inclusion_year=row.inclusion_year,
    )


def get_entity(connection: Connection, entity_id: str, *, lock: bool = False) -> tuple[Entity, int] | None:
    """An entity and its version; locked for a change when asked (PostgreSQL row lock)."""
    query = select(roster_entities).where(roster_entities.c.id == entity_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else (_entity(row), row.version)


def entity_row(connection: Connection, entity_id: str) -> Row[Any] | None:
    """The raw entity row, with its version and times."""
    return connection.execute(select(roster_entities).where(roster_entities.c.id == entity_id)).first()


def insert_entity(connection: Connection, entity: Entity, at: str) -> None:
    """Record a new entity at version 1 (its creation is history row 1)."""
    connection.execute(
        insert(roster_entities).values(
            id=entity.id, **entity.fields(), version=1, created_at=at, updated_at=at
        )
    )


def update_entity(connection: Connection, entity: Entity, version: int, at: str) -> None:
    """Store the entity's state after one more history row."""
    connection.execute(
        update(roster_entities)
        .where(roster_entities.c.id == entity.id)
        .values(**entity.fields(), version=version + 1, updated_at=at)
    )


def _entity_filter(
    query: Any, text: str | None, sector: str | None, province: str | None, status: str | None
) -> Any:
    """Narrow an entity query by a search text (id or name) and exact fields."""
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(roster_entities.c.id).like(pattern),
                func.lower(roster_entities.c.name).like(pattern),
            )
        )
    if sector:
        query = query.where(roster_entities.c.sector == sector)
    if province:
        query = query.where(roster_entities.c.province == province)
    if status:
        query = query.where(roster_entities.c.status == status)
    return query


def list_entities(
    connection: Connection,
    text: str | None,
    sector: str | None,
    province: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """One page of entities by id, and how many match in all."""
    rows = connection.execute(
        _entity_filter(select(roster_entities), text, sector, province, status)
        .order_by(roster_entities.c.id)
        .limit(limit)
        .offset(offset)
    )
    total = connection.execute(
        _entity_filter(select(func.count()).select_from(roster_entities), text, sector, province, status)
    ).scalar_one()
    return list(rows), int(total)


# --- facilities -----------------------------------------------------------------------------------


def _facility(row: Row[Any]) -> Facility:
    """A facility row as the model's value."""
    return Facility(
        id=row.id,
        entity_id=row.entity_id,
        sector=Sector(row.sector),
        kind=FacilityKind(row.kind),
        name=row.name,
        status=FacilityStatus(row.status),
        fuel=row.fuel,
        capacity_kw=row.capacity_kw,
        cooling=None if row.cooling is None else Cooling(row.cooling),
        category=None if row.category is None else UnitCategory(row.category),
        category_plan=row.category_plan,
        line_type=row.line_type,
        capacity_t_per_year=row.capacity_t_per_year,
    )


def _facility_values(facility: Facility) -> dict[str, Any]:
    """The changeable columns of a facility."""
    return {
        "name": facility.name,
        "fuel": facility.fuel,
        "capacity_kw": facility.capacity_kw,
        "cooling": None if facility.cooling is None else facility.cooling.value,
        "category": None if facility.category is None else facility.category.value,
        "category_plan": facility.category_plan,
        "line_type": facility.line_type,
        "capacity_t_per_year": facility.capacity_t_per_year,
        "status": facility.status.value,
    }


def get_facility(
    connection: Connection, facility_id: str, *, lock: bool = False
) -> tuple[Facility, int] | None:
    """A facility and its version; locked for a change when asked."""
    query = select(roster_facilities).where(roster_facilities.c.id == facility_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else (_facility(row), row.version)


def insert_facility(connection: Connection, facility: Facility, at: str) -> None:
    """Record a new facility at version 1."""
    connection.execute(
        insert(roster_facilities).values(
            id=facility.id,
            entity_id=facility.entity_id,
            sector=facility.sector.value,
            kind=facility.kind.value,
            **_facility_values(facility),
            version=1,
            created_at=at,
            updated_at=at,
        )
    )


def update_facility(connection: Connection, facility: Facility, version: int, at: str) -> None:
    """Store the facility's state after one more history row."""
    connection.execute(
        update(roster_facilities)
        .where(roster_facilities.c.id == facility.id)
        .values(**_facility_values(facility), version=version + 1, updated_at=at)
    )


def facilities_of(connection: Connection, entity_id: str) -> list[Facility]:
    """An entity's facilities by id."""
    rows = connection.execute(
        select(roster_facilities)
        .where(roster_facilities.c.entity_id == entity_id)
        .order_by(roster_facilities.c.id)
    )
    return [_facility(r) for r in rows]


def count_active_facilities(connection: Connection, entity_id: str) -> int:
    """How many of an entity's facilities still run."""
    return int(
        connection.execute(
            select(func.count())
            .select_from(roster_facilities)
            .where(
                roster_facilities.c.entity_id == entity_id,
                roster_facilities.c.status == FacilityStatus.ACTIVE.value,
            )
        ).scalar_one()
    )


# --- history --------------------------------------------------------------------------------------


def append_change(
    connection: Connection,
    *,
    entity_id: str,
    facility_id: str | None,
    kind: str,
    changes: dict[str, list[Any]],
    reason: str,
    actor: str,
    command_id: str,
    at: str,
) -> None:
    """Append one history row; history rows are never updated or deleted."""
    connection.execute(
        insert(roster_changes).values(
            entity_id=entity_id,
            facility_id=facility_id,
            kind=kind,
            changes=json.dumps(changes, ensure_ascii=False, sort_keys=True),
            reason=reason,
            actor=actor,
            command_id=command_id,
            at=at,
        )
    )


def history(connection: Connection, entity_id: str, limit: int) -> list[dict[str, Any]]:
    """An entity's history (its own changes and its facilities'), oldest first."""
    rows = connection.execute(
        select(roster_changes)
        .where(roster_changes.c.entity_id == entity_id)
        .order_by(roster_changes.c.seq)
        .limit(limit)
    )
    return [
        {
            "seq": r.seq,
            "at": r.at,
            "actor": r.actor,
            "kind": r.kind,
            "facility_id": r.facility_id,
            "changes": json.loads(r.changes),
            "reason": r.reason,
            "command_id": r.command_id,
        }
        for r in rows
    ]


# --- imports and reported emissions ---------------------------------------------------------------


def insert_import(connection: Connection, **values: Any) -> int:
    """Record an import and return its sequence number."""
    result = connection.execute(insert(roster_imports).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def import_of_file(connection: Connection, sha256: str) -> Row[Any] | None:
    """The first import of a file with these bytes, if any."""
    return connection.execute(
        select(roster_imports)
        .where(roster_imports.c.sha256 == sha256)
        .order_by(roster_imports.c.seq)
        .limit(1)
    ).first()


def insert_emissions(connection: Connection, import_seq: int, values: Sequence[Reported]) -> None:
    """Store an import's valid figures, in batches."""
    for start in range(0, len(values), emissions_insert_batch):
        batch = values[start : start + emissions_insert_batch]
        connection.execute(
            insert(roster_emissions),
            [
                {
                    "import_seq": import_seq,
                    "entity_ref": v.entity,
                    "year": v.year,
                    "emissions_t": v.emissions_t,
                    "row": v.row,
                }
                for v in batch
            ],
        )


def _latest(year: int | None = None, entity_ref: str | None = None) -> Any:
    """The newest import's figure per entity and year, as a subquery (optionally of one year or entity)."""
    newest = select(
        roster_emissions.c.entity_ref,
        roster_emissions.c.year,
        func.max(roster_emissions.c.import_seq).label("import_seq"),
    ).group_by(roster_emissions.c.entity_ref, roster_emissions.c.year)
    if year is not None:
        newest = newest.where(roster_emissions.c.year == year)
    if entity_ref is not None:
        newest = newest.where(roster_emissions.c.entity_ref == entity_ref)
    return newest.subquery()


def reported(connection: Connection, year: int) -> list[Row[Any]]:
    """Every entity's reported emissions for a year (newest import), with its roster entry if any."""
    newest = _latest(year=year)
    e = roster_emissions
    query = (
        select(
            e.c.entity_ref,
            e.c.emissions_t,
            e.c.import_seq,
            roster_entities.c.name,
            roster_entities.c.status,
            roster_entities.c.sector,
        )
        .join(
            newest,
            and_(
                newest.c.entity_ref == e.c.entity_ref,
                newest.c.year == e.c.year,
                newest.c.import_seq == e.c.import_seq,
            ),
        )
        .outerjoin(roster_entities, roster_entities.c.id == e.c.entity_ref)
        .where(e.c.year == year)
        .order_by(e.c.emissions_t.desc(), e.c.entity_ref)
    )
    return list(connection.execute(query))


def emissions_of(connection: Connection, entity_ref: str) -> list[dict[str, Any]]:
    """An entity's reported emissions per year (newest import), oldest year first."""
    newest = _latest(entity_ref=entity_ref)
    e = roster_emissions
    rows = connection.execute(
        select(e.c.year, e.c.emissions_t, roster_imports.c.command_id)
        .join(
            newest,
            and_(
                newest.c.entity_ref == e.c.entity_ref,
                newest.c.year == e.c.year,
                newest.c.import_seq == e.c.import_seq,
            ),
        )
        .join(roster_imports, roster_imports.c.seq == e.c.import_seq)
        .where(e.c.entity_ref == entity_ref)
        .order_by(e.c.year)
    )
    return [{"year": r.year, "emissions_t": r.emissions_t, "import": r.command_id} for r in rows]


def years_reported(connection: Connection) -> list[int]:
    """Every year some import has figures for."""
    return [
        r.year
        for r in connection.execute(
            select(roster_emissions.c.year).distinct().order_by(roster_emissions.c.year)
        )
    ]


# --- bulk reads for allocation (issue 4) ----------------------------------------------------------


def entities_in_sectors(connection: Connection, sectors: Sequence[str]) -> list[Entity]:
    """Every entity of the given sectors that is not removed, by id (allocation covers them)."""
    rows = connection.execute(
        select(roster_entities)
        .where(
            roster_entities.c.sector.in_(list(sectors)),
            roster_entities.c.status != EntityStatus.REMOVED.value,
        )
        .order_by(roster_entities.c.id)
    )
    return [_entity(r) for r in rows]


def active_facilities_in_sectors(connection: Connection, sectors: Sequence[str]) -> list[Facility]:
    """Every running facility of the given sectors, by entity and id."""
    rows = connection.execute(
        select(roster_facilities)
        .where(
            roster_facilities.c.sector.in_(list(sectors)),
            roster_facilities.c.status == FacilityStatus.ACTIVE.value,
        )
        .order_by(roster_facilities.c.entity_id, roster_facilities.c.id)
    )
    return [_facility(r) for r in rows]
