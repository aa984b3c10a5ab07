"""The import page in headless Chromium, on the real app over SQLite: a provincial reviewer uploads a
province's monthly data with good and bad rows and sees the rejections and the alerts raised; a
regulator imports a roster file and sees who is included at the threshold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.review.service import Review
from carbonmarket.mrv.roster.service import Roster
from e2e.live import chromium_page, screenshot_path, serve_app, sign_in

pytestmark = pytest.mark.browser

SECRET = "import-browser-test-secret-0123456789abcdef"
PASSWORD = "import-page-password"
COLUMNS = (
    "entity_id,facility_id,sector,year,month,coal_consumed_t,coal_ncv_gj_per_t,gas_consumed_10k_nm3,"
    "electricity_generated_mwh,electricity_supplied_mwh,heat_supplied_gj,operating_hours_h,load_rate_fraction"
)


def month_row(month: int, gas: str = "21", entity: str = "E-GD", facility: str = "UNIT-G") -> str:
    """A gas unit's month that passes the validation model; generation varies so no month looks copied."""
    return f"{entity},{facility},power,2024,{month},0,0,{gas},{1000 + month},{970 + month},0,500,0.6"


def done(outcome: Outcome) -> None:
    assert isinstance(outcome, Done), outcome


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("import-files")
    monthly = folder / "guangdong-2024.csv"
    rows = [
        month_row(1),
        month_row(2),
        month_row(3, gas="40"),  # trips a threshold rule on gas use: accepted, with an alert
        month_row(4, gas="不详"),  # text in a number field ("unknown")
        month_row(5, gas="-3"),  # negative
        month_row(1, entity="E-SD", facility="UNIT-S"),  # an entity of another province
    ]
    monthly.write_bytes(("\n".join([COLUMNS, *rows]) + "\n").encode("gbk"))
    roster = folder / "emissions-wide.csv"
    roster.write_text(
        "entity_id,name,2023,2024\n"
        "E-GD,Shenzhen Gas Power,30000,41000\n"
        "E-SD,Jinan Coal Power,25000,20000\n"
        "E-HB,Wuhan Cement,27000,Not Reported\n",
        encoding="utf-8",
    )
    return {"monthly": monthly, "roster": roster}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app with two entities on the roster, a Guangdong reviewer and a regulator."""
    url = f"sqlite:///{tmp_path_factory.mktemp('import') / 'carbonmarket.db'}"
    upgrade(url)
    engine = make_engine(url)
    identity = Identity(engine, SECRET)
    done(identity.add_user(LOCAL_OPERATOR, "gd-reviewer", PASSWORD, "reviewer"))
    done(identity.add_user(LOCAL_OPERATOR, "regulator", PASSWORD, "regulator"))
    roster = Roster(engine)
    done(roster.add_entity(LOCAL_OPERATOR, "E-GD", "Shenzhen Gas Power", "power", "Guangdong", "Shenzhen"))
    done(roster.add_entity(LOCAL_OPERATOR, "E-SD", "Jinan Coal Power", "power", "Shandong", "Jinan"))
    done(Review(engine).assign_reviewer(LOCAL_OPERATOR, "scope-gd", "gd-reviewer", "provincial", "Guangdong"))
    engine.dispose()
    with serve_app(url, SECRET) as base:
        yield base


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    with chromium_page() as opened:
        yield opened


def test_a_reviewer_uploads_monthly_data_and_sees_rejections_and_alerts(
    page: Any, live_server: str, files: dict[str, Path]
) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "gd-reviewer", PASSWORD, "/mrv/import")
    page.set_input_files("#monthly-file", str(files["monthly"]))
    page.click("#monthly-submit")
    # 6 rows: months 1-3 of E-GD accepted; text, negative and another province's entity rejected.
    expect(page.locator("#monthly-summary")).to_contain_text(
        "6 rows read (csv, gbk): 3 accepted, 3 rejected, 1 alert raised."
    )
    rejected = page.locator("#monthly-rejected tbody tr")
    expect(rejected).to_have_count(3)
    expect(rejected.nth(0)).to_contain_text("不详")
    expect(rejected.nth(0)).to_contain_text("record value not a number")
    expect(rejected.nth(1)).to_contain_text("cannot be negative")
    expect(rejected.nth(2)).to_contain_text("outside the region of 'gd-reviewer': provincial (Guangdong)")
    alerts = page.locator("#monthly-alerts tbody tr")
    expect(alerts).to_have_count(1)
    expect(alerts.first).to_contain_text("UNIT-G/2024-03/v1")
    expect(alerts.first).to_contain_text("gas_consumed_10k_nm3")
    expect(page.locator("#review-link")).to_have_attribute("href", "/mrv/review")
    page.screenshot(path=screenshot_path("mrv-import.png"), full_page=True)
    # The same file again: the first result, said so.
    page.click("#monthly-submit")
    expect(page.locator("#monthly-summary")).to_contain_text("This file was imported before")
    # A reviewer keeps no roster: the refusal is shown in the server's words, and nothing is listed.
    page.set_input_files("#roster-file", str(files["roster"]))
    page.click("#roster-submit")
    expect(page.locator("#import-error")).to_contain_text(
        "importing a roster file needs the role registry_operator or regulator; 'gd-reviewer' is reviewer"
    )
    expect(page.locator("#roster-result")).to_be_hidden()


def test_a_regulator_imports_a_roster_file_with_a_year_and_threshold(
    page: Any, live_server: str, files: dict[str, Path]
) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "regulator", PASSWORD, "/mrv/import")
    expect(page.locator("#roster-threshold")).to_have_value("26000")
    page.set_input_files("#roster-file", str(files["roster"]))
    page.fill("#roster-year", "2024")
    page.click("#roster-submit")
    # 2024 at 26,000 t: E-GD 41,000 t in; E-SD 20,000 t out; E-HB "Not Reported" rejected.
    expect(page.locator("#roster-summary")).to_contain_text(
        "For 2024 at 26,000 t: 3 rows, 1 included (41,000 t), 1 below the threshold, 1 rejected."
    )
    expect(page.locator("#roster-rejected tbody tr")).to_have_count(1)
    expect(page.locator("#roster-rejected tbody")).to_contain_text("E-HB")
    expect(page.locator("#roster-rejected tbody")).to_contain_text("Not Reported")
