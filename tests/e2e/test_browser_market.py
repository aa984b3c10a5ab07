"""The market page and the one-way bidding page in headless Chromium, on the real app: the chart is
drawn with Plotly from real settled trades, a new trade arrives through the live feed, and a member
bids in an open session and sees the published result once the operator has cleared it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from carbonmarket.db.engine import make_engine
from carbonmarket.exchange.settlement import exchange_rules
from e2e.live import chromium_page, screenshot_path, sign_in
from integration.exchange.sessions_market import (
    AFTER,
    APPLIED,
    APPROVED,
    CLOSES,
    DURING,
    FUNDS_FEN,
    MARKET_PASSWORD,
    MARKET_USERS,
    OPENS,
    OPERATOR,
    SELLER,
    Market,
    _prepare,
    attach_market,
    done,
    serve_market_app,
)

pytestmark = pytest.mark.browser

SECRET = "market-page-test-secret-0123456789abcdef01234"
# Listed trades at 10:00 CST on Monday 7 to Friday 11 July 2025: 96.00, 96.50, ... 98.00.
TRADE_DAYS = [datetime(2025, 7, 7 + n, 2, 0, tzinfo=UTC) for n in range(5)]
TRADE_PRICES = [9_600 + 50 * n for n in range(5)]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    """A market database with a week of listed trades and a published session S1 for 16 July."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('market-page')) / 'carbonmarket.db'}"
    _prepare(url, MARKET_USERS)
    engine = make_engine(url)
    market = attach_market(engine, APPLIED - timedelta(days=1))
    done(
        market.sessions.apply(
            SELLER,
            "S1",
            account="S-T",
            side="sell",
            instrument="CEA24",
            quantity=100_000,
            limit_price_fen=9_700,
            opens_at=OPENS,
            closes_at=CLOSES,
            price_mode="uniform",
            minimum_t=0,
        )
    )
    market.at(APPROVED)
    done(market.sessions.approve(OPERATOR, "approve-S1", "S1", seed=11))
    for n, (moment, price) in enumerate(zip(TRADE_DAYS, TRADE_PRICES, strict=True)):
        market.at(moment)
        market.trade(f"L{n}", price, 1_000 + 100 * n, buyer="C-T")
    market.at(DURING)
    yield market
    engine.dispose()


@pytest.fixture(scope="module")
def live_server(market: Market) -> Iterator[str]:
    with serve_market_app(market.engine, SECRET, market.clock) as base:
        yield base


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    with chromium_page() as opened:
        problems: list[str] = []
        opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        yield opened
        assert not [p for p in problems if "Content Security Policy" in p], problems


def test_the_market_page_draws_the_daily_close_from_real_trades(
    page: Any, live_server: str, market: Market
) -> None:
    page.goto(f"{live_server}/market")
    row = page.locator('#closes tr[data-instrument="CEA24"]')
    # Friday's close 98.00 is the latest; today (16 July) has no listed trade yet, so it is carried.
    expect(row.locator("td.close")).to_have_text("98.00", use_inner_text=True)
    page.select_option("#chart-instrument", "CEA24")
    page.wait_for_selector('#market-chart[data-instrument="CEA24"]')
    page.wait_for_selector("#market-chart .main-svg")
    closes = page.evaluate("document.getElementById('market-chart').data[1].y")
    days = page.evaluate("document.getElementById('market-chart').data[1].x")
    # The reference price 97.49 before the first trade, then each day's VWAP (one trade a day).
    week = dict(zip(days, closes, strict=True))
    assert [week[f"2025-07-{7 + n:02d}"] for n in range(5)] == [p / 100 for p in TRADE_PRICES]
    assert week["2025-07-04"] == 97.49 and week["2025-07-16"] == 98.0
    volumes = dict(
        zip(
            *page.evaluate(
                "[document.getElementById('market-chart').data[0].x,"
                " document.getElementById('market-chart').data[0].y]"
            ),
            strict=True,
        )
    )
    assert volumes["2025-07-11"] == 1_400
    page.screenshot(path=screenshot_path("market.png"), full_page=True)
    # A trade settled now arrives through the live feed without reloading the page.
    page.wait_for_selector('#live-state:text-is("(live)")')
    market.trade("LIVE1", 9_850, 700, buyer="D-T")
    page.wait_for_selector('#recent-trades tr[data-trade="LIVE1"]')
    expect(page.locator('#recent-trades tr[data-trade="LIVE1"] td').nth(3)).to_have_text(
        "98.50", use_inner_text=True
    )


def test_a_member_bids_in_an_open_session_and_sees_the_published_result(
    page: Any, live_server: str, market: Market
) -> None:
    assert market.clock.now() <= DURING
    market.at(DURING)
    sign_in(page, live_server, "bea", MARKET_PASSWORD, "/exchange/bidding")
    page.wait_for_selector('#sessions-open tr[data-session="S1"]')
    page.select_option("#bid-session", "S1")
    page.select_option("#bid-account", "B-T")
    page.fill("#bid-price", "98.00")
    page.fill("#bid-quantity", "40000")
    page.click("#bid-submit")
    page.wait_for_selector('#my-bids tr td.bid-status:text("sealed")')
    reserved = exchange_rules().buy_reservation("bidding", 9_800, 40_000)
    assert market.balance("B-T", "CNY") == (FUNDS_FEN, reserved)
    # A bid above the ceiling (97.49 + 10% = 107.23, the band of the notice) is refused in words.
    page.fill("#bid-price", "120.00")
    page.fill("#bid-quantity", "1000")
    page.click("#bid-submit")
    page.wait_for_selector("#bidding-error:not([hidden])")
    expect(page.locator("#bidding-error")).to_contain_text("above", use_inner_text=True)
    # The window closes; the operator clears the session from the same page.
    market.at(AFTER)
    sign_in(page, live_server, "ops", MARKET_PASSWORD, "/exchange/bidding")
    page.click('button[data-action="close"][data-session="S1"]')
    page.wait_for_selector("#result-section:not([hidden])")
    expect(page.locator("#result-bids tr[data-bid] td").nth(4)).to_have_text("won", use_inner_text=True)
    # The member comes back and sees the award: 40,000 t at the uniform price 98.00.
    sign_in(page, live_server, "bea", MARKET_PASSWORD, "/exchange/bidding")
    page.wait_for_selector('#my-bids tr td.bid-status:text("won")')
    page.click('#sessions-closed tr[data-session="S1"] .result-link')
    stats = page.inner_text("#result-stats")
    assert "40,000" in stats and "3,920,000.00" in stats
    page.screenshot(path=screenshot_path("bidding.png"), full_page=True)
    assert market.balance("B-T", "CEA24") == (50_000 + 40_000, 0)
    assert market.registry.reconcile().ok
    # The market page lists the published result.
    page.goto(f"{live_server}/market")
    expect(page.locator('#bidding-results tr[data-session="S1"] td').nth(4)).to_have_text(
        "40,000", use_inner_text=True
    )
