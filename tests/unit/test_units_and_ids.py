"""Units, ids and instrument ids refuse bad input with named codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbonmarket.core.ids import check_id
from carbonmarket.core.instruments import InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Refused
from carbonmarket.core.units import format_fen, parse_quantity, quantity_max_t


def refusal_code(call: object, *args: object) -> Code:
    with pytest.raises(Refused) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.refusal.code


@pytest.mark.parametrize("text", ["1", "42", " 1000 ", "1_000", 7, Decimal("5"), 12.0, "1e3"])
def test_quantity_accepts_whole_positive_numbers(text: object) -> None:
    assert parse_quantity(text) > 0


def test_quantity_keeps_the_exact_value() -> None:
    assert parse_quantity("1_000_000") == 1_000_000
    assert parse_quantity(quantity_max_t) == 10**12


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1.5", Code.QUANTITY_NOT_INTEGER),
        (1.5, Code.QUANTITY_NOT_INTEGER),
        ("abc", Code.QUANTITY_NOT_INTEGER),
        ("", Code.QUANTITY_NOT_INTEGER),
        ("nan", Code.QUANTITY_NOT_INTEGER),
        ("inf", Code.QUANTITY_NOT_INTEGER),
        (True, Code.QUANTITY_NOT_INTEGER),
        (None, Code.QUANTITY_NOT_INTEGER),
        ([1], Code.QUANTITY_NOT_INTEGER),
        (0, Code.QUANTITY_NOT_POSITIVE),
        ("-3", Code.QUANTITY_NOT_POSITIVE),
        (10**12 + 1, Code.QUANTITY_TOO_LARGE),
        ("1e13", Code.QUANTITY_TOO_LARGE),
    ],
)
def test_quantity_refuses_fractions_negatives_and_absurd_numbers(value: object, code: Code) -> None:
    assert refusal_code(parse_quantity, value) is code


def test_fen_formats_as_yuan_with_two_decimals() -> None:
    assert format_fen(9749) == "97.49"
    assert format_fen(5) == "0.05"
    assert format_fen(-120) == "-1.20"


@pytest.mark.parametrize("good", ["a", "ACC-1", "t:2024.01_x", "x" * 64])
def test_ids_of_letters_digits_and_separators_are_accepted(good: str) -> None:
    assert check_id(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 65, "-starts-with-dash", "has space", "semi;colon", "ünïcode"])
def test_malformed_ids_are_refused(bad: str) -> None:
    assert refusal_code(check_id, bad) is Code.INVALID_ID


def test_allowance_ids_carry_their_vintage() -> None:
    cea24 = parse_instrument("CEA24")
    assert cea24.kind is InstrumentKind.ALLOWANCE
    assert (cea24.vintage.first_year, cea24.vintage.last_year) == (2024, 2024)  # type: ignore[union-attr]
    pair = parse_instrument("cea19-20")
    assert str(pair) == "CEA19-20"
    assert str(pair.vintage) == "2019-2020"


def test_ccer_ids_name_project_and_year() -> None:
    ccer = parse_instrument("CCER-DT0001-2025")
    assert ccer.kind is InstrumentKind.CCER
    assert ccer.project == "DT0001"
    assert ccer.unit == "t"
    assert parse_instrument("CNY").unit == "fen"


@pytest.mark.parametrize(
    "bad", ["CEA", "CEA2024", "CEA18", "CEA21-20", "CEA21-24", "EUA24", "CCER-X-1999", "CCER--2025", ""]
)
def test_malformed_instrument_ids_are_refused(bad: str) -> None:
    assert refusal_code(parse_instrument, bad) is Code.INVALID_INSTRUMENT_ID


def test_a_compliance_year_names_its_allowance_vintage_and_the_registry_parses_it() -> None:
    from carbonmarket.core.instruments import allowance_vintage, parse_instrument

    assert [allowance_vintage(y) for y in (2019, 2020, 2021, 2023)] == [
        "CEA19-20",
        "CEA19-20",
        "CEA21",
        "CEA23",
    ]
    assert parse_instrument(allowance_vintage(2024)).text == "CEA24"
