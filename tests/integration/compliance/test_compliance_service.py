"""Compliance on SQLite and PostgreSQL: opening a year, surrender with its vintage, offset and
deadline rules, status and the rate, mandatory compliance, close with Art. 24 penalties, banking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from compliance_market import (
    MEE,
    Market,
    build_market,
    cheap_hashes,
    done,
    refused,
)
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.results import Code, Refused

ALICE = Actor("alice", Role.ENTITY_REPRESENTATIVE, frozenset({("E1-H", Permission.INITIATE)}))
GD = Actor("gd-dee", Role.PROVINCIAL_AUTHORITY)  # Guangdong's department
HB = Actor("hb-dee", Role.PROVINCIAL_AUTHORITY)  # Hubei's
AFTER_DEADLINE = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def market(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Market:
    """The three-entity market, 2024 open, E1 holding 980,000 CEA24 + 30,000 CEA23 + 60,000 CCER."""
    cheap_hashes(monkeypatch)
    built = build_market(
        engine, users=[("gd-dee", "provincial_authority"), ("hb-dee", "provincial_authority")]
    )
    done(built.compliance.assign_authority(MEE, "gd-dee", "Guangdong"))
    done(built.compliance.assign_authority(MEE, "hb-dee", "Hubei"))
    built.deliver(
        "alloc",
        [
            ("E1-H", "CEA24", 980_000),
            ("E1-H", "CEA23", 30_000),
            ("E1-H", "CEA25", 5_000),
            ("E1-H", "CCER-WIND01-2024", 60_000),
            ("E1-H", "CCER-STEEL1-2024", 1_000),
            ("E2-H", "CEA24", 150_000),
            ("E3-H", "CEA24", 50_000),
        ],
    )
    opened = done(built.compliance.open_year(MEE, "open-2024", 2024))
    assert (opened["entities"], opened["obligation_t"]) == (3, 1_250_000)
    return built


def test_an_entity_surrenders_allowances_and_ccer_in_part_and_its_status_follows(market: Market) -> None:
    first = done(market.compliance.surrender(ALICE, "s1", "E1", 2024, [("CEA24", 500_000)]))
    assert (first["owed_t"], first["status"]) == (500_000, "partly")
    second = done(
        market.compliance.surrender(
            ALICE, "s2", "E1", 2024, [("CEA23", 30_000), ("CCER-WIND01-2024", 50_000)]
        )
    )
    # 1,000,000 − 500,000 − 30,000 − 50,000 = 420,000 still owed.
    assert (second["owed_t"], second["ccer_t"], second["status"]) == (420_000, 50_000, "partly")
    done(market.compliance.surrender(ALICE, "s3", "E1", 2024, [("CEA24", 420_000)]))
    position = market.compliance.position(ALICE, "E1", 2024)
    assert (position["owed_t"], position["status"]) == (0, "met")
    assert position["surrendered_by_instrument"] == {
        "CCER-WIND01-2024": 50_000,
        "CEA23": 30_000,
        "CEA24": 920_000,
    }
    assert market.balance("CN-SURRENDER", "CEA24") == 920_000
    assert market.balance("E1-H", "CEA24") == 60_000
    assert market.registry.reconcile().ok


def test_surrender_refuses_ccer_beyond_five_percent_cumulatively(market: Market) -> None:
    # Vector 12: obligation 1,000,000 t → at most 50,000 t CCER over all of the year's surrenders.
    done(market.compliance.surrender(ALICE, "c1", "E1", 2024, [("CCER-WIND01-2024", 40_000)]))
    over = refused(
        market.compliance.surrender(ALICE, "c2", "E1", 2024, [("CCER-WIND01-2024", 10_001)]),
        Code.COMPLIANCE_OFFSET_LIMIT_EXCEEDED,
    )
    assert "50000 t" in over.message and "40000 t already used" in over.message
    done(market.compliance.surrender(ALICE, "c3", "E1", 2024, [("CCER-WIND01-2024", 10_000)]))
    assert market.balance("E1-H", "CCER-WIND01-2024") == 10_000
    assert market.registry.reconcile().ok


def test_surrender_refuses_a_later_vintage_and_an_ineligible_ccer_and_moves_nothing(market: Market) -> None:
    borrowing = refused(
        market.compliance.surrender(ALICE, "v1", "E1", 2024, [("CEA24", 10), ("CEA25", 10)]),
        Code.COMPLIANCE_VINTAGE_NOT_ELIGIBLE,
    )
    assert "no borrowing" in borrowing.message
    covered = refused(
        market.compliance.surrender(ALICE, "v2", "E1", 2024, [("CCER-STEEL1-2024", 100)]),
        Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
    )
    assert "steel" in covered.message
    refused(
        market.compliance.surrender(ALICE, "v3", "E1", 2024, [("CNY", 100)]),
        Code.COMPLIANCE_NOT_A_COMPLIANCE_UNIT,
    )
    assert market.balance("E1-H", "CEA24") == 980_000
    assert market.compliance.position(ALICE, "E1", 2024)["surrendered_t"] == 0


def test_old_registry_ccer_is_refused_after_2024(market: Market) -> None:
    market.deliver("old", [("E1-H", "CCER-OLD01-2016", 100)])
    old = refused(
        market.compliance.surrender(ALICE, "o1", "E1", 2024, [("CCER-OLD01-2016", 100)]),
        Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
    )
    assert "usable until 2024-12-31" in old.message


def test_surrender_refuses_more_than_is_owed_and_another_entitys_account(market: Market) -> None:
    done(market.compliance.surrender(LOCAL_OPERATOR, "e3a", "E3", 2024, [("CEA24", 40_000)]))
    beyond = refused(
        market.compliance.surrender(LOCAL_OPERATOR, "e3b", "E3", 2024, [("CEA24", 10_001)]),
        Code.COMPLIANCE_BEYOND_OBLIGATION,
    )
    assert "10000 t still owed" in beyond.message
    refused(market.compliance.surrender(ALICE, "x", "E2", 2024, [("CEA24", 1)]), Code.FORBIDDEN)
    refused(market.compliance.surrender(ALICE, "y", "E1", 2024, [("CEA24", 0)]), Code.QUANTITY_NOT_POSITIVE)
    refused(
        market.compliance.surrender(ALICE, "z", "E1", 2023, [("CEA23", 1)]), Code.COMPLIANCE_YEAR_NOT_OPEN
    )
    refused(market.compliance.surrender(ALICE, "w", "E1", 2031, [("CEA23", 1)]), Code.COMPLIANCE_UNKNOWN_YEAR)
    assert market.registry.reconcile().ok


def test_surrender_more_than_held_is_refused_by_the_ledger(market: Market) -> None:
    refused(
        market.compliance.surrender(LOCAL_OPERATOR, "e2", "E2", 2024, [("CEA24", 150_001)]),
        Code.INSUFFICIENT_BALANCE,
    )
    assert market.compliance.position(LOCAL_OPERATOR, "E2", 2024)["surrendered_t"] == 0


def test_surrender_after_the_deadline_is_refused(market: Market) -> None:
    # 2025-12-31 ends at 16:00 UTC (midnight in Beijing).
    market.clock.set(datetime(2025, 12, 31, 15, 59, tzinfo=UTC))
    done(market.compliance.surrender(ALICE, "in-time", "E1", 2024, [("CEA24", 1)]))
    market.clock.advance(timedelta(minutes=1))
    late = refused(
        market.compliance.surrender(ALICE, "late", "E1", 2024, [("CEA24", 1)]),
        Code.COMPLIANCE_DEADLINE_PASSED,
    )
    assert "2025-12-31" in late.message


def test_the_same_surrender_id_again_is_recognised_not_repeated(market: Market) -> None:
    done(market.compliance.surrender(ALICE, "once", "E1", 2024, [("CEA24", 100)]))
    again = market.compliance.surrender(ALICE, "once", "E1", 2024, [("CEA24", 100)])
    assert again.result == "exists"  # type: ignore[union-attr]
    refused(
        market.compliance.surrender(ALICE, "once", "E1", 2024, [("CEA24", 200)]),
        Code.EXISTS_WITH_DIFFERENT_FIELDS,
    )
    assert market.balance("CN-SURRENDER", "CEA24") == 100


def test_status_gives_the_rate_and_a_province_sees_only_its_own(market: Market) -> None:
    done(
        market.compliance.surrender(LOCAL_OPERATOR, "a", "E1", 2024, [("CEA24", 980_000), ("CEA23", 20_000)])
    )
    done(market.compliance.surrender(LOCAL_OPERATOR, "b", "E2", 2024, [("CEA24", 150_000)]))
    national = market.compliance.status(MEE, 2024)
    # (1,000,000 + 150,000) / 1,250,000 = 92.00%; E1 in full, E2 partly, E3 not at all.
    assert (national["rate_ppm"], national["rate_percent"]) == (920_000, "92.00")
    assert national["by_status"] == {"met": 1, "partly": 1, "not_met": 1}
    guangdong = market.compliance.status(GD, 2024)
    assert [r["entity_id"] for r in guangdong["rows"]] == ["E1", "E2"]
    with pytest.raises(Refused) as other_province:
        market.compliance.status(GD, 2024, province="Hubei")
    assert other_province.value.refusal.code is Code.COMPLIANCE_OUT_OF_PROVINCE
    with pytest.raises(Refused) as entity:
        market.compliance.status(ALICE, 2024)
    assert entity.value.refusal.code is Code.FORBIDDEN


def test_mandatory_compliance_surrenders_what_is_held_up_to_what_is_owed(market: Market) -> None:
    market.clock.set(AFTER_DEADLINE)
    refused(market.compliance.mandatory(HB, "m0", "E2", 2024), Code.COMPLIANCE_OUT_OF_PROVINCE)
    ordered = done(market.compliance.mandatory(GD, "m1", "E2", 2024))
    # E2 owes 200,000 t and holds 150,000 t: all of it goes, 50,000 t stay owed.
    assert (ordered["surrendered_t"], ordered["still_owed_t"], ordered["after_deadline"]) == (
        150_000,
        50_000,
        True,
    )
    assert market.balance("E2-H", "CEA24") == 0
    refused(market.compliance.mandatory(GD, "m2", "E2", 2024), Code.COMPLIANCE_NOTHING_TO_SURRENDER)
    assert market.registry.reconcile().ok


def test_differentiated_allocation_surrenders_from_the_provincial_account_and_releases_the_rest(
    market: Market,
) -> None:
    done(market.registry.add_holder(LOCAL_OPERATOR, "PROV-GD", "Guangdong DEE", "government"))
    done(market.registry.open_account(LOCAL_OPERATOR, "PROV-GD-H", "PROV-GD", "holding"))
    market.deliver("prov", [("PROV-GD-H", "CEA24", 2_000_000)])
    # Vector 9: held 1.2 Mt for an obligation of 1.0 Mt → 1.0 Mt surrendered, 0.2 Mt released.
    first = done(market.compliance.mandatory(GD, "d1", "E1", 2024, "PROV-GD-H", 1_200_000))
    assert (first["surrendered_t"], first["released_t"], first["still_owed_t"]) == (1_000_000, 200_000, 0)
    assert market.balance("E1-H", "CEA24") == 980_000 + 200_000
    # Held 0.8 Mt for 1.0 Mt: the registry surrenders it all and 0.2 Mt is still to buy (E2 owes 0.2).
    done(market.compliance.surrender(LOCAL_OPERATOR, "e2part", "E2", 2024, [("CEA24", 150_000)]))
    second = done(market.compliance.mandatory(GD, "d2", "E2", 2024, "PROV-GD-H", 30_000))
    assert (second["surrendered_t"], second["released_t"], second["still_owed_t"]) == (30_000, 0, 20_000)
    refused(
        market.compliance.mandatory(GD, "d3", "E2", 2024, "PROV-GD-H", 900_000),
        Code.COMPLIANCE_HELD_ABOVE_BALANCE,
    )
    assert market.balance("PROV-GD-H", "CEA24") == 2_000_000 - 1_200_000 - 30_000
    assert market.registry.reconcile().ok


def test_close_computes_art_24_penalties_and_the_next_years_cut(market: Market) -> None:
    done(
        market.compliance.surrender(LOCAL_OPERATOR, "a", "E1", 2024, [("CEA24", 980_000), ("CEA23", 20_000)])
    )
    done(market.compliance.surrender(LOCAL_OPERATOR, "b", "E2", 2024, [("CEA24", 150_000)]))
    done(market.compliance.surrender(LOCAL_OPERATOR, "c", "E3", 2024, [("CEA24", 40_000)]))
    refused(market.compliance.close_year(MEE, "early", 2024), Code.COMPLIANCE_DEADLINE_NOT_PASSED)
    market.clock.set(AFTER_DEADLINE)
    refused(market.compliance.close_year(MEE, "no-price", 2024), Code.COMPLIANCE_PRICE_REQUIRED)
    refused(
        market.compliance.close_year(MEE, "bad-multiple", 2024, multiple=11), Code.COMPLIANCE_INVALID_MULTIPLE
    )
    refused(market.compliance.close_year(GD, "not-mine", 2024), Code.FORBIDDEN)
    # Vector 11 in spirit: E3 is 10,000 t short; December 2025 average CNY 80.00/t = 8,000 fen.
    market.prices.figures[(2025, 12)] = 8_000
    closed = done(market.compliance.close_year(MEE, "close", 2024))
    assert (closed["price_fen"], closed["price_source"], closed["multiple"]) == (8_000, "exchange", 5)
    e3 = next(r for r in closed["non_compliant"] if r["entity_id"] == "E3")
    # 10,000 t × CNY 80 × 5 = CNY 4,000,000 (400,000,000 fen); × 10 = CNY 8,000,000.
    assert (e3["shortfall_t"], e3["fine_min_fen"], e3["fine_max_fen"], e3["fine_fen"]) == (
        10_000,
        400_000_000,
        800_000_000,
        400_000_000,
    )
    assert (e3["allocation_cut_t"], e3["cut_year"]) == (10_000, 2025)
    assert market.compliance.allocation_cut("E3", 2025) == 10_000
    assert market.compliance.allocation_cut("E1", 2025) == 0
    # (1,000,000 + 150,000 + 40,000) / 1,250,000 = 95.20%.
    assert (closed["rate_percent"], closed["entities_met"]) == ("95.20", 1)
    listed = market.compliance.public_list(2024)
    assert [r["entity_id"] for r in listed["non_compliant"]] == ["E2", "E3"]
    refused(
        market.compliance.surrender(LOCAL_OPERATOR, "after", "E3", 2024, [("CEA24", 1)]),
        Code.COMPLIANCE_YEAR_CLOSED,
    )
    trace = market.compliance.trace("E3", 2024)
    assert (trace["status"], trace["penalty"]["fine_fen"], len(trace["surrenders"])) == (
        "partly",
        400_000_000,
        1,
    )


def test_close_with_a_given_price_and_multiple(market: Market) -> None:
    market.clock.set(AFTER_DEADLINE)
    closed = done(market.compliance.close_year(MEE, "close", 2024, price_fen=9_749, multiple=10))
    e3 = next(r for r in closed["non_compliant"] if r["entity_id"] == "E3")
    # 50,000 t × 9,749 fen × 10 = 4,874,500,000 fen (CNY 48,745,000).
    assert (e3["fine_fen"], closed["price_source"]) == (4_874_500_000, "given")
    assert closed["rate_percent"] == "0.00"


def _trade(market: Market, command_id: str, seller: str, buyer: str, instrument: str, quantity: int) -> None:
    """An exchange trade's unit leg as the exchange's settlement records it (type `trade`)."""
    from carbonmarket.db.command import run_command
    from carbonmarket.registry import postings
    from carbonmarket.registry.postings import Move

    def work(connection, at):  # type: ignore[no-untyped-def]
        postings.move(
            connection, LOCAL_OPERATOR, command_id, "trade", [Move(seller, buyer, instrument, quantity)], at
        )
        return {}

    done(run_command(market.engine, market.clock, LOCAL_OPERATOR, "test.trade", command_id, {}, work))


def test_banking_converts_old_vintages_within_t_and_refuses_the_short_and_the_excess(market: Market) -> None:
    # 2024: E1 and E3 in full, E2 short. Then E1 sells 300,000 and buys 100,000 old-vintage allowances.
    done(
        market.compliance.surrender(LOCAL_OPERATOR, "a", "E1", 2024, [("CEA24", 980_000), ("CEA23", 20_000)])
    )
    done(market.compliance.surrender(LOCAL_OPERATOR, "c", "E3", 2024, [("CEA24", 50_000)]))
    market.deliver(
        "more", [("E1-T", "CEA22", 300_000), ("E2-T", "CEA22", 120_000), ("E1-H", "CEA21", 390_000)]
    )
    _trade(market, "t1", "E1-T", "E2-T", "CEA22", 300_000)
    _trade(market, "t2", "E2-T", "E1-T", "CEA22", 100_000)
    _trade(market, "t3", "E2-T", "E3-T", "CEA22", 20_000)
    market.clock.set(AFTER_DEADLINE)
    done(market.compliance.close_year(MEE, "close", 2024, price_fen=8_000))
    market.clock.set(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    # Vector 6: NS = 300,000 − 100,000; holdings 10,000 CEA23 + 390,000 CEA21 + 100,000 CEA22 = 500,000;
    # T = min(10,000 + 1.5 × 200,000, 500,000) = 310,000.
    limit = market.compliance.banking_limit(ALICE, "E1")
    assert (limit["net_sold_t"], limit["holdings_t"], limit["limit_t"], limit["eligible"]) == (
        200_000,
        500_000,
        310_000,
        True,
    )
    refused(market.compliance.apply_banking(ALICE, "b0", "E1", 310_001), Code.COMPLIANCE_BANKING_ABOVE_LIMIT)
    applied = done(market.compliance.apply_banking(ALICE, "b1", "E1", 300_000))
    assert applied["room_after_t"] == 10_000
    refused(market.compliance.apply_banking(ALICE, "b2", "E1", 10_001), Code.COMPLIANCE_BANKING_ABOVE_LIMIT)
    refused(market.compliance.convert(ALICE, "cv0", "b1"), Code.FORBIDDEN)
    converted = done(market.compliance.convert(MEE, "cv1", "b1"))
    # Oldest first: 300,000 of the 390,000 CEA21 go to deletion; 300,000 CEA25 arrive.
    assert converted["deleted"] == [{"instrument": "CEA21", "quantity": 300_000}]
    assert (market.balance("E1-H", "CEA21"), market.balance("E1-H", "CEA25")) == (90_000, 305_000)
    assert market.balance("CN-DELETION", "CEA21") == 300_000
    refused(market.compliance.convert(MEE, "cv2", "b1"), Code.COMPLIANCE_BANKING_APPLICATION_NOT_PENDING)
    # The limit still counts the converted tonnes among the end-2025 holdings.
    assert market.compliance.banking_limit(ALICE, "E1")["limit_t"] == 310_000
    # E2 surrendered nothing for 2024 (200,000 t short): not eligible. E3 is a net buyer: T = 10,000 t.
    short = refused(
        market.compliance.apply_banking(LOCAL_OPERATOR, "b3", "E2", 1), Code.COMPLIANCE_BANKING_NOT_ELIGIBLE
    )
    assert "200000 t short for 2024" in short.message
    assert market.compliance.banking_limit(LOCAL_OPERATOR, "E3")["limit_t"] == 10_000
    market.clock.set(datetime(2026, 6, 11, 2, 0, tzinfo=UTC))
    refused(market.compliance.apply_banking(ALICE, "b4", "E1", 1), Code.COMPLIANCE_BANKING_WINDOW_CLOSED)
    assert market.registry.reconcile().ok


def test_a_batch_surrenders_for_many_entities_in_one_command_or_not_at_all(market: Market) -> None:
    lines = [("E1", "CEA24", 900_000), ("E2", "CEA24", 150_000), ("E3", "CEA24", 50_000)]
    over = [*lines[:2], ("E3", "CEA24", 50_001)]
    refused(
        market.compliance.surrender_batch(LOCAL_OPERATOR, "bad", 2024, over),
        Code.COMPLIANCE_BEYOND_OBLIGATION,
    )
    assert market.balance("CN-SURRENDER", "CEA24") == 0
    batch = done(market.compliance.surrender_batch(LOCAL_OPERATOR, "all", 2024, lines))
    assert (batch["entities"], batch["surrendered_t"]) == (3, 1_100_000)
    assert market.compliance.status(MEE, 2024)["by_status"] == {"met": 1, "partly": 2, "not_met": 0}
    assert market.registry.reconcile().ok
