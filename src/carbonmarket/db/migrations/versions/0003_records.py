"""records: MRV monthly records (versioned), their values, monitoring plans

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

A branch of 0001 like every MRV part's revision (docs/mrv-contract.md); the lead's merge revision
joins the heads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrv_monitoring_plans",
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("sector", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from_year", sa.Integer(), nullable=False),
        sa.Column("valid_from_month", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "valid_from_month >= 1 AND valid_from_month <= 12",
            name=op.f("ck_mrv_monitoring_plans_month_in_year"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_mrv_monitoring_plans_version_positive")),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_mrv_monitoring_plans")),
        sa.UniqueConstraint("facility_id", "version", name="uq_mrv_monitoring_plans_facility_version"),
    )
    op.create_table(
        "mrv_records",
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("sector", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "(version = 1 AND supersedes IS NULL AND reason IS NULL) OR "
            "(version > 1 AND supersedes IS NOT NULL AND reason IS NOT NULL)",
            name=op.f("ck_mrv_records_correction_names_reason"),
        ),
        sa.CheckConstraint("month >= 1 AND month <= 12", name=op.f("ck_mrv_records_month_in_year")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_mrv_records_version_positive")),
        sa.ForeignKeyConstraint(
            ["supersedes"], ["mrv_records.record_id"], name=op.f("fk_mrv_records_supersedes_mrv_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_mrv_records")),
        sa.UniqueConstraint(
            "facility_id", "year", "month", "version", name="uq_mrv_records_facility_month_version"
        ),
    )
    with op.batch_alter_table("mrv_records", schema=None) as batch_op:
        batch_op.create_index("ix_mrv_records_entity_year", ["entity_id", "year"], unique=False)

    op.create_table(
        "mrv_record_values",
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("parameter", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["mrv_records.record_id"], name=op.f("fk_mrv_record_values_record_id_mrv_records")
        ),
        sa.PrimaryKeyConstraint("record_id", "parameter", name=op.f("pk_mrv_record_values")),
    )


def downgrade() -> None:
    op.drop_table("mrv_record_values")
    with op.batch_alter_table("mrv_records", schema=None) as batch_op:
        batch_op.drop_index("ix_mrv_records_entity_year")
    op.drop_table("mrv_records")
    op.drop_table("mrv_monitoring_plans")
