"""HTTP routes of the exchange context, under `/api/exchange`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/exchange", tags=["exchange"])
