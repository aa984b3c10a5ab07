"""Three-tier review on SQLite and PostgreSQL: cases from alerts and by hand, referral down the
tiers, resolution with the alerts' status, refusals of out-of-order steps and of the wrong
reviewer, the queue, idempotency.

Alerts come from a stand-in for the validation part's store (`FakeAlerts`), so these tests run
whether or not `mrv/rules` has landed; `test_review_with_rules.py` drives the real one. Entity
locations come from the real roster (`Roster.add_entity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.db.tables_review import mrv_review_cases, mrv_review_messages
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.review.service import AlertView, Review
from carbonmarket.mrv.roster.service import Roster

PASSWORD = "correct horse battery"
DIGEST = "0f" * 32
NATIONAL = Actor("nat", Role.REVIEWER)
GUANGDONG = Actor("gd", Role.REVIEWER)
JIANGSU = Actor("js", Role.REVIEWER)
SHENZHEN = Actor("sz", Role.REVIEWER)
GUANGZHOU = Actor("gz", Role.REVIEWER)
UNASSIGNED = Actor("new", Role.REVIEWER)
MEE = Actor("mee", Role.REGULATOR)
REP = Actor("rep", Role.ENTITY_REPRESENTATIVE)


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


class FakeAlerts:
    """The validation part's alerts, kept in memory (statuses as `rules.store` would keep them)."""

    def __init__(self) -> None:
        self.alerts: dict[str, AlertView] = {}

    def add(self, alert_id: str, entity_id: str, year: int, month: int, rule: str = "P-001") -> None:
        self.alerts[alert_id] = AlertView(
            alert_id,
            entity_id,
            year,
            month,
            "open",
            rule,
            "warning",
            "coal_ncv_gj_per_t",
            "NCV out of band",
            seq=len(self.alerts) + 1,
        )

    def status(self, alert_id: str) -> str:
        return self.alerts[alert_id].status

    def get(self, connection: Connection, alert_ids: Sequence[str]) -> dict[str, AlertView]:
        return {a: self.alerts[a] for a in alert_ids if a in self.alerts}

    def open(self, connection: Connection, limit: int, after: int = 0) -> list[AlertView]:
        return [a for a in self.alerts.values() if a.status == "open" and a.seq > after][:limit]

    def of_entity_year(self, connection: Connection, entity_id: str, year: int) -> list[AlertView]:
        return [a for a in self.alerts.values() if (a.entity_id, a.year) == (entity_id, year)]

    def set_status(self, connection: Connection, alert_id: str, status: str) -> None:
        from dataclasses import replace

        self.alerts[alert_id] = replace(self.alerts[alert_id], status=status)


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are made for their roles, not to be signed in: a light argon2 setting saves seconds."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


@pytest.fixture
def alerts() -> FakeAlerts:
    fake = FakeAlerts()
    for n in (1, 2, 3):
        fake.add(f"A{n}", "E-SZ", 2024, 3)
    fake.add("A4", "E-NJ", 2024, 5)
    fake.add("A5", "E-SZ", 2023, 12)
    return fake


@pytest.fixture
def review(engine: Engine, alerts: FakeAlerts) -> Review:
    """Reviewers at every tier, two entities on the roster (Shenzhen, Guangdong; Nanjing, Jiangsu)."""
    identity = Identity(engine, "review-test-secret-0123456789abcdef")
    for user, role in (
        ("nat", "reviewer"),
        ("gd", "reviewer"),
        ("js", "reviewer"),
        ("sz", "reviewer"),
        ("gz", "reviewer"),
        ("new", "reviewer"),
        ("mee", "regulator"),
    ):
        done(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role))
    roster = Roster(engine)
    done(roster.add_entity(LOCAL_OPERATOR, "E-SZ", "Shenzhen Power", "power", "Guangdong", "Shenzhen"))
    done(roster.add_entity(LOCAL_OPERATOR, "E-NJ", "Nanjing Steel", "steel", "Jiangsu", "Nanjing"))
    service = Review(engine, alerts=alerts)
    for user, tier, province, city in (
        ("nat", "national", None, None),
        ("gd", "provincial", "Guangdong", None),
        ("js", "provincial", "Jiangsu", None),
        ("sz", "municipal", "Guangdong", "Shenzhen"),
        ("gz", "municipal", "Guangdong", "Guangzhou"),
    ):
        done(service.assign_reviewer(MEE, f"assign-{user}", user, tier, province, city))
    return service


def kinds(review: Review, case_id: str) -> list[str]:
    return [m["kind"] for m in review.case(LOCAL_OPERATOR, case_id)["thread"]]


def test_a_case_from_alerts_goes_down_the_tiers_and_closes_after_the_correction(
    review: Review, alerts: FakeAlerts
) -> None:
    opened = done(review.open_case(NATIONAL, "C1", alert_ids=["A1", "A2"], message="NCV jumps in March"))
    assert opened | {"alerts": sorted(opened["alerts"])} == {
        "case": "C1",
        "entity_id": "E-SZ",
        "year": 2024,
        "month": 3,
        "tier": "national",
        "status": "open",
        "province": "Guangdong",
        "city": "Shenzhen",
        "alerts": ["A1", "A2"],
    }
    assert alerts.status("A1") == alerts.status("A2") == "in_review" and alerts.status("A3") == "open"
    done(review.take(NATIONAL, "t1", "C1"))
    assert (
        done(review.refer(NATIONAL, "r1", "C1", "ask the province for the lab reports"))["tier"]
        == "provincial"
    )
    done(review.take(GUANGDONG, "t2", "C1"))
    done(
        review.comment(GUANGDONG, "m1", "C1", "lab report attached", [{"name": "lab.pdf", "sha256": DIGEST}])
    )
    assert done(review.refer(GUANGDONG, "r2", "C1", "spot check the coal yard"))["tier"] == "municipal"
    done(review.take(SHENZHEN, "t3", "C1"))
    resolved = done(review.resolve(SHENZHEN, "s1", "C1", "confirmed_error", "unit slip: kJ entered as GJ"))
    assert (resolved["status"], resolved["alert_status"]) == ("correction_required", "confirmed")
    assert alerts.status("A1") == "confirmed"
    closed = done(review.confirm_correction(SHENZHEN, "k1", "C1", "version 2 of March checked on site"))
    assert closed["status"] == "closed" and alerts.status("A2") == "corrected"
    case = review.case(MEE, "C1")
    assert (case["status"], case["outcome"], case["tier"], case["resolved_by"]) == (
        "closed",
        "confirmed_error",
        "municipal",
        "sz",
    )
    assert [m["kind"] for m in case["thread"]] == [
        "opened",
        "taken",
        "referred",
        "taken",
        "comment",
        "referred",
        "taken",
        "resolved",
        "correction_confirmed",
    ]
    assert case["thread"][4]["attachments"] == [{"name": "lab.pdf", "sha256": DIGEST}]
    assert case["thread"][2]["tier"] == "national" and case["thread"][5]["tier"] == "provincial"


def test_explained_and_false_alerts_close_at_once_and_free_nothing_else(
    review: Review, alerts: FakeAlerts
) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    done(review.take(NATIONAL, "t1", "C1"))
    done(review.resolve(NATIONAL, "s1", "C1", "explained", "boiler overhaul in March"))
    assert alerts.status("A1") == "explained"
    done(review.open_case(NATIONAL, "C2", alert_ids=["A2"]))
    done(review.take(NATIONAL, "t2", "C2"))
    assert (
        done(review.resolve(NATIONAL, "s2", "C2", "false_alert", "band too narrow for lignite"))["status"]
        == "closed"
    )
    assert alerts.status("A2") == "false_alert"


def test_steps_out_of_order_are_refused_with_named_codes(review: Review) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    refused(review.resolve(NATIONAL, "s0", "C1", "explained", "too early"), Code.REVIEW_CASE_NOT_IN_REVIEW)
    refused(
        review.confirm_correction(NATIONAL, "k0", "C1", "nothing to confirm"),
        Code.REVIEW_CASE_NOT_AWAITING_CORRECTION,
    )
    done(review.take(NATIONAL, "t1", "C1"))
    refused(review.take(NATIONAL, "t1b", "C1"), Code.REVIEW_CASE_NOT_OPEN)
    refused(
        review.confirm_correction(NATIONAL, "k1", "C1", "still in review"),
        Code.REVIEW_CASE_NOT_AWAITING_CORRECTION,
    )
    done(review.resolve(NATIONAL, "s1", "C1", "confirmed_error", "wrong NCV"))
    refused(review.refer(NATIONAL, "r1", "C1", "too late"), Code.REVIEW_CASE_NOT_IN_REVIEW)
    refused(review.resolve(NATIONAL, "s2", "C1", "explained", "again"), Code.REVIEW_CASE_NOT_IN_REVIEW)
    done(review.confirm_correction(NATIONAL, "k2", "C1", "corrected"))
    for outcome in (
        review.take(NATIONAL, "t9", "C1"),
        review.refer(NATIONAL, "r9", "C1", "closed"),
        review.resolve(NATIONAL, "s9", "C1", "explained", "closed"),
        review.confirm_correction(NATIONAL, "k9", "C1", "closed"),
        review.comment(NATIONAL, "m9", "C1", "closed"),
    ):
        refused(outcome, Code.REVIEW_CASE_CLOSED)
    refused(review.take(NATIONAL, "t10", "NO-SUCH"), Code.REVIEW_CASE_NOT_FOUND)


def test_the_municipal_tier_has_no_one_below_it(review: Review) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    done(review.refer(NATIONAL, "r1", "C1", "province"))
    done(review.refer(GUANGDONG, "r2", "C1", "city"))
    refused(review.refer(SHENZHEN, "r3", "C1", "nowhere"), Code.REVIEW_NO_LOWER_TIER)


def test_reviewers_act_only_at_their_tier_and_in_their_region(review: Review) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    refused(review.take(GUANGDONG, "t1", "C1"), Code.REVIEW_WRONG_TIER)
    done(review.refer(NATIONAL, "r1", "C1", "province"))
    refused(review.take(NATIONAL, "t2", "C1"), Code.REVIEW_WRONG_TIER)
    refused(review.take(JIANGSU, "t3", "C1"), Code.REVIEW_OUT_OF_SCOPE)
    refused(review.take(UNASSIGNED, "t4", "C1"), Code.REVIEW_REVIEWER_NOT_ASSIGNED)
    refused(review.take(REP, "t5", "C1"), Code.FORBIDDEN)
    done(review.refer(GUANGDONG, "r2", "C1", "city"))
    refused(review.take(GUANGZHOU, "t6", "C1"), Code.REVIEW_OUT_OF_SCOPE)
    done(review.take(SHENZHEN, "t7", "C1"))


def test_a_regulator_without_a_scope_reviews_at_the_national_tier(review: Review) -> None:
    opened = done(review.open_case(MEE, "C1", alert_ids=["A4"]))
    assert (opened["tier"], opened["province"]) == ("national", "Jiangsu")
    done(review.take(MEE, "t1", "C1"))
    done(review.refer(MEE, "r1", "C1", "province"))
    refused(review.take(GUANGDONG, "t2", "C1"), Code.REVIEW_OUT_OF_SCOPE)
    done(review.take(JIANGSU, "t3", "C1"))


def test_reviewers_open_cases_only_at_their_tier_and_for_their_region(review: Review) -> None:
    refused(review.open_case(GUANGDONG, "C1", alert_ids=["A4"]), Code.REVIEW_OUT_OF_SCOPE)
    refused(review.open_case(GUANGDONG, "C2", alert_ids=["A1"], tier="national"), Code.REVIEW_WRONG_TIER)
    opened = done(review.open_case(GUANGDONG, "C3", alert_ids=["A1"]))
    assert opened["tier"] == "provincial"
    with pytest.raises(Refused) as caught:
        review.case(JIANGSU, "C3")
    assert caught.value.refusal.code is Code.REVIEW_OUT_OF_SCOPE


def test_alerts_are_claimed_once_by_one_case_of_one_entity_year(review: Review, alerts: FakeAlerts) -> None:
    refused(
        review.open_case(NATIONAL, "C0", alert_ids=["A1", "A4"]), Code.REVIEW_ALERTS_OF_DIFFERENT_ENTITIES
    )
    refused(
        review.open_case(NATIONAL, "C0", alert_ids=["A1", "A5"]), Code.REVIEW_ALERTS_OF_DIFFERENT_ENTITIES
    )
    refused(review.open_case(NATIONAL, "C0", alert_ids=["A1", "NOPE"]), Code.REVIEW_ALERT_NOT_FOUND)
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    refused(review.open_case(NATIONAL, "C2", alert_ids=["A1", "A2"]), Code.REVIEW_ALERT_ALREADY_IN_CASE)
    alerts.set_status(None, "A3", "explained")  # type: ignore[arg-type]
    refused(review.open_case(NATIONAL, "C3", alert_ids=["A3"]), Code.REVIEW_ALERT_NOT_OPEN)
    assert alerts.status("A2") == "open", "a refused case claims no alert"


def test_a_case_by_hand_takes_the_roster_location_or_one_given_for_an_entity_off_the_roster(
    review: Review,
) -> None:
    opened = done(
        review.open_case(NATIONAL, "C1", entity_id="E-NJ", year=2024, title="Intensity far above peers")
    )
    assert (opened["province"], opened["city"], opened["alerts"]) == ("Jiangsu", "Nanjing", [])
    refused(
        review.open_case(NATIONAL, "C2", entity_id="E-NJ", year=2024, province="Guangdong"),
        Code.REVIEW_INVALID_SCOPE,
    )
    refused(review.open_case(NATIONAL, "C3", entity_id="E-NEW", year=2024), Code.REVIEW_ENTITY_NOT_FOUND)
    off = done(
        review.open_case(NATIONAL, "C4", entity_id="E-NEW", year=2024, province="Hebei", city="Tangshan")
    )
    assert (off["province"], off["city"]) == ("Hebei", "Tangshan")
    refused(review.open_case(NATIONAL, "C5", entity_id="E-NJ"), Code.INVALID_REQUEST)
    refused(review.open_case(NATIONAL, "C6", entity_id="E-NJ", year=1990), Code.REVIEW_INVALID_YEAR)
    assert review.case(MEE, "C1")["source"] == "manual"


def test_the_queue_shows_each_reviewer_the_cases_of_their_tier_and_region_and_uncovered_alerts(
    review: Review,
) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    done(review.open_case(NATIONAL, "C2", alert_ids=["A4"]))
    done(review.refer(NATIONAL, "r1", "C2", "province"))
    national = review.queue(NATIONAL)
    assert [c["case"] for c in national["cases"]] == ["C1"]
    assert sorted(a["alert_id"] for a in national["alerts"]) == ["A2", "A3", "A5"]
    assert national["scope"] == {"tier": "national", "province": None, "city": None}
    jiangsu = review.queue(JIANGSU)
    assert [c["case"] for c in jiangsu["cases"]] == ["C2"] and jiangsu["alerts"] == []
    guangdong = review.queue(GUANGDONG)
    assert guangdong["cases"] == [] and sorted(a["alert_id"] for a in guangdong["alerts"]) == [
        "A2",
        "A3",
        "A5",
    ]
    assert review.queue(GUANGZHOU)["alerts"] == []
    assert len(review.queue(LOCAL_OPERATOR)["cases"]) == 2
    assert review.queue(NATIONAL, include_alerts=False)["alerts"] == []


def test_a_refused_step_changes_nothing_and_a_replayed_one_returns_the_first_result(
    review: Review, engine: Engine
) -> None:
    done(review.open_case(NATIONAL, "C1", alert_ids=["A1"]))
    first = review.take(NATIONAL, "t1", "C1")
    again = review.take(NATIONAL, "t1", "C1")
    assert isinstance(again, Done) and again.result == "exists" and again.data == done(first)
    refused(review.take(NATIONAL, "t1", "C1", note="different"), Code.EXISTS_WITH_DIFFERENT_FIELDS)
    refused(review.resolve(NATIONAL, "s1", "C1", "maybe", "unknown outcome"), Code.REVIEW_INVALID_OUTCOME)
    refused(
        review.comment(NATIONAL, "m1", "C1", "bad file", [{"name": "x.pdf", "sha256": "123"}]),
        Code.REVIEW_INVALID_ATTACHMENT,
    )
    with engine.connect() as connection:
        messages = connection.execute(select(func.count()).select_from(mrv_review_messages)).scalar_one()
        status = connection.execute(select(mrv_review_cases.c.status)).scalar_one()
    assert (messages, status) == (2, "in_review")
    assert kinds(review, "C1") == ["opened", "taken"]


def test_only_regulators_assign_reviewers_and_only_to_reviewers_or_regulators(
    review: Review, engine: Engine
) -> None:
    refused(review.assign_reviewer(NATIONAL, "a1", "new", "national"), Code.FORBIDDEN)
    refused(review.assign_reviewer(MEE, "a2", "ghost", "national"), Code.UNKNOWN_USER)
    refused(review.assign_reviewer(MEE, "a3", "new", "provincial"), Code.REVIEW_INVALID_SCOPE)
    Identity(engine, "review-test-secret-0123456789abcdef").add_user(
        LOCAL_OPERATOR, "plant", PASSWORD, "entity_representative"
    )
    refused(review.assign_reviewer(MEE, "a4", "plant", "national"), Code.FORBIDDEN)
    moved = done(review.assign_reviewer(MEE, "a5", "gz", "municipal", "Guangdong", "Shenzhen"))
    assert moved["previous"] == {"tier": "municipal", "province": "Guangdong", "city": "Guangzhou"}
    assert {r["username"] for r in review.reviewers()} == {"nat", "gd", "js", "sz", "gz"}
