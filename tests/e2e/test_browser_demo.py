"""The demo as a visitor sees it, in headless Chromium: a small generated market's year run through the
platform, then served — the market page draws the year's closes from the exchange, the public
compliance list gives the closed year's rate, and a demo log-in reaches its console."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from carbonmarket.simulation.demo_users import add_demo_users
from carbonmarket.simulation.spec import load_scenario
from carbonmarket.simulation.year import run_year
from e2e.live import chromium_page, screenshot_path, serve_app, sign_in

pytestmark = pytest.mark.browser

SECRET = "demo-page-test-secret-0123456789abcdef0123456"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    summary = run_year(url, load_scenario("demo"), entities=25, seed=11, progress=False)
    summary["users"] = add_demo_users(url, summary["sample_entity"])
    with serve_app(url, SECRET) as base:
        yield {"base": base, "summary": summary}


@pytest.fixture
def page(demo: dict[str, Any]) -> Iterator[Any]:
    with chromium_page() as opened:
        yield opened


def test_a_visitor_browses_the_demo_year_the_platform_ran(page: Any, demo: dict[str, Any]) -> None:
    base, summary = demo["base"], demo["summary"]
    assert summary["traded_volume_t"] > 0 and summary["reconcile_ok"]
    page.goto(f"{base}/market")
    # The latest close of the year's vintage is the year-end close the run reported.
    row = page.locator('#closes tr[data-instrument="CEA24"]')
    expect(row.locator("td.close")).to_have_text(f"{summary['close_year_end_cny']:.2f}", use_inner_text=True)
    page.select_option("#chart-instrument", "CEA24")
    page.wait_for_selector('#market-chart[data-instrument="CEA24"]')
    page.wait_for_selector("#market-chart .main-svg")
    days = page.evaluate("document.getElementById('market-chart').data[1].x")
    closes = page.evaluate("document.getElementById('market-chart').data[1].y")
    traded = [c for d, c in zip(days, closes, strict=True) if d.startswith("2025-")]
    assert traded and traded[-1] == summary["close_year_end_cny"]
    page.screenshot(path=screenshot_path("demo-market.png"), full_page=True)

    page.goto(f"{base}/compliance/list?year=2024")
    rate = summary["compliance_rate"] * 100
    expect(page.locator("#list-rate")).to_have_text(f"{int(rate * 100) / 100:.2f}%", use_inner_text=True)


def test_the_demo_log_ins_open_their_consoles(page: Any, demo: dict[str, Any]) -> None:
    users = {u["username"]: u for u in demo["summary"]["users"]}
    sign_in(page, demo["base"], "regulator", users["regulator"]["password"], "/compliance/dashboard")
    from playwright.sync_api import expect

    # The regulator's dashboard shows the run's year 2024: every generated entity is covered.
    expect(page.locator("#dashboard-pick")).to_be_visible()
    page.select_option("#dashboard-year", "2024")
    expect(page.locator("#dashboard-summary")).to_contain_text("compliance year 2024", use_inner_text=True)
    expect(page.locator("#dashboard-summary")).to_contain_text(
        f"{demo['summary']['entities']} covered entities"
    )
