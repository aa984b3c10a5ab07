"""The public market page `/market`, the one-way bidding page `/exchange/bidding`, and Plotly's bundle.

`/market` is rendered on the server from market data (per instrument the latest close, its change
and the day's volume by modality; the recent trades; the published bidding results); our page
script (static/market.js) draws the daily close and volume chart with Plotly from
`/api/market/series` and adds trades as the live feed (`/api/market/stream`) announces them.
Plotly's browser bundle is served from the installed `plotly` package at `/market/plotly.min.js`
(DESIGN.md: third-party browser code from installed packages, never a CDN or a copy in the repo).

`/exchange/bidding` is a shell: the sessions list, the bid form and the operator's buttons need the
signed-in user's token, so static/exchange_bidding.js fetches and posts to the API.

B2's `exchange/pages.py` lists this module's `router` in its `extra_routers`.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from carbonmarket.api.deps import ServicesDep
from carbonmarket.core.calendar import CHINA_STANDARD_TIME
from carbonmarket.core.units import format_fen
from carbonmarket.exchange.market_api import market_clock
from carbonmarket.exchange.marketdata import COMPOSITE, MODALITIES, MarketData
from carbonmarket.exchange.sessions import Sessions
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)
# The chart shows the last year of trading days; the API serves longer ranges on request.
chart_days = 366
recent_trades_shown = 20
results_shown = 10
# Plotly writes its own <style> rules and inline styles on the chart's SVG; the market page allows
# inline styles (never inline script), everything else as on every page.
MARKET_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    ),
}


def _price(value: int | None) -> str:
    return "—" if value is None else format_fen(value)


def _change(row: dict[str, Any]) -> str:
    change = row.get("change_fen")
    if change is None:
        return "—"
    return ("+" if change > 0 else "") + format_fen(change)


@router.api_route("/market", methods=["GET", "HEAD"], response_class=HTMLResponse)
def market(request: Request, services: ServicesDep) -> HTMLResponse:
    """The public market page: closes, volume by modality, the chart, recent trades, bidding results."""
    clock = market_clock(request)
    data = MarketData(services.engine, clock)
    today = clock.now().astimezone(CHINA_STANDARD_TIME).date()
    overview = data.overview(today)
    rows = sorted(overview["instruments"], key=lambda r: (r["instrument"] != COMPOSITE, r["instrument"]))
    results = [
        s for s in Sessions(services.engine, clock).sessions("cleared", None, results_shown) if "result" in s
    ]
    context = {
        "day": overview["day"],
        "rows": rows,
        "modalities": MODALITIES,
        "price": _price,
        "change": _change,
        "trades": data.recent_trades(None, recent_trades_shown)["trades"],
        "results": results,
        "chart_from": (today - timedelta(days=chart_days)).isoformat(),
        "chart_to": today.isoformat(),
        "instruments": [r["instrument"] for r in rows],
    }
    return templates.TemplateResponse(request, "market.html", context, headers=MARKET_HEADERS)


@router.api_route("/market/plotly.min.js", methods=["GET", "HEAD"])
def plotly_bundle() -> Response:
    """Plotly's browser bundle from the installed `plotly` Python package."""
    bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
    return FileResponse(
        str(bundle),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.api_route("/exchange/bidding", methods=["GET", "HEAD"], response_class=HTMLResponse)
def bidding(request: Request) -> HTMLResponse:
    """One-way bidding sessions: upcoming, open (a bid form for members), closed with results."""
    return templates.TemplateResponse(request, "exchange_bidding.html", {}, headers=SECURITY_HEADERS)
