"""The public CCER portal in headless Chromium on the real app: search a serial number and read where
it is (project, vintage, account type, retired with its certificate); open a project in disclosure
and send a comment that lands on the public record; the owner's console lists the owner's projects."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import expect

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from e2e.live import chromium_page, server_start_timeout_s, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "voluntary"))
from ccer_market import EXAMPLES, MEE, OWNER, SHA, done, make_market, set_up_market

pytestmark = pytest.mark.browser
SECRET = "ccer-browser-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


def prepare(url: str) -> Any:
    """An issued and partly cancelled wind project (W1) and a solar project in disclosure (S1)."""
    upgrade(url)
    engine = make_engine(url)
    set_up_market(engine)
    market = make_market(engine)
    market.register_project("W1")
    market.register_report("W1", "W1-R", "2024-01-01", "2024-12-31")
    done(market.ccer.issue(MEE, "i", "W1-R"))
    done(
        market.ccer.cancel(
            OWNER,
            "c",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=200,
            kind="voluntary",
            claim="event",
            beneficiary="Hangzhou Expo 2025",
            purpose="event offset",
        )
    )
    done(
        market.ccer.submit_project(
            OWNER,
            "S1",
            name="Dunhuang solar thermal",
            owner_id="OWN1",
            methodology="CCER-01-001-V01",
            sector="renewable_power",
            province="Gansu",
            construction_start="2022-01-01",
            operation_start="2023-06-01",
            crediting_start="2024-01-01",
            crediting_end="2033-12-31",
            parameters=EXAMPLES["CCER-01-001-V01"]["parameters"],
            document_sha256=SHA,
            expected_annual_t=100_000,
        )
    )
    done(
        market.ccer.validate(
            make_vvb(),
            "sv",
            "S1",
            report_sha256=SHA,
            opinion="positive",
            owner_commitment="true",
            vvb_commitment="independent",
        )
    )
    done(market.ccer.disclose_project(OWNER, "sd", "S1"))
    identity = Identity(engine, SECRET)
    assert isinstance(identity.add_user(LOCAL_OPERATOR, "owner1", PASSWORD, "project_owner", "OWN1"), Done)
    assert isinstance(identity.grant(LOCAL_OPERATOR, "owner1", "OWN1-H", "initiate"), Done)
    engine.dispose()
    return market.clock


def make_vvb() -> Any:
    from ccer_market import VALIDATOR

    return VALIDATOR


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from argon2 import PasswordHasher

    import carbonmarket.identity.service as identity_service

    saved = identity_service._hasher
    identity_service._hasher = PasswordHasher(time_cost=1, memory_cost=64)
    url = f"sqlite:///{tmp_path_factory.mktemp('ccer-browser') / 'market.db'}"
    clock = prepare(url)
    app = create_app(url, Settings(jwt_secret=SECRET))
    app.state.ccer_clock = clock  # inside S1's disclosure window
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
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
        identity_service._hasher = saved


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    with chromium_page() as opened:
        yield opened


def test_search_by_serial_shows_project_vintage_account_type_and_certificate(
    page: Any, live_server: str
) -> None:
    page.goto(f"{live_server}/ccer")
    expect(page.locator("#cancellations")).to_contain_text("Hangzhou Expo 2025", use_inner_text=True)
    page.fill("#serial-input", "CCER-W1-2024-000150")
    page.click("#serial-submit")
    page.wait_for_selector("#serial-result:not([hidden])")
    result = page.inner_text("#serial-result")
    assert "W1 Project W1" in result and "2024" in result
    assert "cancellation account" in result and "retired (cancelled)" in result
    assert "Hangzhou Expo 2025" in result
    page.fill("#serial-input", "CCER-W1-2024-000201")
    page.click("#serial-submit")
    expect(page.locator("#serial-result")).to_contain_text("000201", use_inner_text=True)
    expect(page.locator("#serial-result")).to_contain_text("holding account", use_inner_text=True)
    expect(page.locator("#serial-result")).to_contain_text("in circulation", use_inner_text=True)
    page.fill("#serial-input", "CCER-W1-2024-999999")
    page.click("#serial-submit")
    page.wait_for_selector("#serial-error:not([hidden])")
    expect(page.locator("#serial-error")).to_contain_text("never issued", use_inner_text=True)


def test_a_project_in_disclosure_takes_a_public_comment(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/ccer")
    page.click("#disclosure a[href='/ccer/projects/S1']")
    page.wait_for_url("**/ccer/projects/S1")
    expect(page.locator("#project-status")).to_contain_text("in disclosure", use_inner_text=True)
    page.fill("#comment-author", "Gansu residents' association")
    page.fill("#comment-text", "Please publish the water use of the cooling system.")
    page.click("#comment-submit")
    expect(page.locator("#comment-status")).to_contain_text("public record", use_inner_text=True)
    page.reload()
    expect(page.locator("#comments")).to_contain_text("water use of the cooling system", use_inner_text=True)


def test_the_owner_console_lists_the_owners_projects_and_next_steps(page: Any, live_server: str) -> None:
    sign_in(page, live_server, "owner1", PASSWORD, "/ccer/owner")
    page.wait_for_selector("#owner-projects:not([hidden])")
    table = page.inner_text("#owner-projects")
    assert "S1 Dunhuang solar thermal" in table and "apply for registration" in table
    assert "W1" in table and "issued" in table
