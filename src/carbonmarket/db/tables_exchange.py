"""Tables of the exchange's trading part (B2): the command journal, orders, trades, the T+1
bought-today ledger and bulk agreements. Created by migration 0009.

Prices are BIGINT fen, quantities BIGINT tonnes; times ISO-8601 UTC text like every table's;
`day` columns are trading days in China Standard Time (YYYY-MM-DD), the day the T+1 rule and the
market data count by.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, Text

from carbonmarket.db.tables import metadata

# The command journal (DESIGN.md rule 9): each command of a stream (one per listed instrument,
# `listed:CEA24`; others name their own) is appended, in the transaction that applies it, before
# it is applied, so replaying a stream in `seq` order rebuilds its book exactly.
exchange_journal = Table(
    "exchange_journal",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("command", Text, nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("seq >= 1", name="seq_positive"),
)

# The last journalled seq of each stream. A writer locks its stream's row first, so two processes
# never interleave a stream, and each sees whether another wrote since its book was built.
exchange_journal_heads = Table(
    "exchange_journal_heads",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

exchange_orders = Table(
    "exchange_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("instrument", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("mode", String(4), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("filled", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    # The ledger hold reserving the order's units (sell) or funds (buy); replaced on amend.
    Column("hold_id", String(64)),
    Column("placed_by", String(64), nullable=False),
    Column("placed_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("reason", String(40)),
    CheckConstraint("side IN ('buy', 'sell')", name="side_known"),
    CheckConstraint("status IN ('open', 'filled', 'cancelled')", name="status_known"),
    CheckConstraint("remaining >= 0 AND filled >= 0 AND filled + remaining <= quantity", name="fill_bounded"),
    Index("ix_exchange_orders_account_status", "account", "status"),
    Index("ix_exchange_orders_instrument_status", "instrument", "status"),
)

# Every trade of every modality: listed fills, bulk agreements, bidding and auction awards (B3
# inserts its own through `exchange.store.insert_trade`).
exchange_trades = Table(
    "exchange_trades",
    metadata,
    Column("trade_id", String(64), primary_key=True),
    Column("modality", String(10), nullable=False),
    Column("instrument", String(64), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("buyer_account", String(64), nullable=False),
    Column("seller_account", String(64), nullable=False),
    Column("buy_order_id", String(64)),
    Column("sell_order_id", String(64)),
    Column("buyer_fee_fen", BigInteger, nullable=False, default=0),
    Column("seller_fee_fen", BigInteger, nullable=False, default=0),
    Column("aggressor", String(4)),
    Column("at", String(32), nullable=False),
    Column("day", String(10), nullable=False),
    CheckConstraint("quantity > 0 AND price_fen > 0", name="positive"),
    CheckConstraint("buyer_account <> seller_account", name="distinct_parties"),
    Index("ix_exchange_trades_instrument_at", "instrument", "at"),
    Index("ix_exchange_trades_day", "day", "modality"),
    Index("ix_exchange_trades_at", "at"),
    Index("ix_exchange_trades_buyer", "buyer_account", "at"),
    Index("ix_exchange_trades_seller", "seller_account", "at"),
)

# Units each trading account bought on a trading day: not resellable that day (T+1, DOMAIN.md §5).
exchange_bought_today = Table(
    "exchange_bought_today",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("instrument", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
)

# Bulk agreement intents: one party's posted wish to buy or sell, optionally naming the only
# counterparty it will deal with (a direct trade between two named parties).
exchange_bulk_intents = Table(
    "exchange_bulk_intents",
    metadata,
    Column("intent_id", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("instrument", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("counterparty", String(64)),
    Column("status", String(10), nullable=False),
    Column("posted_by", String(64), nullable=False),
    Column("posted_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("side IN ('buy', 'sell')", name="side_known"),
    CheckConstraint("status IN ('open', 'done', 'withdrawn')", name="status_known"),
    CheckConstraint("remaining >= 0 AND remaining <= quantity", name="remaining_bounded"),
    Index("ix_exchange_bulk_intents_status", "status", "instrument"),
)

# The terms each negotiation went through. A negotiation is one intent with one counterparty; its
# latest offer (status `open`) is the current terms both parties confirm.
exchange_bulk_offers = Table(
    "exchange_bulk_offers",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("intent_id", String(64), nullable=False),
    Column("counterparty", String(64), nullable=False),
    Column("made_by_account", String(64), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("buyer_hold", String(64)),
    Column("seller_hold", String(64)),
    Column("trade_id", String(64)),
    Column("made_by", String(64), nullable=False),
    Column("made_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("status IN ('open', 'superseded', 'settled', 'withdrawn')", name="status_known"),
    Index("ix_exchange_bulk_offers_negotiation", "intent_id", "counterparty", "status"),
)
