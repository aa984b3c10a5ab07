"""The order ticket in headless Chromium, on the real app: a member signs in and places a sell,
another places a crossing buy, both see the fill in their blotters and their balances moved."""

from __future__ import annotations

import socket
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
from carbonmarket.core.clock import FixedClock
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from e2e.live import chromium_page, screenshot_path, sign_in
from integration.exchange.trading_market import MORNING, build_market, done

pytestmark = pytest.mark.browser

SECRET = "exchange-trade-page-secret-0123456789abcdef"
PASSWORD = "member-password-1"
server_start_timeout_s = 15.0


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app over SQLite with the trading test market, members alice (A-T) and bob (B-T),
    and the market's clock standing at 10:00 on a trading day (inside the morning session)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('trade') / 'carbonmarket.db'}"
    upgrade(url)
    engine = make_engine(url)
    build_market(engine)
    identity = Identity(engine, SECRET)
    for username, account in (("alice", "A-T"), ("bob", "B-T")):
        done(identity.add_user(LOCAL_OPERATOR, username, PASSWORD, "exchange_member", account[0]))
        done(identity.grant(LOCAL_OPERATOR, username, account, "initiate"))
    engine.dispose()
    app = create_app(url, Settings(jwt_secret=SECRET))
    app.state.market_clock = FixedClock(MORNING)
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


def balance_cell(page: Any, instrument: str, column: int) -> str:
    """A cell of the balances table: 2 total, 3 reserved, 4 available, 5 tradable."""
    return str(page.inner_text(f"#balances tbody tr:has(td:text-is('{instrument}')) td:nth-child({column})"))


def place(page: Any, side: str, price: str, quantity: str) -> None:
    page.select_option("#ticket-side", side)
    page.fill("#ticket-price", price)
    page.fill("#ticket-quantity", quantity)
    page.click("#ticket-submit")


def test_two_members_trade_and_both_see_the_fill_and_their_balances(live_server: str) -> None:
    with chromium_page() as seller:
        # A second tab of its own: sessionStorage (and so the signed-in member) is per tab.
        buyer = seller.context.browser.new_context().new_page()
        sign_in(seller, live_server, "alice", PASSWORD, "/exchange/trade")
        seller.wait_for_selector("#ticket-section:not([hidden])")
        assert balance_cell(seller, "CEA24", 2) == "200,000"
        place(seller, "sell", "98.00", "1000")
        seller.wait_for_selector("#open-orders tbody tr")
        expect(seller.locator("#open-orders")).to_contain_text("1,000", use_inner_text=True)
        # The page loads the book and the open orders side by side: wait for the book too.
        expect(seller.locator("#book tbody")).to_contain_text("98.00", use_inner_text=True)
        assert seller.inner_text("#book tbody").count("98.00") == 1

        sign_in(buyer, live_server, "bob", PASSWORD, "/exchange/trade")
        buyer.wait_for_selector("#ticket-section:not([hidden])")
        buyer.wait_for_selector("#book tbody tr")
        place(buyer, "buy", "98.50", "600")
        buyer.wait_for_selector("#fills tbody tr")
        # Bob bought 600 t at the resting 98.00: CNY 58,800.00 plus a fee of 5 bp, 29.40.
        fills = buyer.inner_text("#fills")
        assert "bought" in fills and "98.00" in fills and "600" in fills and "29.40" in fills
        buyer.wait_for_function("() => document.querySelector('#balances').innerText.includes('10,600')")
        assert balance_cell(buyer, "CNY", 2) == "499,941,170.60"  # 500,000,000.00 − 58,800.00 − 29.40

        # Alice's page refreshes on its own: the fill, 400 t still open, the proceeds in.
        seller.wait_for_selector("#fills tbody tr")
        expect(seller.locator("#fills")).to_contain_text("sold", use_inner_text=True)
        seller.wait_for_function("() => document.querySelector('#open-orders').innerText.includes('400')")
        assert balance_cell(seller, "CNY", 2) == "500,058,770.60"  # + 58,800.00 − 29.40
        assert balance_cell(seller, "CEA24", 3) == "400"  # reserved by the open order
        seller.click("#open-orders button[data-order]")
        seller.wait_for_selector("#orders-empty:not([hidden])")
        assert balance_cell(seller, "CEA24", 3) == "0"
        seller.screenshot(path=screenshot_path("exchange-trade.png"), full_page=True)
    assert Path(screenshot_path("exchange-trade.png")).exists()
