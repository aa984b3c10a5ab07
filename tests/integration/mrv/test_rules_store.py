"""Alerts on SQLite and PostgreSQL: saved in the caller's transaction, paged as a queue, moved by status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Refused
from carbonmarket.db.tables_rules import mrv_alerts
from carbonmarket.mrv.model import Finding, RuleCategory, Severity
from carbonmarket.mrv.rules import store
from carbonmarket.mrv.rules.model import AlertStatus

CLOCK = FixedClock(datetime(2025, 2, 10, 9, 0, tzinfo=UTC))


def finding(rule_id: str, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(rule_id, RuleCategory.THRESHOLD, severity, "coal_consumed_t", f"{rule_id} fired")


def save(engine: Engine, record_id: str, entity_id: str, month: int, *rules: str) -> list[str]:
    with engine.begin() as connection:
        return store.save_alerts(
            connection,
            record_id,
            entity_id,
            2024,
            month,
            [finding(r) for r in rules],
            facility_id="U1",
            clock=CLOCK,
        )


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(mrv_alerts)).scalar_one())


def test_findings_become_open_alerts_with_derived_ids(engine: Engine) -> None:
    ids = save(engine, "U1/2024-03/v1", "E1", 3, "PWR-THR-002", "PWR-EXT-014")
    assert ids == ["U1/2024-03/v1/PWR-THR-002", "U1/2024-03/v1/PWR-EXT-014"]
    with engine.connect() as connection:
        rows = store.open_alerts(connection)
    assert [(r.id, r.status, r.severity, r.parameter, r.facility_id) for r in rows] == [
        (ids[0], "open", "warning", "coal_consumed_t", "U1"),
        (ids[1], "open", "warning", "coal_consumed_t", "U1"),
    ]
    assert rows[0].created_at == "2025-02-10T09:00:00.000000+00:00"


def test_saving_the_same_findings_again_stores_them_once(engine: Engine) -> None:
    save(engine, "U1/2024-03/v1", "E1", 3, "PWR-THR-002")
    save(engine, "U1/2024-03/v1", "E1", 3, "PWR-THR-002", "PWR-THR-002")
    assert count(engine) == 1


def test_alerts_roll_back_with_the_callers_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        store.save_alerts(connection, "U1/2024-03/v1", "E1", 2024, 3, [finding("PWR-THR-002")])
        raise RuntimeError("the submission failed after the alerts were written")
    assert count(engine) == 0


def test_the_queue_pages_oldest_first_and_filters(engine: Engine) -> None:
    for month in range(1, 8):
        save(engine, f"U1/2024-{month:02d}/v1", "E1" if month % 2 else "E2", month, "PWR-THR-002")
    with engine.connect() as connection:
        first = store.open_alerts(connection, limit=3)
        second = store.open_alerts(connection, limit=3, after_seq=first[-1].seq)
        of_e2 = store.open_alerts(connection, entity_id="E2")
        errors = store.open_alerts(connection, severity=Severity.ERROR)
    assert [r.month for r in first] == [1, 2, 3] and [r.month for r in second] == [4, 5, 6]
    assert [r.month for r in of_e2] == [2, 4, 6]
    assert errors == []


def test_a_status_change_takes_an_alert_out_of_the_open_queue(engine: Engine) -> None:
    (alert,) = save(engine, "U1/2024-03/v1", "E1", 3, "PWR-THR-002")
    with engine.begin() as connection:
        store.set_alert_status(connection, alert, AlertStatus.IN_REVIEW, clock=CLOCK)
    with engine.connect() as connection:
        assert store.open_alerts(connection) == []
        (row,) = store.open_alerts(connection, status="in_review")
        assert row.id == alert
        assert [r.id for r in store.get_alerts(connection, [alert, "nope"])] == [alert]
        assert [r.id for r in store.alerts_of(connection, "E1", 2024)] == [alert]
        assert [r.id for r in store.alerts_of_record(connection, "U1/2024-03/v1")] == [alert]


def test_unknown_alerts_and_statuses_are_refused(engine: Engine) -> None:
    (alert,) = save(engine, "U1/2024-03/v1", "E1", 3, "PWR-THR-002")
    with engine.begin() as connection:
        with pytest.raises(Refused) as unknown:
            store.set_alert_status(connection, "no-such-alert", "confirmed")
        with pytest.raises(Refused) as invalid:
            store.set_alert_status(connection, alert, "shrugged")
    assert unknown.value.refusal.code is Code.ALERT_NOT_FOUND
    assert invalid.value.refusal.code is Code.INVALID_ALERT_STATUS
