"""Web pages of the voluntary context: the public CCER portal `/ccer`, a project's page
`/ccer/projects/{id}`, a certificate `/ccer/certificates/{id}`, and the owner's console `/ccer/owner`.

Public pages are rendered on the server from the same reads as the API (nothing on them needs a
token); the search by serial number and the comment form are our small script (static/ccer.js)
calling `/api/ccer`. The owner's console is a shell whose script fetches the signed-in owner's
projects with the token from sessionStorage (static/ccer_owner.js), like the MRV pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.api.deps import ServicesDep
from carbonmarket.core.results import Refused
from carbonmarket.voluntary.api import voluntary_service
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)


def _missing(request: Request, refused: Refused) -> HTMLResponse:
    """A 404 page naming what was not found."""
    context = {"message": refused.refusal.message}
    return templates.TemplateResponse(
        request, "ccer_missing.html", context, status_code=404, headers=SECURITY_HEADERS
    )


@router.api_route("/ccer", methods=["GET", "HEAD"], response_class=HTMLResponse)
def portal(request: Request, services: ServicesDep) -> HTMLResponse:
    """Projects in disclosure (with the comment form), registered projects, issuances, cancellations."""
    overview = voluntary_service(services, request).public_overview()
    return templates.TemplateResponse(request, "ccer.html", {"o": overview}, headers=SECURITY_HEADERS)


@router.api_route("/ccer/projects/{project_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def project_page(project_id: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """A project's public record: design, validation, disclosure and comments, reports and issuances."""
    try:
        project = voluntary_service(services, request).project(project_id)
    except Refused as refused:
        return _missing(request, refused)
    return templates.TemplateResponse(request, "ccer_project.html", {"p": project}, headers=SECURITY_HEADERS)


@router.api_route("/ccer/certificates/{certificate_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def certificate_page(certificate_id: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """A public cancellation certificate."""
    try:
        certificate = voluntary_service(services, request).certificate(certificate_id)
    except Refused as refused:
        return _missing(request, refused)
    return templates.TemplateResponse(
        request, "ccer_certificate.html", {"c": certificate}, headers=SECURITY_HEADERS
    )


@router.api_route("/ccer/owner", methods=["GET", "HEAD"], response_class=HTMLResponse)
def owner_console(request: Request) -> HTMLResponse:
    """The signed-in project owner's projects, their states and next steps."""
    return templates.TemplateResponse(request, "ccer_owner.html", {}, headers=SECURITY_HEADERS)
