"""Tables of the validation model (issue 3; migration 0004_rules): the alerts its rules raise.

An alert is one rule's finding on one version of one monthly record. Its id is derived —
`<record_id>/<rule_id>` — so saving the findings of a record twice stores them once. The review
tiers (`mrv/review/`) read the queue and move an alert's status through `mrv/rules/store.py`.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Table, Text

from carbonmarket.db.tables import BigId, metadata

mrv_alerts = Table(
    "mrv_alerts",
    metadata,
    # `seq` orders the queue (oldest first) and pages it; `id` is the stable name others keep.
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(120), nullable=False, unique=True),
    Column("record_id", String(100), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("facility_id", String(64)),
    Column("year", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("rule_id", String(16), nullable=False),
    Column("category", String(24), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("parameter", String(64)),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint(
        "status IN ('open', 'in_review', 'confirmed', 'explained', 'false_alert', 'corrected')",
        name="status_known",
    ),
    CheckConstraint("severity IN ('error', 'warning', 'info')", name="severity_known"),
    CheckConstraint("month >= 1 AND month <= 12", name="month_in_year"),
    Index("ix_mrv_alerts_status_seq", "status", "seq"),
    Index("ix_mrv_alerts_entity_year", "entity_id", "year"),
    Index("ix_mrv_alerts_record", "record_id"),
)
