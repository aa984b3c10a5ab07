"""All tables of the platform, as SQLAlchemy Core metadata; Alembic migrations create them.

Quantities are BIGINT whole tonnes (or fen); balances carry CHECK constraints so that even a bug
in the service layer cannot store a negative or over-held balance — the database refuses it.
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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Times are stored as ISO-8601 UTC text: identical on SQLite and PostgreSQL, and hashed exactly
# as stored by the audit chain.
holders = Table(
    "holders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("created_at", String(32), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("holder_id", String(64), ForeignKey("holders.id"), nullable=False, index=True),
    Column("type", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("approval_required", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
    CheckConstraint("status IN ('open', 'blocked', 'closed')", name="status_known"),
)

instruments = Table(
    "instruments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(12), nullable=False),
    Column("vintage_first", Integer),
    Column("vintage_last", Integer),
    Column("unit", String(4), nullable=False),
    Column("cap", BigInteger),
    Column("issued", BigInteger, nullable=False, default=0),
    Column("retired", BigInteger, nullable=False, default=0),
    Column("serialised", Boolean, nullable=False, default=False),
    Column("next_serial", BigInteger, nullable=False, default=1),
    Column("source", Text),
    Column("created_at", String(32), nullable=False),
    CheckConstraint("issued >= 0", name="issued_not_negative"),
    CheckConstraint("retired >= 0 AND retired <= issued", name="retired_within_issued"),
    CheckConstraint("cap IS NULL OR issued <= cap", name="issued_within_cap"),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    Column("instrument_id", String(64), ForeignKey("instruments.id"), primary_key=True),
    Column("total", BigInteger, nullable=False, default=0),
    Column("held", BigInteger, nullable=False, default=0),
    CheckConstraint("total >= 0", name="total_not_negative"),
    CheckConstraint("held >= 0 AND held <= total", name="held_within_total"),
)

# One row per leg. Never updated, never deleted (rule 3): a mistake is fixed by a reversing leg.
transfers = Table(
    "transfers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("batch_id", String(100), nullable=False),
    Column("leg", Integer, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("debit_account", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("credit_account", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("instrument_id", String(64), ForeignKey("instruments.id"), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("hold_id", String(64)),
    Column("reverses_id", BigInteger, unique=True),
    Column("at", String(32), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("debit_account <> credit_account", name="distinct_accounts"),
    UniqueConstraint("batch_id", "leg", name="uq_transfers_batch_leg"),
    Index("ix_transfers_debit", "debit_account", "id"),
    Index("ix_transfers_credit", "credit_account", "id"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(12), nullable=False),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("instrument_id", String(64), ForeignKey("instruments.id"), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("pledgee_account", String(64), ForeignKey("accounts.id")),
    Column("status", String(10), nullable=False),
    Column("expires_at", String(32)),
    Column("posted_quantity", BigInteger),
    Column("reason", Text),
    Column("created_at", String(32), nullable=False),
    Column("resolved_at", String(32)),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name="status_known"),
)

# Serial blocks of a serialised instrument (CCER): who holds which serial numbers, inclusive.
serial_blocks = Table(
    "serial_blocks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instrument_id", String(64), ForeignKey("instruments.id"), nullable=False),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("first_serial", BigInteger, nullable=False),
    Column("last_serial", BigInteger, nullable=False),
    CheckConstraint("first_serial >= 1 AND first_serial <= last_serial", name="range_ordered"),
    Index("ix_serial_blocks_holding", "instrument_id", "account_id", "first_serial"),
)

# Registry transactions: the life of a request (REGISTRY_CHECKS.md §2), above the ledger legs.
registry_transactions = Table(
    "registry_transactions",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("from_account", String(64)),
    Column("to_account", String(64)),
    Column("instrument_id", String(64)),
    Column("quantity", BigInteger),
    Column("hold_id", String(64)),
    Column("initiated_by", String(64), nullable=False),
    Column("approved_by", String(64)),
    Column("reason", Text),
    Column("created_at", String(32), nullable=False),
    Column("completed_at", String(32)),
    Index("ix_registry_transactions_status", "status"),
)

retirement_certificates = Table(
    "retirement_certificates",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("transaction_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("instrument_id", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("beneficiary", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("serials", Text),
    Column("at", String(32), nullable=False),
)

# Idempotency: the first result of every client-chosen command id (rule 4).
commands = Table(
    "commands",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(24), nullable=False),
    Column("holder_id", String(64), ForeignKey("holders.id")),
    Column("totp_secret", String(64)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(32), nullable=False),
)

account_rights = Table(
    "account_rights",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    Column("permission", String(10), primary_key=True),
    CheckConstraint("permission IN ('initiate', 'approve', 'view')", name="permission_known"),
)

# The hash-chained audit log (rule 11); `audit_head` holds the chain's tip, locked to append.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


def _import_context_tables() -> None:
    """Load every `db/tables_<context>.py`, so `metadata` holds all tables of the platform."""
    import importlib
    import pkgutil

    import carbonmarket.db as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("tables_"):
            importlib.import_module(f"carbonmarket.db.{module.name}")


_import_context_tables()
