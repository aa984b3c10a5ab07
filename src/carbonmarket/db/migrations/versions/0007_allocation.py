"""allocation: the tables of `carbonmarket.db.tables_allocation`

A branch of 0006 like every context's revision of this round; 0011 merges them into one head.
Plans and their sector-years, activity imports, runs (pre-allocation, true-up) with their lines,
where each entity-year stands, and the deductions entities owe.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the context's tables."""
    op.create_table(
        "alloc_plans",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_alloc_plans_version_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alloc_plans")),
        sa.UniqueConstraint("plan_id", "version", name="uq_alloc_plans_plan_version"),
    )
    op.create_table(
        "alloc_plan_years",
        sa.Column("plan_seq", sa.BigInteger(), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_seq"], ["alloc_plans.seq"], name=op.f("fk_alloc_plan_years_plan_seq_alloc_plans")
        ),
        sa.PrimaryKeyConstraint("plan_seq", "sector", "year", name=op.f("pk_alloc_plan_years")),
    )
    op.create_index("ix_alloc_plan_years_sector_year", "alloc_plan_years", ["sector", "year", "plan_seq"])
    op.create_table(
        "alloc_imports",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alloc_imports")),
        sa.UniqueConstraint("command_id", name=op.f("uq_alloc_imports_command_id")),
    )
    op.create_table(
        "alloc_activity",
        sa.Column("import_seq", sa.BigInteger(), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("generated_mwh", sa.String(length=40), nullable=True),
        sa.Column("supplied_mwh", sa.String(length=40), nullable=True),
        sa.Column("heat_gj", sa.String(length=40), nullable=True),
        sa.Column("load_rate", sa.String(length=40), nullable=True),
        sa.Column("heat_ratio", sa.String(length=40), nullable=True),
        sa.Column("output_t", sa.String(length=40), nullable=True),
        sa.Column("verified_t", sa.BigInteger(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_seq"], ["alloc_imports.seq"], name=op.f("fk_alloc_activity_import_seq_alloc_imports")
        ),
        sa.PrimaryKeyConstraint(
            "import_seq", "entity_id", "facility_id", "year", name=op.f("pk_alloc_activity")
        ),
    )
    op.create_index(
        "ix_alloc_activity_year_entity", "alloc_activity", ["year", "entity_id", "facility_id", "import_seq"]
    )
    op.create_table(
        "alloc_runs",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("preallocation_year", sa.Integer(), nullable=True),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("issued_t", sa.BigInteger(), nullable=False),
        sa.Column("delivered_t", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_t", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_t", sa.BigInteger(), nullable=False),
        sa.Column("deducted_t", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("kind IN ('preallocation', 'true_up')", name=op.f("ck_alloc_runs_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alloc_runs")),
        sa.UniqueConstraint("preallocation_year", name=op.f("uq_alloc_runs_preallocation_year")),
    )
    op.create_index(op.f("ix_alloc_runs_year"), "alloc_runs", ["year"])
    op.create_table(
        "alloc_lines",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=4), nullable=True),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("result_t", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["alloc_runs.id"], name=op.f("fk_alloc_lines_run_id_alloc_runs")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alloc_lines")),
    )
    op.create_index("ix_alloc_lines_entity_year", "alloc_lines", ["entity_id", "year", "seq"])
    op.create_index("ix_alloc_lines_run", "alloc_lines", ["run_id"])
    op.create_table(
        "alloc_entity_years",
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("vintage", sa.String(length=16), nullable=False),
        sa.Column("preallocated_t", sa.BigInteger(), nullable=False),
        sa.Column("final_t", sa.BigInteger(), nullable=True),
        sa.Column("delivered_t", sa.BigInteger(), nullable=False),
        sa.Column("deducted_t", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "delivered_t >= 0 AND deducted_t >= 0 AND preallocated_t >= 0",
            name=op.f("ck_alloc_entity_years_not_negative"),
        ),
        sa.CheckConstraint(
            "status IN ('preallocated', 'final')", name=op.f("ck_alloc_entity_years_status_known")
        ),
        sa.PrimaryKeyConstraint("entity_id", "year", name=op.f("pk_alloc_entity_years")),
    )
    op.create_index("ix_alloc_entity_years_year", "alloc_entity_years", ["year"])
    op.create_table(
        "alloc_deductions",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('ordered', 'applied', 'returned', 'withdrawal_shortfall')",
            name=op.f("ck_alloc_deductions_kind_known"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alloc_deductions")),
    )
    op.create_index(op.f("ix_alloc_deductions_entity_id"), "alloc_deductions", ["entity_id"])


def downgrade() -> None:
    """Drop them."""
    for index, table in (
        ("ix_alloc_deductions_entity_id", "alloc_deductions"),
        ("ix_alloc_entity_years_year", "alloc_entity_years"),
        ("ix_alloc_lines_run", "alloc_lines"),
        ("ix_alloc_lines_entity_year", "alloc_lines"),
        ("ix_alloc_runs_year", "alloc_runs"),
        ("ix_alloc_activity_year_entity", "alloc_activity"),
        ("ix_alloc_plan_years_sector_year", "alloc_plan_years"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "alloc_deductions",
        "alloc_entity_years",
        "alloc_lines",
        "alloc_runs",
        "alloc_activity",
        "alloc_imports",
        "alloc_plan_years",
        "alloc_plans",
    ):
        op.drop_table(table)
