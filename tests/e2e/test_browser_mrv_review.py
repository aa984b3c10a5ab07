"""The reviewer's queue in headless Chromium, on the real app: imported monthly data raise alerts,
a regulator signs in, sees them at the national tier and opens a case from one."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import uvicorn
from playwright.sync_api import expect
from typer.testing import CliRunner

from carbonmarket.api.app import create_app
from carbonmarket.cli import app as cli_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.rules.generator import generate, inject

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SECRET = "review-page-test-secret-0123456789abcdef0123"
PASSWORD = "regulator-password"
server_start_timeout_s = 15.0
wait_ms = 15_000


def _monthly_csv(path: Path) -> Path:
    """Generated power records with anomalies injected (some of them raise warnings)."""
    data = inject(generate(12, seed=7), rate=0.3, seed=3)
    frame = data.frames()["power"].drop(["capacity_mw", "unit_category", "oxidation_fraction"])
    frame = frame.with_columns(pl.lit("power").alias("sector"))
    keys = ["entity_id", "facility_id", "sector", "year", "month"]
    frame.select([*keys, *[c for c in frame.columns if c not in keys]]).write_csv(path)
    return path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app over SQLite with imported monthly data and a regulator user."""
    folder = tmp_path_factory.mktemp("review")
    url = f"sqlite:///{folder / 'carbonmarket.db'}"
    upgrade(url)
    imported = CliRunner().invoke(
        cli_app, ["import", "monthly", str(_monthly_csv(folder / "m.csv")), "--db", url]
    )
    assert imported.exit_code == 0, imported.output
    engine = make_engine(url)
    outcome = Identity(engine, SECRET).add_user(LOCAL_OPERATOR, "regulator", PASSWORD, "regulator")
    assert isinstance(outcome, Done), outcome
    engine.dispose()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(url, Settings(jwt_secret=SECRET)), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + server_start_timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=server_start_timeout_s)
        sock.close()


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    """A page in headless Chromium; the test fails on any script error."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"headless Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": 1280, "height": 900})
        opened.set_default_timeout(wait_ms)
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
        browser.close()
    assert not errors, errors


def test_a_regulator_sees_open_alerts_in_the_review_queue(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/login?next=/mrv/review")
    page.fill("#username", "regulator")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/mrv/review")
    page.wait_for_selector("#alerts-section:not([hidden])")
    rows = page.locator("#alerts tbody tr")
    assert rows.count() >= 1
    expect(page.locator("#alerts")).to_contain_text("COM-LOG-001", use_inner_text=True)
    page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "review-queue.png"), full_page=True)
