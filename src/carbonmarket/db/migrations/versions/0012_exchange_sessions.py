"""exchange sessions: tables of `carbonmarket.db.tables_exchange_sessions` (bidding, auctions, prices)

A branch of 0006 like every context's revision of this round; 0011 merges them into one head.

Revision ID: 0012
Revises: 0006
"""

from __future__ import annotations

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables."""


def downgrade() -> None:
    """Drop them."""
