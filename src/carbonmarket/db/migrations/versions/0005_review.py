"""review: three-tier review cases and threads; verification bodies, verifications, evaluations

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000

Tables of `carbonmarket.db.tables_review` (issue 3). A sibling of the other MRV parts' revisions
(0002-0004), each off 0001; `alembic upgrade heads` applies them all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrv_evaluation_publications",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("formula_version", sa.Integer(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_mrv_evaluation_publications")),
    )
    op.create_table(
        "mrv_review_cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('confirmed_error', 'explained', 'false_alert')",
            name=op.f("ck_mrv_review_cases_outcome_known"),
        ),
        sa.CheckConstraint("source IN ('alert', 'manual')", name=op.f("ck_mrv_review_cases_source_known")),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'correction_required', 'closed')",
            name=op.f("ck_mrv_review_cases_status_known"),
        ),
        sa.CheckConstraint(
            "tier IN ('national', 'provincial', 'municipal')", name=op.f("ck_mrv_review_cases_tier_known")
        ),
        sa.CheckConstraint(
            "month IS NULL OR (month >= 1 AND month <= 12)", name=op.f("ck_mrv_review_cases_month_in_year")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_review_cases")),
    )
    with op.batch_alter_table("mrv_review_cases", schema=None) as batch_op:
        batch_op.create_index("ix_mrv_review_cases_entity_year", ["entity_id", "year"], unique=False)
        batch_op.create_index(
            "ix_mrv_review_cases_queue", ["status", "tier", "province", "city"], unique=False
        )

    op.create_table(
        "mrv_verification_bodies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("applied_at", sa.String(length=32), nullable=False),
        sa.Column("qualified_at", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('applied', 'qualified', 'suspended', 'withdrawn')",
            name=op.f("ck_mrv_verification_bodies_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_verification_bodies")),
    )
    op.create_table(
        "mrv_body_evaluations",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.String(length=64), nullable=False),
        sa.Column("rated", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("grade", sa.String(length=4), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"],
            ["mrv_verification_bodies.id"],
            name=op.f("fk_mrv_body_evaluations_body_id_mrv_verification_bodies"),
        ),
        sa.ForeignKeyConstraint(
            ["year"],
            ["mrv_evaluation_publications.year"],
            name=op.f("fk_mrv_body_evaluations_year_mrv_evaluation_publications"),
        ),
        sa.PrimaryKeyConstraint("year", "body_id", name=op.f("pk_mrv_body_evaluations")),
    )
    op.create_table(
        "mrv_review_case_alerts",
        sa.Column("alert_id", sa.String(length=120), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["mrv_review_cases.id"],
            name=op.f("fk_mrv_review_case_alerts_case_id_mrv_review_cases"),
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_mrv_review_case_alerts")),
    )
    with op.batch_alter_table("mrv_review_case_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mrv_review_case_alerts_case_id"), ["case_id"], unique=False)

    op.create_table(
        "mrv_review_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mrv_review_cases.id"], name=op.f("fk_mrv_review_messages_case_id_mrv_review_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_review_messages")),
    )
    with op.batch_alter_table("mrv_review_messages", schema=None) as batch_op:
        batch_op.create_index("ix_mrv_review_messages_case", ["case_id", "id"], unique=False)

    op.create_table(
        "mrv_verification_body_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("body_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"],
            ["mrv_verification_bodies.id"],
            name=op.f("fk_mrv_verification_body_events_body_id_mrv_verification_bodies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_verification_body_events")),
    )
    with op.batch_alter_table("mrv_verification_body_events", schema=None) as batch_op:
        batch_op.create_index("ix_mrv_verification_body_events_body", ["body_id", "id"], unique=False)

    op.create_table(
        "mrv_verifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("live_key", sa.String(length=100), nullable=True),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=True),
        sa.Column("submitted_at", sa.String(length=32), nullable=True),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("verified_emissions_tco2e", sa.BigInteger(), nullable=True),
        sa.Column("reported_emissions_tco2e", sa.BigInteger(), nullable=True),
        sa.Column("report_sha256", sa.String(length=64), nullable=True),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", sa.String(length=32), nullable=True),
        sa.Column("cancelled_at", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("mode IN ('full', 'streamlined')", name=op.f("ck_mrv_verifications_mode_known")),
        sa.CheckConstraint(
            "status <> 'verified' OR verified_emissions_tco2e IS NOT NULL",
            name=op.f("ck_mrv_verifications_verified_has_figure"),
        ),
        sa.CheckConstraint(
            "status IN ('assigned', 'in_progress', 'submitted', 'verified', 'cancelled')",
            name=op.f("ck_mrv_verifications_status_known"),
        ),
        sa.CheckConstraint("returns >= 0", name=op.f("ck_mrv_verifications_returns_not_negative")),
        sa.CheckConstraint(
            "verified_emissions_tco2e IS NULL OR verified_emissions_tco2e >= 0",
            name=op.f("ck_mrv_verifications_verified_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["body_id"],
            ["mrv_verification_bodies.id"],
            name=op.f("fk_mrv_verifications_body_id_mrv_verification_bodies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_verifications")),
        sa.UniqueConstraint("live_key", name=op.f("uq_mrv_verifications_live_key")),
    )
    with op.batch_alter_table("mrv_verifications", schema=None) as batch_op:
        batch_op.create_index("ix_mrv_verifications_body_year", ["body_id", "year"], unique=False)
        batch_op.create_index("ix_mrv_verifications_entity_year", ["entity_id", "year"], unique=False)

    op.create_table(
        "mrv_nonconformities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("verification_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parameter", sa.String(length=64), nullable=True),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.String(length=32), nullable=False),
        sa.Column("closure", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_mrv_nonconformities_status_known")),
        sa.CheckConstraint(
            "month IS NULL OR (month >= 1 AND month <= 12)", name=op.f("ck_mrv_nonconformities_month_in_year")
        ),
        sa.ForeignKeyConstraint(
            ["verification_id"],
            ["mrv_verifications.id"],
            name=op.f("fk_mrv_nonconformities_verification_id_mrv_verifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_nonconformities")),
    )
    with op.batch_alter_table("mrv_nonconformities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mrv_nonconformities_verification_id"), ["verification_id"], unique=False
        )

    op.create_table(
        "mrv_review_attachments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["mrv_review_cases.id"],
            name=op.f("fk_mrv_review_attachments_case_id_mrv_review_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["mrv_review_messages.id"],
            name=op.f("fk_mrv_review_attachments_message_id_mrv_review_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mrv_review_attachments")),
    )
    with op.batch_alter_table("mrv_review_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mrv_review_attachments_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mrv_review_attachments_sha256"), ["sha256"], unique=False)

    op.create_table(
        "mrv_reviewers",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "tier IN ('national', 'provincial', 'municipal')", name=op.f("ck_mrv_reviewers_tier_known")
        ),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_mrv_reviewers_username_users")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_mrv_reviewers")),
    )
    op.create_table(
        "mrv_verifiers",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("body_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"],
            ["mrv_verification_bodies.id"],
            name=op.f("fk_mrv_verifiers_body_id_mrv_verification_bodies"),
        ),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_mrv_verifiers_username_users")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_mrv_verifiers")),
    )
    with op.batch_alter_table("mrv_verifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mrv_verifiers_body_id"), ["body_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mrv_verifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mrv_verifiers_body_id"))

    op.drop_table("mrv_verifiers")
    op.drop_table("mrv_reviewers")
    with op.batch_alter_table("mrv_review_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mrv_review_attachments_sha256"))
        batch_op.drop_index(batch_op.f("ix_mrv_review_attachments_message_id"))

    op.drop_table("mrv_review_attachments")
    with op.batch_alter_table("mrv_nonconformities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mrv_nonconformities_verification_id"))

    op.drop_table("mrv_nonconformities")
    with op.batch_alter_table("mrv_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_mrv_verifications_entity_year")
        batch_op.drop_index("ix_mrv_verifications_body_year")

    op.drop_table("mrv_verifications")
    with op.batch_alter_table("mrv_verification_body_events", schema=None) as batch_op:
        batch_op.drop_index("ix_mrv_verification_body_events_body")

    op.drop_table("mrv_verification_body_events")
    with op.batch_alter_table("mrv_review_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_mrv_review_messages_case")

    op.drop_table("mrv_review_messages")
    with op.batch_alter_table("mrv_review_case_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mrv_review_case_alerts_case_id"))

    op.drop_table("mrv_review_case_alerts")
    op.drop_table("mrv_body_evaluations")
    op.drop_table("mrv_verification_bodies")
    with op.batch_alter_table("mrv_review_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_mrv_review_cases_queue")
        batch_op.drop_index("ix_mrv_review_cases_entity_year")

    op.drop_table("mrv_review_cases")
    op.drop_table("mrv_evaluation_publications")
