"""The monthly data pages: entry of one month (`/mrv/entry`) and import of whole files (`/mrv/import`).

Entry: the form is rendered on the server from the parameter catalogue (mrv/data/parameters.toml),
one fieldset per sector. Our page script (web/static/mrv_entry.js) sends the fields to
`POST /api/mrv/records/check` as they change and shows the validation model's findings, then submits to
`POST /api/mrv/records` with the signed-in user's token. No inline script, as the site's CSP requires.

Import: a shell whose script (web/static/mrv_import.js) uploads a monthly-data file to
`POST /api/mrv/records/imports` and a roster file to `POST /api/mrv/roster/imports`, then shows the
rows accepted, every rejected row with its reason, and the alerts the validation model raised.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.mrv.model import Sector, parameters_of
from carbonmarket.mrv.records.importer import EVIDENCE_PREFIX, ID_COLUMNS, file_bytes_max
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


@router.api_route("/mrv/import", methods=["GET", "HEAD"], response_class=HTMLResponse)
def import_files(request: Request) -> HTMLResponse:
    """Upload a province's monthly data or a roster file; see accepted rows, rejections and alerts."""
    from carbonmarket.mrv.roster.model import roster_rules

    rules = roster_rules()
    context = {
        "id_columns": ID_COLUMNS,
        "evidence_prefix": EVIDENCE_PREFIX,
        "file_mb_max": file_bytes_max // (1024 * 1024),
        "threshold_t": rules.threshold_t,
        "threshold_source": rules.threshold_source,
        "sectors": [
            {"name": SECTOR_NAMES[sector], "columns": [p.name for p in parameters_of(sector)]}
            for sector in Sector
        ],
    }
    return templates.TemplateResponse(request, "mrv_import.html", context, headers=SECURITY_HEADERS)
