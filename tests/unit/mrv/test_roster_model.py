"""Roster rules without a database: the threshold, unit categories, cells, entity and facility changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.model import Sector
from carbonmarket.mrv.roster.model import (
    BadValue,
    Entity,
    EntityStatus,
    UnitCategory,
    change_entity,
    change_facility,
    classify_power_unit,
    creation_diff,
    is_included,
    new_entity,
    new_facility,
    parse_threshold,
    read_tonnes,
    replay,
    roster_rules,
)


def refused(code: Code, call: object, *args: object, **kwargs: object) -> str:
    """Run `call` and return the refusal's message, failing unless it refuses with `code`."""
    assert callable(call)
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.refusal.code is code, caught.value.refusal
    return caught.value.refusal.message


# --- threshold ----------------------------------------------------------------------------------


def test_the_default_threshold_is_26000_t_and_cites_domain_md() -> None:
    rules = roster_rules()
    assert rules.threshold_t == 26_000
    assert "DOMAIN.md §1" in rules.threshold_source and "[seed]" in rules.threshold_source
    assert parse_threshold(None) == 26_000


def test_26000_t_or_more_is_included_and_less_is_not() -> None:
    assert is_included(26_000, 26_000)
    assert is_included(26_001, 26_000)
    assert not is_included(25_999, 26_000)


def test_a_threshold_can_be_given_per_call_but_not_negative_or_fractional() -> None:
    assert parse_threshold(50_000) == 50_000
    assert parse_threshold("10000") == 10_000
    assert parse_threshold(0) == 0
    for bad in (-1, "1.5", "lots", True, 10**11):
        refused(Code.ROSTER_INVALID_THRESHOLD, parse_threshold, bad)


# --- power unit categories ----------------------------------------------------------------------


def test_conventional_coal_splits_at_400_mw_in_the_2023_24_plan_and_400_belongs_to_category_i() -> None:
    assert classify_power_unit("coal", Decimal(1000)) is UnitCategory.I
    assert classify_power_unit("coal", Decimal(400)) is UnitCategory.I
    assert classify_power_unit("coal", Decimal("399.999")) is UnitCategory.II
    assert classify_power_unit("coal", Decimal(300)) is UnitCategory.II


def test_earlier_plans_split_coal_at_300_mw_with_300_in_category_ii() -> None:
    assert classify_power_unit("coal", Decimal(300), "2019-2022") is UnitCategory.II
    assert classify_power_unit("coal", Decimal("300.001"), "2019-2022") is UnitCategory.I
    assert classify_power_unit("coal", Decimal(350), "2019-2022") is UnitCategory.I


def test_unconventional_coal_and_cfb_are_iii_and_gas_is_iv_whatever_their_size() -> None:
    for size in (Decimal(50), Decimal(600)):
        assert classify_power_unit("unconventional_coal", size) is UnitCategory.III
        assert classify_power_unit("cfb", size) is UnitCategory.III
        assert classify_power_unit("gas", size) is UnitCategory.IV


def test_units_outside_the_plan_are_refused_rather_than_categorised() -> None:
    assert "not covered" in refused(Code.ROSTER_UNIT_NOT_COVERED, classify_power_unit, "biomass", Decimal(50))
    refused(Code.ROSTER_UNIT_NOT_COVERED, classify_power_unit, "igcc", Decimal(250))
    refused(Code.ROSTER_INVALID_FACILITY, classify_power_unit, "nuclear", Decimal(1000))
    refused(Code.ROSTER_INVALID_FACILITY, classify_power_unit, "coal", Decimal(600), "2030")


def test_the_category_split_is_data_with_its_source() -> None:
    plans = roster_rules().plans
    assert plans["2023-2024"].coal_split_mw == 400 and "DOMAIN-SOURCES.md §1" in plans["2023-2024"].source
    assert plans["2019-2022"].coal_split_mw == 300
    assert roster_rules().default_plan == "2023-2024"


# --- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "tonnes"),
    [
        ("87923", 87923),
        (" 87923 ", 87923),
        ("1,234,567", 1234567),
        (1234, 1234),
        (1234.0, 1234),
        ("0", 0),
        ("1e3", 1000),
    ],
)
def test_whole_non_negative_numbers_are_read_as_tonnes(cell: object, tonnes: int) -> None:
    assert read_tonnes(cell) == tonnes


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("Not Reported", "'Not Reported' is not a number"),
        ("Excluded", "'Excluded' is not a number"),
        ("", "blank"),
        (None, "blank"),
        ("-5", "negative"),
        (-5, "negative"),
        ("12.5", "not a whole number"),
        ("12 t", "is not a number"),
        ("NaN", "is not a number"),
        (True, "is not a number"),
        ("2000000000", "plausible maximum"),
    ],
)
def test_cells_that_are_not_whole_tonnes_say_why(cell: object, words: str) -> None:
    read = read_tonnes(cell)
    assert isinstance(read, BadValue)
    assert words in read.reason


def test_a_unit_factor_turns_wan_tonnes_into_tonnes_and_must_come_out_whole() -> None:
    assert read_tonnes("2.65", 10_000) == 26_500
    assert isinstance(read_tonnes("2.65001", 10_000), BadValue)


# --- entities -----------------------------------------------------------------------------------


def plant(**overrides: object) -> Entity:
    values: dict[str, object] = {
        "entity_id": "GD-0001",
        "name": "Huaneng Shantou Power",
        "sector": "power",
        "province": "Guangdong",
        "city": "Shantou",
        "inclusion_year": 2021,
    }
    values.update(overrides)
    return new_entity(**values)  # type: ignore[arg-type]


def test_a_new_entity_is_checked_field_by_field() -> None:
    entity = plant()
    assert entity.as_dict() == {
        "entity_id": "GD-0001",
        "name": "Huaneng Shantou Power",
        "sector": "power",
        "province": "Guangdong",
        "city": "Shantou",
        "status": "active",
        "inclusion_year": 2021,
    }
    refused(Code.ROSTER_INVALID_SECTOR, plant, sector="aviation")
    refused(Code.INVALID_ID, plant, entity_id="no spaces")
    refused(Code.INVALID_TEXT, plant, name="  ")
    refused(Code.ROSTER_INVALID_YEAR, plant, inclusion_year=1850)
    refused(Code.ROSTER_INVALID_STATUS, plant, status="sleeping")


def test_a_change_returns_the_diff_of_old_and_new_values() -> None:
    entity = plant()
    changed, diff = change_entity(entity, {"city": "Chaozhou", "status": "suspended"})
    assert diff == {"city": ["Shantou", "Chaozhou"], "status": ["active", "suspended"]}
    assert changed.city == "Chaozhou" and changed.status is EntityStatus.SUSPENDED
    assert entity.city == "Shantou", "the old value is not overwritten in place"


def test_a_change_that_changes_nothing_or_an_unknown_field_is_refused() -> None:
    entity = plant()
    refused(Code.ROSTER_NO_CHANGE, change_entity, entity, {"city": "Shantou"})
    assert "not colour" in refused(Code.ROSTER_INVALID_FIELD, change_entity, entity, {"colour": "red"})
    refused(Code.ROSTER_INVALID_FIELD, change_entity, entity, {})


def test_a_removed_entity_can_only_be_listed_again() -> None:
    removed, _ = change_entity(plant(), {"status": "removed"})
    refused(Code.ROSTER_ENTITY_REMOVED, change_entity, removed, {"city": "Chaozhou"})
    refused(Code.ROSTER_STATUS_CHANGE_NOT_ALLOWED, change_entity, removed, {"status": "suspended"})
    again, diff = change_entity(removed, {"status": "active"})
    assert again.status is EntityStatus.ACTIVE and diff == {"status": ["removed", "active"]}


def test_replaying_the_history_gives_the_current_entity_and_a_broken_chain_is_caught() -> None:
    entity = plant()
    history = [creation_diff(entity.fields())]
    for updates in ({"status": "suspended"}, {"status": "active", "name": "Huaneng Shantou"}, {"city": None}):
        entity, diff = change_entity(entity, updates)
        history.append(diff)
    assert replay(history) == entity.fields()
    with pytest.raises(ValueError, match="does not chain"):
        replay([history[0], {"status": ["removed", "active"]}])


# --- facilities ---------------------------------------------------------------------------------


def test_a_power_unit_gets_its_category_from_fuel_and_rated_power_stored_to_the_kw() -> None:
    unit = new_facility("GD-0001-U1", plant(), fuel="coal", capacity_mw="660.5", cooling="air")
    assert (unit.category, unit.capacity_kw, unit.capacity_mw) == (UnitCategory.I, 660_500, Decimal("660.5"))
    assert unit.fields()["capacity_mw"] == "660.5" and unit.category_plan == "2023-2024"
    smaller, diff = change_facility(unit, {"capacity_mw": "350"})
    assert smaller.category is UnitCategory.II
    assert diff == {"capacity_mw": ["660.5", "350"], "category": ["I", "II"]}
    refused(Code.ROSTER_INVALID_FIELD, change_facility, unit, {"category": "I"})


def test_a_power_unit_needs_fuel_capacity_and_cooling_and_no_line_type() -> None:
    entity = plant()
    assert "cooling" in refused(
        Code.ROSTER_INVALID_FACILITY, new_facility, "U1", entity, fuel="gas", capacity_mw=400
    )
    refused(
        Code.ROSTER_INVALID_CAPACITY, new_facility, "U1", entity, fuel="gas", capacity_mw="-4", cooling="air"
    )
    refused(
        Code.ROSTER_INVALID_CAPACITY,
        new_facility,
        "U1",
        entity,
        fuel="gas",
        capacity_mw="1.0001",
        cooling="air",
    )
    refused(
        Code.ROSTER_INVALID_FACILITY, new_facility, "U1", entity, fuel="gas", capacity_mw=400, cooling="oil"
    )
    refused(
        Code.ROSTER_FACILITY_SECTOR_MISMATCH,
        new_facility,
        "U1",
        entity,
        fuel="gas",
        capacity_mw=400,
        cooling="air",
        line_type="clinker",
    )


def test_steel_cement_and_aluminium_have_process_lines_of_their_sector() -> None:
    cement = plant(entity_id="AH-CEM", sector="cement")
    line = new_facility("AH-CEM-K1", cement, line_type="clinker", capacity_t_per_year=1_500_000)
    assert (line.sector, line.kind.value, line.line_type) == (Sector.CEMENT, "process_line", "clinker")
    refused(Code.ROSTER_INVALID_FACILITY, new_facility, "K2", cement, line_type="electrolysis")
    refused(
        Code.ROSTER_FACILITY_SECTOR_MISMATCH, new_facility, "K2", cement, line_type="clinker", fuel="coal"
    )
    refused(
        Code.ROSTER_INVALID_CAPACITY, new_facility, "K2", cement, line_type="clinker", capacity_t_per_year=0
    )


def test_a_removed_entity_gets_no_new_facility() -> None:
    removed, _ = change_entity(plant(), {"status": "removed"})
    refused(
        Code.ROSTER_ENTITY_REMOVED, new_facility, "U9", removed, fuel="gas", capacity_mw=100, cooling="air"
    )
