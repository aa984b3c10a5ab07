"""rules: the validation model's alerts (mrv_alerts)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrv_alerts",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("parameter", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("month >= 1 AND month <= 12", name=op.f("ck_mrv_alerts_month_in_year")),
        sa.CheckConstraint(
            "severity IN ('error', 'warning', 'info')", name=op.f("ck_mrv_alerts_severity_known")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'confirmed', 'explained', 'false_alert', 'corrected')",
            name=op.f("ck_mrv_alerts_status_known"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_mrv_alerts")),
        sa.UniqueConstraint("id", name=op.f("uq_mrv_alerts_id")),
    )
    op.create_index("ix_mrv_alerts_entity_year", "mrv_alerts", ["entity_id", "year"], unique=False)
    op.create_index("ix_mrv_alerts_record", "mrv_alerts", ["record_id"], unique=False)
    op.create_index("ix_mrv_alerts_status_seq", "mrv_alerts", ["status", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mrv_alerts_status_seq", table_name="mrv_alerts")
    op.drop_index("ix_mrv_alerts_record", table_name="mrv_alerts")
    op.drop_index("ix_mrv_alerts_entity_year", table_name="mrv_alerts")
    op.drop_table("mrv_alerts")
