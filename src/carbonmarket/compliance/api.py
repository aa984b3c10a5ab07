"""HTTP routes of the compliance context, under `/api/compliance`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/compliance", tags=["compliance"])
