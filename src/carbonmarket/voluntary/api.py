"""HTTP routes of the voluntary context, under `/api/ccer`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/ccer", tags=["voluntary"])
