"""The double-entry unit ledger: append-only transfers, cached balances, holds, reconciliation."""
