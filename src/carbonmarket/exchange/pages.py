"""The member's order ticket, `/exchange/trade`, and B3's market pages as `extra_routers`.

A shell rendered on the server with the site's look and security headers (no inline script, no
third-party code); everything on it needs the signed-in member's token, which lives in the
browser's sessionStorage, so our page script (static/exchange_trade.js) reads the book, the
member's balances, open orders and fills from `/api/exchange/...` and posts orders and cancels.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from carbonmarket.exchange.settlement import exchange_rules
from carbonmarket.web.pages import SECURITY_HEADERS, templates

router = APIRouter(include_in_schema=False)


@router.api_route("/exchange/trade", methods=["GET", "HEAD"], response_class=HTMLResponse)
def trade(request: Request) -> HTMLResponse:
    """The order ticket, book depth, balances and blotter of the signed-in member."""
    rules = exchange_rules()
    return templates.TemplateResponse(
        request,
        "exchange_trade.html",
        {
            "instruments": sorted(rules.listed_allowances, reverse=True),
            "quantity_max_t": rules.listed.quantity_max_t,
        },
        headers=SECURITY_HEADERS,
    )


def _extra_routers() -> list[APIRouter]:
    """B3's `/market` and `/exchange/bidding` pages, when its module exists."""
    try:
        module = importlib.import_module("carbonmarket.exchange.market_pages")
    except ImportError:
        return []
    found = getattr(module, "router", None)
    return [found] if isinstance(found, APIRouter) else []


extra_routers = _extra_routers()
