"""The exchange: orders, bulk agreements, one-way bidding, auctions, settlement, market data."""
