"""merge the allocation, compliance, exchange (trading, sessions) and voluntary branches into one head

Revision ID: 0011
Revises: 0007, 0008, 0009, 0010, 0012
"""

from __future__ import annotations

revision = "0011"
down_revision = ("0007", "0008", "0009", "0010", "0012")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the branches touch separate tables."""


def downgrade() -> None:
    """Nothing to change."""
