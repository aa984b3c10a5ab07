"""Verification on SQLite and PostgreSQL: qualification, assignment and its conflict of interest,
nonconformities, the compliance figure, streamlined eligibility and the published evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.review.service import Review
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.verification.service import Verification

PASSWORD = "correct horse battery"
MEE = Actor("mee", Role.REGULATOR)
ALICE = Actor("alice", Role.VERIFIER)  # verifies for body B1
BOB = Actor("bob", Role.VERIFIER)  # verifies for body B2
REVIEWER = Actor("nat", Role.REVIEWER)


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


class Reports:
    """Annual reported emissions as the records part would give them."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, int], int] = {("E1", 2024): 1_250_000}

    def reported_emissions(self, entity_id: str, year: int) -> int | None:
        return self.figures.get((entity_id, year))


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are made for their roles, not to be signed in: a light argon2 setting saves seconds."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 4, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
def verification(engine: Engine, clock: FixedClock) -> Verification:
    """Two qualified bodies with one verifier each, and entities E1, E2 on the roster."""
    identity = Identity(engine, "verification-test-secret-0123456789")
    for user, role in (("mee", "regulator"), ("alice", "verifier"), ("bob", "verifier"), ("nat", "reviewer")):
        done(identity.add_user(LOCAL_OPERATOR, user, PASSWORD, role))
    roster = Roster(engine)
    for entity in ("E1", "E2"):
        done(roster.add_entity(LOCAL_OPERATOR, entity, f"Plant {entity}", "power", "Guangdong", "Shenzhen"))
    service = Verification(engine, clock=clock, reports=Reports())
    for body, user in (("B1", "alice"), ("B2", "bob")):
        done(service.apply_body(MEE, body, f"Body {body}", "Guangdong"))
        done(service.qualify(MEE, f"q-{body}", body, "meets the entry requirements"))
        done(service.add_verifier(MEE, f"v-{user}", user, body))
    return service


def verify(
    service: Verification, vid: str, entity: str, year: int, body: str, figure: int = 1_000_000
) -> None:
    """Take one verification from assignment to acceptance."""
    verifier = ALICE if body == "B1" else BOB
    done(service.assign(MEE, vid, entity, year, body))
    done(service.start(verifier, f"{vid}-start", vid))
    done(service.submit(verifier, f"{vid}-submit", vid, figure))
    done(service.accept(MEE, f"{vid}-accept", vid))


def test_a_verification_runs_from_assignment_to_the_compliance_figure(verification: Verification) -> None:
    assigned = done(verification.assign(MEE, "V1", "E1", 2024, "B1"))
    assert (assigned["status"], assigned["mode"], assigned["deadline"]) == ("assigned", "full", "2025-06-30")
    assert verification.verified_emissions("E1", 2024) is None
    done(verification.start(ALICE, "s1", "V1"))
    done(
        verification.raise_nonconformity(
            ALICE, "NC1", "V1", "March NCV without lab report", "coal_ncv_gj_per_t", 3
        )
    )
    refused(verification.submit(ALICE, "sub0", "V1", 1_240_000), Code.VERIFICATION_OPEN_NONCONFORMITIES)
    done(verification.close_nonconformity(ALICE, "c1", "NC1", "lab report CMA-2024-0312 supplied"))
    submitted = done(verification.submit(ALICE, "sub1", "V1", "1240000", "ab" * 32))
    assert submitted == {
        "verification": "V1",
        "status": "submitted",
        "verified_emissions_tco2e": 1_240_000,
        "reported_emissions_tco2e": 1_250_000,
        "on_time": True,
    }
    assert (
        done(verification.return_for_rework(MEE, "ret1", "V1", "explain the 10,000 t difference"))["returns"]
        == 1
    )
    done(verification.submit(ALICE, "sub2", "V1", 1_245_000))
    accepted = done(verification.accept(MEE, "acc1", "V1"))
    assert accepted["verified_emissions_tco2e"] == 1_245_000
    assert verification.verified_emissions("E1", 2024) == 1_245_000
    shown = verification.verification("V1")
    assert (shown["status"], shown["returns"], shown["nonconformities"][0]["status"]) == (
        "verified",
        1,
        "closed",
    )


def test_verification_steps_out_of_order_are_refused(verification: Verification) -> None:
    done(verification.assign(MEE, "V1", "E1", 2024, "B1"))
    refused(verification.submit(ALICE, "x1", "V1", 5), Code.VERIFICATION_NOT_IN_PROGRESS)
    refused(verification.accept(MEE, "x2", "V1"), Code.VERIFICATION_NOT_SUBMITTED)
    refused(verification.return_for_rework(MEE, "x3", "V1", "nothing yet"), Code.VERIFICATION_NOT_SUBMITTED)
    refused(
        verification.raise_nonconformity(ALICE, "NC0", "V1", "too early"), Code.VERIFICATION_NOT_IN_PROGRESS
    )
    done(verification.start(ALICE, "s1", "V1"))
    refused(verification.start(ALICE, "s2", "V1"), Code.VERIFICATION_NOT_ASSIGNED)
    done(verification.raise_nonconformity(ALICE, "NC1", "V1", "missing meter calibration"))
    done(verification.close_nonconformity(ALICE, "c1", "NC1", "calibration certificate supplied"))
    refused(verification.close_nonconformity(ALICE, "c2", "NC1", "again"), Code.NONCONFORMITY_NOT_OPEN)
    done(verification.submit(ALICE, "sub", "V1", 900))
    refused(verification.close_nonconformity(ALICE, "c3", "NC1", "late"), Code.VERIFICATION_NOT_IN_PROGRESS)
    done(verification.accept(MEE, "acc", "V1"))
    refused(verification.cancel(MEE, "can", "V1", "too late"), Code.VERIFICATION_FINISHED)
    refused(verification.accept(MEE, "acc2", "V1"), Code.VERIFICATION_FINISHED)
    refused(verification.start(ALICE, "s3", "NOPE"), Code.VERIFICATION_NOT_FOUND)
    refused(verification.close_nonconformity(ALICE, "c4", "NOPE", "what"), Code.NONCONFORMITY_NOT_FOUND)


def test_qualification_moves_in_order_and_a_withdrawn_body_is_gone(verification: Verification) -> None:
    refused(verification.qualify(MEE, "q2", "B1", "again"), Code.VERIFICATION_BODY_NOT_APPLIED)
    refused(verification.reinstate(MEE, "r0", "B1", "not suspended"), Code.VERIFICATION_BODY_NOT_SUSPENDED)
    done(verification.suspend(MEE, "s1", "B1", "falsified site visit records"))
    refused(verification.suspend(MEE, "s2", "B1", "again"), Code.VERIFICATION_BODY_NOT_QUALIFIED)
    done(verification.reinstate(MEE, "r1", "B1", "staff retrained, audit passed"))
    done(verification.withdraw(MEE, "w1", "B1", "qualification revoked"))
    refused(verification.qualify(MEE, "q3", "B1", "back"), Code.VERIFICATION_BODY_WITHDRAWN)
    refused(verification.qualify(MEE, "q4", "NOPE", "who"), Code.VERIFICATION_BODY_NOT_FOUND)
    history = verification.body("B1")["history"]
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "applied"),
        ("applied", "qualified"),
        ("qualified", "suspended"),
        ("suspended", "qualified"),
        ("qualified", "withdrawn"),
    ]
    assert [b["body"] for b in verification.bodies("qualified")] == ["B2"]


def test_only_a_qualified_body_is_assigned_and_its_work_accepted(verification: Verification) -> None:
    done(verification.apply_body(MEE, "B3", "Body applying"))
    refused(verification.assign(MEE, "V0", "E1", 2024, "B3"), Code.VERIFICATION_BODY_NOT_QUALIFIED)
    done(verification.assign(MEE, "V1", "E1", 2024, "B1"))
    done(verification.start(ALICE, "s1", "V1"))
    done(verification.submit(ALICE, "sub", "V1", 100))
    done(verification.suspend(MEE, "sus", "B1", "conduct breach"))
    refused(verification.accept(MEE, "acc", "V1"), Code.VERIFICATION_BODY_NOT_QUALIFIED)
    done(verification.cancel(MEE, "can", "V1", "body suspended; reassign"))
    done(verification.assign(MEE, "V2", "E1", 2024, "B2"))


def test_one_live_verification_per_entity_year_and_cancelling_frees_it(verification: Verification) -> None:
    done(verification.assign(MEE, "V1", "E1", 2024, "B1"))
    refused(verification.assign(MEE, "V2", "E1", 2024, "B2"), Code.VERIFICATION_ALREADY_ASSIGNED)
    done(verification.cancel(MEE, "c1", "V1", "entity merged"))
    done(verification.assign(MEE, "V2", "E1", 2024, "B2"))
    assert [v["status"] for v in verification.for_entity_year("E1", 2024)] == ["cancelled", "assigned"]


def test_a_body_may_not_verify_one_entity_more_than_three_years_in_a_row(verification: Verification) -> None:
    for year in (2021, 2022, 2023):
        verify(verification, f"V{year}", "E1", year, "B1")
    refusal = refused(
        verification.assign(MEE, "V2024", "E1", 2024, "B1"), Code.VERIFICATION_CONFLICT_OF_INTEREST
    )
    assert refusal.details["years"] == [2021, 2022, 2023]
    done(verification.assign(MEE, "V2024-B2", "E1", 2024, "B2"))
    done(verification.assign(MEE, "V2024-E2", "E2", 2024, "B1"))


def test_a_cancelled_year_does_not_count_towards_the_limit(verification: Verification) -> None:
    verify(verification, "V2021", "E1", 2021, "B1")
    done(verification.assign(MEE, "V2022x", "E1", 2022, "B1"))
    done(verification.cancel(MEE, "c", "V2022x", "reassigned"))
    verify(verification, "V2022", "E1", 2022, "B2")
    verify(verification, "V2023", "E1", 2023, "B1")
    done(verification.assign(MEE, "V2024", "E1", 2024, "B1"))


def test_a_verifier_acts_only_for_their_own_body(verification: Verification, engine: Engine) -> None:
    done(verification.assign(MEE, "V1", "E1", 2024, "B1"))
    refused(verification.start(BOB, "s1", "V1"), Code.VERIFICATION_NOT_OF_BODY)
    refused(verification.start(REVIEWER, "s2", "V1"), Code.FORBIDDEN)
    refused(verification.start(MEE, "s3", "V1"), Code.FORBIDDEN)
    refused(verification.assign(ALICE, "V2", "E2", 2024, "B1"), Code.FORBIDDEN)
    refused(verification.add_verifier(MEE, "v9", "nat", "B1"), Code.FORBIDDEN)
    assert verification.visible_body(ALICE) == "B1" and verification.visible_body(MEE) is None
    with pytest.raises(Refused) as caught:
        verification.visible_body(Actor("rep", Role.ENTITY_REPRESENTATIVE))
    assert caught.value.refusal.code is Code.FORBIDDEN


def test_an_entity_off_the_roster_is_not_assigned_and_figures_are_checked(verification: Verification) -> None:
    refused(verification.assign(MEE, "V1", "E-GHOST", 2024, "B1"), Code.VERIFICATION_ENTITY_NOT_FOUND)
    refused(verification.assign(MEE, "V2", "E1", 1990, "B1"), Code.VERIFICATION_INVALID_YEAR)
    refused(verification.assign(MEE, "V3", "E1", 2024, "B1", mode="quick"), Code.VERIFICATION_INVALID_MODE)
    done(verification.assign(MEE, "V4", "E1", 2024, "B1"))
    done(verification.start(ALICE, "s", "V4"))
    for bad in (-1, "1.5", "12t", True, 10**13):
        refused(verification.submit(ALICE, f"sub-{bad}", "V4", bad), Code.VERIFICATION_EMISSIONS_INVALID)
    refused(verification.submit(ALICE, "sub-hash", "V4", 10, "XYZ"), Code.INVALID_REQUEST)
    assert done(verification.submit(ALICE, "sub-zero", "V4", 0))["verified_emissions_tco2e"] == 0


def test_three_clean_years_earn_streamlined_verification(verification: Verification) -> None:
    for year in (2021, 2022, 2023):
        verify(verification, f"V{year}", "E1", year, "B1" if year != 2022 else "B2")
    eligibility = verification.eligibility("E1", 2024)
    assert (eligibility["eligible"], eligibility["clean_years"]) == (True, [2021, 2022, 2023])
    assert done(verification.assign(MEE, "V2024", "E1", 2024, "B2"))["mode"] == "streamlined"
    done(verification.cancel(MEE, "c", "V2024", "ask for a full one"))
    assert done(verification.assign(MEE, "V2024b", "E1", 2024, "B2", mode="full"))["mode"] == "full"


def test_a_nonconformity_or_a_confirmed_error_keeps_verification_full(
    verification: Verification, engine: Engine
) -> None:
    verify(verification, "V2021", "E1", 2021, "B1")
    done(verification.assign(MEE, "V2022", "E1", 2022, "B2"))
    done(verification.start(BOB, "s", "V2022"))
    done(verification.raise_nonconformity(BOB, "NC", "V2022", "flow meter out of calibration"))
    done(verification.close_nonconformity(BOB, "c", "NC", "recalibrated"))
    done(verification.submit(BOB, "sub", "V2022", 10))
    done(verification.accept(MEE, "acc", "V2022"))
    verify(verification, "V2023", "E1", 2023, "B1")
    assert verification.eligibility("E1", 2024)["reasons"] == ["2022: 1 nonconformities (at most 0)"]
    refused(
        verification.assign(MEE, "V2024", "E1", 2024, "B2", mode="streamlined"),
        Code.VERIFICATION_STREAMLINED_NOT_ELIGIBLE,
    )
    # E2: clean verifications, but reviewers confirmed an error in 2023's data.
    for year in (2021, 2022, 2023):
        verify(verification, f"W{year}", "E2", year, "B2" if year == 2022 else "B1")
    review = Review(engine)
    done(review.open_case(MEE, "C1", entity_id="E2", year=2023))
    done(review.take(MEE, "t", "C1"))
    done(review.resolve(MEE, "r", "C1", "confirmed_error", "coal stock double counted"))
    assert verification.eligibility("E2", 2024)["reasons"] == [
        "2023: reviewers confirmed 1 errors (at most 0)"
    ]
    assert done(verification.assign(MEE, "W2024", "E2", 2024, "B2"))["mode"] == "full"


def test_the_evaluation_scores_timeliness_rework_and_later_findings_and_is_published_once(
    verification: Verification, engine: Engine, clock: FixedClock
) -> None:
    # B1 verifies E1 and E2 for 2024. E1: on time, first pass. E2: returned once and submitted
    # after the deadline, and reviewers later confirm an error in E2's 2024 data.
    verify(verification, "V1", "E1", 2024, "B1")
    done(verification.assign(MEE, "V2", "E2", 2024, "B1"))
    done(verification.start(ALICE, "s", "V2"))
    done(verification.submit(ALICE, "sub1", "V2", 500))
    done(verification.return_for_rework(MEE, "ret", "V2", "heat supply not reconciled"))
    clock.advance(timedelta(days=100))  # 2025-07-10: past the 30 June deadline
    done(verification.submit(ALICE, "sub2", "V2", 520))
    done(verification.accept(MEE, "acc", "V2"))
    clock.advance(timedelta(days=1))
    review = Review(engine, clock=clock)
    done(review.open_case(MEE, "C1", entity_id="E2", year=2024))
    done(review.take(MEE, "t", "C1"))
    done(review.resolve(MEE, "r", "C1", "confirmed_error", "purchased power omitted"))

    preview = verification.evaluation_preview(MEE, 2024)
    by_body = {b["body_id"]: b for b in preview["bodies"]}
    # B1: 2 verifications, 1 on time, 1 first pass, 1 without later findings:
    # 40 × 1/2 + 20 × 1/2 + 40 × 1/2 = 20 + 10 + 20 = 50 → D.
    assert (by_body["B1"]["score"], by_body["B1"]["grade"]) == (50, "D")
    assert by_body["B1"]["facts"] == {
        "verifications": 2,
        "on_time": 1,
        "first_pass": 1,
        "clean_after": 1,
        "later_findings": 1,
    }
    assert (by_body["B2"]["rated"], by_body["B2"]["score"]) == (False, None)
    with pytest.raises(Refused):
        verification.evaluations(2024)
    published = done(verification.publish_evaluation(MEE, 2024))
    assert (published["bodies"], published["rated"]) == (2, 1)
    again = verification.publish_evaluation(MEE, 2024)
    assert isinstance(again, Done) and again.result == "exists"
    public = verification.evaluations()
    assert public["year"] == 2024 and public["formula"]["components"][0]["name"] == "timeliness"
    assert [(b["body_id"], b["score"], b["grade"]) for b in public["bodies"]] == [
        ("B1", 50, "D"),
        ("B2", None, None),
    ]
    refused(verification.publish_evaluation(ALICE, 2023), Code.FORBIDDEN)
    with pytest.raises(Refused):
        verification.evaluation_preview(ALICE, 2024)


def test_an_error_confirmed_before_acceptance_does_not_count_against_the_body(
    verification: Verification, engine: Engine, clock: FixedClock
) -> None:
    review = Review(engine, clock=clock)
    done(review.open_case(MEE, "C1", entity_id="E1", year=2024))
    done(review.take(MEE, "t", "C1"))
    done(
        review.resolve(MEE, "r", "C1", "confirmed_error", "found in screening, corrected before verification")
    )
    clock.advance(timedelta(days=1))
    verify(verification, "V1", "E1", 2024, "B1")
    b1 = next(b for b in verification.evaluation_preview(MEE, 2024)["bodies"] if b["body_id"] == "B1")
    assert (b1["score"], b1["facts"]["later_findings"]) == (100, 0)
