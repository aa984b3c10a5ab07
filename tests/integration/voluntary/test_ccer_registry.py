"""Serial blocks split as CCERs move and are cancelled, and the search finds each part; Article 6
transfers; legacy projects' facts; methodology proposals; readings aggregated into a report."""

from __future__ import annotations

from datetime import timedelta

from ccer_market import EXAMPLES, MEE, OTHER_OWNER, OWNER, SHA, Market, done, refused

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.results import Code
from carbonmarket.registry.service import Registry
from carbonmarket.voluntary.facts import credit_facts

OWNER_BOTH = Actor(
    "owner1",
    Role.PROJECT_OWNER,
    rights=frozenset({("OWN1-H", Permission.INITIATE), ("OWN1-T", Permission.INITIATE)}),
)


def issued_wind(market: Market, project: str = "W1") -> None:
    market.register_project(project)
    market.register_report(project, f"{project}-R", "2024-01-01", "2024-12-31")
    done(market.ccer.issue(MEE, f"{project}-i", f"{project}-R"))


def test_blocks_split_on_transfer_and_cancellation_and_search_finds_each_part(market: Market) -> None:
    issued_wind(market)
    # Lowest serials move first: 1-100 go to the trading account, then 101-150 are cancelled.
    done(market.registry.transfer(OWNER_BOTH, "t1", "OWN1-H", "OWN1-T", "CCER-W1-2024", 100))
    cancelled = done(
        market.ccer.cancel(
            OWNER,
            "c1",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=50,
            kind="voluntary",
            claim="product",
            beneficiary="Green Tea Co",
            purpose="carbon-neutral tea, 2025 harvest",
        )
    )
    assert cancelled["serials"] == [["CCER-W1-2024-000101", "CCER-W1-2024-000150"]]
    assert market.ccer.search_serial("CCER-W1-2024-000001")["holder_account_type"] == "trading"
    hit = market.ccer.search_serial("ccer-w1-2024-125")
    assert (hit["retired"], hit["status"], hit["certificate"]["beneficiary"]) == (
        True,
        "cancelled",
        "Green Tea Co",
    )
    rest = market.ccer.search_serial("CCER-W1-2024-678333")
    assert (rest["holder_account_type"], rest["retired"], rest["vintage"]) == ("holding", False, 2024)
    assert rest["monitoring_period"] == ["2024-01-01", "2024-12-31"]
    for bad, code in (
        ("CCER-W1-2024-678334", Code.CCER_SERIAL_NOT_FOUND),
        ("W1-12", Code.CCER_INVALID_SERIAL),
    ):
        try:
            market.ccer.search_serial(bad)
        except Exception as error:
            assert error.refusal.code is code
        else:
            raise AssertionError(f"{bad} was found")
    assert Registry(market.engine).reconcile().ok


def test_cancellation_refuses_bad_kinds_and_leaves_balances(market: Market) -> None:
    issued_wind(market)
    refused(
        market.ccer.cancel(
            OWNER,
            "c",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=1,
            kind="compliance",
            beneficiary="x",
            purpose="y",
        ),
        Code.CCER_INVALID_CANCELLATION,
    )
    refused(
        market.ccer.cancel(
            OWNER,
            "c2",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=1,
            kind="voluntary",
            beneficiary="x",
            purpose="y",
        ),
        Code.CCER_INVALID_CANCELLATION,
    )
    refused(
        market.ccer.cancel(
            OTHER_OWNER,
            "c3",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=1,
            kind="voluntary",
            claim="event",
            beneficiary="x",
            purpose="y",
        ),
        Code.FORBIDDEN,
    )
    refused(
        market.ccer.cancel(
            OWNER,
            "c4",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=678_334,
            kind="voluntary",
            claim="event",
            beneficiary="x",
            purpose="y",
        ),
        Code.INSUFFICIENT_BALANCE,
    )
    refused(
        market.ccer.cancel(
            OWNER,
            "c5",
            account_id="OWN1-H",
            instrument_id="CEA24",
            quantity=1,
            kind="voluntary",
            claim="event",
            beneficiary="x",
            purpose="y",
        ),
        Code.CCER_NOT_A_CCER,
    )
    assert market.ccer.public_overview()["cancellations"] == []


def test_international_transfers_need_an_article6_authorisation_of_the_project(market: Market) -> None:
    issued_wind(market)
    refused(
        market.ccer.cancel(
            OWNER,
            "x1",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=10,
            kind="international",
            beneficiary="Singapore",
            purpose="NDC",
            authorisation_id="A6-1",
            acquiring_party="SG",
        ),
        Code.CCER_AUTHORISATION_NOT_FOUND,
    )
    done(market.ccer.authorise_article6(MEE, "A6-1", "W1", uses="NDC", reference="MEE letter 2025-01"))
    moved = done(
        market.ccer.cancel(
            OWNER,
            "x2",
            account_id="OWN1-H",
            instrument_id="CCER-W1-2024",
            quantity=10,
            kind="international",
            beneficiary="Republic of Singapore",
            purpose="NDC use",
            authorisation_id="A6-1",
            acquiring_party="SG",
        )
    )
    assert (moved["first_transfer"], moved["corresponding_adjustment"], moved["acquiring_party"]) == (
        True,
        True,
        "SG",
    )
    certificate = market.ccer.certificate(moved["certificate"])
    assert certificate["authorisation_id"] == "A6-1" and certificate["kind"] == "international"
    with market.engine.connect() as connection:
        facts = credit_facts(connection, "CCER-W1-2024")
    assert facts is not None and facts.article6_authorised


def test_a_legacy_project_keeps_its_old_registration_date_for_compliance(market: Market) -> None:
    done(
        market.ccer.record_legacy_project(
            MEE,
            "OLD1",
            name="Old hydro",
            owner_id="OWN1",
            methodology="CM-001-V01",
            sector="renewable_power",
            province="Yunnan",
            registered_on="2015-06-01",
            crediting_start="2014-01-01",
            crediting_end="2020-12-31",
        )
    )
    done(market.ccer.issue_legacy(MEE, "old-1", "OLD1", 2016, 5_000))
    with market.engine.connect() as connection:
        facts = credit_facts(connection, "CCER-OLD1-2016")
    assert facts is not None
    assert (facts.registered_on.isoformat(), facts.legacy, facts.vintage) == ("2015-06-01", True, 2016)
    refused(market.ccer.issue_legacy(OWNER, "old-2", "OLD1", 2016, 1), Code.FORBIDDEN)
    assert Registry(market.engine).reconcile().ok


def test_a_methodology_proposal_goes_through_public_consultation(market: Market) -> None:
    done(
        market.ccer.propose_methodology(
            OWNER,
            "PR1",
            code="CCER-01-003-V01",
            title="Biomass power",
            field="energy_industries",
            summary="grid-connected biomass power",
            document_sha256=SHA,
        )
    )
    refused(
        market.ccer.propose_methodology(
            OWNER, "PR2", code="CCER-01-002-V01", title="x", field="x", summary="x", document_sha256=SHA
        ),
        Code.CCER_PROPOSAL_CODE_TAKEN,
    )
    refused(
        market.ccer.decide_proposal(MEE, "d0", "PR1", adopt=True, reason="x"), Code.CCER_PROPOSAL_WRONG_STATE
    )
    done(market.ccer.open_consultation(MEE, "o", "PR1"))
    done(market.ccer.comment(MEE, "pc", "proposal", "PR1", "Institute", "include co-firing"))
    refused(market.ccer.decide_proposal(MEE, "d1", "PR1", adopt=True, reason="ok"), Code.CCER_DISCLOSURE_OPEN)
    market.advance(30)
    assert done(market.ccer.decide_proposal(MEE, "d2", "PR1", adopt=True, reason="ok"))["status"] == "adopted"


def test_a_methane_report_sums_the_meter_readings_of_its_period(market: Market) -> None:
    market.register_project(
        "VAM", "CCER-10-001-V01", construction_start="2022-01-01", operation_start="2023-01-01"
    )
    device = Actor("apikey:x", Role.PROJECT_OWNER)
    # Readings at the market's clock (2025-04-07): the report's period is the first day of April
    # 2025 in China time, so move the clock to make them past and the period over.
    start = market.clock.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6, hours=8)
    readings = [
        {"timestamp": (start + timedelta(seconds=s)).isoformat(), "meter": "FM1", "value": "2.5"}
        for s in range(100)
    ]
    assert done(market.ccer.ingest(device, "VAM", "b1", readings))["accepted"] == 100
    day = (start + timedelta(hours=8)).date().isoformat()
    submitted = done(
        market.ccer.submit_report(
            OWNER,
            "VAM-R",
            "VAM",
            period_start=day,
            period_end=day,
            inputs={"destruction_efficiency": "0.98"},
            from_readings={"ch4_volume_m3": "FM1"},
        )
    )
    # 100 readings × 2.5 m3 = 250 m3; × 0.0007168 × 0.98 = 0.175616 t CH4; × 21 = 3.687936 t;
    # oxidation 0.175616 × 44/16 = 0.482944 t; ER = 3.204992 → 3 t.
    assert submitted["claimed_t"] == 3
    refused(
        market.ccer.submit_report(
            OWNER,
            "VAM-R2",
            "VAM",
            period_start="2025-03-01",
            period_end="2025-03-01",
            inputs={"destruction_efficiency": "0.98"},
            from_readings={"ch4_volume_m3": "FM1"},
        ),
        Code.CCER_NO_READINGS,
    )
    assert EXAMPLES["CCER-10-001-V01"]["sector"] == "coal_mining"
