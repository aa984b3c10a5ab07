"""voluntary: the tables of `carbonmarket.db.tables_voluntary` (issue 6)

A branch of 0006 like every context's revision of this round; 0011 merges them into one head.
CCER methodology proposals, validation/verification bodies, projects, validations, monitoring
reports, issuances, cancellations, Article 6 authorisations, green-certificate claims, comments,
the events log, monitoring API keys and metered readings.

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the context's tables."""
    op.create_table(
        "ccer_cancellations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("certificate_id", sa.String(length=80), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("claim", sa.String(length=16), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("serials", sa.Text(), nullable=False),
        sa.Column("beneficiary", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("authorisation_id", sa.String(length=64), nullable=True),
        sa.Column("acquiring_party", sa.String(length=64), nullable=True),
        sa.Column("first_transfer", sa.Boolean(), nullable=False),
        sa.Column("corresponding_adjustment", sa.Boolean(), nullable=False),
        sa.Column("cancelled_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('voluntary', 'international')", name=op.f("ck_ccer_cancellations_kind_known")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_ccer_cancellations_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_cancellations")),
        sa.UniqueConstraint("certificate_id", name=op.f("uq_ccer_cancellations_certificate_id")),
    )
    with op.batch_alter_table("ccer_cancellations", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_cancellations_instrument", ["instrument_id"], unique=False)

    op.create_table(
        "ccer_comments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("subject_kind", sa.String(length=12), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "subject_kind IN ('project', 'report', 'proposal')", name=op.f("ck_ccer_comments_subject_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_comments")),
    )
    with op.batch_alter_table("ccer_comments", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_comments_subject", ["subject_kind", "subject_id", "id"], unique=False)

    op.create_table(
        "ccer_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_events")),
    )
    with op.batch_alter_table("ccer_events", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_events_subject", ["subject_kind", "subject_id", "id"], unique=False)

    op.create_table(
        "ccer_methodology_proposals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.String(length=32), nullable=False),
        sa.Column("consultation_start", sa.String(length=10), nullable=True),
        sa.Column("consultation_end", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('submitted', 'in_consultation', 'adopted', 'rejected')",
            name=op.f("ck_ccer_methodology_proposals_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_methodology_proposals")),
    )
    op.create_table(
        "ccer_vvbs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_vvbs")),
    )
    op.create_table(
        "ccer_projects",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("methodology", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("construction_start", sa.String(length=10), nullable=False),
        sa.Column("operation_start", sa.String(length=10), nullable=False),
        sa.Column("crediting_start", sa.String(length=10), nullable=False),
        sa.Column("crediting_end", sa.String(length=10), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("expected_annual_t", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("validation_vvb", sa.String(length=64), nullable=True),
        sa.Column("disclosure_start", sa.String(length=10), nullable=True),
        sa.Column("disclosure_end", sa.String(length=10), nullable=True),
        sa.Column("decision_due", sa.String(length=10), nullable=True),
        sa.Column("registered_on", sa.String(length=10), nullable=True),
        sa.Column("article6_authorised", sa.Boolean(), nullable=False),
        sa.Column("legacy", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'validated', 'in_disclosure', 'registration_applied', "
            "'registered', 'rejected', 'withdrawn')",
            name=op.f("ck_ccer_projects_status_known"),
        ),
        sa.CheckConstraint(
            "crediting_start <= crediting_end", name=op.f("ck_ccer_projects_crediting_ordered")
        ),
        sa.CheckConstraint("expected_annual_t >= 0", name=op.f("ck_ccer_projects_expected_not_negative")),
        sa.ForeignKeyConstraint(
            ["validation_vvb"], ["ccer_vvbs.id"], name=op.f("fk_ccer_projects_validation_vvb_ccer_vvbs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_projects")),
    )
    with op.batch_alter_table("ccer_projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ccer_projects_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_ccer_projects_status", ["status"], unique=False)

    op.create_table(
        "ccer_vvb_accreditations",
        sa.Column("vvb_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('accredited', 'suspended', 'withdrawn')",
            name=op.f("ck_ccer_vvb_accreditations_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["vvb_id"], ["ccer_vvbs.id"], name=op.f("fk_ccer_vvb_accreditations_vvb_id_ccer_vvbs")
        ),
        sa.PrimaryKeyConstraint("vvb_id", "field", name=op.f("pk_ccer_vvb_accreditations")),
    )
    op.create_table(
        "ccer_vvb_staff",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("vvb_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["vvb_id"], ["ccer_vvbs.id"], name=op.f("fk_ccer_vvb_staff_vvb_id_ccer_vvbs")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_ccer_vvb_staff")),
    )
    with op.batch_alter_table("ccer_vvb_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ccer_vvb_staff_vvb_id"), ["vvb_id"], unique=False)

    op.create_table(
        "ccer_api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_api_keys_project_id_ccer_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_api_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_ccer_api_keys_key_sha256")),
    )
    with op.batch_alter_table("ccer_api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ccer_api_keys_project_id"), ["project_id"], unique=False)

    op.create_table(
        "ccer_authorisations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("uses", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("authorised_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_authorisations_project_id_ccer_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_authorisations")),
    )
    with op.batch_alter_table("ccer_authorisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ccer_authorisations_project_id"), ["project_id"], unique=False)

    op.create_table(
        "ccer_gec_claims",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("period_start", sa.String(length=10), nullable=False),
        sa.Column("period_end", sa.String(length=10), nullable=False),
        sa.Column("mwh", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("mwh > 0", name=op.f("ck_ccer_gec_claims_mwh_positive")),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_ccer_gec_claims_period_ordered")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_gec_claims_project_id_ccer_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_gec_claims")),
    )
    with op.batch_alter_table("ccer_gec_claims", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_gec_claims_project", ["project_id", "period_start"], unique=False)

    op.create_table(
        "ccer_meters",
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("meter", sa.String(length=64), nullable=False),
        sa.Column("last_ts", sa.String(length=32), nullable=False),
        sa.Column("readings", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("readings >= 0", name=op.f("ck_ccer_meters_readings_not_negative")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_meters_project_id_ccer_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "meter", name=op.f("pk_ccer_meters")),
    )
    op.create_table(
        "ccer_readings",
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("meter", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("value_micro", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_readings_project_id_ccer_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "meter", "ts", name=op.f("pk_ccer_readings")),
    )
    op.create_table(
        "ccer_reports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("period_start", sa.String(length=10), nullable=False),
        sa.Column("period_end", sa.String(length=10), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("calculation", sa.Text(), nullable=False),
        sa.Column("claimed_t", sa.BigInteger(), nullable=False),
        sa.Column("verified_t", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("verification_vvb", sa.String(length=64), nullable=True),
        sa.Column("verification_sha256", sa.String(length=64), nullable=True),
        sa.Column("disclosure_start", sa.String(length=10), nullable=True),
        sa.Column("disclosure_end", sa.String(length=10), nullable=True),
        sa.Column("decision_due", sa.String(length=10), nullable=True),
        sa.Column("registered_on", sa.String(length=10), nullable=True),
        sa.Column("live_key", sa.String(length=40), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('submitted', 'verified', 'in_disclosure', 'registration_applied', "
            "'registered', 'issued', 'rejected')",
            name=op.f("ck_ccer_reports_status_known"),
        ),
        sa.CheckConstraint("claimed_t >= 0", name=op.f("ck_ccer_reports_claimed_not_negative")),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_ccer_reports_period_ordered")),
        sa.CheckConstraint(
            "verified_t IS NULL OR (verified_t >= 0 AND verified_t <= claimed_t)",
            name=op.f("ck_ccer_reports_verified_within"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_reports_project_id_ccer_projects")
        ),
        sa.ForeignKeyConstraint(
            ["verification_vvb"], ["ccer_vvbs.id"], name=op.f("fk_ccer_reports_verification_vvb_ccer_vvbs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_reports")),
        sa.UniqueConstraint("live_key", name=op.f("uq_ccer_reports_live_key")),
    )
    with op.batch_alter_table("ccer_reports", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_reports_project", ["project_id", "period_start"], unique=False)
        batch_op.create_index("ix_ccer_reports_status", ["status"], unique=False)

    op.create_table(
        "ccer_validations",
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("vvb_id", sa.String(length=64), nullable=False),
        sa.Column("report_sha256", sa.String(length=64), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("owner_commitment", sa.Text(), nullable=False),
        sa.Column("vvb_commitment", sa.Text(), nullable=False),
        sa.Column("validated_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_validations_project_id_ccer_projects")
        ),
        sa.ForeignKeyConstraint(
            ["vvb_id"], ["ccer_vvbs.id"], name=op.f("fk_ccer_validations_vvb_id_ccer_vvbs")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_ccer_validations")),
    )
    op.create_table(
        "ccer_issuances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.String(length=10), nullable=False),
        sa.Column("period_end", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("to_account", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "first_serial >= 1 AND last_serial - first_serial + 1 = quantity",
            name=op.f("ck_ccer_issuances_block_fits"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_ccer_issuances_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["ccer_projects.id"], name=op.f("fk_ccer_issuances_project_id_ccer_projects")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["ccer_reports.id"], name=op.f("fk_ccer_issuances_report_id_ccer_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ccer_issuances")),
        sa.UniqueConstraint("report_id", name=op.f("uq_ccer_issuances_report_id")),
    )
    with op.batch_alter_table("ccer_issuances", schema=None) as batch_op:
        batch_op.create_index("ix_ccer_issuances_instrument", ["instrument_id", "first_serial"], unique=False)
        batch_op.create_index("ix_ccer_issuances_project", ["project_id"], unique=False)


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("ccer_issuances", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_issuances_project")
        batch_op.drop_index("ix_ccer_issuances_instrument")

    op.drop_table("ccer_issuances")
    op.drop_table("ccer_validations")
    with op.batch_alter_table("ccer_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_reports_status")
        batch_op.drop_index("ix_ccer_reports_project")

    op.drop_table("ccer_reports")
    op.drop_table("ccer_readings")
    op.drop_table("ccer_meters")
    with op.batch_alter_table("ccer_gec_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_gec_claims_project")

    op.drop_table("ccer_gec_claims")
    with op.batch_alter_table("ccer_authorisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ccer_authorisations_project_id"))

    op.drop_table("ccer_authorisations")
    with op.batch_alter_table("ccer_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ccer_api_keys_project_id"))

    op.drop_table("ccer_api_keys")
    with op.batch_alter_table("ccer_vvb_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ccer_vvb_staff_vvb_id"))

    op.drop_table("ccer_vvb_staff")
    op.drop_table("ccer_vvb_accreditations")
    with op.batch_alter_table("ccer_projects", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_projects_status")
        batch_op.drop_index(batch_op.f("ix_ccer_projects_owner_id"))

    op.drop_table("ccer_projects")
    op.drop_table("ccer_vvbs")
    op.drop_table("ccer_methodology_proposals")
    with op.batch_alter_table("ccer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_events_subject")

    op.drop_table("ccer_events")
    with op.batch_alter_table("ccer_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_comments_subject")

    op.drop_table("ccer_comments")
    with op.batch_alter_table("ccer_cancellations", schema=None) as batch_op:
        batch_op.drop_index("ix_ccer_cancellations_instrument")

    op.drop_table("ccer_cancellations")
