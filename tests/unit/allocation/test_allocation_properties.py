"""Invariants of the allocation formulas, checked on many generated cases (hypothesis)."""

from __future__ import annotations

import tomllib
from decimal import Decimal as D
from importlib import resources

from hypothesis import given
from hypothesis import strategies as st

from carbonmarket.allocation.model import (
    Band,
    industry_allocation,
    load_factor,
    parse_plan,
    settle,
    solve_balance_value,
)
from carbonmarket.allocation.model import apportion as split

tonnes = st.integers(min_value=0, max_value=10**9)
BAND = Band(D("0.15"), D("-0.20"), D("0.20"), D("0.03"), D("-0.03"))


def _factor(name: str):  # type: ignore[no-untyped-def]
    text = (resources.files("carbonmarket.allocation") / "data" / name).read_text("utf-8")
    return parse_plan(tomllib.loads(text)).power.load  # type: ignore[union-attr]


FACTORS = [_factor(n) for n in ("power_2019_2020.toml", "power_2023.toml", "power_2025_draft.toml")]


@given(entitled=tonnes, delivered=tonnes, deducted=tonnes, owed=tonnes, available=tonnes)
def test_settlement_conserves_allowances_and_deductions(
    entitled: int, delivered: int, deducted: int, owed: int, available: int
) -> None:
    s = settle(entitled, delivered, deducted, owed, available)
    # What the entity got plus what was deducted is its entitlement, plus what it could not give back.
    assert s.delivered_after_t + s.deducted_after_t == entitled + s.shortfall_t
    # Deductions move between "owed" and "applied" without loss; a shortfall adds to what is owed.
    assert s.owed_after_t + s.deducted_after_t == owed + deducted + s.shortfall_t
    assert s.withdraw_t <= available and min(s.deliver_t, s.withdraw_t) == 0
    assert s.deducted_after_t <= entitled and s.owed_after_t >= 0


@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=20),
)
def test_apportioning_adds_up_exactly(total: int, weights: list[int]) -> None:
    parts = split(total, [D(w) for w in weights])
    assert sum(parts) == total and all(p >= 0 for p in parts)


@given(low=st.integers(min_value=0, max_value=999), high=st.integers(min_value=0, max_value=999))
def test_load_factors_never_rise_with_the_load_rate(low: int, high: int) -> None:
    a, b = sorted((D(low) / 1000, D(high) / 1000))
    for factor in FACTORS:
        assert load_factor(factor, a) >= load_factor(factor, b) >= 1


@given(
    members=st.lists(
        st.tuples(st.integers(min_value=1, max_value=10**7), st.integers(min_value=100, max_value=5000)),
        min_size=1,
        max_size=12,
    )
)
def test_the_solved_balance_value_keeps_the_sector_total_at_its_verified_emissions(
    members: list[tuple[int, int]],
) -> None:
    pairs = [(e, D(i) / 1000) for e, i in members]
    bp = solve_balance_value(BAND, pairs)
    total = sum(industry_allocation(BAND, e, i, bp).allocation_t for e, i in pairs)
    verified = sum(e for e, _ in pairs)
    # Each allocation is floored (< 1 t each) and BP is rounded to 8 decimals.
    assert abs(total - verified) <= len(pairs) + verified * D("0.000001")
    for e, i in pairs:
        allocation = industry_allocation(BAND, e, i, bp).allocation_t
        assert int(e * D("0.97")) - 1 <= allocation <= e * D("1.03")
