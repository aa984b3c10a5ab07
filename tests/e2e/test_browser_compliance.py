"""An entity's representative surrenders through the compliance position page, in headless Chromium
on the real app: signs in, sees the obligation and which holdings settle the year, surrenders part,
is refused beyond what is owed, and the ledger still reconciles."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from carbonmarket.api.app import create_app
from carbonmarket.compliance import api as compliance_api
from carbonmarket.compliance.service import Compliance
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from e2e.live import chromium_page, server_start_timeout_s, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration" / "compliance"))
from compliance_market import MEE, PASSWORD, Market, build_market, cheap_hashes, done

pytestmark = pytest.mark.browser
SECRET = "compliance-browser-secret-0123456789abcdef"


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve an app built here (its compliance service on the test's clock) on a free port."""
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


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Market]]:
    """2024 open; alice represents E1, which owes 1,000,000 t and holds 990,000 CEA24 and 10 CEA25."""
    cheap_hashes(monkeypatch)
    url = f"sqlite:///{tmp_path / 'compliance.db'}"
    upgrade(url)
    engine = make_engine(url)
    market = build_market(engine, users=[("alice", "entity_representative")])
    done(Identity(engine, SECRET).grant(LOCAL_OPERATOR, "alice", "E1-H", "initiate"))
    market.deliver("alloc", [("E1-H", "CEA24", 990_000), ("E1-H", "CEA25", 10)])
    done(market.compliance.open_year(MEE, "open-2024", 2024))
    app = create_app(url, Settings(jwt_secret=SECRET))
    app.dependency_overrides[compliance_api.compliance_service] = lambda: Compliance(
        engine, clock=market.clock, facts=market.facts, prices=market.prices
    )
    with serve(app) as base:
        yield base, market
    engine.dispose()


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_an_entity_surrenders_through_the_position_page(live: tuple[str, Market]) -> None:
    from playwright.sync_api import expect

    base, market = live
    with chromium_page() as page:
        sign_in(page, base, "alice", PASSWORD, "/compliance/position")
        page.wait_for_selector("#figures-section:not([hidden])")
        assert text_of(page, "#fig-obligation") == "1,000,000"
        assert text_of(page, "#fig-room") == "50,000"  # 5% of 1,000,000 (M Art. 29)
        holdings = text_of(page, "#holdings")
        assert "CEA25" in holdings and "no borrowing" in holdings
        # Only units that settle 2024 are offered.
        offered = page.locator("#surrender-instrument option").all_inner_texts()
        assert offered == ["CEA24 (990,000 t available)"]
        page.fill("#surrender-quantity", "600000")
        page.click("#surrender-submit")
        expect(page.locator("#position-status")).to_contain_text("Surrendered 600,000 t")
        expect(page.locator("#fig-owed")).to_have_text("400,000")
        assert "partly" in text_of(page, "#fig-status")
        assert "CS-web-" in text_of(page, "#history")
        page.fill("#surrender-quantity", "500000")
        page.click("#surrender-submit")
        expect(page.locator("#position-error")).to_contain_text("more than the 400000 t still owed")
        page.goto(f"{base}/compliance/list")
        assert text_of(page, "#list-summary") == "No compliance list is published yet."
    assert market.balance("CN-SURRENDER", "CEA24") == 600_000
    assert market.registry.reconcile().ok
