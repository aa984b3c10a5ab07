"""The portal's pages: the public home page, sign-in, and an account's holdings.

Pages are rendered on the server from the same services the API calls. The account page is a
shell: its data needs the signed-in user's token, which lives in the browser's sessionStorage, so
our page script (static/account.js) fetches it from the JSON API and fills the page in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from carbonmarket.api.deps import RegistryDep

# Our pages load nothing from elsewhere and run no inline script, so the browser may refuse both:
# an injected <script> or a framed copy of the sign-in form gets nowhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Funds (CNY, counted in fen) settle trades; they are not carbon units and have no supply to publish.
CARBON_UNIT = "t"
KIND_NAMES = {"allowance": "Allowance (CEA)", "ccer": "CCER", "funds": "Funds"}


def thousands(value: int | None) -> str:
    """A whole number with thousands separators: 5220000000 → '5,220,000,000'."""
    return "—" if value is None else f"{value:,}"


_environment = Environment(
    loader=PackageLoader("carbonmarket.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
_environment.filters["thousands"] = thousands
templates = Jinja2Templates(env=_environment)

# Pages answer HEAD as well as GET: uptime monitors and link checkers probe with HEAD.
router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a page with the site's security headers."""
    return templates.TemplateResponse(request, template, context, headers=SECURITY_HEADERS)


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def home(request: Request, registry: RegistryDep) -> HTMLResponse:
    """The public home page: every carbon instrument with its issued, retired and circulating supply."""
    rows = [row for row in registry.instruments() if row["unit"] == CARBON_UNIT]
    totals = {key: sum(row[key] for row in rows) for key in ("issued", "retired", "supply")}
    return _page(request, "home.html", {"instruments": rows, "totals": totals, "kind_names": KIND_NAMES})


@router.api_route("/login", methods=["GET", "HEAD"], response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    """The sign-in form (static/login.js posts it to /api/auth/token)."""
    return _page(request, "login.html", {})


@router.api_route("/accounts/{account_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def account(request: Request, account_id: str) -> HTMLResponse:
    """An account's balances and history, filled in by static/account.js with the user's token."""
    return _page(request, "account.html", {"account_id": account_id})
