"""The reviewer's queue page, `/mrv/review`.

A shell rendered on the server with the site's look and security headers (no inline script, no
third-party code); its data needs the signed-in reviewer's token, which lives in the browser's
sessionStorage, so our page script (static/mrv_review.js) fetches the queue from
`/api/mrv/review/queue` and posts take, refer, resolve, confirm and comment actions to the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.mrv.review.model import Outcome
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)


@router.api_route("/mrv/review", methods=["GET", "HEAD"], response_class=HTMLResponse)
def review_queue(request: Request) -> HTMLResponse:
    """The queue of cases and open alerts for the signed-in reviewer's tier and region."""
    return templates.TemplateResponse(
        request,
        "mrv_review.html",
        {"outcomes": [o.value for o in Outcome]},
        headers=SECURITY_HEADERS,
    )
