"""A project per methodology from design document to issued CCERs, on SQLite and PostgreSQL, and the
refusals of out-of-order steps, ineligible periods and double issuance; nothing issued on refusal."""

from __future__ import annotations

import pytest
from ccer_market import EXAMPLES, MEE, OTHER_OWNER, OWNER, SHA, VALIDATOR, VERIFIER, Market, done, refused

from carbonmarket.core.results import Code
from carbonmarket.registry import postings
from carbonmarket.registry.service import Registry
from carbonmarket.voluntary.facts import credit_facts


def balance(market: Market, account: str, instrument: str) -> int:
    with market.engine.connect() as connection:
        return postings.balances(connection, [(account, instrument)])[(account, instrument)].total


@pytest.mark.parametrize("code", list(EXAMPLES))
def test_a_project_of_each_methodology_goes_from_design_document_to_issued_ccers(
    market: Market, code: str
) -> None:
    registered = market.register_project("P1", code)
    assert registered["status"] == "registered"
    submitted = market.register_report("P1", "P1-R1", "2024-01-01", "2024-12-31", code=code)
    claimed = submitted["claimed_t"]
    assert claimed > 0 and claimed == submitted["calculation"]["reduction_t"]
    issued = done(market.ccer.issue(MEE, "iss-1", "P1-R1"))
    assert issued["instrument"] == "CCER-P1-2024"
    assert issued["quantity"] == claimed
    assert issued["serials"] == ["CCER-P1-2024-000001", f"CCER-P1-2024-{claimed:06d}"]
    assert balance(market, "OWN1-H", "CCER-P1-2024") == claimed
    assert balance(market, "CN-ISSUANCE", "CCER-P1-2024") == 0
    assert Registry(market.engine).reconcile().ok


def test_the_offshore_wind_example_issues_678333_tonnes_with_its_facts(market: Market) -> None:
    market.register_project("WIND1")
    market.register_report("WIND1", "W-2024", "2024-01-01", "2024-12-31")
    assert done(market.ccer.issue(MEE, "iss", "W-2024"))["quantity"] == 678_333
    with market.engine.connect() as connection:
        facts = credit_facts(connection, "CCER-WIND1-2024")
    assert facts is not None
    assert (facts.project_id, facts.methodology, facts.field) == (
        "WIND1",
        "CCER-01-002-V01",
        "energy_industries",
    )
    assert facts.registered_on.isoformat() == "2025-04-07"  # 2025-03-03 + 35 days
    assert facts.monitoring_period == "2024-01-01/2024-12-31"
    assert facts.in_mandatory_sector is False and facts.article6_authorised is False


def test_out_of_order_steps_are_refused_with_the_state_and_what_comes_next(market: Market) -> None:
    example = EXAMPLES["CCER-01-002-V01"]
    done(
        market.ccer.submit_project(
            OWNER,
            "P2",
            name="P2",
            owner_id="OWN1",
            methodology="CCER-01-002-V01",
            sector="renewable_power",
            province="Fujian",
            construction_start="2022-01-01",
            operation_start="2023-06-01",
            crediting_start="2024-01-01",
            crediting_end="2033-12-31",
            parameters=example["parameters"],
            document_sha256=SHA,
            expected_annual_t=1,
        )
    )
    early = refused(market.ccer.apply_registration(OWNER, "a1", "P2"), Code.CCER_PROJECT_WRONG_STATE)
    assert "draft" in early.message and "validate" in early.message
    refused(
        market.ccer.decide_registration(MEE, "d1", "P2", approve=True, reason="x"),
        Code.CCER_PROJECT_WRONG_STATE,
    )
    done(
        market.ccer.validate(
            VALIDATOR, "v1", "P2", report_sha256=SHA, opinion="ok", owner_commitment="a", vvb_commitment="b"
        )
    )
    done(market.ccer.disclose_project(OWNER, "dis", "P2"))
    still_open = refused(market.ccer.apply_registration(OWNER, "a2", "P2"), Code.CCER_DISCLOSURE_OPEN)
    # 20 working days from Monday 2025-03-03 end on Monday 2025-03-31.
    assert "2025-03-31" in still_open.message
    refused(
        market.ccer.submit_report(
            OWNER, "R", "P2", period_start="2024-01-01", period_end="2024-06-30", inputs=example["monitored"]
        ),
        Code.CCER_PROJECT_WRONG_STATE,
    )


def test_comments_are_taken_only_during_disclosure(market: Market) -> None:
    example = EXAMPLES["CCER-01-002-V01"]
    done(
        market.ccer.submit_project(
            OWNER,
            "P3",
            name="P3",
            owner_id="OWN1",
            methodology="CCER-01-002-V01",
            sector="renewable_power",
            province="Fujian",
            construction_start="2022-01-01",
            operation_start="2023-06-01",
            crediting_start="2024-01-01",
            crediting_end="2033-12-31",
            parameters=example["parameters"],
            document_sha256=SHA,
            expected_annual_t=1,
        )
    )
    refused(market.ccer.comment(MEE, "c0", "project", "P3", "Ann", "too early"), Code.CCER_DISCLOSURE_CLOSED)
    done(
        market.ccer.validate(
            VALIDATOR, "v", "P3", report_sha256=SHA, opinion="ok", owner_commitment="a", vvb_commitment="b"
        )
    )
    done(market.ccer.disclose_project(OWNER, "d", "P3"))
    done(market.ccer.comment(MEE, "c1", "project", "P3", "Ann", "where is the turbine list?"))
    market.advance(35)
    refused(market.ccer.comment(MEE, "c2", "project", "P3", "Ann", "too late"), Code.CCER_DISCLOSURE_CLOSED)
    assert [c["body"] for c in market.ccer.project("P3")["comments"]] == ["where is the turbine list?"]


def submit(market: Market, project_id: str, **overrides: object) -> object:
    example = EXAMPLES["CCER-01-002-V01"]
    fields = {
        "name": "x",
        "owner_id": "OWN1",
        "methodology": "CCER-01-002-V01",
        "sector": "renewable_power",
        "province": "Fujian",
        "construction_start": "2022-01-01",
        "operation_start": "2023-06-01",
        "crediting_start": "2024-01-01",
        "crediting_end": "2033-12-31",
        "parameters": example["parameters"],
        "document_sha256": SHA,
        "expected_annual_t": 1,
    } | overrides
    return market.ccer.submit_project(OWNER, project_id, **fields)


def test_design_documents_refuse_ineligible_dates_sectors_and_conditions(market: Market) -> None:
    refused(submit(market, "E1", construction_start="2012-11-08"), Code.CCER_CONSTRUCTION_TOO_EARLY)
    refused(
        submit(
            market,
            "E2",
            crediting_start="2020-09-22",
            operation_start="2020-01-01",
            construction_start="2019-01-01",
        ),
        Code.CCER_REDUCTIONS_TOO_EARLY,
    )
    # 10 years from 2024-01-01 end on 2033-12-31; one day more is refused for an energy methodology.
    refused(submit(market, "E3", crediting_end="2034-01-01"), Code.CCER_CREDITING_PERIOD_TOO_LONG)
    refused(submit(market, "E4", sector="power"), Code.CCER_SECTOR_COVERED)
    refused(submit(market, "E5", sector="steel"), Code.CCER_SECTOR_COVERED)
    refused(
        submit(
            market,
            "E6",
            parameters={
                "grid_region": "East",
                "distance_offshore_km": 10,
                "water_depth_m": 10,
                "capacity_mw": 1,
            },
        ),
        Code.CCER_METHODOLOGY_CONDITION_NOT_MET,
    )
    refused(submit(market, "lower"), Code.CCER_INVALID_PROJECT_ID)
    refused(
        market.ccer.submit_project(
            OTHER_OWNER,
            "E7",
            name="x",
            owner_id="OWN1",
            methodology="CCER-01-002-V01",
            sector="renewable_power",
            province="F",
            construction_start="2022-01-01",
            operation_start="2023-06-01",
            crediting_start="2024-01-01",
            crediting_end="2033-12-31",
            parameters=EXAMPLES["CCER-01-002-V01"]["parameters"],
            document_sha256=SHA,
            expected_annual_t=1,
        ),
        Code.FORBIDDEN,
    )
    assert market.ccer.projects() == []


def test_a_vvb_not_accredited_in_the_field_cannot_validate(market: Market) -> None:
    done(submit(market, "P4"))
    done(market.ccer.accredit(MEE, "susp", "VVB-A", "energy_industries", "suspended"))
    refusal = refused(
        market.ccer.validate(
            VALIDATOR, "v", "P4", report_sha256=SHA, opinion="ok", owner_commitment="a", vvb_commitment="b"
        ),
        Code.CCER_VVB_NOT_ACCREDITED,
    )
    assert "suspended" in refusal.message
    assert market.ccer.project("P4")["status"] == "draft"


def test_the_validating_body_cannot_verify_the_same_project(market: Market) -> None:
    market.register_project("P5")
    done(
        market.ccer.submit_report(
            OWNER,
            "R5",
            "P5",
            period_start="2024-01-01",
            period_end="2024-12-31",
            inputs=EXAMPLES["CCER-01-002-V01"]["monitored"],
        )
    )
    refused(
        market.ccer.verify_report(VALIDATOR, "v", "R5", verified_t=1, report_sha256=SHA),
        Code.CCER_VVB_SAME_BODY,
    )
    refused(
        market.ccer.verify_report(VERIFIER, "v2", "R5", verified_t=678_334, report_sha256=SHA),
        Code.CCER_VERIFIED_ABOVE_CLAIMED,
    )


def test_monitoring_periods_outside_the_rules_are_refused(market: Market) -> None:
    market.register_project("P6")
    inputs = EXAMPLES["CCER-01-002-V01"]["monitored"]

    def report(report_id: str, start: str, end: str) -> object:
        return market.ccer.submit_report(
            OWNER, report_id, "P6", period_start=start, period_end=end, inputs=inputs
        )

    refused(report("a", "2023-06-01", "2023-12-31"), Code.CCER_PERIOD_OUTSIDE_CREDITING)
    refused(report("b", "2024-06-01", "2025-01-31"), Code.CCER_PERIOD_SPANS_YEARS)
    refused(
        report("c", "2025-01-01", "2025-12-31"), Code.CCER_INVALID_DATE
    )  # not over yet (today 2025-04-07)
    done(report("d", "2024-01-01", "2024-06-30"))
    refused(report("e", "2024-06-30", "2024-12-31"), Code.CCER_PERIOD_OVERLAPS)


def test_reductions_already_claimed_as_green_certificates_are_refused(market: Market) -> None:
    market.register_project("P7")
    done(
        market.ccer.record_gec_claim(
            OWNER,
            "gec-1",
            "P7",
            period_start="2024-07-01",
            period_end="2024-09-30",
            mwh=300_000,
            reference="GEC batch 2024Q3",
        )
    )
    refusal = refused(
        market.ccer.submit_report(
            OWNER,
            "R7",
            "P7",
            period_start="2024-01-01",
            period_end="2024-12-31",
            inputs=EXAMPLES["CCER-01-002-V01"]["monitored"],
        ),
        Code.CCER_GEC_DOUBLE_COUNTING,
    )
    assert "gec-1" in refusal.message
    done(
        market.ccer.submit_report(
            OWNER,
            "R7a",
            "P7",
            period_start="2024-01-01",
            period_end="2024-06-30",
            inputs=EXAMPLES["CCER-01-002-V01"]["monitored"],
        )
    )
    refused(
        market.ccer.record_gec_claim(
            OWNER, "gec-2", "P7", period_start="2024-06-01", period_end="2024-06-30", mwh=1, reference="x"
        ),
        Code.CCER_GEC_DOUBLE_COUNTING,
    )


def test_issuance_refuses_above_verified_and_a_second_time_for_the_period(market: Market) -> None:
    market.register_project("P8")
    market.register_report("P8", "R8", "2024-01-01", "2024-12-31", verified_t=500_000)
    refused(market.ccer.issue(MEE, "too-much", "R8", quantity=500_001), Code.CCER_ISSUANCE_ABOVE_VERIFIED)
    assert balance(market, "OWN1-H", "CCER-P8-2024") == 0
    done(market.ccer.issue(MEE, "once", "R8"))
    refused(market.ccer.issue(MEE, "twice", "R8"), Code.CCER_ALREADY_ISSUED)
    assert balance(market, "OWN1-H", "CCER-P8-2024") == 500_000
    assert Registry(market.engine).reconcile().ok


def test_issuance_refuses_a_serial_block_overlapping_an_issued_one_and_issues_nothing(market: Market) -> None:
    from sqlalchemy import update

    from carbonmarket.db.tables import instruments

    market.register_project("P9")
    market.register_report("P9", "R9a", "2024-01-01", "2024-06-30")
    done(market.ccer.issue(MEE, "i1", "R9a"))
    market.register_report("P9", "R9b", "2024-07-01", "2024-12-31")
    # A corrupted serial counter would hand out numbers already issued: the issuance must refuse.
    with market.engine.begin() as connection:
        connection.execute(
            update(instruments).where(instruments.c.id == "CCER-P9-2024").values(next_serial=5)
        )
    refused(market.ccer.issue(MEE, "i2", "R9b"), Code.CCER_SERIAL_OVERLAP)
    assert market.ccer.report("R9b")["status"] == "registered"
    assert balance(market, "OWN1-H", "CCER-P9-2024") == 678_333


def test_only_the_regulator_issues_and_decides(market: Market) -> None:
    market.register_project("P10")
    market.register_report("P10", "R10", "2024-01-01", "2024-12-31")
    refused(market.ccer.issue(OWNER, "i", "R10"), Code.FORBIDDEN)
    refused(market.ccer.issue(VERIFIER, "i", "R10"), Code.FORBIDDEN)


def test_the_same_command_id_returns_the_first_result(market: Market) -> None:
    market.register_project("P11")
    market.register_report("P11", "R11", "2024-01-01", "2024-12-31")
    first = market.ccer.issue(MEE, "same", "R11")
    again = market.ccer.issue(MEE, "same", "R11")
    assert done(first) == done(again)
    assert again.result == "exists"  # type: ignore[union-attr]
    assert balance(market, "OWN1-H", "CCER-P11-2024") == 678_333
