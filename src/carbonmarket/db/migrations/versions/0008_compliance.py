"""compliance: obligations, surrenders, results at close, provincial authorities, banking applications

The tables of `carbonmarket.db.tables_compliance` (issue 4). A branch of 0006 like every context's
revision of this round; 0011 merges them into one head.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the context's tables."""
    op.create_table(
        "compliance_banking",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("limit_t", sa.BigInteger(), nullable=False),
        sa.Column("formula_t", sa.BigInteger(), nullable=False),
        sa.Column("net_sold_t", sa.BigInteger(), nullable=False),
        sa.Column("holdings_t", sa.BigInteger(), nullable=False),
        sa.Column("applied_by", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.String(length=32), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.String(length=32), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('applied', 'converted', 'rejected')", name=op.f("ck_compliance_banking_status_known")
        ),
        sa.CheckConstraint("quantity_t > 0", name=op.f("ck_compliance_banking_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_banking")),
    )
    op.create_index(
        op.f("ix_compliance_banking_entity_id"), "compliance_banking", ["entity_id"], unique=False
    )
    op.create_table(
        "compliance_obligations",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("obligation_t", sa.BigInteger(), nullable=False),
        sa.Column("surrendered_t", sa.BigInteger(), nullable=False),
        sa.Column("ccer_t", sa.BigInteger(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "ccer_t >= 0 AND ccer_t <= surrendered_t",
            name=op.f("ck_compliance_obligations_ccer_within_surrendered"),
        ),
        sa.CheckConstraint(
            "obligation_t >= 0", name=op.f("ck_compliance_obligations_obligation_not_negative")
        ),
        sa.CheckConstraint(
            "surrendered_t >= 0 AND surrendered_t <= obligation_t",
            name=op.f("ck_compliance_obligations_surrendered_within_obligation"),
        ),
        sa.PrimaryKeyConstraint("year", "entity_id", name=op.f("pk_compliance_obligations")),
    )
    op.create_index(
        "ix_compliance_obligations_year_province",
        "compliance_obligations",
        ["year", "province"],
        unique=False,
    )
    op.create_table(
        "compliance_results",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("obligation_t", sa.BigInteger(), nullable=False),
        sa.Column("surrendered_t", sa.BigInteger(), nullable=False),
        sa.Column("ccer_t", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_t", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("fine_min_fen", sa.BigInteger(), nullable=True),
        sa.Column("fine_max_fen", sa.BigInteger(), nullable=True),
        sa.Column("fine_fen", sa.BigInteger(), nullable=True),
        sa.Column("allocation_cut_t", sa.BigInteger(), nullable=False),
        sa.Column("cut_year", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('met', 'partly', 'not_met')", name=op.f("ck_compliance_results_status_known")
        ),
        sa.CheckConstraint("shortfall_t >= 0", name=op.f("ck_compliance_results_shortfall_not_negative")),
        sa.PrimaryKeyConstraint("year", "entity_id", name=op.f("pk_compliance_results")),
    )
    op.create_index(
        "ix_compliance_results_cut", "compliance_results", ["entity_id", "cut_year"], unique=False
    )
    op.create_table(
        "compliance_surrenders",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("instrument_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("from_account", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("after_deadline", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("kind IN ('allowance', 'ccer')", name=op.f("ck_compliance_surrenders_kind_known")),
        sa.CheckConstraint(
            "mode IN ('entity', 'mandatory', 'differentiated')",
            name=op.f("ck_compliance_surrenders_mode_known"),
        ),
        sa.CheckConstraint("quantity_t > 0", name=op.f("ck_compliance_surrenders_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_surrenders")),
    )
    op.create_index(
        "ix_compliance_surrenders_year_entity", "compliance_surrenders", ["year", "entity_id"], unique=False
    )
    op.create_table(
        "compliance_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.String(length=32), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("price_source", sa.String(length=16), nullable=True),
        sa.Column("multiple", sa.Integer(), nullable=True),
        sa.Column("entities", sa.Integer(), nullable=True),
        sa.Column("entities_met", sa.Integer(), nullable=True),
        sa.Column("obligation_t", sa.BigInteger(), nullable=True),
        sa.Column("surrendered_t", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_compliance_years_status_known")),
        sa.CheckConstraint(
            "price_fen IS NULL OR price_fen > 0", name=op.f("ck_compliance_years_price_positive")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_compliance_years")),
    )
    op.create_table(
        "compliance_authorities",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_compliance_authorities_username_users")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_compliance_authorities")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("compliance_authorities")
    op.drop_table("compliance_years")
    op.drop_index("ix_compliance_surrenders_year_entity", table_name="compliance_surrenders")
    op.drop_table("compliance_surrenders")
    op.drop_index("ix_compliance_results_cut", table_name="compliance_results")
    op.drop_table("compliance_results")
    op.drop_index("ix_compliance_obligations_year_province", table_name="compliance_obligations")
    op.drop_table("compliance_obligations")
    op.drop_index(op.f("ix_compliance_banking_entity_id"), table_name="compliance_banking")
    op.drop_table("compliance_banking")
