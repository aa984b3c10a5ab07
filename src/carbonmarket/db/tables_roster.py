"""Tables of the MRV roster: entities, facilities, their change history, imports and reported emissions.

`roster_entities` and `roster_facilities` hold the current state; `roster_changes` is the history
they are replayed from, one row per change, never updated or deleted, so an entity is never
overwritten. Reported emissions are append-only too: each import adds its figures, and for an
entity and year the newest import's figure counts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text

from carbonmarket.db.tables import BigId, metadata

roster_entities = Table(
    "roster_entities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("sector", String(16), nullable=False, index=True),
    Column("province", String(64), nullable=False, index=True),
    Column("city", String(64)),
    Column("status", String(10), nullable=False),
    Column("inclusion_year", Integer),
    # Number of history rows applied: a cheap check that the row and its history agree.
    Column("version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("status IN ('active', 'suspended', 'removed')", name="status_known"),
)

roster_facilities = Table(
    "roster_facilities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entity_id", String(64), ForeignKey("roster_entities.id"), nullable=False, index=True),
    Column("sector", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(200)),
    Column("fuel", String(32)),
    # Rated power in kW: exact integers on both databases (the interfaces show MW).
    Column("capacity_kw", BigInteger),
    Column("cooling", String(8)),
    Column("category", String(4)),
    Column("category_plan", String(16)),
    Column("line_type", String(32)),
    Column("capacity_t_per_year", BigInteger),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("kind IN ('power_unit', 'process_line')", name="kind_known"),
    CheckConstraint("status IN ('active', 'closed')", name="status_known"),
    CheckConstraint("category IS NULL OR category IN ('I', 'II', 'III', 'IV')", name="category_known"),
    CheckConstraint("capacity_kw IS NULL OR capacity_kw > 0", name="capacity_positive"),
)

# One row per change of an entity or of one of its facilities: who, when, what ({field: [old, new]}), why.
roster_changes = Table(
    "roster_changes",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("entity_id", String(64), ForeignKey("roster_entities.id"), nullable=False),
    Column("facility_id", String(64), ForeignKey("roster_facilities.id")),
    Column("kind", String(24), nullable=False),
    Column("changes", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("command_id", String(100), nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_roster_changes_entity", "entity_id", "seq"),
)

roster_imports = Table(
    "roster_imports",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("command_id", String(100), nullable=False, unique=True),
    Column("file_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("layout", String(8), nullable=False),
    Column("encoding", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("values_stored", Integer, nullable=False),
    Column("cells_rejected", Integer, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("layout IN ('long', 'wide')", name="layout_known"),
)

# Annual emissions as files reported them; `entity_ref` is the id in the file, which need not be
# on the roster yet (the inclusion list shows who should be).
roster_emissions = Table(
    "roster_emissions",
    metadata,
    Column("import_seq", BigInteger, ForeignKey("roster_imports.seq"), primary_key=True),
    Column("entity_ref", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("emissions_t", BigInteger, nullable=False),
    Column("row", Integer, nullable=False),
    CheckConstraint("emissions_t >= 0", name="emissions_not_negative"),
    Index("ix_roster_emissions_year_entity", "year", "entity_ref", "import_seq"),
    Index("ix_roster_emissions_entity", "entity_ref", "year"),
)
