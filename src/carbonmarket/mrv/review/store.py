"""All SQL of review: reviewers' scopes, cases, the alerts they cover, threads and attachments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from carbonmarket.db.tables_review import (
    mrv_review_attachments,
    mrv_review_case_alerts,
    mrv_review_cases,
    mrv_review_messages,
    mrv_reviewers,
)
from carbonmarket.mrv.review.model import Attachment, CaseState, CaseStatus, Scope, Tier

# --- reviewers ------------------------------------------------------------------------------------


def get_reviewer(connection: Connection, username: str) -> Scope | None:
    """A user's review scope, or None when no tier was assigned to them."""
    row = connection.execute(select(mrv_reviewers).where(mrv_reviewers.c.username == username)).first()
    return None if row is None else Scope(Tier(row.tier), row.province, row.city)


def set_reviewer(connection: Connection, username: str, scope: Scope, by: str, at: str) -> Scope | None:
    """Give a user a review scope, replacing any earlier one; returns the earlier one."""
    previous = get_reviewer(connection, username)
    values = {
        "tier": scope.tier.value,
        "province": scope.province,
        "city": scope.city,
        "assigned_by": by,
        "assigned_at": at,
    }
    if previous is None:
        connection.execute(insert(mrv_reviewers).values(username=username, **values))
    else:
        connection.execute(update(mrv_reviewers).where(mrv_reviewers.c.username == username).values(**values))
    return previous


def list_reviewers(connection: Connection, limit: int) -> list[Row[Any]]:
    """Every reviewer with their scope, by tier and name."""
    return list(
        connection.execute(
            select(mrv_reviewers).order_by(mrv_reviewers.c.tier, mrv_reviewers.c.username).limit(limit)
        )
    )


# --- cases ----------------------------------------------------------------------------------------


def insert_case(connection: Connection, **values: Any) -> None:
    """Record a new case."""
    connection.execute(insert(mrv_review_cases).values(**values))


def get_case(connection: Connection, case_id: str, lock: bool = False) -> Row[Any] | None:
    """A case row; locked for a transition on PostgreSQL (SQLite's write lock is already held)."""
    query = select(mrv_review_cases).where(mrv_review_cases.c.id == case_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def state_of(row: Row[Any]) -> CaseState:
    """A case row as the rules see it."""
    return CaseState(row.id, Tier(row.tier), CaseStatus(row.status), row.province, row.city)


def update_case(connection: Connection, case_id: str, **values: Any) -> None:
    """Move a case to its next state."""
    connection.execute(update(mrv_review_cases).where(mrv_review_cases.c.id == case_id).values(**values))


def queue(
    connection: Connection, scope: Scope | None, statuses: Sequence[CaseStatus], limit: int
) -> list[Row[Any]]:
    """Cases at a scope's tier and within its region (every case for None), oldest first."""
    query = (
        select(mrv_review_cases)
        .where(mrv_review_cases.c.status.in_([s.value for s in statuses]))
        .order_by(mrv_review_cases.c.opened_at, mrv_review_cases.c.id)
        .limit(limit)
    )
    if scope is not None:
        query = query.where(mrv_review_cases.c.tier == scope.tier.value)
        if scope.province is not None:
            query = query.where(mrv_review_cases.c.province == scope.province)
        if scope.city is not None:
            query = query.where(mrv_review_cases.c.city == scope.city)
    return list(connection.execute(query))


def cases_of(connection: Connection, entity_id: str, year: int) -> list[Row[Any]]:
    """Every case about one entity's year, oldest first."""
    return list(
        connection.execute(
            select(mrv_review_cases)
            .where(mrv_review_cases.c.entity_id == entity_id, mrv_review_cases.c.year == year)
            .order_by(mrv_review_cases.c.opened_at, mrv_review_cases.c.id)
        )
    )


def confirmed_errors(
    connection: Connection, entity_ids: Sequence[str], years: Sequence[int], after: str | None = None
) -> dict[tuple[str, int], int]:
    """Cases resolved as confirmed errors per (entity, year), optionally only those resolved after a time."""
    if not entity_ids or not years:
        return {}
    query = (
        select(mrv_review_cases.c.entity_id, mrv_review_cases.c.year, func.count().label("n"))
        .where(
            mrv_review_cases.c.entity_id.in_(list(entity_ids)),
            mrv_review_cases.c.year.in_(list(years)),
            mrv_review_cases.c.outcome == "confirmed_error",
        )
        .group_by(mrv_review_cases.c.entity_id, mrv_review_cases.c.year)
    )
    if after is not None:
        query = query.where(mrv_review_cases.c.resolved_at > after)
    return {(r.entity_id, r.year): int(r.n) for r in connection.execute(query)}


def confirmed_errors_resolved(connection: Connection, entity_id: str, year: int) -> list[str]:
    """Resolution times of the confirmed errors of one entity-year (to compare with acceptance times)."""
    rows = connection.execute(
        select(mrv_review_cases.c.resolved_at).where(
            mrv_review_cases.c.entity_id == entity_id,
            mrv_review_cases.c.year == year,
            mrv_review_cases.c.outcome == "confirmed_error",
        )
    )
    return [r.resolved_at for r in rows]


# --- alerts covered by cases ---------------------------------------------------------------------


def link_alerts(connection: Connection, case_id: str, alert_ids: Sequence[str]) -> None:
    """Record the alerts a case covers."""
    if alert_ids:
        connection.execute(
            insert(mrv_review_case_alerts), [{"alert_id": a, "case_id": case_id} for a in alert_ids]
        )


def cases_of_alerts(connection: Connection, alert_ids: Sequence[str]) -> dict[str, str]:
    """The case of each alert that already has one."""
    if not alert_ids:
        return {}
    rows = connection.execute(
        select(mrv_review_case_alerts).where(mrv_review_case_alerts.c.alert_id.in_(list(alert_ids)))
    )
    return {r.alert_id: r.case_id for r in rows}


def alerts_of(connection: Connection, case_ids: Sequence[str]) -> dict[str, list[str]]:
    """The alerts of each case."""
    found: dict[str, list[str]] = {c: [] for c in case_ids}
    if not case_ids:
        return found
    rows = connection.execute(
        select(mrv_review_case_alerts)
        .where(mrv_review_case_alerts.c.case_id.in_(list(case_ids)))
        .order_by(mrv_review_case_alerts.c.alert_id)
    )
    for r in rows:
        found[r.case_id].append(r.alert_id)
    return found


# --- the thread -----------------------------------------------------------------------------------


def append_message(
    connection: Connection,
    case_id: str,
    kind: str,
    author: str,
    tier: Tier,
    body: str,
    at: str,
    attachments: Sequence[Attachment] = (),
) -> int:
    """Add a line to a case's thread, with its attachments; returns the message id."""
    result = connection.execute(
        insert(mrv_review_messages)
        .values(case_id=case_id, kind=kind, author=author, tier=tier.value, body=body, at=at)
        .returning(mrv_review_messages.c.id)
    )
    message_id = int(result.scalar_one())
    if attachments:
        connection.execute(
            insert(mrv_review_attachments),
            [
                {"message_id": message_id, "case_id": case_id, "name": a.name, "sha256": a.sha256}
                for a in attachments
            ],
        )
    return message_id


def thread(connection: Connection, case_id: str) -> list[dict[str, Any]]:
    """A case's thread in order, each message with its attachments."""
    messages = list(
        connection.execute(
            select(mrv_review_messages)
            .where(mrv_review_messages.c.case_id == case_id)
            .order_by(mrv_review_messages.c.id)
        )
    )
    attached: dict[int, list[dict[str, str]]] = {}
    for a in connection.execute(
        select(mrv_review_attachments)
        .where(mrv_review_attachments.c.case_id == case_id)
        .order_by(mrv_review_attachments.c.id)
    ):
        attached.setdefault(a.message_id, []).append({"name": a.name, "sha256": a.sha256})
    return [
        {
            "id": m.id,
            "kind": m.kind,
            "author": m.author,
            "tier": m.tier,
            "body": m.body,
            "at": m.at,
            "attachments": attached.get(m.id, []),
        }
        for m in messages
    ]


def cases_citing(connection: Connection, sha256: str, limit: int) -> list[str]:
    """Cases whose threads carry a file with this hash (to follow a piece of evidence)."""
    rows = connection.execute(
        select(mrv_review_attachments.c.case_id)
        .where(mrv_review_attachments.c.sha256 == sha256)
        .distinct()
        .order_by(mrv_review_attachments.c.case_id)
        .limit(limit)
    )
    return [r.case_id for r in rows]


def open_case_count(connection: Connection, entity_id: str, year: int) -> int:
    """Cases of an entity-year not yet closed."""
    total = connection.execute(
        select(func.count()).where(
            mrv_review_cases.c.entity_id == entity_id,
            mrv_review_cases.c.year == year,
            mrv_review_cases.c.status != CaseStatus.CLOSED.value,
        )
    )
    return int(total.scalar_one())
