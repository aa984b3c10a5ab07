"""The monthly data entry page, `/mrv/entry`: one facility's month, checked live as it is typed.

The form is rendered on the server from the parameter catalogue (mrv/data/parameters.toml), one
fieldset per sector. Our page script (web/static/mrv_entry.js) sends the fields to
`POST /api/mrv/records/check` as they change and shows the validation model's findings, then submits to
`POST /api/mrv/records` with the signed-in user's token. No inline script, as the site's CSP requires.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.mrv.model import Sector, parameters_of
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)

SECTOR_NAMES = {
    Sector.POWER: "Power generation",
    Sector.STEEL: "Iron and steel",
    Sector.CEMENT: "Cement clinker",
    Sector.ALUMINIUM: "Aluminium smelting",
}


@router.api_route("/mrv/entry", methods=["GET", "HEAD"], response_class=HTMLResponse)
def entry(request: Request) -> HTMLResponse:
    """An entity's monthly data entry form per sector, with live feedback from the validation model."""
    sectors = [
        {"key": sector.value, "name": SECTOR_NAMES[sector], "parameters": parameters_of(sector)}
        for sector in Sector
    ]
    return templates.TemplateResponse(
        request, "mrv_entry.html", {"sectors": sectors}, headers=SECURITY_HEADERS
    )
