"""Allocation on SQLite and PostgreSQL: plans, pre-allocation, true-up, deductions, refusals, trace.

Every test that moves units ends with the ledger's reconciliation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from allocation_helpers import Market, done, market, refused
from sqlalchemy import Engine, func, select

from carbonmarket.allocation import store
from carbonmarket.allocation.service import packaged_plan_text
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.results import Code
from carbonmarket.db.tables import transfers

OPERATOR = LOCAL_OPERATOR


@pytest.fixture
def m(engine: Engine) -> Market:
    built = market(engine)
    built.power_entity("COAL1", ("COAL1-U1", "coal", "600", "water"))
    built.power_entity("GAS1", ("GAS1-U1", "gas", "300", "water"))
    built.power_entity("LOW1", ("LOW1-U1", "coal", "350", "water"))
    for entity, tonnes in (("COAL1", 2_500_000), ("GAS1", 400_000), ("LOW1", 1_000_000)):
        built.verify(entity, 2022, tonnes)
    built.publish("power-2023")
    built.activity(
        # Category I, F = 0.60: ⌊3e6 × 0.7950 × 1.061364⌋ + 2e6 × 0.1038 = 2,531,353 + 207,600 = 2,738,953.
        "COAL1,COAL1-U1,2023,3000000,2800000,2000000,0.60,,,",
        # Gas: 1e6 × 0.3305 = 330,500.
        "GAS1,GAS1-U1,2023,1000000,950000,0,0.70,,,",
        # Category II, F = 0.80: 500,000 × 0.8090 = 404,500.
        "LOW1,LOW1-U1,2023,500000,470000,0,0.80,,,",
    )
    return built


def transfer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(transfers)).scalar_one())


def test_preallocation_delivers_seventy_percent_of_previous_verified_emissions(m: Market) -> None:
    data = done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    # 70% of 2022: 2,500,000 → 1,750,000; 400,000 → 280,000; 1,000,000 → 700,000.
    assert (m.holding("COAL1", "CEA23"), m.holding("GAS1", "CEA23"), m.holding("LOW1", "CEA23")) == (
        1_750_000,
        280_000,
        700_000,
    )
    assert data["issued_t"] == data["delivered_t"] == 2_730_000
    assert m.allocation.allocated("COAL1", 2023) is None  # no final allocation before the true-up
    assert m.reconciles()


def test_true_up_tops_up_gas_and_the_gap_cap_and_withdraws_the_excess(m: Market) -> None:
    done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    m.verify("COAL1", 2023, 2_600_000)  # formula 2,738,953 ≥ 80% → final 2,738,953: top up 988,953
    m.verify("GAS1", 2023, 380_000)  # gas 330,500 < 380,000 → topped up to 380,000: +100,000
    m.verify("LOW1", 2023, 600_000)  # 404,500 < 0.8 × 600,000 → 480,000; pre 700,000 → withdraw 220,000
    data = done(m.allocation.true_up(OPERATOR, "tu-2023", 2023))
    assert (m.allocation.allocated("COAL1", 2023), m.allocation.allocated("GAS1", 2023)) == (
        2_738_953,
        380_000,
    )
    assert m.allocation.allocated("LOW1", 2023) == 480_000
    assert (m.holding("COAL1", "CEA23"), m.holding("GAS1", "CEA23"), m.holding("LOW1", "CEA23")) == (
        2_738_953,
        380_000,
        480_000,
    )
    assert (data["delivered_t"], data["withdrawn_t"], data["shortfall_t"]) == (1_088_953, 220_000, 0)
    # A second true-up with a new id finds nothing left to settle.
    again = done(m.allocation.true_up(OPERATOR, "tu-2023-again", 2023))
    assert (again["delivered_t"], again["withdrawn_t"], again["issued_t"]) == (0, 0, 0)
    assert m.reconciles()


def test_a_withdrawal_never_overdraws_and_what_is_missing_is_deducted_next_year(m: Market) -> None:
    done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    done(m.registry.open_account(OPERATOR, "BUYER-H", "GAS1", "holding"))
    # LOW1 sells 650,000 of its 700,000 before the true-up: only 50,000 are left to withdraw.
    done(m.registry.transfer(OPERATOR, "sell-low1", "LOW1-H", "BUYER-H", "CEA23", 650_000))
    for entity, tonnes in (("COAL1", 2_600_000), ("GAS1", 380_000), ("LOW1", 600_000)):
        m.verify(entity, 2023, tonnes)
    data = done(m.allocation.true_up(OPERATOR, "tu-2023", 2023))
    # Excess 700,000 − 480,000 = 220,000; held 50,000 → withdraw 50,000, owe 170,000.
    assert (data["withdrawn_t"], data["shortfall_t"]) == (50_000, 170_000)
    assert m.holding("LOW1", "CEA23") == 0
    trace = m.allocation.trace("LOW1", 2023)
    assert trace["owed_t"] == 170_000
    assert [d["kind"] for d in trace["deductions"]] == ["withdrawal_shortfall"]
    assert m.reconciles()


def test_vector_8_a_deduction_owed_is_taken_from_the_next_allocation_and_partly_returned(
    engine: Engine,
) -> None:
    m = market(engine)
    m.industry_entity("STEEL1", "steel", "ironmaking")
    m.verify("STEEL1", 2024, 71_429)  # 70% of 71,429 = 50,000.3 → pre-allocation 50,000
    # The steel balance value given as data (1.5 = this entity's intensity, so α = 0 and A = E).
    plan = packaged_plan_text("industry-2025").replace('steel = "solve"', 'steel = "1.5"')
    done(m.allocation.publish_plan(OPERATOR, "pub-2025", plan))
    done(
        m.allocation.order_deduction(OPERATOR, "cut-1", "STEEL1", 70_000, "Art. 24: shortfall not corrected")
    )
    done(m.allocation.preallocate(OPERATOR, "pre-2025", 2025))
    # Vector 8: pre-allocation 50,000, 70,000 owed → 50,000 deducted, 0 issued, 20,000 still owed.
    position = m.allocation.trace("STEEL1", 2025)
    assert position["position"]["preallocated_t"] == 50_000
    assert (position["position"]["delivered_t"], position["position"]["deducted_t"], position["owed_t"]) == (
        0,
        50_000,
        20_000,
    )
    m.verify("STEEL1", 2025, 30_000)
    m.activity("STEEL1,,2025,,,,,,20000,")  # I = 30,000 / 20,000 = 1.5 = BP → final 30,000
    data = done(m.allocation.true_up(OPERATOR, "tu-2025", 2025))
    after = m.allocation.trace("STEEL1", 2025)
    # Final 30,000: only 30,000 can be deducted, 20,000 returned; issued (30,000 − 50,000) + 20,000 = 0.
    assert after["position"]["final_t"] == 30_000
    assert (after["position"]["delivered_t"], after["position"]["deducted_t"], after["owed_t"]) == (
        0,
        30_000,
        40_000,
    )
    assert (data["issued_t"], data["withdrawn_t"]) == (0, 0)
    assert [d["kind"] for d in after["deductions"]] == ["ordered", "applied", "returned"]
    assert m.reconciles()


def test_the_same_id_again_answers_exists_and_a_new_id_for_the_same_year_is_refused(m: Market) -> None:
    first = m.allocation.preallocate(OPERATOR, "pre-2023", 2023)
    moved = transfer_count(m.engine)
    again = m.allocation.preallocate(OPERATOR, "pre-2023", 2023)
    assert getattr(again, "result", None) == "exists" and again.data == done(first)  # type: ignore[union-attr]
    second = refused(m.allocation.preallocate(OPERATOR, "pre-2023-bis", 2023))
    assert second.code is Code.ALLOCATION_ALREADY_PREALLOCATED and "pre-2023" in second.message
    assert transfer_count(m.engine) == moved


def test_refusals_name_the_rule_and_move_nothing(m: Market) -> None:
    before = transfer_count(m.engine)
    # The true-up settles against the pre-allocation, so it cannot come first.
    assert refused(m.allocation.true_up(OPERATOR, "tu-early", 2023)).code is Code.ALLOCATION_NOT_PREALLOCATED
    # No plan is published for 2024.
    no_plan = refused(m.allocation.preallocate(OPERATOR, "pre-2024", 2024))
    assert no_plan.code is Code.ALLOCATION_NO_PLAN_FOR_YEAR and "2023" in no_plan.message
    assert refused(m.allocation.preallocate(OPERATOR, "pre-1900", 1900)).code is Code.ALLOCATION_INVALID_YEAR
    done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    moved = transfer_count(m.engine)
    # 2023 verified emissions are missing for everyone.
    missing = refused(m.allocation.true_up(OPERATOR, "tu-2023", 2023))
    assert missing.code is Code.ALLOCATION_MISSING_VERIFIED and "nothing was moved" in missing.message
    assert len(missing.details["entities"]) == 3
    clerk = Actor("clerk", Role.ENTITY_REPRESENTATIVE)
    assert refused(m.allocation.true_up(clerk, "tu-clerk", 2023)).code is Code.FORBIDDEN
    assert transfer_count(m.engine) == moved > before
    assert m.reconciles()


def test_an_entity_without_previous_verified_emissions_blocks_the_pre_allocation(m: Market) -> None:
    m.power_entity("NEW1", ("NEW1-U1", "coal", "500", "air"))
    result = refused(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    assert result.code is Code.ALLOCATION_MISSING_VERIFIED and "NEW1" in result.message
    assert transfer_count(m.engine) == 0


def test_publishing_a_revised_plan_keeps_the_old_version(m: Market) -> None:
    revised = packaged_plan_text("power-2023").replace('"0.7950"', '"0.7951"')
    data = done(m.allocation.publish_plan(OPERATOR, "pub-2023-v2", revised))
    assert (data["version"], data["supersedes"]) == (2, 1)
    assert m.allocation.plan("power-2023", 1)["data"]["benchmarks"]["I"]["electricity_t_per_mwh"] == "0.7950"
    assert m.allocation.plan("power-2023")["data"]["benchmarks"]["I"]["electricity_t_per_mwh"] == "0.7951"
    unchanged = refused(m.allocation.publish_plan(OPERATOR, "pub-2023-v3", revised))
    assert unchanged.code is Code.ALLOCATION_PLAN_UNCHANGED
    bad = packaged_plan_text("power-2023").replace("\nIV = ", "\nV = ")
    assert (
        refused(m.allocation.publish_plan(OPERATOR, "pub-bad", bad)).code is Code.ALLOCATION_UNKNOWN_CATEGORY
    )
    # The calculation uses the newest version: 3e6 × 0.7951 × 1.061364 = 2,531,671.5 → +318 t.
    calc = m.allocation.calc(2023, "COAL1")
    assert calc["entities"][0]["formula_t"] == 2_531_671 + 207_600
    assert calc["entities"][0]["plan_version"] == 2


def test_activity_import_stores_good_rows_and_names_each_bad_one(m: Market) -> None:
    data = m.activity(
        "COAL1,COAL1-U1,2024,3000000,2800000,0,0.7,,,",
        "COAL1,COAL1-U1,2024,1,1,0,0.7,,,",  # repeats the row above
        "GAS1,GAS1-U1,2024,-5,,0,0.7,,,",  # negative
        "GAS1,GAS1-U1,2025,99000000000,,0,0.7,,,",  # absurd: above 50 TWh for one unit
        "LOW1,LOW1-U1,2024,100,200,0,0.7,,,",  # supplied above generated
        "LOW1,GAS1-U1,2024,100,90,0,0.7,,,",  # a unit of another entity
        "NOBODY,X-U1,2024,100,90,0,0.7,,,",  # not on the roster
        "LOW1,LOW1-U1,2024,100,90,0,1.7,,,",  # load rate above 1
        command_id="imp-2024",
    )
    assert (data["rows"], data["stored"], data["rejected"]) == (8, 1, 7)
    assert [p["row"] for p in data["problems"]] == [3, 4, 5, 6, 7, 8, 9]
    assert "repeats row 2" in data["problems"][0]["message"]
    assert "negative" in data["problems"][1]["message"]
    assert "plausible maximum" in data["problems"][2]["message"]


def test_a_malformed_activity_file_is_refused_as_a_whole(m: Market) -> None:
    result = refused(m.allocation.import_activity(OPERATOR, b"entity,year\nA,2023\n", "bad.csv"))
    assert result.code is Code.ALLOCATION_FILE_UNREADABLE and "'entity'" in result.message


def test_industry_2024_allocates_verified_emissions_without_pre_allocation(engine: Engine) -> None:
    m = market(engine)
    m.industry_entity("CEM1", "cement", "clinker")
    m.publish("industry-2024")
    pre = done(m.allocation.preallocate(OPERATOR, "pre-2024", 2024))
    assert (pre["entities"], pre["issued_t"]) == (1, 0)  # share 0: nothing issued in 2024
    m.verify("CEM1", 2024, 123_456)
    done(m.allocation.true_up(OPERATOR, "tu-2024", 2024))
    assert m.allocation.allocated("CEM1", 2024) == 123_456 == m.holding("CEM1", "CEA24")
    assert m.reconciles()


def test_industry_2025_band_with_a_solved_balance_value_keeps_the_sector_at_its_emissions(
    engine: Engine,
) -> None:
    m = market(engine)
    for n, (verified, output) in enumerate(
        ((1_000_000, 1_100_000), (2_000_000, 1_800_000), (500_000, 250_000))
    ):
        entity = f"AL{n}"
        m.industry_entity(entity, "aluminium", "electrolysis")
        m.verify(entity, 2025, verified)
        m.activity(f"{entity},,2025,,,,,,{output},", command_id=f"imp-{entity}")
    plan = packaged_plan_text("industry-2025").replace('share = "0.70"', 'share = "0"')
    done(m.allocation.publish_plan(OPERATOR, "pub-ind", plan))
    done(m.allocation.true_up(OPERATOR, "tu-2025", 2025))
    allocations = [m.allocation.allocated(f"AL{n}", 2025) for n in range(3)]
    assert abs(sum(a or 0 for a in allocations) - 3_500_000) <= 3
    # Intensities 0.909, 1.111, 2.0: the cleanest gets more than its emissions, the dirtiest 3% less.
    assert allocations[0] > 1_000_000 and allocations[2] == 485_000  # 500,000 × 0.97
    bp = Decimal(m.allocation.trace("AL0", 2025)["runs"][0]["lines"][0]["terms"]["BP"])
    assert Decimal("1") < bp < Decimal("1.6")
    assert m.reconciles()


def test_an_absolute_cap_sends_auction_and_reserve_shares_to_their_accounts(engine: Engine) -> None:
    m = market(engine)
    plan = (
        packaged_plan_text("cap-cement-2027-example")
        .replace("cap_t = 1_000_000_000", "cap_t = 1_000_000")
        .replace('share = "0.50"', 'share = "0.10"')
    )
    done(m.allocation.publish_plan(OPERATOR, "pub-cap", plan))
    for n, output in enumerate((500_000, 700_000)):
        m.industry_entity(f"CM{n}", "cement", "clinker")
        m.verify(f"CM{n}", 2026, 600_000)
        m.verify(f"CM{n}", 2027, 600_000)
        m.activity(f"CM{n},,2027,,,,,,{output},", command_id=f"imp-cm{n}")
    done(m.allocation.preallocate(OPERATOR, "pre-2027", 2027))
    # Cap 1,000,000: auction 8% = 80,000, reserve 2% = 20,000; pre-allocation 10% × 600,000 each.
    balance = m.registry.balance(OPERATOR, "CN-AUCTION")["balances"]
    assert balance["CEA27"] == 80_000
    done(m.allocation.true_up(OPERATOR, "tu-2027", 2027))
    # Demand 0.85 × (500,000 + 700,000) = 1,020,000 > free 900,000 → factor 900/1020.
    # ⌊425,000 × 0.88235294…⌋ = 375,000; ⌊595,000 × 0.88235294…⌋ = 525,000.
    assert (m.allocation.allocated("CM0", 2027), m.allocation.allocated("CM1", 2027)) == (375_000, 525_000)
    assert m.registry.balance(OPERATOR, "CN-RESERVE")["balances"]["CEA27"] == 20_000
    assert m.reconciles()


def test_compliance_reads_the_final_allocation_inside_its_own_transaction(m: Market) -> None:
    done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    for entity, tonnes in (("COAL1", 2_600_000), ("GAS1", 380_000), ("LOW1", 600_000)):
        m.verify(entity, 2023, tonnes)
    done(m.allocation.true_up(OPERATOR, "tu-2023", 2023))
    with m.engine.begin() as connection:
        assert store.allocated(connection, "GAS1", 2023) == 380_000
        assert store.allocated(connection, "GAS1", 2022) is None


def test_trace_shows_every_line_with_plan_version_inputs_and_terms(m: Market) -> None:
    done(m.allocation.preallocate(OPERATOR, "pre-2023", 2023))
    for entity, tonnes in (("COAL1", 2_600_000), ("GAS1", 380_000), ("LOW1", 600_000)):
        m.verify(entity, 2023, tonnes)
    done(m.allocation.true_up(OPERATOR, "tu-2023", 2023))
    trace: dict[str, Any] = m.allocation.trace("COAL1", 2023)
    assert [r["kind"] for r in trace["runs"]] == ["preallocation", "true_up"]
    unit = trace["runs"][1]["lines"][0]
    assert (unit["plan"], unit["plan_version"], unit["category"]) == ("power-2023", 1, "I")
    assert unit["terms"]["Ff"] == "1.061364" and unit["result_t"] == 2_738_953
    assert trace["runs"][1]["transactions"], "the registry transactions are named"
