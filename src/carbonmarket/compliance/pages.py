"""Web pages of the compliance context: an entity's position with a surrender form, a province's
risk dashboard, and the public compliance list.

The position and dashboard pages are shells rendered on the server with the site's look and
security headers; their data needs the signed-in user's token (in the browser's sessionStorage), so
our page scripts (static/compliance_position.js, static/compliance_dashboard.js) fetch it from
`/api/compliance/...` and post surrenders there. The public list needs no sign-in and is rendered
on the server from the same service the API calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.api.deps import ServicesDep
from carbonmarket.compliance.service import Compliance
from carbonmarket.core.results import Refused
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)


@router.api_route("/compliance/position", methods=["GET", "HEAD"], response_class=HTMLResponse)
def position(request: Request) -> HTMLResponse:
    """An entity's compliance position and a surrender form (static/compliance_position.js)."""
    return templates.TemplateResponse(request, "compliance_position.html", {}, headers=SECURITY_HEADERS)


@router.api_route("/compliance/dashboard", methods=["GET", "HEAD"], response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """A province's compliance risk dashboard (static/compliance_dashboard.js)."""
    return templates.TemplateResponse(request, "compliance_dashboard.html", {}, headers=SECURITY_HEADERS)


@router.api_route("/compliance/list", methods=["GET", "HEAD"], response_class=HTMLResponse)
def public_list(request: Request, services: ServicesDep, year: int | None = None) -> HTMLResponse:
    """The public compliance list of a closed year: the rate and the entities that fell short."""
    service = Compliance(services.engine)
    try:
        listed = service.public_list(year)
        message = None
    except Refused as refused:
        listed, message = None, refused.refusal.message
    return templates.TemplateResponse(
        request,
        "compliance_list.html",
        {"listed": listed, "message": message, "years": service.years()},
        headers=SECURITY_HEADERS,
    )
