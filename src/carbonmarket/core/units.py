"""Integer quantities: allowances and credits in whole tonnes CO2e, money in fen (0.01 CNY).

Rule 2 of the house: no floats in the ledger, the exchange or money. A quantity arriving from
outside (a CLI flag, a JSON body, a CSV cell) goes through `parse_quantity`, which refuses
anything that is not a positive whole number within a stated limit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NewType

from carbonmarket.core.results import Code, Refused

Tonnes = NewType("Tonnes", int)
Fen = NewType("Fen", int)

# Absurdity limit for any single quantity of units: 10^12 t is over a hundred times the world's
# annual CO2 emissions, so anything above it is a typo or an attack, never a real transfer.
quantity_max_t = 10**12
# Absurdity limit for money in one command: CNY 10^13 (10^15 fen), far above any carbon trade.
amount_max_fen = 10**15


def parse_quantity(value: object, *, maximum: int = quantity_max_t, what: str = "quantity") -> int:
    """Turn outside input into a positive whole number no larger than `maximum`, or refuse."""
    if isinstance(value, bool):
        raise Refused(Code.QUANTITY_NOT_INTEGER, f"{what} must be a whole number, not {value!r}")
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, str | float | Decimal):
        number = _whole_number_from(value, what)
    else:
        raise Refused(Code.QUANTITY_NOT_INTEGER, f"{what} must be a whole number, not {value!r}")
    if number <= 0:
        raise Refused(Code.QUANTITY_NOT_POSITIVE, f"{what} must be positive, got {number}")
    if number > maximum:
        raise Refused(Code.QUANTITY_TOO_LARGE, f"{what} {number} exceeds the limit of {maximum}")
    return number


def _whole_number_from(value: str | float | Decimal, what: str) -> int:
    """Read a decimal string or number, refusing fractions, NaN and infinities."""
    try:
        as_decimal = Decimal(value.strip().replace("_", "")) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise Refused(Code.QUANTITY_NOT_INTEGER, f"{what} must be a whole number, not {value!r}") from None
    if not as_decimal.is_finite() or as_decimal != as_decimal.to_integral_value():
        raise Refused(Code.QUANTITY_NOT_INTEGER, f"{what} must be a whole number, not {value!r}")
    return int(as_decimal)


def format_fen(amount: int) -> str:
    """Show an amount in fen as CNY with two decimals, e.g. 9749 → '97.49'."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"
