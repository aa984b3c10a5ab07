"""Tables of the exchange's bidding sessions, auctions and market data (created by migration 0012).

One-way bidding sessions and primary auctions keep their notice, their life (status and who moved
it when), the seed of their tie-break and their published result; bids are sealed rows that hold
the bidder's funds or units until clearing. `exchange_closes` is the official close of each day per
instrument (and the composite `CEA`), with the day's open, high, low and volume and value per
modality, so series are read from it instead of recomputed from every trade.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Index, Integer, String, Table, Text

from carbonmarket.db.tables import BigId, metadata

exchange_bidding_sessions = Table(
    "exchange_bidding_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("initiator_account", String(64), nullable=False),
    # The initiator's side: `sell` (bidders buy) or `buy` (bidders sell).
    Column("side", String(4), nullable=False),
    Column("instrument", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    # The floor (sell session) or cap (buy session) of the notice, fen per tonne.
    Column("limit_price_fen", BigInteger, nullable=False),
    Column("price_mode", String(12), nullable=False),
    Column("bidder_cap_t", BigInteger, nullable=False),
    Column("minimum_t", BigInteger, nullable=False),
    Column("opens_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("status", String(12), nullable=False),
    # Fixed when the exchange publishes the notice: the previous close and the band it gives.
    Column("reference_close_fen", BigInteger),
    Column("band_low_fen", BigInteger),
    Column("band_high_fen", BigInteger),
    # The tie-break seed is drawn when the notice is published and shown with the results.
    Column("seed", BigInteger),
    Column("hold_id", String(64)),
    Column("note", Text),
    Column("applied_by", String(64), nullable=False),
    Column("applied_at", String(32), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", String(32)),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    Column("cleared_quantity", BigInteger),
    Column("cleared_value_fen", BigInteger),
    Column("clearing_price_fen", BigInteger),
    Column("outcome_reason", Text),
    # The clearing's tie-break record (JSON): which equal bids the seeded draw ordered, and how.
    Column("tie_break", Text),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("limit_price_fen > 0", name="price_positive"),
    CheckConstraint("side IN ('buy', 'sell')", name="side_known"),
    CheckConstraint(
        "status IN ('applied', 'published', 'rejected', 'cleared', 'cancelled')", name="status_known"
    ),
    Index("ix_exchange_bidding_sessions_status", "status", "opens_at"),
)

exchange_auctions = Table(
    "exchange_auctions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("instrument", String(64), nullable=False),
    # What this auction offers: new volume plus unsold volume carried from earlier auctions.
    Column("base_quantity", BigInteger, nullable=False),
    Column("carried_quantity", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("reserve_price_fen", BigInteger, nullable=False),
    Column("bidder_cap_t", BigInteger, nullable=False),
    Column("opens_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("status", String(12), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("hold_id", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    Column("secondary_price_fen", BigInteger),
    Column("clearing_price_fen", BigInteger),
    Column("sold", BigInteger),
    Column("unsold", BigInteger),
    Column("proceeds_fen", BigInteger),
    Column("outcome_reason", Text),
    Column("tie_break", Text),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("reserve_price_fen > 0", name="reserve_positive"),
    CheckConstraint("status IN ('open', 'cleared', 'cancelled')", name="status_known"),
)

# Unsold auction volume, cut into shares for the next auctions of the instrument (EU rule, DOMAIN.md
# §5 [reg: EU]); a share is taken up by the auction it joins (`to_auction`).
exchange_auction_carryovers = Table(
    "exchange_auction_carryovers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("from_auction", String(64), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("instrument", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("to_auction", String(64)),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_exchange_auction_carryovers_open", "instrument", "to_auction", "id"),
)

# Sealed bids of bidding sessions and auctions: `kind` says which, `session_id` which one.
exchange_session_bids = Table(
    "exchange_session_bids",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("account", String(64), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("hold_id", String(64), nullable=False),
    Column("hold_quantity", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("awarded_quantity", BigInteger),
    Column("awarded_price_fen", BigInteger),
    Column("trade_id", String(64)),
    Column("submitted_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("price_fen > 0", name="price_positive"),
    CheckConstraint("kind IN ('bidding', 'auction')", name="kind_known"),
    CheckConstraint("status IN ('sealed', 'won', 'partial', 'lost', 'released')", name="status_known"),
    Index("ix_exchange_session_bids_session", "kind", "session_id", "seq", unique=True),
    Index("ix_exchange_session_bids_account", "account", "at"),
)

# The official close of a trading day per instrument; `instrument` = "CEA" is the composite.
exchange_closes = Table(
    "exchange_closes",
    metadata,
    Column("instrument", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("open_fen", BigInteger),
    Column("high_fen", BigInteger),
    Column("low_fen", BigInteger),
    Column("close_fen", BigInteger, nullable=False),
    Column("previous_close_fen", BigInteger),
    # True when no listed trade happened and the previous close was carried over.
    Column("carried", Boolean, nullable=False),
    Column("listed_volume", BigInteger, nullable=False),
    Column("listed_value_fen", BigInteger, nullable=False),
    Column("bulk_volume", BigInteger, nullable=False),
    Column("bulk_value_fen", BigInteger, nullable=False),
    Column("bidding_volume", BigInteger, nullable=False),
    Column("bidding_value_fen", BigInteger, nullable=False),
    Column("auction_volume", BigInteger, nullable=False),
    Column("auction_value_fen", BigInteger, nullable=False),
    Column("computed_by", String(64), nullable=False),
    Column("computed_at", String(32), nullable=False),
    CheckConstraint("close_fen > 0", name="close_positive"),
    Index("ix_exchange_closes_day", "day"),
    Index("ix_exchange_closes_computed", "computed_at"),
)
