"""All SQL of verification: bodies and their history, verifiers, verifications, nonconformities,
published evaluations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from carbonmarket.db.tables_review import (
    mrv_body_evaluations,
    mrv_evaluation_publications,
    mrv_nonconformities,
    mrv_verification_bodies,
    mrv_verification_body_events,
    mrv_verifications,
    mrv_verifiers,
)
from carbonmarket.mrv.verification.model import (
    BodyStatus,
    NonconformityStatus,
    VerificationState,
    VerificationStatus,
)


def _locked(connection: Connection, query: Any) -> Any:
    """Lock the selected rows on PostgreSQL; SQLite already holds the database's write lock."""
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


# --- bodies ---------------------------------------------------------------------------------------


def insert_body(connection: Connection, **values: Any) -> None:
    """Record a new applicant body."""
    connection.execute(insert(mrv_verification_bodies).values(**values))


def get_body(connection: Connection, body_id: str, lock: bool = False) -> Row[Any] | None:
    """A body by id."""
    query = select(mrv_verification_bodies).where(mrv_verification_bodies.c.id == body_id)
    return connection.execute(_locked(connection, query) if lock else query).first()


def update_body(connection: Connection, body_id: str, **values: Any) -> None:
    """Change a body's status."""
    connection.execute(
        update(mrv_verification_bodies).where(mrv_verification_bodies.c.id == body_id).values(**values)
    )


def list_bodies(connection: Connection, status: str | None, limit: int) -> list[Row[Any]]:
    """Bodies by id, optionally of one status."""
    query = select(mrv_verification_bodies).order_by(mrv_verification_bodies.c.id).limit(limit)
    if status is not None:
        query = query.where(mrv_verification_bodies.c.status == status)
    return list(connection.execute(query))


def insert_body_event(
    connection: Connection,
    body_id: str,
    from_status: BodyStatus | None,
    to_status: BodyStatus,
    reason: str,
    actor: str,
    at: str,
) -> None:
    """Append one step of a body's qualification history."""
    connection.execute(
        insert(mrv_verification_body_events).values(
            body_id=body_id,
            from_status=None if from_status is None else from_status.value,
            to_status=to_status.value,
            reason=reason,
            actor=actor,
            at=at,
        )
    )


def body_events(connection: Connection, body_id: str) -> list[dict[str, Any]]:
    """A body's qualification history, oldest first."""
    rows = connection.execute(
        select(mrv_verification_body_events)
        .where(mrv_verification_body_events.c.body_id == body_id)
        .order_by(mrv_verification_body_events.c.id)
    )
    return [
        {"from": r.from_status, "to": r.to_status, "reason": r.reason, "actor": r.actor, "at": r.at}
        for r in rows
    ]


# --- verifiers --------------------------------------------------------------------------------------


def body_of_verifier(connection: Connection, username: str) -> str | None:
    """The body a verifier works for."""
    row = connection.execute(
        select(mrv_verifiers.c.body_id).where(mrv_verifiers.c.username == username)
    ).first()
    return None if row is None else str(row.body_id)


def set_verifier(connection: Connection, username: str, body_id: str, by: str, at: str) -> str | None:
    """Attach a verifier to a body (moving them from any earlier one); returns the earlier body."""
    previous = body_of_verifier(connection, username)
    if previous is None:
        connection.execute(
            insert(mrv_verifiers).values(username=username, body_id=body_id, added_by=by, added_at=at)
        )
    else:
        connection.execute(
            update(mrv_verifiers)
            .where(mrv_verifiers.c.username == username)
            .values(body_id=body_id, added_by=by, added_at=at)
        )
    return previous


def verifiers_of(connection: Connection, body_id: str) -> list[str]:
    """The usernames working for a body."""
    rows = connection.execute(
        select(mrv_verifiers.c.username)
        .where(mrv_verifiers.c.body_id == body_id)
        .order_by(mrv_verifiers.c.username)
    )
    return [r.username for r in rows]


# --- verifications ----------------------------------------------------------------------------------


def live_key(entity_id: str, year: int) -> str:
    """The unique key a live verification of an entity-year holds."""
    return f"{entity_id}:{year}"


def insert_verification(connection: Connection, **values: Any) -> None:
    """Record a new assignment."""
    connection.execute(insert(mrv_verifications).values(**values))


def get_verification(connection: Connection, verification_id: str, lock: bool = False) -> Row[Any] | None:
    """A verification by id."""
    query = select(mrv_verifications).where(mrv_verifications.c.id == verification_id)
    return connection.execute(_locked(connection, query) if lock else query).first()


def state_of(row: Row[Any]) -> VerificationState:
    """A verification row as the rules see it."""
    return VerificationState(row.id, VerificationStatus(row.status))


def update_verification(connection: Connection, verification_id: str, **values: Any) -> None:
    """Move a verification to its next state."""
    connection.execute(
        update(mrv_verifications).where(mrv_verifications.c.id == verification_id).values(**values)
    )


def live_verification(connection: Connection, entity_id: str, year: int) -> Row[Any] | None:
    """The live (not cancelled) verification of an entity-year, if any."""
    return connection.execute(
        select(mrv_verifications).where(mrv_verifications.c.live_key == live_key(entity_id, year))
    ).first()


def years_verified_by(
    connection: Connection, body_id: str, entity_id: str, years: Sequence[int]
) -> list[int]:
    """Of `years`, those in which the body verified (or is verifying) the entity."""
    rows = connection.execute(
        select(mrv_verifications.c.year)
        .where(
            mrv_verifications.c.body_id == body_id,
            mrv_verifications.c.entity_id == entity_id,
            mrv_verifications.c.year.in_(list(years)),
            mrv_verifications.c.status != VerificationStatus.CANCELLED.value,
        )
        .distinct()
    )
    return sorted(int(r.year) for r in rows)


def verified_in(connection: Connection, entity_id: str, years: Sequence[int]) -> dict[int, Row[Any]]:
    """The accepted verification of each of `years` that has one."""
    rows = connection.execute(
        select(mrv_verifications).where(
            mrv_verifications.c.entity_id == entity_id,
            mrv_verifications.c.year.in_(list(years)),
            mrv_verifications.c.status == VerificationStatus.VERIFIED.value,
        )
    )
    return {int(r.year): r for r in rows}


def verifications_of(connection: Connection, entity_id: str, year: int) -> list[Row[Any]]:
    """Every verification of an entity-year, cancelled ones included, oldest first."""
    return list(
        connection.execute(
            select(mrv_verifications)
            .where(mrv_verifications.c.entity_id == entity_id, mrv_verifications.c.year == year)
            .order_by(mrv_verifications.c.assigned_at, mrv_verifications.c.id)
        )
    )


def list_verifications(
    connection: Connection,
    *,
    entity_id: str | None,
    year: int | None,
    body_id: str | None,
    status: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Verifications by entity, year, body or status, newest assignment first."""
    query = (
        select(mrv_verifications)
        .order_by(mrv_verifications.c.assigned_at.desc(), mrv_verifications.c.id)
        .limit(limit)
    )
    for column, value in (
        (mrv_verifications.c.entity_id, entity_id),
        (mrv_verifications.c.year, year),
        (mrv_verifications.c.body_id, body_id),
        (mrv_verifications.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    return list(connection.execute(query))


def accepted_of_year(connection: Connection, year: int) -> list[Row[Any]]:
    """Every accepted verification of a reporting year (for the evaluation)."""
    return list(
        connection.execute(
            select(mrv_verifications)
            .where(
                mrv_verifications.c.year == year,
                mrv_verifications.c.status == VerificationStatus.VERIFIED.value,
            )
            .order_by(mrv_verifications.c.body_id, mrv_verifications.c.entity_id)
        )
    )


# --- nonconformities --------------------------------------------------------------------------------


def insert_nonconformity(connection: Connection, **values: Any) -> None:
    """Record a nonconformity found during a verification."""
    connection.execute(insert(mrv_nonconformities).values(**values))


def get_nonconformity(connection: Connection, nonconformity_id: str, lock: bool = False) -> Row[Any] | None:
    """A nonconformity by id."""
    query = select(mrv_nonconformities).where(mrv_nonconformities.c.id == nonconformity_id)
    return connection.execute(_locked(connection, query) if lock else query).first()


def close_nonconformity(
    connection: Connection, nonconformity_id: str, closure: str, by: str, at: str
) -> None:
    """Close a nonconformity with the corrective action on record."""
    connection.execute(
        update(mrv_nonconformities)
        .where(mrv_nonconformities.c.id == nonconformity_id)
        .values(status=NonconformityStatus.CLOSED.value, closure=closure, closed_by=by, closed_at=at)
    )


def nonconformities_of(connection: Connection, verification_ids: Sequence[str]) -> list[Row[Any]]:
    """The nonconformities of some verifications, in the order raised."""
    if not verification_ids:
        return []
    return list(
        connection.execute(
            select(mrv_nonconformities)
            .where(mrv_nonconformities.c.verification_id.in_(list(verification_ids)))
            .order_by(mrv_nonconformities.c.raised_at, mrv_nonconformities.c.id)
        )
    )


def open_nonconformities(connection: Connection, verification_id: str) -> int:
    """How many nonconformities of a verification are still open."""
    total = connection.execute(
        select(func.count()).where(
            mrv_nonconformities.c.verification_id == verification_id,
            mrv_nonconformities.c.status == NonconformityStatus.OPEN.value,
        )
    )
    return int(total.scalar_one())


def nonconformity_counts(connection: Connection, verification_ids: Sequence[str]) -> dict[str, int]:
    """All nonconformities (open or closed) per verification."""
    if not verification_ids:
        return {}
    rows = connection.execute(
        select(mrv_nonconformities.c.verification_id, func.count().label("n"))
        .where(mrv_nonconformities.c.verification_id.in_(list(verification_ids)))
        .group_by(mrv_nonconformities.c.verification_id)
    )
    return {r.verification_id: int(r.n) for r in rows}


# --- evaluations ------------------------------------------------------------------------------------


def get_publication(connection: Connection, year: int) -> Row[Any] | None:
    """A year's evaluation publication, if it was published."""
    return connection.execute(
        select(mrv_evaluation_publications).where(mrv_evaluation_publications.c.year == year)
    ).first()


def insert_publication(
    connection: Connection,
    year: int,
    formula_version: int,
    formula: str,
    by: str,
    at: str,
    rows: list[dict[str, Any]],
) -> None:
    """Publish a year's evaluation: the formula once, then one row per body."""
    connection.execute(
        insert(mrv_evaluation_publications).values(
            year=year, formula_version=formula_version, formula=formula, published_by=by, published_at=at
        )
    )
    if rows:
        connection.execute(insert(mrv_body_evaluations), [{"year": year, **r} for r in rows])


def published_evaluations(connection: Connection, year: int) -> list[Row[Any]]:
    """A published year's rows, best score first (unrated bodies last)."""
    return list(
        connection.execute(
            select(mrv_body_evaluations, mrv_verification_bodies.c.name)
            .join(mrv_verification_bodies, mrv_verification_bodies.c.id == mrv_body_evaluations.c.body_id)
            .where(mrv_body_evaluations.c.year == year)
            .order_by(
                mrv_body_evaluations.c.rated.desc(),
                mrv_body_evaluations.c.score.desc(),
                mrv_body_evaluations.c.body_id,
            )
        )
    )


def published_years(connection: Connection) -> list[int]:
    """Years with a published evaluation, newest first."""
    rows = connection.execute(
        select(mrv_evaluation_publications.c.year).order_by(mrv_evaluation_publications.c.year.desc())
    )
    return [int(r.year) for r in rows]


def verified_of_year(connection: Connection, year: int) -> dict[str, int]:
    """Every entity's accepted verified emissions for a year (whole t CO2e), in one query (allocation)."""
    rows = connection.execute(
        select(mrv_verifications.c.entity_id, mrv_verifications.c.verified_emissions_tco2e).where(
            mrv_verifications.c.year == year,
            mrv_verifications.c.status == VerificationStatus.VERIFIED.value,
            mrv_verifications.c.live_key.is_not(None),
        )
    )
    return {r.entity_id: int(r.verified_emissions_tco2e) for r in rows}
