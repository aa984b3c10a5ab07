"""roster: key emitting entities, facilities, change history, imports and reported emissions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:55:00.000000

Tables of `carbonmarket.db.tables_roster` (issue 3). A sibling of the other MRV parts' revisions,
each off 0001; `alembic upgrade heads` applies them all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_entities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("inclusion_year", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'removed')", name=op.f("ck_roster_entities_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_entities")),
    )
    with op.batch_alter_table("roster_entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_entities_province"), ["province"], unique=False)
        batch_op.create_index(batch_op.f("ix_roster_entities_sector"), ["sector"], unique=False)

    op.create_table(
        "roster_imports",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("layout", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("values_stored", sa.Integer(), nullable=False),
        sa.Column("cells_rejected", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("layout IN ('long', 'wide')", name=op.f("ck_roster_imports_layout_known")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_roster_imports")),
        sa.UniqueConstraint("command_id", name=op.f("uq_roster_imports_command_id")),
    )
    with op.batch_alter_table("roster_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_imports_sha256"), ["sha256"], unique=False)

    op.create_table(
        "roster_emissions",
        sa.Column("import_seq", sa.BigInteger(), nullable=False),
        sa.Column("entity_ref", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("emissions_t", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.CheckConstraint("emissions_t >= 0", name=op.f("ck_roster_emissions_emissions_not_negative")),
        sa.ForeignKeyConstraint(
            ["import_seq"], ["roster_imports.seq"], name=op.f("fk_roster_emissions_import_seq_roster_imports")
        ),
        sa.PrimaryKeyConstraint("import_seq", "entity_ref", "year", name=op.f("pk_roster_emissions")),
    )
    with op.batch_alter_table("roster_emissions", schema=None) as batch_op:
        batch_op.create_index("ix_roster_emissions_entity", ["entity_ref", "year"], unique=False)
        batch_op.create_index(
            "ix_roster_emissions_year_entity", ["year", "entity_ref", "import_seq"], unique=False
        )

    op.create_table(
        "roster_facilities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("fuel", sa.String(length=32), nullable=True),
        sa.Column("capacity_kw", sa.BigInteger(), nullable=True),
        sa.Column("cooling", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=4), nullable=True),
        sa.Column("category_plan", sa.String(length=16), nullable=True),
        sa.Column("line_type", sa.String(length=32), nullable=True),
        sa.Column("capacity_t_per_year", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "category IS NULL OR category IN ('I', 'II', 'III', 'IV')",
            name=op.f("ck_roster_facilities_category_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('power_unit', 'process_line')", name=op.f("ck_roster_facilities_kind_known")
        ),
        sa.CheckConstraint("status IN ('active', 'closed')", name=op.f("ck_roster_facilities_status_known")),
        sa.CheckConstraint(
            "capacity_kw IS NULL OR capacity_kw > 0", name=op.f("ck_roster_facilities_capacity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["roster_entities.id"], name=op.f("fk_roster_facilities_entity_id_roster_entities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_facilities")),
    )
    with op.batch_alter_table("roster_facilities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_facilities_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "roster_changes",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["roster_entities.id"], name=op.f("fk_roster_changes_entity_id_roster_entities")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["roster_facilities.id"],
            name=op.f("fk_roster_changes_facility_id_roster_facilities"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_roster_changes")),
    )
    with op.batch_alter_table("roster_changes", schema=None) as batch_op:
        batch_op.create_index("ix_roster_changes_entity", ["entity_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("roster_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_changes_entity")

    op.drop_table("roster_changes")
    with op.batch_alter_table("roster_facilities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_facilities_entity_id"))

    op.drop_table("roster_facilities")
    with op.batch_alter_table("roster_emissions", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_emissions_year_entity")
        batch_op.drop_index("ix_roster_emissions_entity")

    op.drop_table("roster_emissions")
    with op.batch_alter_table("roster_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_imports_sha256"))

    op.drop_table("roster_imports")
    with op.batch_alter_table("roster_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_entities_sector"))
        batch_op.drop_index(batch_op.f("ix_roster_entities_province"))

    op.drop_table("roster_entities")
