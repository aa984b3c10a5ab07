"""All SQL of the validation model: the alerts its findings become, the review queue's input.

Every function works on the caller's connection, inside the caller's transaction (rule 8): the
records part saves a submission's alerts in the same transaction as the record, and the review
part moves their status in the same transaction as its case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.results import Code, Refused
from carbonmarket.db.tables_rules import mrv_alerts
from carbonmarket.mrv.model import Finding, Severity
from carbonmarket.mrv.rules.model import AlertStatus

page_size_max = 1000
message_length_max = 2000


def alert_id(record_id: str, rule_id: str) -> str:
    """The derived id of a rule's alert on a record: saving the same findings twice stores them once."""
    return f"{record_id}/{rule_id}"


def save_alerts(
    connection: Connection,
    record_id: str,
    entity_id: str,
    year: int,
    month: int,
    findings: Sequence[Finding],
    *,
    facility_id: str | None = None,
    clock: Clock | None = None,
) -> list[str]:
    """Store each finding as an open alert of the record (the review queue's input); return their ids."""
    if not findings:
        return []
    at = (clock or SystemClock()).now().isoformat(timespec="microseconds")
    ids = [alert_id(record_id, f.rule_id) for f in findings]
    # Skip alerts already stored, and a rule a caller repeats within one record's findings.
    seen = set(connection.execute(select(mrv_alerts.c.id).where(mrv_alerts.c.id.in_(ids))).scalars())
    rows: list[dict[str, Any]] = []
    for new_id, finding in zip(ids, findings, strict=True):
        if new_id in seen:
            continue
        seen.add(new_id)
        rows.append(
            {
                "id": new_id,
                "record_id": record_id,
                "entity_id": entity_id,
                "facility_id": facility_id,
                "year": year,
                "month": month,
                "rule_id": finding.rule_id,
                "category": finding.category.value,
                "severity": finding.severity.value,
                "parameter": finding.parameter,
                "message": finding.message[:message_length_max],
                "status": AlertStatus.OPEN.value,
                "created_at": at,
                "updated_at": at,
            }
        )
    if rows:
        connection.execute(insert(mrv_alerts), rows)
    return list(dict.fromkeys(ids))


def open_alerts(
    connection: Connection,
    *,
    limit: int = 100,
    after_seq: int = 0,
    entity_id: str | None = None,
    severity: Severity | str | None = None,
    status: AlertStatus | str = AlertStatus.OPEN,
) -> list[Row[Any]]:
    """One page of the queue, oldest first: alerts in `status` (open by default) after `after_seq`.

    Page on by passing the last row's `seq` as `after_seq`.
    """
    query = (
        select(mrv_alerts)
        .where(mrv_alerts.c.status == _status(status).value, mrv_alerts.c.seq > after_seq)
        .order_by(mrv_alerts.c.seq)
        .limit(max(1, min(limit, page_size_max)))
    )
    if entity_id is not None:
        query = query.where(mrv_alerts.c.entity_id == entity_id)
    if severity is not None:
        query = query.where(mrv_alerts.c.severity == Severity(severity).value)
    return list(connection.execute(query))


def get_alerts(connection: Connection, alert_ids: Sequence[str]) -> list[Row[Any]]:
    """The alerts that exist among `alert_ids`, in queue order."""
    if not alert_ids:
        return []
    query = select(mrv_alerts).where(mrv_alerts.c.id.in_(list(alert_ids))).order_by(mrv_alerts.c.seq)
    return list(connection.execute(query))


def alerts_of(connection: Connection, entity_id: str, year: int) -> list[Row[Any]]:
    """Every alert of one entity's reporting year, whatever its status, in queue order."""
    query = (
        select(mrv_alerts)
        .where(mrv_alerts.c.entity_id == entity_id, mrv_alerts.c.year == year)
        .order_by(mrv_alerts.c.seq)
    )
    return list(connection.execute(query))


def alerts_of_record(connection: Connection, record_id: str) -> list[Row[Any]]:
    """The alerts raised on one version of one record (for parameter tracing)."""
    query = select(mrv_alerts).where(mrv_alerts.c.record_id == record_id).order_by(mrv_alerts.c.seq)
    return list(connection.execute(query))


def set_alert_status(
    connection: Connection, alert_id: str, status: AlertStatus | str, *, clock: Clock | None = None
) -> None:
    """Move an alert to a status (the review decides which moves are allowed); refusals raise."""
    parsed = _status(status)
    at = (clock or SystemClock()).now().isoformat(timespec="microseconds")
    result = connection.execute(
        update(mrv_alerts).where(mrv_alerts.c.id == alert_id).values(status=parsed.value, updated_at=at)
    )
    if result.rowcount == 0:
        raise Refused(Code.ALERT_NOT_FOUND, f"there is no alert {alert_id!r}", alert_id=alert_id)


def _status(value: AlertStatus | str) -> AlertStatus:
    """Read a status word, refusing unknown ones."""
    try:
        return AlertStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in AlertStatus)
        raise Refused(Code.INVALID_ALERT_STATUS, f"alert status {value!r} is not one of: {allowed}") from None
