"""exchange trading: the tables of `carbonmarket.db.tables_exchange`

The command journal and its heads, orders, trades of every modality, the T+1 bought-today
ledger, bulk agreement intents and offers (issue 5, part B2). A branch of 0006 like every
context's revision of this round; 0011 merges them into one head.

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the context's tables."""
    op.create_table(
        "exchange_bought_today",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_exchange_bought_today_quantity_not_negative")),
        sa.PrimaryKeyConstraint("account", "instrument", "day", name=op.f("pk_exchange_bought_today")),
    )
    op.create_table(
        "exchange_bulk_intents",
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("counterparty", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("posted_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_exchange_bulk_intents_side_known")),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'withdrawn')", name=op.f("ck_exchange_bulk_intents_status_known")
        ),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= quantity",
            name=op.f("ck_exchange_bulk_intents_remaining_bounded"),
        ),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_exchange_bulk_intents")),
    )
    op.create_index(
        "ix_exchange_bulk_intents_status", "exchange_bulk_intents", ["status", "instrument"], unique=False
    )
    op.create_table(
        "exchange_bulk_offers",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("counterparty", sa.String(length=64), nullable=False),
        sa.Column("made_by_account", sa.String(length=64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("buyer_hold", sa.String(length=64), nullable=True),
        sa.Column("seller_hold", sa.String(length=64), nullable=True),
        sa.Column("trade_id", sa.String(length=64), nullable=True),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'superseded', 'settled', 'withdrawn')",
            name=op.f("ck_exchange_bulk_offers_status_known"),
        ),
        sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_exchange_bulk_offers")),
    )
    op.create_index(
        "ix_exchange_bulk_offers_negotiation",
        "exchange_bulk_offers",
        ["intent_id", "counterparty", "status"],
        unique=False,
    )
    op.create_table(
        "exchange_journal",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_exchange_journal_seq_positive")),
        sa.PrimaryKeyConstraint("stream", "seq", name=op.f("pk_exchange_journal")),
    )
    op.create_table(
        "exchange_journal_heads",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_exchange_journal_heads")),
    )
    op.create_table(
        "exchange_orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("filled", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=True),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_exchange_orders_side_known")),
        sa.CheckConstraint(
            "status IN ('open', 'filled', 'cancelled')", name=op.f("ck_exchange_orders_status_known")
        ),
        sa.CheckConstraint(
            "remaining >= 0 AND filled >= 0 AND filled + remaining <= quantity",
            name=op.f("ck_exchange_orders_fill_bounded"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_exchange_orders")),
    )
    op.create_index(
        "ix_exchange_orders_account_status", "exchange_orders", ["account", "status"], unique=False
    )
    op.create_index(
        "ix_exchange_orders_instrument_status", "exchange_orders", ["instrument", "status"], unique=False
    )
    op.create_table(
        "exchange_trades",
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=10), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("buyer_account", sa.String(length=64), nullable=False),
        sa.Column("seller_account", sa.String(length=64), nullable=False),
        sa.Column("buy_order_id", sa.String(length=64), nullable=True),
        sa.Column("sell_order_id", sa.String(length=64), nullable=True),
        sa.Column("buyer_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("aggressor", sa.String(length=4), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "buyer_account <> seller_account", name=op.f("ck_exchange_trades_distinct_parties")
        ),
        sa.CheckConstraint("quantity > 0 AND price_fen > 0", name=op.f("ck_exchange_trades_positive")),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_exchange_trades")),
    )
    op.create_index("ix_exchange_trades_at", "exchange_trades", ["at"], unique=False)
    op.create_index("ix_exchange_trades_buyer", "exchange_trades", ["buyer_account", "at"], unique=False)
    op.create_index("ix_exchange_trades_day", "exchange_trades", ["day", "modality"], unique=False)
    op.create_index("ix_exchange_trades_instrument_at", "exchange_trades", ["instrument", "at"], unique=False)
    op.create_index("ix_exchange_trades_seller", "exchange_trades", ["seller_account", "at"], unique=False)


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_exchange_trades_seller", table_name="exchange_trades")
    op.drop_index("ix_exchange_trades_instrument_at", table_name="exchange_trades")
    op.drop_index("ix_exchange_trades_day", table_name="exchange_trades")
    op.drop_index("ix_exchange_trades_buyer", table_name="exchange_trades")
    op.drop_index("ix_exchange_trades_at", table_name="exchange_trades")
    op.drop_table("exchange_trades")
    op.drop_index("ix_exchange_orders_instrument_status", table_name="exchange_orders")
    op.drop_index("ix_exchange_orders_account_status", table_name="exchange_orders")
    op.drop_table("exchange_orders")
    op.drop_table("exchange_journal_heads")
    op.drop_table("exchange_journal")
    op.drop_index("ix_exchange_bulk_offers_negotiation", table_name="exchange_bulk_offers")
    op.drop_table("exchange_bulk_offers")
    op.drop_index("ix_exchange_bulk_intents_status", table_name="exchange_bulk_intents")
    op.drop_table("exchange_bulk_intents")
    op.drop_table("exchange_bought_today")
