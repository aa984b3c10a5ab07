"""Web pages of the allocation context: the regulator's console `/allocation` and `/allocation/entity`.

Shells rendered on the server with the site's look and security headers (no inline script, no
third-party code); their data needs the signed-in user's token, which lives in the browser's
sessionStorage, so our page script (static/allocation.js) reads plans, a year's dry run, runs and an
entity's lines from `/api/allocation` and posts pre-allocation and true-up after a confirmation.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.allocation.model import year_max, year_min
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)
# The year the console opens on: the latest year with a final plan (plan A, 2023-2024).
default_year = 2024


@router.api_route("/allocation", methods=["GET", "HEAD"], response_class=HTMLResponse)
def console(request: Request) -> HTMLResponse:
    """The regulator's allocation console."""
    context = {"year_min": year_min, "year_max": year_max, "default_year": default_year}
    return templates.TemplateResponse(request, "allocation.html", context, headers=SECURITY_HEADERS)


@router.api_route("/allocation/entity", methods=["GET", "HEAD"], response_class=HTMLResponse)
def entity_page(request: Request) -> HTMLResponse:
    """An entity's allocation lines (its representative sees its own entity)."""
    return templates.TemplateResponse(request, "allocation_entity.html", {}, headers=SECURITY_HEADERS)
