"""The ledger's pure rules: balance arithmetic, serial block splits, reversal legs, holds."""

from __future__ import annotations

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.ledger.model import (
    MINT_ACCOUNT_ID,
    Balance,
    Leg,
    LegKind,
    balance_changes,
    check_hold_pending,
    check_post_quantity,
    keys_touched,
    reversal_legs,
    split_blocks,
)


def test_keys_are_sorted_and_exclude_the_mint() -> None:
    legs = [Leg("B", "A", "CEA24", 1, LegKind.TRANSFER), Leg(MINT_ACCOUNT_ID, "C", "CEA24", 5, LegKind.ISSUE)]
    assert keys_touched(legs) == [("A", "CEA24"), ("B", "CEA24"), ("C", "CEA24")]


def test_a_batch_moves_units_between_accounts() -> None:
    before = {("A", "X"): Balance(10, 0), ("B", "X"): Balance(0, 0)}
    after = balance_changes([Leg("A", "B", "X", 4, LegKind.TRANSFER)], before, {})
    assert after == {("A", "X"): Balance(6, 0), ("B", "X"): Balance(4, 0)}


def test_a_batch_that_would_overdraw_any_leg_is_refused_whole() -> None:
    before = {("A", "X"): Balance(10, 0), ("B", "X"): Balance(0, 0), ("C", "X"): Balance(0, 0)}
    legs = [Leg("A", "B", "X", 4, LegKind.TRANSFER), Leg("B", "C", "X", 5, LegKind.TRANSFER)]
    with pytest.raises(Refused) as caught:
        balance_changes(legs, before, {})
    assert caught.value.refusal.code is Code.INSUFFICIENT_BALANCE
    assert caught.value.refusal.details["account"] == "B"


def test_reserved_units_cannot_be_spent() -> None:
    before = {("A", "X"): Balance(10, 8), ("B", "X"): Balance(0, 0)}
    with pytest.raises(Refused):
        balance_changes([Leg("A", "B", "X", 3, LegKind.TRANSFER)], before, {})


def test_posting_a_hold_spends_the_released_units() -> None:
    before = {("A", "X"): Balance(10, 8), ("B", "X"): Balance(0, 0)}
    after = balance_changes([Leg("A", "B", "X", 5, LegKind.POST)], before, {("A", "X"): 8})
    assert after[("A", "X")] == Balance(5, 0)
    assert after[("B", "X")] == Balance(5, 0)


def test_issuance_creates_units_without_debiting_a_cached_balance() -> None:
    after = balance_changes(
        [Leg(MINT_ACCOUNT_ID, "I", "X", 7, LegKind.ISSUE)], {("I", "X"): Balance(0, 0)}, {}
    )
    assert after == {("I", "X"): Balance(7, 0)}


def test_blocks_split_at_the_lowest_serials() -> None:
    whole, part = split_blocks([(1, 1, 10), (2, 11, 20), (3, 21, 30)], 15)
    assert whole == [1]
    assert part == (2, 11, 15)
    assert split_blocks([(1, 1, 10)], 10) == ([1], None)


def test_blocks_short_of_the_balance_are_a_bug_not_a_refusal() -> None:
    with pytest.raises(AssertionError):
        split_blocks([(1, 1, 3)], 4)


def test_reversal_swaps_sides_and_names_the_original() -> None:
    legs = reversal_legs([(41, Leg("A", "B", "X", 3, LegKind.TRANSFER))])
    assert legs == [Leg("B", "A", "X", 3, LegKind.REVERSE, reverses_id=41)]


def test_a_resolved_hold_cannot_be_resolved_again() -> None:
    check_hold_pending("h", "pending")
    with pytest.raises(Refused) as caught:
        check_hold_pending("h", "posted")
    assert caught.value.refusal.code is Code.HOLD_NOT_PENDING


def test_a_post_cannot_exceed_the_hold() -> None:
    check_post_quantity("h", 10, 10)
    with pytest.raises(Refused) as caught:
        check_post_quantity("h", 10, 11)
    assert caught.value.refusal.code is Code.POST_QUANTITY_EXCEEDS_HOLD
