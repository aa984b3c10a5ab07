"""The monthly data entry page in headless Chromium: live rule feedback while typing, then submission.

The app is the real auth, login page and records routers served by uvicorn over SQLite (mounted here
until the lead wires the records routers into api/app.py). Skipped locally without Chromium or
Playwright, failed in CI, like tests/e2e/test_browser.py.
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
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from carbonmarket.api import auth
from carbonmarket.api.deps import Services
from carbonmarket.api.errors import install_error_handlers
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.model import Finding, MonthlyRecord, RuleCategory, Severity
from carbonmarket.mrv.records import api, pages, service
from carbonmarket.registry.service import Registry
from carbonmarket.web import pages as web_pages

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SECRET = "records-page-test-secret-0123456789abcdef012"
PASSWORD = "correct horse battery"
server_start_timeout_s = 15.0
wait_ms = 10_000
POWER = {
    "coal_consumed_t": "1000",
    "coal_ncv_gj_per_t": "20.5",
    "gas_consumed_10k_nm3": "0",
    "electricity_generated_mwh": "3000",
    "electricity_supplied_mwh": "2800",
    "heat_supplied_gj": "0",
    "operating_hours_h": "600",
}


def _sync_api() -> Any:
    problem = None if CHROMIUM.exists() else f"headless Chromium is required but {CHROMIUM} is missing"
    try:
        from playwright import sync_api
    except ImportError:
        problem = "Playwright for Python is required but not installed"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (CI)")
        pytest.skip(problem)
    return sync_api


def _evaluate(record: MonthlyRecord, _previous: Any) -> list[Finding]:
    """A stub validation model: a warning for load rates under 0.5."""
    if record.values.get("load_rate_fraction", 1) < 0.5:
        return [
            Finding("T-LOAD", RuleCategory.THRESHOLD, Severity.WARNING, "load_rate_fraction", "load rate low")
        ]
    return []


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('entry') / 'carbonmarket.db'}"
    upgrade(url)
    engine = make_engine(url)
    identity = Identity(engine, SECRET)
    assert isinstance(identity.add_user(LOCAL_OPERATOR, "rep", PASSWORD, "entity_representative"), Done)
    app = FastAPI()
    app.state.services = Services(engine, Settings(jwt_secret=SECRET), Registry(engine), identity, None)
    install_error_handlers(app)
    for router in (auth.router, api.router, pages.router, web_pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("carbonmarket.web", "static")]), name="static")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "evaluate_rules", _evaluate)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + server_start_timeout_s
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=server_start_timeout_s)
            sock.close()
            engine.dispose()


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    sync_api = _sync_api()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        opened = context.new_page()
        opened.set_default_timeout(wait_ms)
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield opened
        browser.close()
        # 422 answers to a refused submission are logged by Chromium as failed resources; nothing else may be.
        assert not [e for e in errors if "status of 422" not in e], errors


def test_the_entry_page_checks_live_and_submits_a_month(page: Any, live_server: str) -> None:
    expect = _sync_api().expect
    page.goto(f"{live_server}/login?next=/mrv/entry")
    page.fill("#username", "rep")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server}/mrv/entry")
    page.fill("#entity_id", "E-1")
    page.fill("#facility_id", "UNIT-1")
    page.fill("#period", "2024-03")
    for name, value in POWER.items():
        page.fill(f"#power-{name}", value)
    page.fill("#power-load_rate_fraction", "0.4")
    # The stub model warns about the load rate while the user types; nothing is saved yet.
    expect(page.locator("#findings tbody tr")).to_have_count(1)
    expect(page.locator("#findings tbody")).to_contain_text("load rate low")
    expect(page.locator("#estimate")).to_contain_text("2295.7")
    page.fill("#power-coal_consumed_t", "abc")
    expect(page.locator("#problems")).to_contain_text("coal_consumed_t: 'abc' is not a number")
    page.fill("#power-coal_consumed_t", "1000")
    expect(page.locator("#problems")).to_be_hidden()
    page.click("#entry-submit")
    expect(page.locator("#result")).to_contain_text("Recorded as UNIT-1/2024-03/v1")
    # The same month again is refused, and the page says how to correct it.
    page.fill("#power-coal_consumed_t", "1010")
    expect(page.locator("#check-status")).to_contain_text("already submitted (version 1)")
    page.click("#entry-submit")
    expect(page.locator("#entry-error")).to_contain_text("was already submitted")
    page.select_option("#kind", "correction")
    page.fill("#reason", "belt scale recalibrated")
    page.click("#entry-submit")
    expect(page.locator("#result")).to_contain_text("UNIT-1/2024-03/v2")
    expect(page.locator("#result")).to_contain_text("superseding UNIT-1/2024-03/v1")


def test_the_entry_page_asks_to_sign_in_first(page: Any, live_server: str) -> None:
    expect = _sync_api().expect
    page.goto(f"{live_server}/mrv/entry")
    expect(page.locator("#entry-error")).to_contain_text("Sign in to check and submit monthly data")
    page.select_option("#sector", "aluminium")
    expect(page.locator('fieldset[data-sector="aluminium"]')).to_be_visible()
    expect(page.locator('fieldset[data-sector="power"]')).to_be_hidden()
