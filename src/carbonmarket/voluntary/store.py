"""All SQL of the voluntary market. Nothing else writes to the `ccer_` tables.

Where a CCER serial number sits is the registry's to say: the serial search asks
`registry.postings.serial_holder`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update

from carbonmarket.db.tables_voluntary import (
    ccer_api_keys,
    ccer_authorisations,
    ccer_cancellations,
    ccer_comments,
    ccer_events,
    ccer_gec_claims,
    ccer_issuances,
    ccer_meters,
    ccer_methodology_proposals,
    ccer_projects,
    ccer_readings,
    ccer_reports,
    ccer_validations,
    ccer_vvb_accreditations,
    ccer_vvb_staff,
    ccer_vvbs,
)

# --- events --------------------------------------------------------------------------------------


def add_event(
    connection: Connection,
    kind: str,
    subject: str,
    from_status: str | None,
    to_status: str,
    actor: str,
    at: str,
    note: str | None = None,
) -> None:
    """Append one state change to the history."""
    connection.execute(
        insert(ccer_events).values(
            subject_kind=kind,
            subject_id=subject,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            note=note,
            at=at,
        )
    )


def events(connection: Connection, kind: str, subject: str) -> list[Row[Any]]:
    """A subject's history, oldest first."""
    return list(
        connection.execute(
            select(ccer_events)
            .where(ccer_events.c.subject_kind == kind, ccer_events.c.subject_id == subject)
            .order_by(ccer_events.c.id)
        )
    )


# --- VVBs ----------------------------------------------------------------------------------------


def get_vvb(connection: Connection, vvb_id: str) -> Row[Any] | None:
    """One validation/verification body."""
    return connection.execute(select(ccer_vvbs).where(ccer_vvbs.c.id == vvb_id)).first()


def insert_vvb(connection: Connection, vvb_id: str, name: str, at: str) -> None:
    """Register a body."""
    connection.execute(insert(ccer_vvbs).values(id=vvb_id, name=name, created_at=at))


def accreditation(connection: Connection, vvb_id: str, field: str) -> str | None:
    """A body's status in a field, None when never accredited there."""
    row = connection.execute(
        select(ccer_vvb_accreditations.c.status).where(
            ccer_vvb_accreditations.c.vvb_id == vvb_id, ccer_vvb_accreditations.c.field == field
        )
    ).first()
    return None if row is None else str(row.status)


def set_accreditation(
    connection: Connection, vvb_id: str, field: str, status: str, actor: str, at: str
) -> None:
    """Insert or change a body's status in a field."""
    values = {"status": status, "updated_by": actor, "updated_at": at}
    changed = connection.execute(
        update(ccer_vvb_accreditations)
        .where(ccer_vvb_accreditations.c.vvb_id == vvb_id, ccer_vvb_accreditations.c.field == field)
        .values(**values)
    )
    if changed.rowcount == 0:
        connection.execute(insert(ccer_vvb_accreditations).values(vvb_id=vvb_id, field=field, **values))


def vvbs(connection: Connection) -> list[dict[str, Any]]:
    """Every body with its accreditations per field."""
    bodies = connection.execute(select(ccer_vvbs).order_by(ccer_vvbs.c.id)).all()
    rows = connection.execute(select(ccer_vvb_accreditations)).all()
    fields: dict[str, dict[str, str]] = {}
    for row in rows:
        fields.setdefault(row.vvb_id, {})[row.field] = row.status
    return [{"id": b.id, "name": b.name, "fields": fields.get(b.id, {})} for b in bodies]


def staff_body(connection: Connection, username: str) -> str | None:
    """The body a VVB user acts for."""
    row = connection.execute(
        select(ccer_vvb_staff.c.vvb_id).where(ccer_vvb_staff.c.username == username)
    ).first()
    return None if row is None else str(row.vvb_id)


def set_staff(connection: Connection, username: str, vvb_id: str, actor: str, at: str) -> None:
    """Attach a user to a body (replacing an earlier attachment)."""
    connection.execute(ccer_vvb_staff.delete().where(ccer_vvb_staff.c.username == username))
    connection.execute(
        insert(ccer_vvb_staff).values(username=username, vvb_id=vvb_id, added_by=actor, added_at=at)
    )


# --- projects ------------------------------------------------------------------------------------


def get_project(connection: Connection, project_id: str, lock: bool = False) -> Row[Any] | None:
    """One project; `lock` takes its row for the rest of the transaction (PostgreSQL)."""
    query = select(ccer_projects).where(ccer_projects.c.id == project_id)
    if lock:
        query = query.with_for_update()
    return connection.execute(query).first()


def insert_project(connection: Connection, values: dict[str, Any]) -> None:
    """Store a new project."""
    connection.execute(insert(ccer_projects).values(**values))


def update_project(connection: Connection, project_id: str, **values: Any) -> None:
    """Change a project's state fields."""
    connection.execute(update(ccer_projects).where(ccer_projects.c.id == project_id).values(**values))


def projects(
    connection: Connection, statuses: Sequence[str] | None = None, owner: str | None = None, limit: int = 500
) -> list[Row[Any]]:
    """Projects, newest first, optionally of some states or one owner."""
    query = select(ccer_projects).order_by(ccer_projects.c.created_at.desc(), ccer_projects.c.id).limit(limit)
    if statuses:
        query = query.where(ccer_projects.c.status.in_(list(statuses)))
    if owner:
        query = query.where(ccer_projects.c.owner_id == owner)
    return list(connection.execute(query))


def insert_validation(connection: Connection, values: dict[str, Any]) -> None:
    """Store a validation with the dual commitment."""
    connection.execute(insert(ccer_validations).values(**values))


def get_validation(connection: Connection, project_id: str) -> Row[Any] | None:
    """A project's validation."""
    return connection.execute(
        select(ccer_validations).where(ccer_validations.c.project_id == project_id)
    ).first()


# --- reports -------------------------------------------------------------------------------------


def get_report(connection: Connection, report_id: str, lock: bool = False) -> Row[Any] | None:
    """One monitoring report."""
    query = select(ccer_reports).where(ccer_reports.c.id == report_id)
    if lock:
        query = query.with_for_update()
    return connection.execute(query).first()


def insert_report(connection: Connection, values: dict[str, Any]) -> None:
    """Store a monitoring report."""
    connection.execute(insert(ccer_reports).values(**values))


def update_report(connection: Connection, report_id: str, **values: Any) -> None:
    """Change a report's state fields."""
    connection.execute(update(ccer_reports).where(ccer_reports.c.id == report_id).values(**values))


def reports(
    connection: Connection,
    project_id: str | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = 500,
) -> list[Row[Any]]:
    """Reports, oldest period first."""
    query = select(ccer_reports).order_by(ccer_reports.c.period_start, ccer_reports.c.id).limit(limit)
    if project_id:
        query = query.where(ccer_reports.c.project_id == project_id)
    if statuses:
        query = query.where(ccer_reports.c.status.in_(list(statuses)))
    return list(connection.execute(query))


def live_report_periods(connection: Connection, project_id: str) -> list[Row[Any]]:
    """The periods of a project's reports that are not rejected."""
    return list(
        connection.execute(
            select(ccer_reports.c.id, ccer_reports.c.period_start, ccer_reports.c.period_end).where(
                ccer_reports.c.project_id == project_id, ccer_reports.c.status != "rejected"
            )
        )
    )


# --- issuance ------------------------------------------------------------------------------------


def issuance_for_report(connection: Connection, report_id: str) -> Row[Any] | None:
    """The issuance of a report, if any."""
    return connection.execute(select(ccer_issuances).where(ccer_issuances.c.report_id == report_id)).first()


def issued_blocks(connection: Connection, instrument_id: str) -> list[tuple[int, int]]:
    """Every serial block issued for an instrument."""
    rows = connection.execute(
        select(ccer_issuances.c.first_serial, ccer_issuances.c.last_serial).where(
            ccer_issuances.c.instrument_id == instrument_id
        )
    )
    return [(int(r.first_serial), int(r.last_serial)) for r in rows]


def issuance_periods(connection: Connection, instrument_id: str) -> list[Row[Any]]:
    """(project_id, period_start, period_end) of every issuance into an instrument, oldest first."""
    return list(
        connection.execute(
            select(ccer_issuances.c.project_id, ccer_issuances.c.period_start, ccer_issuances.c.period_end)
            .where(ccer_issuances.c.instrument_id == instrument_id)
            .order_by(ccer_issuances.c.period_start)
        )
    )


def insert_issuance(connection: Connection, values: dict[str, Any]) -> None:
    """Record an issuance."""
    connection.execute(insert(ccer_issuances).values(**values))


def issuances(connection: Connection, project_id: str | None = None, limit: int = 500) -> list[Row[Any]]:
    """Issuances, newest first."""
    query = select(ccer_issuances).order_by(ccer_issuances.c.at.desc(), ccer_issuances.c.id).limit(limit)
    if project_id:
        query = query.where(ccer_issuances.c.project_id == project_id)
    return list(connection.execute(query))


def issuance_of_serial(connection: Connection, instrument_id: str, serial: int) -> Row[Any] | None:
    """The issuance whose block holds a serial number."""
    return connection.execute(
        select(ccer_issuances).where(
            ccer_issuances.c.instrument_id == instrument_id,
            ccer_issuances.c.first_serial <= serial,
            ccer_issuances.c.last_serial >= serial,
        )
    ).first()


# --- cancellations -------------------------------------------------------------------------------


def insert_cancellation(connection: Connection, values: dict[str, Any]) -> None:
    """Record a voluntary or international cancellation."""
    connection.execute(insert(ccer_cancellations).values(**values))


def cancellations(connection: Connection, limit: int = 500) -> list[Row[Any]]:
    """Cancellations, newest first."""
    return list(
        connection.execute(
            select(ccer_cancellations)
            .order_by(ccer_cancellations.c.at.desc(), ccer_cancellations.c.id)
            .limit(limit)
        )
    )


def cancellation_of_serial(connection: Connection, instrument_id: str, serial: int) -> Row[Any] | None:
    """The cancellation whose serial ranges include a serial number."""
    rows = connection.execute(
        select(ccer_cancellations).where(ccer_cancellations.c.instrument_id == instrument_id)
    )
    for row in rows:
        if any(first <= serial <= last for first, last in json.loads(row.serials)):
            return row
    return None


def get_certificate(connection: Connection, certificate_id: str) -> Row[Any] | None:
    """A cancellation by its public certificate id."""
    return connection.execute(
        select(ccer_cancellations).where(ccer_cancellations.c.certificate_id == certificate_id)
    ).first()


def insert_authorisation(connection: Connection, values: dict[str, Any]) -> None:
    """Record an Article 6 authorisation."""
    connection.execute(insert(ccer_authorisations).values(**values))


def get_authorisation(connection: Connection, authorisation_id: str) -> Row[Any] | None:
    """One Article 6 authorisation."""
    return connection.execute(
        select(ccer_authorisations).where(ccer_authorisations.c.id == authorisation_id)
    ).first()


# --- GEC claims ----------------------------------------------------------------------------------


def insert_gec_claim(connection: Connection, values: dict[str, Any]) -> None:
    """Record a green electricity certificate claim."""
    connection.execute(insert(ccer_gec_claims).values(**values))


def gec_claims(connection: Connection, project_id: str) -> list[Row[Any]]:
    """A project's GEC claims, oldest first."""
    return list(
        connection.execute(
            select(ccer_gec_claims)
            .where(ccer_gec_claims.c.project_id == project_id)
            .order_by(ccer_gec_claims.c.period_start)
        )
    )


# --- comments ------------------------------------------------------------------------------------


def add_comment(connection: Connection, kind: str, subject: str, author: str, body: str, at: str) -> int:
    """Store a public comment; returns its id."""
    result = connection.execute(
        insert(ccer_comments).values(subject_kind=kind, subject_id=subject, author=author, body=body, at=at)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def comments(connection: Connection, kind: str, subject: str) -> list[Row[Any]]:
    """The comments on a subject, oldest first."""
    return list(
        connection.execute(
            select(ccer_comments)
            .where(ccer_comments.c.subject_kind == kind, ccer_comments.c.subject_id == subject)
            .order_by(ccer_comments.c.id)
        )
    )


# --- methodology proposals -----------------------------------------------------------------------


def get_proposal(connection: Connection, proposal_id: str) -> Row[Any] | None:
    """One methodology proposal."""
    return connection.execute(
        select(ccer_methodology_proposals).where(ccer_methodology_proposals.c.id == proposal_id)
    ).first()


def proposal_with_code(connection: Connection, code: str) -> Row[Any] | None:
    """A live (not rejected) proposal using a methodology code."""
    return connection.execute(
        select(ccer_methodology_proposals).where(
            ccer_methodology_proposals.c.code == code, ccer_methodology_proposals.c.status != "rejected"
        )
    ).first()


def insert_proposal(connection: Connection, values: dict[str, Any]) -> None:
    """Store a proposal."""
    connection.execute(insert(ccer_methodology_proposals).values(**values))


def update_proposal(connection: Connection, proposal_id: str, **values: Any) -> None:
    """Change a proposal's state fields."""
    connection.execute(
        update(ccer_methodology_proposals)
        .where(ccer_methodology_proposals.c.id == proposal_id)
        .values(**values)
    )


def proposals(connection: Connection, limit: int = 500) -> list[Row[Any]]:
    """Proposals, newest first."""
    return list(
        connection.execute(
            select(ccer_methodology_proposals)
            .order_by(ccer_methodology_proposals.c.submitted_at.desc())
            .limit(limit)
        )
    )


# --- API keys and readings -----------------------------------------------------------------------


def insert_api_key(connection: Connection, values: dict[str, Any]) -> None:
    """Store a key's hash."""
    connection.execute(insert(ccer_api_keys).values(**values))


def api_key_by_hash(connection: Connection, key_sha256: str) -> Row[Any] | None:
    """The key with that hash."""
    return connection.execute(select(ccer_api_keys).where(ccer_api_keys.c.key_sha256 == key_sha256)).first()


def get_api_key(connection: Connection, key_id: str) -> Row[Any] | None:
    """One key by id."""
    return connection.execute(select(ccer_api_keys).where(ccer_api_keys.c.id == key_id)).first()


def revoke_api_key(connection: Connection, key_id: str, at: str) -> None:
    """Mark a key revoked."""
    connection.execute(update(ccer_api_keys).where(ccer_api_keys.c.id == key_id).values(revoked_at=at))


def live_api_keys(connection: Connection, project_id: str) -> list[Row[Any]]:
    """A project's keys that are not revoked (never the hash)."""
    return list(
        connection.execute(
            select(ccer_api_keys.c.id, ccer_api_keys.c.label, ccer_api_keys.c.created_at).where(
                ccer_api_keys.c.project_id == project_id, ccer_api_keys.c.revoked_at.is_(None)
            )
        )
    )


def lock_meters(connection: Connection, project_id: str, meters: Iterable[str]) -> dict[str, tuple[str, int]]:
    """The newest timestamp and count per meter, locked for this batch (concurrent uploads queue)."""
    names = sorted(set(meters))
    rows = connection.execute(
        select(ccer_meters)
        .where(ccer_meters.c.project_id == project_id, ccer_meters.c.meter.in_(names))
        .order_by(ccer_meters.c.meter)
        .with_for_update()
    )
    return {row.meter: (row.last_ts, int(row.readings)) for row in rows}


def save_meters(
    connection: Connection, project_id: str, changed: dict[str, tuple[str, int]], known: set[str]
) -> None:
    """Write the newest timestamp and count of the meters a batch touched."""
    for meter, (last_ts, count) in changed.items():
        if meter in known:
            connection.execute(
                update(ccer_meters)
                .where(ccer_meters.c.project_id == project_id, ccer_meters.c.meter == meter)
                .values(last_ts=last_ts, readings=count)
            )
        else:
            connection.execute(
                insert(ccer_meters).values(
                    project_id=project_id, meter=meter, last_ts=last_ts, readings=count
                )
            )


def existing_readings(
    connection: Connection, project_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Stored values of (meter, timestamp) pairs already received, to tell duplicates from conflicts."""
    if not keys:
        return {}
    conditions = [and_(ccer_readings.c.meter == meter, ccer_readings.c.ts == ts) for meter, ts in keys]
    found: dict[tuple[str, str], int] = {}
    # Chunks keep the statement small; a batch is at most readings_per_batch_max readings.
    for start in range(0, len(conditions), 500):
        rows = connection.execute(
            select(ccer_readings.c.meter, ccer_readings.c.ts, ccer_readings.c.value_micro).where(
                ccer_readings.c.project_id == project_id, or_(*conditions[start : start + 500])
            )
        )
        found.update({(r.meter, r.ts): int(r.value_micro) for r in rows})
    return found


def insert_readings(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Store accepted readings in one statement."""
    if rows:
        connection.execute(insert(ccer_readings), rows)


def aggregate_readings(
    connection: Connection, project_id: str, meter: str, start_ts: str, end_ts: str
) -> tuple[int, int, str | None, str | None]:
    """Sum (millionths), count, first and last timestamp of a meter's readings in [start_ts, end_ts)."""
    row = connection.execute(
        select(
            func.coalesce(func.sum(ccer_readings.c.value_micro), 0),
            func.count(),
            func.min(ccer_readings.c.ts),
            func.max(ccer_readings.c.ts),
        ).where(
            ccer_readings.c.project_id == project_id,
            ccer_readings.c.meter == meter,
            ccer_readings.c.ts >= start_ts,
            ccer_readings.c.ts < end_ts,
        )
    ).one()
    return int(row[0]), int(row[1]), row[2], row[3]


def meters(connection: Connection, project_id: str) -> list[Row[Any]]:
    """A project's meters with their newest reading and count."""
    return list(connection.execute(select(ccer_meters).where(ccer_meters.c.project_id == project_id)))
