"""Obligations, surrender, offsets, compliance status, year close, penalties, banking, risk (issue 4)."""
