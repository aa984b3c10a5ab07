"""Tables of MRV monthly records and monitoring plans (issue 3; migration 0003_records).

Rows are never updated or deleted: a correction is a new version that names the one it supersedes,
with its reason (CHECK constraints refuse a correction without them). Values are stored as exact
decimal text in a long table (one row per parameter), so bulk validation and analytics read them
with plain SQL and nothing is lost to floating point on either database.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from carbonmarket.db.tables import metadata

# One version of one facility's month. `record_id` reads as <facility>/<yyyy>-<mm>/v<n>.
mrv_records = Table(
    "mrv_records",
    metadata,
    Column("record_id", String(100), primary_key=True),
    Column("entity_id", String(64), nullable=False),
    Column("facility_id", String(64), nullable=False),
    Column("sector", String(20), nullable=False),
    Column("year", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("supersedes", String(100), ForeignKey("mrv_records.record_id")),
    Column("reason", Text),
    # Evidence references as canonical JSON: {"file_sha256": ..., "lab_report_id": ...}.
    Column("evidence", Text, nullable=False),
    Column("command_id", String(64), nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("month >= 1 AND month <= 12", name="month_in_year"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint(
        "(version = 1 AND supersedes IS NULL AND reason IS NULL) OR "
        "(version > 1 AND supersedes IS NOT NULL AND reason IS NOT NULL)",
        name="correction_names_reason",
    ),
    UniqueConstraint("facility_id", "year", "month", "version", name="uq_mrv_records_facility_month_version"),
    Index("ix_mrv_records_entity_year", "entity_id", "year"),
)

mrv_record_values = Table(
    "mrv_record_values",
    metadata,
    Column("record_id", String(100), ForeignKey("mrv_records.record_id"), primary_key=True),
    Column("parameter", String(64), primary_key=True),
    # Exact decimal text ("1234.5"): the same on SQLite and PostgreSQL, read back as Decimal.
    Column("value", String(48), nullable=False),
)

# One version of one facility's monitoring plan (which parameters are measured, by which lab and meters).
mrv_monitoring_plans = Table(
    "mrv_monitoring_plans",
    metadata,
    Column("plan_id", String(100), primary_key=True),
    Column("entity_id", String(64), nullable=False),
    Column("facility_id", String(64), nullable=False),
    Column("sector", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("valid_from_year", Integer, nullable=False),
    Column("valid_from_month", Integer, nullable=False),
    # {"<parameter>": {"method": "measured", "lab": ..., "meter_ids": [...], "note": ...}} as canonical JSON.
    Column("parameters", Text, nullable=False),
    Column("reason", Text),
    Column("command_id", String(64), nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("valid_from_month >= 1 AND valid_from_month <= 12", name="month_in_year"),
    UniqueConstraint("facility_id", "version", name="uq_mrv_monitoring_plans_facility_version"),
)
