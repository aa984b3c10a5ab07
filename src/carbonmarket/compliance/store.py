"""All SQL of the compliance context: years, obligations, surrenders, results, authorities, banking.

Reads of other contexts go through their stores (verification's accepted figures, the ledger's
balances of an account) or, for the bulk reads a year's open and close need, one query over the
roster's entity rows; nothing here writes another context's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from carbonmarket.db.tables_compliance import (
    compliance_authorities,
    compliance_banking,
    compliance_obligations,
    compliance_results,
    compliance_surrenders,
    compliance_years,
)
from carbonmarket.db.tables_review import mrv_verifications
from carbonmarket.db.tables_roster import roster_entities

# Rows per INSERT or UPDATE statement in bulk paths: large enough to be fast, small enough to stay
# under both databases' parameter limits.
rows_per_statement = 5_000


def _locked(connection: Connection, query: Any) -> Any:
    """Row locks on PostgreSQL; SQLite's write lock is taken for the whole transaction already."""
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


def _chunks(rows: Sequence[Any], size: int = rows_per_statement) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --- years ------------------------------------------------------------------------------------------


def get_year(connection: Connection, year: int, lock: bool = False) -> Row[Any] | None:
    """A compliance year's row, if the regulator opened it."""
    query = select(compliance_years).where(compliance_years.c.year == year)
    return connection.execute(_locked(connection, query) if lock else query).first()


def insert_year(connection: Connection, year: int, by: str, at: str) -> None:
    """Open a year for surrender."""
    connection.execute(insert(compliance_years).values(year=year, status="open", opened_by=by, opened_at=at))


def close_year(connection: Connection, year: int, **values: Any) -> None:
    """Freeze a year with its totals and the penalty price."""
    connection.execute(
        update(compliance_years).where(compliance_years.c.year == year).values(status="closed", **values)
    )


def list_years(connection: Connection) -> list[Row[Any]]:
    """Every opened year, newest first."""
    return list(connection.execute(select(compliance_years).order_by(compliance_years.c.year.desc())))


# --- obligations --------------------------------------------------------------------------------------


def verified_of_year(connection: Connection, year: int) -> list[Row[Any]]:
    """Every accepted verification of a year with the entity's province (roster), by entity.

    One query for the whole market: the obligation is the verified figure (mrv-contract.md).
    """
    query = (
        select(
            mrv_verifications.c.entity_id,
            mrv_verifications.c.verified_emissions_tco2e.label("verified"),
            roster_entities.c.province,
        )
        .select_from(
            mrv_verifications.outerjoin(
                roster_entities, roster_entities.c.id == mrv_verifications.c.entity_id
            )
        )
        .where(mrv_verifications.c.year == year, mrv_verifications.c.status == "verified")
        .order_by(mrv_verifications.c.entity_id)
    )
    return list(connection.execute(query))


def province_of(connection: Connection, entity_id: str) -> tuple[bool, str | None]:
    """Whether the roster knows the entity, and its province."""
    row = connection.execute(
        select(roster_entities.c.province).where(roster_entities.c.id == entity_id)
    ).first()
    return (False, None) if row is None else (True, row.province)


def obligation_entities(connection: Connection, year: int) -> set[str]:
    """Entities with an obligation row for the year."""
    rows = connection.execute(
        select(compliance_obligations.c.entity_id).where(compliance_obligations.c.year == year)
    )
    return {r.entity_id for r in rows}


def insert_obligations(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record obligations (year, entity_id, province, obligation_t) with nothing surrendered yet."""
    for chunk in _chunks(rows):
        connection.execute(insert(compliance_obligations), list(chunk))


def get_obligation(connection: Connection, year: int, entity_id: str, lock: bool = False) -> Row[Any] | None:
    """One entity-year's running totals; locked while a surrender changes them."""
    query = select(compliance_obligations).where(
        compliance_obligations.c.year == year, compliance_obligations.c.entity_id == entity_id
    )
    return connection.execute(_locked(connection, query) if lock else query).first()


def get_obligations(
    connection: Connection, year: int, entity_ids: Sequence[str], lock: bool = False
) -> dict[str, Row[Any]]:
    """Many entity-years' totals at once (bulk surrender), locked in entity order on PostgreSQL."""
    found: dict[str, Row[Any]] = {}
    for chunk in _chunks(sorted(set(entity_ids))):
        query = (
            select(compliance_obligations)
            .where(compliance_obligations.c.year == year, compliance_obligations.c.entity_id.in_(list(chunk)))
            .order_by(compliance_obligations.c.entity_id)
        )
        for row in connection.execute(_locked(connection, query) if lock else query):
            found[row.entity_id] = row
    return found


_SET_TOTALS = (
    update(compliance_obligations)
    .where(
        compliance_obligations.c.year == bindparam("k_year"),
        compliance_obligations.c.entity_id == bindparam("k_entity"),
    )
    .values(
        surrendered_t=bindparam("v_surrendered"),
        ccer_t=bindparam("v_ccer"),
        late=bindparam("v_late"),
        updated_at=bindparam("v_at"),
    )
)


def set_totals(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store new running totals: rows of k_year, k_entity, v_surrendered, v_ccer, v_late, v_at."""
    for chunk in _chunks(rows):
        connection.execute(_SET_TOTALS, list(chunk))


def obligations_of_year(
    connection: Connection, year: int, province: str | None = None, entity_id: str | None = None
) -> list[Row[Any]]:
    """A year's obligation rows, by entity, optionally of one province or entity."""
    query = select(compliance_obligations).where(compliance_obligations.c.year == year)
    if province is not None:
        query = query.where(compliance_obligations.c.province == province)
    if entity_id is not None:
        query = query.where(compliance_obligations.c.entity_id == entity_id)
    return list(connection.execute(query.order_by(compliance_obligations.c.entity_id)))


def years_of_entity(connection: Connection, entity_id: str) -> list[Row[Any]]:
    """Every obligation row of one entity, oldest year first."""
    return list(
        connection.execute(
            select(compliance_obligations)
            .where(compliance_obligations.c.entity_id == entity_id)
            .order_by(compliance_obligations.c.year)
        )
    )


# --- surrenders ---------------------------------------------------------------------------------------


def insert_surrenders(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append surrender records."""
    for chunk in _chunks(rows):
        connection.execute(insert(compliance_surrenders), list(chunk))


def surrenders_of(connection: Connection, year: int, entity_id: str) -> list[Row[Any]]:
    """One entity-year's surrenders, in order."""
    return list(
        connection.execute(
            select(compliance_surrenders)
            .where(compliance_surrenders.c.year == year, compliance_surrenders.c.entity_id == entity_id)
            .order_by(compliance_surrenders.c.id)
        )
    )


def surrendered_by_instrument(
    connection: Connection, year: int, entity_id: str | None = None
) -> list[Row[Any]]:
    """Tonnes surrendered per instrument for a year (of one entity, or of all)."""
    query = select(
        compliance_surrenders.c.instrument_id, func.sum(compliance_surrenders.c.quantity_t).label("quantity")
    ).where(compliance_surrenders.c.year == year)
    if entity_id is not None:
        query = query.where(compliance_surrenders.c.entity_id == entity_id)
    return list(
        connection.execute(
            query.group_by(compliance_surrenders.c.instrument_id).order_by(
                compliance_surrenders.c.instrument_id
            )
        )
    )


# --- results --------------------------------------------------------------------------------------------


def insert_results(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Freeze a year's results, one row per entity."""
    for chunk in _chunks(rows):
        connection.execute(insert(compliance_results), list(chunk))


def results_of_year(
    connection: Connection,
    year: int,
    *,
    province: str | None = None,
    not_met_only: bool = False,
    limit: int | None = None,
) -> list[Row[Any]]:
    """A closed year's results by entity, optionally of one province or only those short."""
    query = select(compliance_results).where(compliance_results.c.year == year)
    if province is not None:
        query = query.where(compliance_results.c.province == province)
    if not_met_only:
        query = query.where(compliance_results.c.shortfall_t > 0)
    query = query.order_by(compliance_results.c.entity_id)
    if limit is not None:
        query = query.limit(limit)
    return list(connection.execute(query))


def result_of(connection: Connection, year: int, entity_id: str) -> Row[Any] | None:
    """One entity's frozen result for a closed year."""
    return connection.execute(
        select(compliance_results).where(
            compliance_results.c.year == year, compliance_results.c.entity_id == entity_id
        )
    ).first()


def cut_for(connection: Connection, entity_id: str, cut_year: int) -> int:
    """The allocation cut that applies to an entity's allocation of `cut_year` (R Art. 24)."""
    value = connection.execute(
        select(func.coalesce(func.sum(compliance_results.c.allocation_cut_t), 0)).where(
            compliance_results.c.entity_id == entity_id, compliance_results.c.cut_year == cut_year
        )
    ).scalar_one()
    return int(value)


# --- provincial authorities -------------------------------------------------------------------------------


def province_of_authority(connection: Connection, username: str) -> str | None:
    """The province a provincial authority user acts for."""
    row = connection.execute(
        select(compliance_authorities.c.province).where(compliance_authorities.c.username == username)
    ).first()
    return None if row is None else str(row.province)


def set_authority(connection: Connection, username: str, province: str, by: str, at: str) -> str | None:
    """Assign a user to a province; returns the province it had before."""
    before = province_of_authority(connection, username)
    if before is None:
        connection.execute(
            insert(compliance_authorities).values(
                username=username, province=province, assigned_by=by, assigned_at=at
            )
        )
    else:
        connection.execute(
            update(compliance_authorities)
            .where(compliance_authorities.c.username == username)
            .values(province=province, assigned_by=by, assigned_at=at)
        )
    return before


# --- banking ----------------------------------------------------------------------------------------------


def insert_application(connection: Connection, **values: Any) -> None:
    """Record a banking application."""
    connection.execute(insert(compliance_banking).values(**values))


def get_application(connection: Connection, application_id: str, lock: bool = False) -> Row[Any] | None:
    """A banking application by id."""
    query = select(compliance_banking).where(compliance_banking.c.id == application_id)
    return connection.execute(_locked(connection, query) if lock else query).first()


def update_application(connection: Connection, application_id: str, **values: Any) -> None:
    """Decide a banking application."""
    connection.execute(
        update(compliance_banking).where(compliance_banking.c.id == application_id).values(**values)
    )


def banked_by(connection: Connection, entity_id: str) -> int:
    """Tonnes of an entity's applications that are pending or converted (their sum is held to T)."""
    value = connection.execute(
        select(func.coalesce(func.sum(compliance_banking.c.quantity_t), 0)).where(
            compliance_banking.c.entity_id == entity_id, compliance_banking.c.status != "rejected"
        )
    ).scalar_one()
    return int(value)


def converted_by(connection: Connection, entity_id: str) -> int:
    """Tonnes of an entity's converted applications."""
    value = connection.execute(
        select(func.coalesce(func.sum(compliance_banking.c.quantity_t), 0)).where(
            compliance_banking.c.entity_id == entity_id, compliance_banking.c.status == "converted"
        )
    ).scalar_one()
    return int(value)


def applications_of(connection: Connection, entity_id: str | None, limit: int) -> list[Row[Any]]:
    """Banking applications, newest first."""
    query = select(compliance_banking).order_by(compliance_banking.c.applied_at.desc()).limit(limit)
    if entity_id is not None:
        query = query.where(compliance_banking.c.entity_id == entity_id)
    return list(connection.execute(query))
