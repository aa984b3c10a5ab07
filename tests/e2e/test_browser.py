"""The portal in a real browser: headless Chromium against the real app served by uvicorn.

The server runs in a background thread on a port of 127.0.0.1 chosen by the OS, over a fresh
SQLite database populated through the services. Without /usr/bin/chromium or Playwright the tests
are skipped locally and fail in CI (CI=true), like the PostgreSQL tests in tests/conftest.py.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SECRET = "browser-test-secret-0123456789abcdef01234567"
PASSWORD = "correct horse battery"
SCREENSHOT = Path("/tmp/home.png")
server_start_timeout_s = 15.0
wait_ms = 10_000


def _require_browser() -> Any:
    """Playwright's sync API, or a skip (locally) / failure (CI) when the browser is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"headless Chromium is required but {CHROMIUM} is missing"
    try:
        from playwright import sync_api
    except ImportError:
        problem = "Playwright for Python is required but not installed"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (CI)")
        pytest.skip(problem)
    return sync_api


def _populate(url: str) -> None:
    """A small market: two vintages issued, plant A holding, surrendering, and a representative."""
    engine = make_engine(url)
    try:
        registry = Registry(engine)
        identity = Identity(engine, SECRET)
        registry.define_defaults(LOCAL_OPERATOR)
        op = LOCAL_OPERATOR
        steps = [
            registry.add_holder(op, "MEE", "Ministry of Ecology and Environment", "government"),
            registry.add_holder(op, "PLANT-A", "Huaneng Plant A", "entity"),
            registry.add_holder(op, "PLANT-B", "Datang Plant B", "entity"),
            registry.open_account(op, "ISSUANCE", "MEE", "issuance"),
            registry.open_account(op, "SURRENDER", "MEE", "surrender"),
            registry.open_account(op, "HOLD-A", "PLANT-A", "holding"),
            registry.open_account(op, "HOLD-B", "PLANT-B", "holding"),
            registry.issue(op, "issue-23", "CEA23", 5_220_000_000, "ISSUANCE"),
            registry.issue(op, "issue-24", "CEA24", 1_234_567, "ISSUANCE"),
            registry.transfer(op, "deliver-a", "ISSUANCE", "HOLD-A", "CEA23", 250_000),
            registry.surrender(op, "surrender-a", "HOLD-A", "CEA23", 50_000, "SURRENDER"),
            identity.add_user(op, "rep-a", PASSWORD, "entity_representative", "PLANT-A"),
            identity.grant(op, "rep-a", "HOLD-A", "initiate"),
        ]
        for outcome in steps:
            assert isinstance(outcome, Done), outcome
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on 127.0.0.1, served by uvicorn in a background thread; yields its base URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'carbonmarket.db'}"
    upgrade(url)
    _populate(url)
    # Bind first and hand uvicorn the socket, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(url, Settings(jwt_secret=SECRET))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + server_start_timeout_s
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=server_start_timeout_s)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, shared by the tests of this module."""
    sync_api = _require_browser()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own sessionStorage); fails the test if the page logged a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(wait_ms)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    # Expected 401/403 answers are logged by Chromium as failed resources; anything else is a bug
    # in our scripts or a Content-Security-Policy violation.
    unexpected = [e for e in errors if "status of 401" not in e and "status of 403" not in e]
    assert not unexpected, unexpected


def _sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def test_home_page_lists_instruments_with_formatted_supply(page: Any, live_server: str) -> None:
    expect = _require_browser().expect
    page.goto(live_server + "/")
    assert page.title() == "carbonmarket — national carbon market"
    cea23 = page.locator('#instruments tr[data-instrument="CEA23"] td')
    expect(cea23).to_have_text(["Allowance (CEA)", "2023", "5,220,000,000", "50,000", "5,219,950,000"])
    expect(page.locator('#instruments tr[data-instrument="CEA24"] td').nth(2)).to_have_text("1,234,567")
    total = page.locator("#instruments tfoot td")
    expect(total).to_have_text(["5,221,234,567", "50,000", "5,221,184,567"])
    assert page.locator('#instruments tr[data-instrument="CNY"]').count() == 0
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_representative_signs_in_and_sees_its_account_balance(page: Any, live_server: str) -> None:
    expect = _require_browser().expect
    _sign_in(page, live_server, "rep-a", PASSWORD)
    page.wait_for_url(f"{live_server}/accounts/HOLD-A")
    expect(page.locator("#balances tbody tr th")).to_have_text(["CEA23"])
    expect(page.locator("#balances tbody tr td")).to_have_text(["200,000", "0", "200,000"])
    expect(page.locator("#account-summary")).to_contain_text("Huaneng Plant A")
    expect(page.locator("#history tbody")).to_contain_text("deliver-a")
    expect(page.locator("#history tbody")).to_contain_text("-50,000")
    expect(page.locator("#nav-session")).to_contain_text("rep-a")


def test_a_wrong_password_shows_an_error_and_keeps_the_user_on_the_form(page: Any, live_server: str) -> None:
    expect = _require_browser().expect
    _sign_in(page, live_server, "rep-a", "not-the-password")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    assert page.url == f"{live_server}/login"


def test_an_account_without_a_right_shows_a_forbidden_message(page: Any, live_server: str) -> None:
    expect = _require_browser().expect
    _sign_in(page, live_server, "rep-a", PASSWORD)
    page.wait_for_url(f"{live_server}/accounts/HOLD-A")
    page.goto(f"{live_server}/accounts/HOLD-B")
    expect(page.locator("#account-error")).to_contain_text("You are not allowed to view account HOLD-B")
    expect(page.locator("#balances-section")).to_be_hidden()


def test_an_account_page_without_sign_in_offers_the_sign_in_form(page: Any, live_server: str) -> None:
    expect = _require_browser().expect
    page.goto(f"{live_server}/accounts/HOLD-A")
    expect(page.locator("#account-error")).to_contain_text("Sign in to see account HOLD-A")
    page.click("#account-error a")
    # Wait for the login page's load event: its script must hold the form before the test submits it.
    page.wait_for_url(lambda url: "/login" in url)
    page.fill("#username", "rep-a")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server}/accounts/HOLD-A")
    expect(page.locator("#balances tbody tr td").first).to_have_text("200,000")


def test_a_sign_in_submitted_before_the_page_script_ran_is_held_and_then_sent(
    page: Any, live_server: str
) -> None:
    """The login page's module script is held back until after the click: without the early guard
    (static/hold_early_submit.js) the form would submit natively, a GET with the password in the URL."""
    expect = _require_browser().expect
    held_scripts: list[Any] = []
    page.route("**/static/login.js", lambda route: held_scripts.append(route))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/login?next=/accounts/HOLD-A", wait_until="commit")
    page.fill("#username", "rep-a")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    while not held_scripts:  # the browser has asked for the script: the click came first
        page.wait_for_timeout(20)
    held_scripts[0].continue_()
    page.wait_for_url(f"{live_server}/accounts/HOLD-A")
    expect(page.locator("#balances tbody tr td").first).to_have_text("200,000")
    assert not [url for url in requested if "password" in url], requested
