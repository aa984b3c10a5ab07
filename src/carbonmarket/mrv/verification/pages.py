"""The verification console, `/mrv/verification`: the verifier's assignments and the regulator's view.

A shell rendered on the server with the site's look and security headers (no inline script, no
third-party code). Its data needs the signed-in user's token, which lives in the browser's
sessionStorage, so our page script (static/mrv_verification.js) reads and writes through the JSON
API: `/api/mrv/verification/...` for assignments, nonconformities, submission, acceptance, the register
of bodies, the published evaluation and streamlined eligibility, and `/api/mrv/records/.../report` for
the entity's annual report, whose lines name the monthly records they were computed from.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.mrv.verification.model import Mode, VerificationStatus, rules
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)


@router.api_route("/mrv/verification", methods=["GET", "HEAD"], response_class=HTMLResponse)
def console(request: Request) -> HTMLResponse:
    """A verifier's assignments and their steps; a regulator's assignment, acceptance and register view."""
    loaded = rules()
    context = {
        "statuses": [s.value for s in VerificationStatus],
        "modes": [m.value for m in Mode],
        "clean_years_required": loaded.clean_years_required,
        "streamlined_source": loaded.sources["streamlined"],
    }
    return templates.TemplateResponse(request, "mrv_verification.html", context, headers=SECURITY_HEADERS)
