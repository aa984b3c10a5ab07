"""HTTP routes of the allocation context, under `/api/allocation`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/allocation", tags=["allocation"])
