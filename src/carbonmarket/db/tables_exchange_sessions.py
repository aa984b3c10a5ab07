"""Tables of the exchange's bidding sessions, auctions and market data (created by migration 0012)."""

from __future__ import annotations

from carbonmarket.db.tables import metadata  # noqa: F401
