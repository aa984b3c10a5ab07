"""The allocation console in headless Chromium on the real app: a regulator signs in, sees the
published plan, runs the year's dry run, pre-allocates after confirming, and reads an entity's lines;
a representative sees its own entity's allocation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from e2e.live import chromium_page, serve_app, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "allocation"))
from allocation_helpers import done, market

pytestmark = pytest.mark.browser

SECRET = "allocation-page-test-secret-0123456789abcdef"
PASSWORD = "regulator-password"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app over SQLite: two power entities, 2022 verified emissions, the 2023 plan and data."""
    url = f"sqlite:///{tmp_path_factory.mktemp('allocation') / 'carbonmarket.db'}"
    upgrade(url)
    engine = make_engine(url)
    m = market(engine)
    m.power_entity("E1", ("E1-U1", "coal", "600", "water"))
    m.power_entity("E2", ("E2-U1", "gas", "300", "water"))
    m.verify("E1", 2022, 2_000_000)
    m.verify("E2", 2022, 300_000)
    m.publish("power-2023")
    m.activity("E1,E1-U1,2023,3000000,,2000000,0.60,,,", "E2,E2-U1,2023,1000000,,0,0.7,,,")
    identity = Identity(engine, SECRET)
    done(identity.add_user(LOCAL_OPERATOR, "regulator", PASSWORD, "regulator"))
    done(identity.add_user(LOCAL_OPERATOR, "rep", PASSWORD, "entity_representative"))
    engine.dispose()
    with serve_app(url, SECRET) as base:
        yield base


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    with chromium_page() as opened:
        yield opened


def test_a_regulator_pre_allocates_a_year_after_confirming_the_dry_run(page: Any, live_server: str) -> None:
    sign_in(page, live_server, "regulator", PASSWORD, "/allocation")
    page.wait_for_selector("#plans tbody tr")
    expect(page.locator("#plans")).to_contain_text("power-2023", use_inner_text=True)
    page.fill("#year", "2023")
    page.click("#year-load")
    page.wait_for_selector("#calc-section:not([hidden])")
    # 70% of 2,000,000 + 70% of 300,000 = 1,610,000.
    expect(page.locator("#calc-totals")).to_contain_text("pre-allocation 1,610,000 t", use_inner_text=True)
    expect(page.locator("#calc")).to_contain_text("IV", use_inner_text=True)
    page.click("#run-preallocation")
    expect(page.locator("#confirm-text")).to_contain_text("1,610,000 t", use_inner_text=True)
    page.click("#confirm-run")
    page.wait_for_selector("#runs tbody tr")
    expect(page.locator("#runs")).to_contain_text("1,610,000", use_inner_text=True)
    expect(page.locator("#alloc-status")).to_contain_text("delivered 1,610,000 t", use_inner_text=True)
    page.fill("#entity", "E1")
    page.click("#entity-load")
    page.wait_for_selector("#entity-years tbody tr")
    expect(page.locator("#entity-years")).to_contain_text("1,400,000", use_inner_text=True)
    page.click("#entity-years button")
    page.wait_for_selector("#lines:not([hidden]) tbody tr")
    expect(page.locator("#lines")).to_contain_text("share=0.70", use_inner_text=True)


def test_a_representative_sees_its_own_entity_and_not_another(page: Any, live_server: str) -> None:
    sign_in(page, live_server, "rep", PASSWORD, "/allocation/entity")
    page.fill("#entity", "E2")
    page.click("#entity-load")
    page.wait_for_selector("#alloc-error:not([hidden])")
    expect(page.locator("#alloc-error")).to_contain_text(
        "may read the allocation of entities it represents", use_inner_text=True
    )
