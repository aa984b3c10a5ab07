"""Pure clearing of one-way bidding sessions and primary auctions, with hand-worked examples."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonmarket.core.results import Code, Refused
from carbonmarket.exchange.clearing import (
    AuctionSpec,
    Award,
    Bid,
    BiddingSpec,
    clear_auction,
    clear_bidding,
)

T0, T1, T2 = "2025-07-01T10:00:00+08:00", "2025-07-01T10:01:00+08:00", "2025-07-01T10:02:00+08:00"


def sale(**changes: object) -> BiddingSpec:
    # A seller offers 300,000 t; bids 90.00 .. 110.00 CNY/t; anyone up to 200,000 t; at least 150,000 t bid.
    spec = BiddingSpec(
        session_id="S1",
        instrument="CEA24",
        side="sell",
        quantity=300_000,
        price_min_fen=9_000,
        price_max_fen=11_000,
        price_mode="uniform",
        per_bidder_max_t=200_000,
        subscription_min_t=150_000,
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def awards(clearing: object) -> list[tuple[str, int, int]]:
    return [(a.bid_id, a.quantity, a.price_fen) for a in clearing.awards]  # type: ignore[attr-defined]


# One-way bidding --------------------------------------------------------------------------------


def test_uniform_price_is_the_lowest_winning_bid_and_the_marginal_bid_fills_in_part():
    bids = [
        Bid("b1", "A", 10_500, 100_000, T0),
        Bid("b2", "B", 10_200, 150_000, T0),
        Bid("b3", "C", 9_800, 100_000, T0),
        Bid("b4", "D", 9_500, 50_000, T0),
    ]
    clearing = clear_bidding(sale(), bids, seed=1)
    # 100,000 + 150,000 = 250,000; b3 gets the last 50,000 of 300,000 at 98.00; b4 loses.
    assert awards(clearing) == [("b1", 100_000, 9_800), ("b2", 150_000, 9_800), ("b3", 50_000, 9_800)]
    assert clearing.clearing_price_fen == 9_800
    assert clearing.awarded_t == 300_000 and clearing.unsold_t == 0
    assert clearing.value_fen == 300_000 * 9_800  # CNY 29.4 million
    assert clearing.subscribed_t == 400_000


def test_pay_as_bid_charges_each_winner_its_own_price():
    bids = [Bid("b1", "A", 10_500, 100_000, T0), Bid("b2", "B", 10_200, 250_000, T0)]
    clearing = clear_bidding(sale(price_mode="pay_as_bid"), bids, seed=1)
    # b2 is capped by the remaining 200,000 t (its own cap is 200,000 t too).
    assert awards(clearing) == [("b1", 100_000, 10_500), ("b2", 200_000, 10_200)]
    assert clearing.value_fen == 100_000 * 10_500 + 200_000 * 10_200  # 1.05e9 + 2.04e9 fen


def test_earlier_bids_win_at_equal_price():
    bids = [Bid("late", "A", 10_000, 200_000, T1), Bid("early", "B", 10_000, 200_000, T0)]
    clearing = clear_bidding(sale(), bids, seed=1)
    assert awards(clearing) == [("early", 200_000, 10_000), ("late", 100_000, 10_000)]
    assert clearing.tie_breaks == ()


def test_a_tie_in_price_and_time_is_broken_by_the_seed_and_recorded():
    bids = [Bid(f"b{i}", f"A{i}", 10_000, 100_000, T0) for i in range(5)]
    first = clear_bidding(sale(), bids, seed=2025)
    again = clear_bidding(
        sale(), list(reversed(bids)), seed=2025
    )  # order of arrival in the list is irrelevant
    assert first == again
    (tie,) = first.tie_breaks
    assert tie.candidates == ("b0", "b1", "b2", "b3", "b4")
    assert sorted(tie.drawn) == list(tie.candidates)
    assert [a.bid_id for a in first.awards] == list(tie.drawn[:3])  # 3 × 100,000 = 300,000
    seeds = {clear_bidding(sale(), bids, seed=s).tie_breaks[0].drawn for s in range(20)}
    assert len(seeds) > 1  # the seed really decides


def test_the_per_bidder_cap_limits_one_bidder_across_its_bids():
    bids = [
        Bid("a1", "A", 10_900, 150_000, T0),
        Bid("a2", "A", 10_800, 150_000, T0),
        Bid("b1", "B", 9_100, 300_000, T0),
    ]
    clearing = clear_bidding(sale(), bids, seed=1)
    # A may win 200,000 in all: 150,000 + 50,000; B takes the other 100,000 at the uniform 91.00.
    assert awards(clearing) == [("a1", 150_000, 9_100), ("a2", 50_000, 9_100), ("b1", 100_000, 9_100)]


def test_an_under_subscribed_session_is_cancelled_with_its_reason():
    bids = [Bid("b1", "A", 10_000, 100_000, T0), Bid("b2", "A", 10_000, 200_000, T1)]
    clearing = clear_bidding(sale(per_bidder_max_t=140_000), bids, seed=1)
    # A bids 300,000 t but counts only up to its cap, 140,000 < the 150,000 minimum.
    assert clearing.cancelled and clearing.awards == () and clearing.unsold_t == 300_000
    assert "140000 t bid against a minimum of 150000 t" in (clearing.reason or "")


def test_a_buy_session_takes_the_lowest_offers_and_pays_the_highest_winning_one():
    spec = sale(side="buy", quantity=200_000)
    bids = [
        Bid("s1", "A", 9_500, 100_000, T0),
        Bid("s2", "B", 9_200, 100_000, T0),
        Bid("s3", "C", 9_900, 100_000, T0),
    ]
    clearing = clear_bidding(spec, bids, seed=1)
    assert awards(clearing) == [("s2", 100_000, 9_500), ("s1", 100_000, 9_500)]


def test_bids_outside_the_session_limits_or_malformed_are_refused():
    with pytest.raises(Refused) as raised:
        clear_bidding(sale(), [Bid("b1", "A", 11_001, 1, T0)], seed=1)
    assert raised.value.refusal.code == Code.CLEARING_BID_OUTSIDE_LIMIT
    with pytest.raises(Refused) as raised:
        clear_bidding(sale(), [Bid("b1", "A", 10_000, 1, T0), Bid("b1", "B", 10_000, 1, T0)], seed=1)
    assert raised.value.refusal.code == Code.CLEARING_DUPLICATE_BID
    for bad in (Bid("b1", "A", 10_000, 0, T0), Bid("b1", "A", 10_000.5, 1, T0), Bid("", "A", 10_000, 1, T0)):  # type: ignore[arg-type]
        with pytest.raises(Refused) as raised:
            clear_bidding(sale(), [bad], seed=1)
        assert raised.value.refusal.code == Code.CLEARING_INVALID_BID


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": 0},
        {"side": "both"},
        {"price_mode": "dutch"},
        {"price_min_fen": 12_000},
        {"subscription_min_t": 400_000},
        {"per_bidder_max_t": -1},
        {"lot_t": 7},  # 300,000 is not a multiple of 7
    ],
)
def test_impossible_session_terms_are_refused(changes):
    with pytest.raises(Refused) as raised:
        clear_bidding(sale(**changes), [], seed=1)
    assert raised.value.refusal.code == Code.CLEARING_INVALID_SPEC


def test_lots_round_the_marginal_fill_down():
    spec = sale(quantity=250, lot_t=50, per_bidder_max_t=250, subscription_min_t=0)
    clearing = clear_bidding(spec, [Bid("b1", "A", 10_000, 100, T0), Bid("b2", "B", 9_900, 200, T0)], seed=1)
    assert awards(clearing) == [("b1", 100, 9_900), ("b2", 150, 9_900)]


# Primary auctions -------------------------------------------------------------------------------


def auction(**changes: object) -> AuctionSpec:
    # 1,000,000 t, reserve 80.00 CNY/t, bids up to 200.00, 400,000 t a bidder, cancel below 90% of secondary.
    spec = AuctionSpec(
        auction_id="A1",
        instrument="CEA25",
        quantity=1_000_000,
        reserve_price_fen=8_000,
        price_max_fen=20_000,
        per_bidder_max_t=400_000,
        subscription_min_t=0,
        cancel_below_secondary_bp=9_000,
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def test_an_auction_that_sells_out_clears_at_the_lowest_winning_bid():
    bids = [
        Bid("x", "A", 9_800, 400_000, T0),
        Bid("y", "B", 9_600, 400_000, T0),
        Bid("z", "C", 9_500, 400_000, T0),
    ]
    clearing = clear_auction(auction(), bids, seed=3, secondary_price_fen=10_000)
    # 95.00 ≥ 90% × 100.00 = 90.00: not cancelled; z takes the last 200,000.
    assert awards(clearing) == [("x", 400_000, 9_500), ("y", 400_000, 9_500), ("z", 200_000, 9_500)]
    assert clearing.unsold_t == 0


def test_bids_below_the_reserve_never_win_and_unsold_volume_clears_at_the_reserve():
    bids = [Bid("x", "A", 9_800, 300_000, T0), Bid("low", "B", 7_999, 400_000, T0)]
    clearing = clear_auction(auction(), bids, seed=3, secondary_price_fen=8_500)
    # Only x is eligible: 300,000 sold at the reserve 80.00 (not sold out); 700,000 unsold.
    # 80.00 ≥ 90% × 85.00 = 76.50, so the auction stands.
    assert awards(clearing) == [("x", 300_000, 8_000)]
    assert clearing.unsold_t == 700_000
    assert clearing.ineligible == ("low",)


def test_an_auction_clearing_significantly_under_the_secondary_price_is_cancelled():
    bids = [
        Bid("x", "A", 8_900, 400_000, T0),
        Bid("y", "B", 8_900, 400_000, T0),
        Bid("z", "C", 8_900, 400_000, T0),
    ]
    clearing = clear_auction(auction(), bids, seed=3, secondary_price_fen=10_000)
    # 89.00 < 90% × 100.00 = 90.00 → cancelled; nothing awarded, all unsold.
    assert clearing.cancelled and clearing.awards == () and clearing.unsold_t == 1_000_000
    assert "significantly under" in (clearing.reason or "")
    at_edge = clear_auction(
        auction(), [dataclasses.replace(b, price_fen=9_000) for b in bids], seed=3, secondary_price_fen=10_000
    )
    assert not at_edge.cancelled  # exactly 90% is not "under"


def test_an_under_subscribed_auction_is_cancelled():
    spec = auction(subscription_min_t=1_000_000)
    clearing = clear_auction(spec, [Bid("x", "A", 9_800, 400_000, T0)], seed=3, secondary_price_fen=9_000)
    assert clearing.cancelled and "under-subscribed" in (clearing.reason or "")


def test_auction_terms_that_make_no_sense_are_refused():
    for spec, secondary in (
        (auction(reserve_price_fen=0), 1),
        (auction(cancel_below_secondary_bp=12_000), 1),
    ):
        with pytest.raises(Refused) as raised:
            clear_auction(spec, [], seed=1, secondary_price_fen=secondary)
        assert raised.value.refusal.code == Code.CLEARING_INVALID_SPEC
    with pytest.raises(Refused):
        clear_auction(auction(), [], seed=1, secondary_price_fen=0)


# Invariants ---------------------------------------------------------------------------------------

bid_lists = st.lists(
    st.builds(
        Bid,
        bid_id=st.uuids().map(str),
        account=st.sampled_from(["A", "B", "C", "D"]),
        price_fen=st.integers(9_000, 9_010),
        quantity=st.integers(1, 200_000),
        at=st.sampled_from([T0, T1, T2]),
    ),
    max_size=30,
    unique_by=lambda b: b.bid_id,
)


@settings(max_examples=150, deadline=None)
@given(bids=bid_lists, seed=st.integers(0, 2**32), mode=st.sampled_from(["uniform", "pay_as_bid"]))
def test_clearing_never_awards_more_than_offered_or_a_bidder_more_than_its_cap(bids, seed, mode):
    spec = sale(price_mode=mode, subscription_min_t=0)
    clearing = clear_bidding(spec, bids, seed)
    assert clearing.awarded_t + clearing.unsold_t == spec.quantity
    assert clearing.awarded_t == sum(a.quantity for a in clearing.awards) <= spec.quantity
    per_account: dict[str, int] = {}
    by_id = {b.bid_id: b for b in bids}
    for award in clearing.awards:
        bid = by_id[award.bid_id]
        assert 0 < award.quantity <= bid.quantity
        assert award.price_fen <= bid.price_fen  # nobody pays more than it bid
        per_account[award.account] = per_account.get(award.account, 0) + award.quantity
    assert all(total <= spec.per_bidder_max_t for total in per_account.values())
    # Price-time priority: every losing bid is no better than the worst winning one.
    if clearing.awards and clearing.unsold_t == 0:
        worst = min(by_id[a.bid_id].price_fen for a in clearing.awards)
        won = {a.bid_id for a in clearing.awards}
        capped = {a for a, total in per_account.items() if total == spec.per_bidder_max_t}
        assert all(b.price_fen <= worst for b in bids if b.bid_id not in won and b.account not in capped)
    assert clear_bidding(spec, list(reversed(bids)), seed) == clearing
    assert isinstance(clearing.as_json()["awards"], list)
    assert all(isinstance(a, Award) for a in clearing.awards)
