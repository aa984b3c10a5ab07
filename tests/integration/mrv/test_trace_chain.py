"""The whole MRV chain on SQLite and PostgreSQL with the real neighbours — roster, records, the
validation model's alerts — then review, verification and `trace`.

A gas unit reports twelve months; March's gas use trips a threshold rule (a real alert in
`mrv_alerts`). The national reviewer opens a case from it, confirms the error, the entity corrects
March (version 2), the case closes, a body verifies the year, and the trace shows every link.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done, Outcome
from carbonmarket.mrv import trace as trace_module
from carbonmarket.mrv.records.model import RawRecord
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.review.service import Review
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.rules import store as rules_store
from carbonmarket.mrv.trace import register_consumer, trace, unregister_consumer
from carbonmarket.mrv.verification.service import Verification

REP = Actor("rep-1", Role.ENTITY_REPRESENTATIVE)
MONTH = {
    "coal_consumed_t": "0",
    "coal_ncv_gj_per_t": "0",
    "gas_consumed_10k_nm3": "21",
    "electricity_generated_mwh": "1000",
    "electricity_supplied_mwh": "970",
    "heat_supplied_gj": "0",
    "operating_hours_h": "500",
    "load_rate_fraction": "0.6",
}
GAS = "gas_consumed_10k_nm3"


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def month(n: int, gas: str = "21") -> RawRecord:
    """A month of the gas unit; generation varies a little, so no month looks copied from the last."""
    generated = {"electricity_generated_mwh": str(1000 + n), "electricity_supplied_mwh": str(970 + n)}
    return RawRecord("E-1", "UNIT-G", "power", 2024, n, {**MONTH, **generated, GAS: gas})


@pytest.fixture
def chain(engine: Engine) -> Iterator[dict[str, Any]]:
    """Roster, twelve months with one alert in March, the case, the correction, the verification."""
    clock = FixedClock(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    done(
        Roster(engine).add_entity(
            LOCAL_OPERATOR, "E-1", "Shenzhen Gas Power", "power", "Guangdong", "Shenzhen"
        )
    )
    records = Records(engine, clock)
    submitted = {
        n: done(records.submit_raw(REP, f"m{n}", month(n, "40" if n == 3 else "21"))) for n in range(1, 13)
    }
    review = Review(engine, clock)
    queue = review.queue(LOCAL_OPERATOR)
    (alert,) = [a for a in queue["alerts"] if a["month"] == 3]
    done(review.open_case(LOCAL_OPERATOR, "C1", alert_ids=[alert["alert_id"]]))
    done(review.take(LOCAL_OPERATOR, "t1", "C1"))
    done(review.resolve(LOCAL_OPERATOR, "r1", "C1", "confirmed_error", "meter read in the wrong unit"))
    with engine.connect() as connection:
        (confirmed,) = rules_store.get_alerts(connection, [alert["alert_id"]])
    done(records.submit_raw(REP, "m3-fix", month(3), correct=True, reason="meter unit corrected"))
    done(review.confirm_correction(LOCAL_OPERATOR, "k1", "C1", "version 2 checked"))
    with engine.connect() as connection:
        (corrected,) = rules_store.get_alerts(connection, [alert["alert_id"]])
    verification = Verification(engine, clock)
    done(verification.apply_body(LOCAL_OPERATOR, "B1", "Body One"))
    done(verification.qualify(LOCAL_OPERATOR, "q", "B1", "admitted"))
    done(verification.assign(LOCAL_OPERATOR, "V1", "E-1", 2024, "B1"))
    done(verification.start(LOCAL_OPERATOR, "s", "V1"))
    report = records.annual_report("E-1", 2024)
    submission = done(verification.submit(LOCAL_OPERATOR, "sub", "V1", report["emissions_tco2e"]))
    done(verification.accept(LOCAL_OPERATOR, "acc", "V1"))
    yield {
        "alert": alert,
        "alert_after_resolution": confirmed.status,
        "alert_after_correction": corrected.status,
        "march": submitted[3],
        "report": report,
        "submission": submission,
        "verification": verification,
    }


def test_resolving_and_confirming_a_case_moves_the_real_alert(chain: dict[str, Any]) -> None:
    assert chain["alert"]["rule_id"] and chain["alert"]["parameter"] == GAS
    assert (chain["alert_after_resolution"], chain["alert_after_correction"]) == ("confirmed", "corrected")


def test_the_verified_figure_sits_beside_the_reported_one_and_is_the_compliance_figure(
    chain: dict[str, Any],
) -> None:
    reported = chain["report"]["emissions_tco2e"]
    assert chain["submission"]["reported_emissions_tco2e"] == reported
    assert chain["verification"].verified_emissions("E-1", 2024) == reported


def test_the_trace_links_parameters_alerts_cases_report_and_verification(
    chain: dict[str, Any], engine: Engine
) -> None:
    traced = trace(engine, "E-1", 2024)
    alert_id, v1 = chain["alert"]["alert_id"], chain["march"]["record_id"]
    v2 = v1.replace("/v1", "/v2")
    assert traced["entity"]["province"] == "Guangdong" and traced["gaps"] == []
    assert [s["stage"] for s in traced["chain"]] == [
        "parameters",
        "rules",
        "report",
        "verification",
        "allocation",
        "compliance",
    ]
    stages = {s["stage"]: s for s in traced["chain"]}
    assert stages["parameters"]["record_versions"] == 13
    assert stages["rules"] | {"alerts": 1} == {
        "stage": "rules",
        "alerts": 1,
        "open_alerts": 0,
        "cases": 1,
        "open_cases": 0,
    }
    assert stages["report"]["emissions_tco2e"] == chain["report"]["emissions_tco2e"]
    assert stages["verification"] == {
        "stage": "verification",
        "status": "verified",
        "verified_emissions_tco2e": chain["report"]["emissions_tco2e"],
    }
    (line,) = [p for p in traced["parameters"] if (p["month"], p["parameter"]) == (3, GAS)]
    assert (line["value"], line["record_id"]) == ("21", v2)
    assert [(v["record_id"], v["value"]) for v in line["versions"]] == [(v1, "40"), (v2, "21")]
    assert (line["alerts"], line["cases"]) == ([alert_id], ["C1"])
    (other,) = [p for p in traced["parameters"] if (p["month"], p["parameter"]) == (4, GAS)]
    assert other["alerts"] == [] and len(other["versions"]) == 1
    assert traced["alerts"][0]["case"] == "C1" and traced["cases"][0]["outcome"] == "confirmed_error"
    assert traced["verification"]["current"] == "V1"
    assert (traced["allocation"], traced["compliance"]) == ([], [])
    edges = {(e["from"], e["to"], e["kind"]) for e in traced["edges"]}
    report = "report:E-1/2024"
    assert {
        (f"record:{v1}", f"alert:{alert_id}", "raised"),
        (f"alert:{alert_id}", "case:C1", "reviewed_in"),
        (f"record:{v1}", f"record:{v2}", "corrected_by"),
        (f"record:{v2}", report, "summed_into"),
        (report, "verification:V1", "verified_by"),
    } <= edges
    assert (f"record:{v1}", report, "summed_into") not in edges, "a superseded version is not in the report"


def test_figures_registered_for_allocation_appear_downstream_of_the_verification(
    chain: dict[str, Any], engine: Engine
) -> None:
    def allocation(_engine: Engine, entity_id: str, year: int) -> list[dict[str, Any]]:
        return [{"id": f"{entity_id}-{year}-true-up", "figure": 1000, "basis": "verified_emissions_tco2e"}]

    register_consumer("allocation", "test", allocation)
    try:
        traced = trace(engine, "E-1", 2024)
    finally:
        unregister_consumer("allocation", "test")
    assert traced["allocation"][0]["figure"] == 1000
    assert ("verification:V1", "allocation:E-1-2024-true-up", "used_by") in {
        (e["from"], e["to"], e["kind"]) for e in traced["edges"]
    }
    assert [s["figures"] for s in traced["chain"] if s["stage"] == "allocation"] == [1]
    with pytest.raises(ValueError):
        register_consumer("trading", "x", allocation)
    assert "test" not in trace_module._consumers["allocation"]


def test_an_entity_with_nothing_yet_traces_to_an_empty_chain_with_its_gaps(engine: Engine) -> None:
    traced = trace(engine, "E-NONE", 2024)
    assert (
        traced["parameters"] == [] and traced["report"] is None and traced["verification"]["current"] is None
    )
    assert any("roster" in gap for gap in traced["gaps"]) and any(
        "annual report" in gap for gap in traced["gaps"]
    )
