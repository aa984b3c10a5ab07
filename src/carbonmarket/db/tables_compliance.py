"""Tables of the compliance context (issue 4; migration 0008_compliance), on the shared metadata.

`compliance_obligations` keeps each entity-year's running totals so a surrender's checks (what is
still owed, the cumulative CCER cap) read one locked row; `compliance_surrenders` is the append-only
record of every surrender that made those totals. `compliance_results` freezes the figures at the
close of the year: status, shortfall, the Art. 24 penalty and the next year's allocation cut.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from carbonmarket.db.tables import BigId, metadata

compliance_years = Table(
    "compliance_years",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("status", String(8), nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    # The Art. 24 price used at close (fen per tonne) and where it came from (exchange or given).
    Column("price_fen", BigInteger),
    Column("price_source", String(16)),
    Column("multiple", Integer),
    Column("entities", Integer),
    Column("entities_met", Integer),
    Column("obligation_t", BigInteger),
    Column("surrendered_t", BigInteger),
    CheckConstraint("status IN ('open', 'closed')", name="status_known"),
    CheckConstraint("price_fen IS NULL OR price_fen > 0", name="price_positive"),
)

compliance_obligations = Table(
    "compliance_obligations",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("entity_id", String(64), primary_key=True),
    Column("province", String(64)),
    Column("obligation_t", BigInteger, nullable=False),
    Column("surrendered_t", BigInteger, nullable=False),
    Column("ccer_t", BigInteger, nullable=False),
    # Whether any unit counted for the year arrived after the deadline (a mandatory surrender).
    Column("late", Boolean, nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("obligation_t >= 0", name="obligation_not_negative"),
    CheckConstraint(
        "surrendered_t >= 0 AND surrendered_t <= obligation_t", name="surrendered_within_obligation"
    ),
    CheckConstraint("ccer_t >= 0 AND ccer_t <= surrendered_t", name="ccer_within_surrendered"),
    Index("ix_compliance_obligations_year_province", "year", "province"),
)

compliance_surrenders = Table(
    "compliance_surrenders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("instrument_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("from_account", String(64), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("after_deadline", Boolean, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("quantity_t > 0", name="quantity_positive"),
    CheckConstraint("kind IN ('allowance', 'ccer')", name="kind_known"),
    CheckConstraint("mode IN ('entity', 'mandatory', 'differentiated')", name="mode_known"),
    Index("ix_compliance_surrenders_year_entity", "year", "entity_id"),
)

compliance_results = Table(
    "compliance_results",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("entity_id", String(64), primary_key=True),
    Column("province", String(64)),
    Column("obligation_t", BigInteger, nullable=False),
    Column("surrendered_t", BigInteger, nullable=False),
    Column("ccer_t", BigInteger, nullable=False),
    Column("shortfall_t", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("price_fen", BigInteger),
    Column("fine_min_fen", BigInteger),
    Column("fine_max_fen", BigInteger),
    Column("fine_fen", BigInteger),
    Column("allocation_cut_t", BigInteger, nullable=False),
    # The allocation year the cut applies to: the year after the compliance year (R Art. 24).
    Column("cut_year", Integer, nullable=False),
    CheckConstraint("shortfall_t >= 0", name="shortfall_not_negative"),
    CheckConstraint("status IN ('met', 'partly', 'not_met')", name="status_known"),
    Index("ix_compliance_results_cut", "entity_id", "cut_year"),
)

# Which provincial authority user acts for which province (roster entity rows carry the province).
compliance_authorities = Table(
    "compliance_authorities",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("province", String(64), nullable=False),
    Column("assigned_by", String(64), nullable=False),
    Column("assigned_at", String(32), nullable=False),
)

# Banking applications (A 附5): an entity applies to convert old vintages; the regulator converts.
compliance_banking = Table(
    "compliance_banking",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entity_id", String(64), nullable=False, index=True),
    Column("status", String(10), nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("limit_t", BigInteger, nullable=False),
    Column("formula_t", BigInteger, nullable=False),
    Column("net_sold_t", BigInteger, nullable=False),
    Column("holdings_t", BigInteger, nullable=False),
    Column("applied_by", String(64), nullable=False),
    Column("applied_at", String(32), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", String(32)),
    Column("transaction_id", String(64)),
    Column("reason", Text),
    CheckConstraint("quantity_t > 0", name="quantity_positive"),
    CheckConstraint("status IN ('applied', 'converted', 'rejected')", name="status_known"),
)
