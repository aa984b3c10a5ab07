"""exchange sessions: tables of `carbonmarket.db.tables_exchange_sessions` (bidding, auctions, prices)

One-way bidding sessions, primary auctions and their carried-over unsold volume, sealed bids of
both, and the official close of each trading day. A branch of 0006 like every context's revision
of this round; 0011 merges them into one head.

Revision ID: 0012
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = (
    "exchange_session_bids",
    "exchange_closes",
    "exchange_bidding_sessions",
    "exchange_auctions",
    "exchange_auction_carryovers",
)


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "exchange_auction_carryovers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("from_auction", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("to_auction", sa.String(length=64), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_exchange_auction_carryovers_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_auction_carryovers")),
    )
    op.create_index(
        "ix_exchange_auction_carryovers_open",
        "exchange_auction_carryovers",
        ["instrument", "to_auction", "id"],
        unique=False,
    )
    op.create_table(
        "exchange_auctions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("base_quantity", sa.BigInteger(), nullable=False),
        sa.Column("carried_quantity", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reserve_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("bidder_cap_t", sa.BigInteger(), nullable=False),
        sa.Column("opens_at", sa.String(length=32), nullable=False),
        sa.Column("closes_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.Column("secondary_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("clearing_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("sold", sa.BigInteger(), nullable=True),
        sa.Column("unsold", sa.BigInteger(), nullable=True),
        sa.Column("proceeds_fen", sa.BigInteger(), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("tie_break", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'cleared', 'cancelled')", name=op.f("ck_exchange_auctions_status_known")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_exchange_auctions_quantity_positive")),
        sa.CheckConstraint("reserve_price_fen > 0", name=op.f("ck_exchange_auctions_reserve_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_auctions")),
    )
    op.create_table(
        "exchange_bidding_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("initiator_account", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("limit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_mode", sa.String(length=12), nullable=False),
        sa.Column("bidder_cap_t", sa.BigInteger(), nullable=False),
        sa.Column("minimum_t", sa.BigInteger(), nullable=False),
        sa.Column("opens_at", sa.String(length=32), nullable=False),
        sa.Column("closes_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reference_close_fen", sa.BigInteger(), nullable=True),
        sa.Column("band_low_fen", sa.BigInteger(), nullable=True),
        sa.Column("band_high_fen", sa.BigInteger(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("applied_by", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.String(length=32), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.String(length=32), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.Column("cleared_quantity", sa.BigInteger(), nullable=True),
        sa.Column("cleared_value_fen", sa.BigInteger(), nullable=True),
        sa.Column("clearing_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("tie_break", sa.Text(), nullable=True),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_exchange_bidding_sessions_side_known")),
        sa.CheckConstraint(
            "status IN ('applied', 'published', 'rejected', 'cleared', 'cancelled')",
            name=op.f("ck_exchange_bidding_sessions_status_known"),
        ),
        sa.CheckConstraint("limit_price_fen > 0", name=op.f("ck_exchange_bidding_sessions_price_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_exchange_bidding_sessions_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_bidding_sessions")),
    )
    op.create_index(
        "ix_exchange_bidding_sessions_status",
        "exchange_bidding_sessions",
        ["status", "opens_at"],
        unique=False,
    )
    op.create_table(
        "exchange_closes",
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("open_fen", sa.BigInteger(), nullable=True),
        sa.Column("high_fen", sa.BigInteger(), nullable=True),
        sa.Column("low_fen", sa.BigInteger(), nullable=True),
        sa.Column("close_fen", sa.BigInteger(), nullable=False),
        sa.Column("previous_close_fen", sa.BigInteger(), nullable=True),
        sa.Column("carried", sa.Boolean(), nullable=False),
        sa.Column("listed_volume", sa.BigInteger(), nullable=False),
        sa.Column("listed_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("bulk_volume", sa.BigInteger(), nullable=False),
        sa.Column("bulk_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("bidding_volume", sa.BigInteger(), nullable=False),
        sa.Column("bidding_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("auction_volume", sa.BigInteger(), nullable=False),
        sa.Column("auction_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("computed_by", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("close_fen > 0", name=op.f("ck_exchange_closes_close_positive")),
        sa.PrimaryKeyConstraint("instrument", "day", name=op.f("pk_exchange_closes")),
    )
    op.create_index("ix_exchange_closes_computed", "exchange_closes", ["computed_at"], unique=False)
    op.create_index("ix_exchange_closes_day", "exchange_closes", ["day"], unique=False)
    op.create_table(
        "exchange_session_bids",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("hold_quantity", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("awarded_quantity", sa.BigInteger(), nullable=True),
        sa.Column("awarded_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("trade_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('bidding', 'auction')", name=op.f("ck_exchange_session_bids_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('sealed', 'won', 'partial', 'lost', 'released')",
            name=op.f("ck_exchange_session_bids_status_known"),
        ),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_exchange_session_bids_price_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_exchange_session_bids_quantity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_session_bids")),
    )
    op.create_index(
        "ix_exchange_session_bids_account", "exchange_session_bids", ["account", "at"], unique=False
    )
    op.create_index(
        "ix_exchange_session_bids_session",
        "exchange_session_bids",
        ["kind", "session_id", "seq"],
        unique=True,
    )


def downgrade() -> None:
    """Drop them (their indexes go with them)."""
    for table in TABLES:
        op.drop_table(table)
