"""Tables of the allocation context, on the platform's shared metadata (created by its migration 0007).

Plans are versioned, never overwritten: publishing a revised plan adds a version. Activity imports
are append-only (for a unit and year the newest import counts). A run (a pre-allocation or a
true-up) records one line per unit or entity with its inputs and formula terms, so `trace` shows how
every tonne was computed; `alloc_entity_years` holds where each entity-year stands (what it is
entitled to, what was delivered, what was deducted), and `alloc_deductions` is the running list of
deductions an entity owes against future allocations (vector 8's logic).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

from carbonmarket.db.tables import BigId, metadata

# One published version of a plan; `body` is the plan file's data as canonical JSON.
alloc_plans = Table(
    "alloc_plans",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("plan_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("status", String(8), nullable=False),
    Column("title", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("command_id", String(100), nullable=False),
    Column("published_by", String(64), nullable=False),
    Column("published_at", String(32), nullable=False),
    UniqueConstraint("plan_id", "version", name="uq_alloc_plans_plan_version"),
    CheckConstraint("version >= 1", name="version_positive"),
)

# Which sector-years a plan version covers; the newest published version covering one is in force.
alloc_plan_years = Table(
    "alloc_plan_years",
    metadata,
    Column("plan_seq", BigInteger, ForeignKey("alloc_plans.seq"), primary_key=True),
    Column("sector", String(16), primary_key=True),
    Column("year", Integer, primary_key=True),
    Index("ix_alloc_plan_years_sector_year", "sector", "year", "plan_seq"),
)

alloc_imports = Table(
    "alloc_imports",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("command_id", String(100), nullable=False, unique=True),
    Column("file_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("stored", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

# Activity data of one unit (or, with facility_id '', one industrial entity) and year, as decimal
# text; NULL means not given.
alloc_activity = Table(
    "alloc_activity",
    metadata,
    Column("import_seq", BigInteger, ForeignKey("alloc_imports.seq"), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("facility_id", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("generated_mwh", String(40)),
    Column("supplied_mwh", String(40)),
    Column("heat_gj", String(40)),
    Column("load_rate", String(40)),
    Column("heat_ratio", String(40)),
    Column("output_t", String(40)),
    Column("verified_t", BigInteger),
    Column("row", Integer, nullable=False),
    Index("ix_alloc_activity_year_entity", "year", "entity_id", "facility_id", "import_seq"),
)

# A pre-allocation or true-up; `preallocation_year` is set only for pre-allocations, so the
# database itself refuses a second pre-allocation of a year.
alloc_runs = Table(
    "alloc_runs",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("year", Integer, nullable=False, index=True),
    Column("preallocation_year", Integer, unique=True),
    Column("entities", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("issued_t", BigInteger, nullable=False),
    Column("delivered_t", BigInteger, nullable=False),
    Column("withdrawn_t", BigInteger, nullable=False),
    Column("shortfall_t", BigInteger, nullable=False),
    Column("deducted_t", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("kind IN ('preallocation', 'true_up')", name="kind_known"),
)

# One line of a run: a unit's (facility_id set) or an entity's (facility_id '') figure.
alloc_lines = Table(
    "alloc_lines",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(100), ForeignKey("alloc_runs.id"), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("facility_id", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("sector", String(16), nullable=False),
    Column("category", String(4)),
    Column("plan_id", String(64), nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("terms", Text, nullable=False),
    Column("result_t", BigInteger, nullable=False),
    Index("ix_alloc_lines_entity_year", "entity_id", "year", "seq"),
    Index("ix_alloc_lines_run", "run_id"),
)

alloc_entity_years = Table(
    "alloc_entity_years",
    metadata,
    Column("entity_id", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("sector", String(16), nullable=False),
    Column("plan_id", String(64), nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("vintage", String(16), nullable=False),
    Column("preallocated_t", BigInteger, nullable=False),
    Column("final_t", BigInteger),
    Column("delivered_t", BigInteger, nullable=False),
    Column("deducted_t", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_id", String(100), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("delivered_t >= 0 AND deducted_t >= 0 AND preallocated_t >= 0", name="not_negative"),
    CheckConstraint("status IN ('preallocated', 'final')", name="status_known"),
    Index("ix_alloc_entity_years_year", "year"),
)

# Signed quantities: + a deduction owed (ordered, or a withdrawal the holdings could not cover),
# − a deduction applied to an allocation, + one returned when a smaller final allocation needs less.
alloc_deductions = Table(
    "alloc_deductions",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("entity_id", String(64), nullable=False, index=True),
    Column("year", Integer),
    Column("quantity_t", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("command_id", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("kind IN ('ordered', 'applied', 'returned', 'withdrawal_shortfall')", name="kind_known"),
)
