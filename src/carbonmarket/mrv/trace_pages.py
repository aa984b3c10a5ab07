"""The parameter trace page, `/mrv/trace?entity=E&year=Y`: the chain of one entity's year.

A shell rendered on the server (the form, prefilled from the query) with the site's security headers;
our page script (static/mrv_trace.js) fetches `/api/mrv/trace/{entity}/{year}` with the signed-in
user's token — the same data as `carbonmarket trace ENTITY YEAR --json` — and draws it: the chain's
stages, each monthly parameter with its versions, alerts and cases, the report, the verification,
and any further section (allocation, compliance, or one added later) generically, so a stage another
part registers with `mrv.trace.register_consumer` appears here without a change to this page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from carbonmarket.core.ids import id_length_max
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)
year_length_max = 4


@router.api_route("/mrv/trace", methods=["GET", "HEAD"], response_class=HTMLResponse)
def trace_page(
    request: Request,
    entity: Annotated[str, Query(description="Entity id on the roster.")] = "",
    year: Annotated[str, Query(description="Reporting year.")] = "",
) -> HTMLResponse:
    """The chain from each monthly parameter and rule result to the report, verification and later figures."""
    # Only prefills the form: the API checks the id and year and refuses them in its own words.
    context = {
        "entity": entity.strip()[:id_length_max],
        "year": year.strip()[:year_length_max],
        "id_length_max": id_length_max,
    }
    return templates.TemplateResponse(request, "mrv_trace.html", context, headers=SECURITY_HEADERS)
