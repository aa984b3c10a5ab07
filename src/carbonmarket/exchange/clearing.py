"""Pure clearing of one-way bidding sessions and primary auctions.

Pure: standard library and `carbonmarket.core` only; the random tie-break is seeded by the caller
(DESIGN.md rule 9) and every draw is recorded in the result, so a clearing can be re-run and
audited. Prices are integer fen, quantities integer tonnes.

One-way bidding (DOMAIN.md §5 [reg]; DOMAIN-SOURCES §6 [sec], SEEE notice 沪环境交〔2025〕23号): the
initiator offers (or asks for) a quantity; bidders on the other side bid in a window; bids are
ranked by price, then time; the price mode is uniform (every winner pays the least favourable
winning price — for a sale, the lowest winning bid) or pay-as-bid; the marginal bid is filled in
part; a per-bidder cap bounds any one bidder's award; a session bid below its minimum is cancelled.

Primary auctions (DOMAIN.md §5 [reg]: EU — single round, sealed bid, uniform price, random tie-break
fixed in advance, cancelled if under-subscribed or clearing "significantly under" the secondary
price; California — a reserve price): the same ranking and fill, bids below the reserve never win,
the volume not sold is reported as unsold, and when the auction does not sell out the price is
the reserve (California's rule for an undersubscribed auction).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from carbonmarket.core.results import Code, Refused

# Price modes (DOMAIN-SOURCES §6 [sec]); any str with these values is accepted, such as the
# members of sessions_model.PriceMode.
UNIFORM = "uniform"
PAY_AS_BID = "pay_as_bid"
_PRICE_MODES = (UNIFORM, PAY_AS_BID)
# Sides of the initiator; model.Side or sessions_model.SessionSide members are accepted.
SELL = "sell"
BUY = "buy"
# Limits of this platform (TIGER_STYLE), not market rules: clearing works in O(n log n) bids.
BIDS_MAX = 1_000_000
TEXT_MAX_CHARS = 200
BASIS_POINTS = 10_000


@dataclass(frozen=True)
class BiddingSpec:
    """A one-way bidding session's terms (DOMAIN-SOURCES §6 [sec]).

    `side` is the initiator's: "sell" means it sells `quantity` and bidders buy, the highest bids
    winning; "buy" means it buys and bidders sell, the lowest offers winning. Bids must lie within
    `price_min_fen..price_max_fen` (for a sale: the floor up to close + 10%).
    """

    session_id: str
    instrument: str
    side: str
    quantity: int
    price_min_fen: int
    price_max_fen: int
    price_mode: str
    per_bidder_max_t: int
    subscription_min_t: int
    lot_t: int = 1


@dataclass(frozen=True)
class AuctionSpec:
    """A primary auction's terms (DOMAIN.md §5 [reg]: EU anchors, California's reserve price).

    The government sells `quantity`; bids below `reserve_price_fen` do not win; the auction is
    cancelled when fewer than `subscription_min_t` tonnes are bid at or above the reserve, or when
    its clearing price is below `secondary price × cancel_below_secondary_bp / 10,000`.
    """

    auction_id: str
    instrument: str
    quantity: int
    reserve_price_fen: int
    price_max_fen: int
    per_bidder_max_t: int
    subscription_min_t: int
    cancel_below_secondary_bp: int
    price_mode: str = UNIFORM
    lot_t: int = 1


@dataclass(frozen=True)
class Bid:
    """A sealed bid; `at` is its ISO 8601 time of receipt (the time in price-then-time ranking)."""

    bid_id: str
    account: str
    price_fen: int
    quantity: int
    at: str


@dataclass(frozen=True)
class Award:
    """What one winning bid receives: a quantity at a price."""

    bid_id: str
    account: str
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class TieBreak:
    """One seeded draw among bids of equal price and time: their ids before and after the draw."""

    price_fen: int
    at: str
    candidates: tuple[str, ...]  # sorted by bid id: the canonical order the draw starts from
    drawn: tuple[str, ...]  # the order the draw gave them, which the ranking uses


@dataclass(frozen=True)
class Clearing:
    """The result of clearing a session or an auction, with everything needed to audit it."""

    clearing_id: str
    cancelled: bool
    reason: str | None
    clearing_price_fen: int | None  # the least favourable winning price; None when nothing cleared
    awards: tuple[Award, ...]
    awarded_t: int
    unsold_t: int
    subscribed_t: int  # what the eligible bids asked for, each bidder counted up to its cap
    value_fen: int  # Σ award quantity × award price
    seed: int
    tie_breaks: tuple[TieBreak, ...]
    ranking: tuple[str, ...]  # eligible bid ids, best first, after the tie-break
    ineligible: tuple[str, ...] = ()  # bids that could not win (below an auction's reserve)

    def as_json(self) -> dict[str, Any]:
        """The clearing as a JSON-able object, for publication and the audit log."""
        return {
            "clearing_id": self.clearing_id,
            "cancelled": self.cancelled,
            "reason": self.reason,
            "clearing_price_fen": self.clearing_price_fen,
            "awards": [
                {"bid_id": a.bid_id, "account": a.account, "quantity": a.quantity, "price_fen": a.price_fen}
                for a in self.awards
            ],
            "awarded_t": self.awarded_t,
            "unsold_t": self.unsold_t,
            "subscribed_t": self.subscribed_t,
            "value_fen": self.value_fen,
            "seed": self.seed,
            "tie_breaks": [
                {
                    "price_fen": t.price_fen,
                    "at": t.at,
                    "candidates": list(t.candidates),
                    "drawn": list(t.drawn),
                }
                for t in self.tie_breaks
            ],
            "ranking": list(self.ranking),
            "ineligible": list(self.ineligible),
        }


def clear_bidding(session: BiddingSpec, bids: Sequence[Bid], seed: int) -> Clearing:
    """Clear a one-way bidding session: rank by price then time, seeded tie-break, cap, marginal fill.

    DOMAIN.md §5 [reg], DOMAIN-SOURCES §6 [sec]: uniform (all pay the least favourable winning
    price) or pay-as-bid; cancelled when the bids (each bidder up to its cap) fall short of the
    session's minimum subscription.
    """
    _check_common(session.session_id, session.quantity, session.per_bidder_max_t, session.lot_t, seed)
    _check_limits(session.price_min_fen, session.price_max_fen, session.price_mode)
    if session.side not in (SELL, BUY):
        _spec_fault(f"side must be 'sell' or 'buy', not {session.side!r}")
    _check_subscription(session.subscription_min_t, session.quantity)
    _check_bids(bids, session.price_min_fen, session.price_max_fen, session.lot_t)
    ranking, tie_breaks = _rank(bids, highest_first=session.side == SELL, seed=seed)
    subscribed = _subscribed(ranking, session.per_bidder_max_t)
    if subscribed < session.subscription_min_t:
        reason = (
            f"under-subscribed: {subscribed} t bid against a minimum of {session.subscription_min_t} t; "
            "the session is cancelled"
        )
        return _cancelled(session.session_id, session.quantity, subscribed, seed, tie_breaks, ranking, reason)
    fills = _fill(ranking, session.quantity, session.per_bidder_max_t, session.lot_t)
    marginal = fills[-1][0].price_fen if fills else None
    awards = _price(fills, session.price_mode, marginal)
    return _cleared(
        session.session_id, session.quantity, marginal, awards, subscribed, seed, tie_breaks, ranking
    )


def clear_auction(spec: AuctionSpec, bids: Sequence[Bid], seed: int, secondary_price_fen: int) -> Clearing:
    """Clear a primary auction: reserve price, cap, marginal fill, unsold volume, EU cancellation rule.

    DOMAIN.md §5 [reg]: EU — sealed bid, uniform price, random tie-break fixed in advance (the seed),
    cancelled if under-subscribed or if clearing is "significantly under" the secondary price (the
    configured ratio); California — a reserve price below which no bid wins, and an auction that
    does not sell out clears at the reserve.
    """
    _check_common(spec.auction_id, spec.quantity, spec.per_bidder_max_t, spec.lot_t, seed)
    if type(spec.reserve_price_fen) is not int or spec.reserve_price_fen <= 0:
        _spec_fault(
            f"the reserve price must be a positive whole number of fen, not {spec.reserve_price_fen!r}"
        )
    _check_limits(1, spec.price_max_fen, spec.price_mode)
    if spec.reserve_price_fen > spec.price_max_fen:
        _spec_fault("the reserve price is above the highest acceptable bid")
    _check_subscription(spec.subscription_min_t, spec.quantity)
    ratio = spec.cancel_below_secondary_bp
    if type(ratio) is not int or not 0 <= ratio <= BASIS_POINTS:
        _spec_fault(f"cancel_below_secondary_bp must be 0..{BASIS_POINTS}, not {ratio!r}")
    if type(secondary_price_fen) is not int or secondary_price_fen <= 0:
        _spec_fault(
            f"the secondary price must be a positive whole number of fen, not {secondary_price_fen!r}"
        )
    _check_bids(bids, 1, spec.price_max_fen, spec.lot_t)
    eligible = [b for b in bids if b.price_fen >= spec.reserve_price_fen]
    ineligible = tuple(sorted(b.bid_id for b in bids if b.price_fen < spec.reserve_price_fen))
    ranking, tie_breaks = _rank(eligible, highest_first=True, seed=seed)
    subscribed = _subscribed(ranking, spec.per_bidder_max_t)
    if subscribed < spec.subscription_min_t:
        reason = (
            f"under-subscribed: {subscribed} t bid at or above the reserve of {spec.reserve_price_fen} fen "
            f"against a minimum of {spec.subscription_min_t} t; the auction is cancelled"
        )
        return _cancelled(
            spec.auction_id, spec.quantity, subscribed, seed, tie_breaks, ranking, reason, ineligible
        )
    fills = _fill(ranking, spec.quantity, spec.per_bidder_max_t, spec.lot_t)
    awarded = sum(quantity for _, quantity in fills)
    if not fills:
        price = None
    elif awarded < spec.quantity:
        price = spec.reserve_price_fen  # not sold out: demand never set a price above the reserve
    else:
        price = fills[-1][0].price_fen
    threshold_num = secondary_price_fen * ratio  # compare price × 10,000 with it: no division
    if price is not None and price * BASIS_POINTS < threshold_num:
        reason = (
            f"clearing price {price} fen is significantly under the secondary price "
            f"{secondary_price_fen} fen (below {ratio / 100:g}% of it); the auction is cancelled"
        )
        return _cancelled(
            spec.auction_id, spec.quantity, subscribed, seed, tie_breaks, ranking, reason, ineligible
        )
    awards = _price(fills, spec.price_mode, price)
    return _cleared(
        spec.auction_id, spec.quantity, price, awards, subscribed, seed, tie_breaks, ranking, ineligible
    )


# Ranking and filling -----------------------------------------------------------------------------


def _rank(bids: Sequence[Bid], *, highest_first: bool, seed: int) -> tuple[list[Bid], tuple[TieBreak, ...]]:
    """Order bids by price (best first), then time; shuffle each group of equal price and time.

    One random.Random(seed) draws for every tied group in ranking order, each group starting from
    its bids sorted by id, so the same bids and seed always give the same ranking (EU: a random
    tie-break fixed in advance, DOMAIN.md §5 [reg]).
    """
    ordered = sorted(bids, key=lambda b: (-b.price_fen if highest_first else b.price_fen, b.at, b.bid_id))
    rng = random.Random(seed)
    ranking: list[Bid] = []
    tie_breaks: list[TieBreak] = []
    start = 0
    while start < len(ordered):
        end = start + 1
        first = ordered[start]
        while (
            end < len(ordered) and ordered[end].price_fen == first.price_fen and ordered[end].at == first.at
        ):
            end += 1
        group = ordered[start:end]
        if len(group) > 1:
            candidates = tuple(b.bid_id for b in group)
            rng.shuffle(group)
            tie_breaks.append(TieBreak(first.price_fen, first.at, candidates, tuple(b.bid_id for b in group)))
        ranking.extend(group)
        start = end
    return ranking, tuple(tie_breaks)


def _subscribed(ranking: Sequence[Bid], per_bidder_max_t: int) -> int:
    """Total eligible demand, each bidder counted up to its cap."""
    per_account: dict[str, int] = {}
    for bid in ranking:
        per_account[bid.account] = per_account.get(bid.account, 0) + bid.quantity
    return sum(min(total, per_bidder_max_t) for total in per_account.values())


def _fill(ranking: Sequence[Bid], quantity: int, per_bidder_max_t: int, lot_t: int) -> list[tuple[Bid, int]]:
    """Fill bids in rank order up to the quantity and each bidder's cap, in whole lots (marginal fill)."""
    left = quantity
    per_account: dict[str, int] = {}
    fills: list[tuple[Bid, int]] = []
    for bid in ranking:
        if left < lot_t:
            break
        room = per_bidder_max_t - per_account.get(bid.account, 0)
        take = min(bid.quantity, left, room)
        take -= take % lot_t
        if take <= 0:
            continue
        fills.append((bid, take))
        per_account[bid.account] = per_account.get(bid.account, 0) + take
        left -= take
    return fills


def _price(fills: Sequence[tuple[Bid, int]], price_mode: str, uniform_price: int | None) -> tuple[Award, ...]:
    """Awards at the uniform price, or each at its own bid (DOMAIN-SOURCES §6 [sec])."""
    if price_mode == UNIFORM:
        assert uniform_price is not None or not fills
        return tuple(Award(b.bid_id, b.account, q, uniform_price or 0) for b, q in fills)
    return tuple(Award(b.bid_id, b.account, q, b.price_fen) for b, q in fills)


def _cleared(
    clearing_id: str,
    quantity: int,
    price: int | None,
    awards: tuple[Award, ...],
    subscribed: int,
    seed: int,
    tie_breaks: tuple[TieBreak, ...],
    ranking: Sequence[Bid],
    ineligible: tuple[str, ...] = (),
) -> Clearing:
    awarded = sum(a.quantity for a in awards)
    return Clearing(
        clearing_id=clearing_id,
        cancelled=False,
        reason=None,
        clearing_price_fen=price,
        awards=awards,
        awarded_t=awarded,
        unsold_t=quantity - awarded,
        subscribed_t=subscribed,
        value_fen=sum(a.quantity * a.price_fen for a in awards),
        seed=seed,
        tie_breaks=tie_breaks,
        ranking=tuple(b.bid_id for b in ranking),
        ineligible=ineligible,
    )


def _cancelled(
    clearing_id: str,
    quantity: int,
    subscribed: int,
    seed: int,
    tie_breaks: tuple[TieBreak, ...],
    ranking: Sequence[Bid],
    reason: str,
    ineligible: tuple[str, ...] = (),
) -> Clearing:
    return Clearing(
        clearing_id=clearing_id,
        cancelled=True,
        reason=reason,
        clearing_price_fen=None,
        awards=(),
        awarded_t=0,
        unsold_t=quantity,
        subscribed_t=subscribed,
        value_fen=0,
        seed=seed,
        tie_breaks=tie_breaks,
        ranking=tuple(b.bid_id for b in ranking),
        ineligible=ineligible,
    )


# Checks: bad terms or bids are refused with a code, never cleared around --------------------------


def _spec_fault(message: str) -> NoReturn:
    raise Refused(Code.CLEARING_INVALID_SPEC, message)


def _check_common(clearing_id: str, quantity: int, per_bidder_max_t: int, lot_t: int, seed: int) -> None:
    if type(clearing_id) is not str or not clearing_id or len(clearing_id) > TEXT_MAX_CHARS:
        _spec_fault("the session or auction id must be non-empty text")
    if type(lot_t) is not int or lot_t <= 0:
        _spec_fault(f"the lot must be a positive whole number of tonnes, not {lot_t!r}")
    if type(quantity) is not int or quantity <= 0 or quantity % lot_t:
        _spec_fault(f"the quantity must be a positive whole number of {lot_t} t lots, not {quantity!r}")
    if type(per_bidder_max_t) is not int or per_bidder_max_t <= 0:
        _spec_fault(f"the per-bidder cap must be a positive whole number of tonnes, not {per_bidder_max_t!r}")
    if type(seed) is not int:
        _spec_fault(f"the tie-break seed must be a whole number, not {seed!r}")


def _check_limits(price_min_fen: int, price_max_fen: int, price_mode: str) -> None:
    for name, value in (("price_min_fen", price_min_fen), ("price_max_fen", price_max_fen)):
        if type(value) is not int or value <= 0:
            _spec_fault(f"{name} must be a positive whole number of fen, not {value!r}")
    if price_min_fen > price_max_fen:
        _spec_fault(
            f"the lowest acceptable bid ({price_min_fen} fen) is above the highest ({price_max_fen} fen)"
        )
    if price_mode not in _PRICE_MODES:
        _spec_fault(f"price mode must be 'uniform' or 'pay_as_bid', not {price_mode!r}")


def _check_subscription(subscription_min_t: int, quantity: int) -> None:
    if type(subscription_min_t) is not int or not 0 <= subscription_min_t <= quantity:
        _spec_fault(f"the minimum subscription must be 0..{quantity} t, not {subscription_min_t!r}")


def _check_bids(bids: Sequence[Bid], price_min_fen: int, price_max_fen: int, lot_t: int) -> None:
    if len(bids) > BIDS_MAX:
        raise Refused(
            Code.CLEARING_INVALID_BID, f"{len(bids)} bids is more than the {BIDS_MAX} one clearing takes"
        )
    seen: set[str] = set()
    for bid in bids:
        bid_id = bid.bid_id
        if type(bid_id) is not str or not bid_id or len(bid_id) > TEXT_MAX_CHARS:
            raise Refused(Code.CLEARING_INVALID_BID, f"a bid id must be non-empty text, not {bid_id!r}")
        if bid_id in seen:
            raise Refused(Code.CLEARING_DUPLICATE_BID, f"bid {bid_id} appears more than once", bid_id=bid_id)
        seen.add(bid_id)
        if type(bid.account) is not str or not bid.account or type(bid.at) is not str or not bid.at:
            raise Refused(
                Code.CLEARING_INVALID_BID, f"bid {bid_id} needs an account and a time", bid_id=bid_id
            )
        if type(bid.quantity) is not int or bid.quantity <= 0 or bid.quantity % lot_t:
            raise Refused(
                Code.CLEARING_INVALID_BID,
                f"bid {bid_id}: quantity must be a positive number of {lot_t} t lots, not {bid.quantity!r}",
                bid_id=bid_id,
            )
        if type(bid.price_fen) is not int:
            raise Refused(
                Code.CLEARING_INVALID_BID, f"bid {bid_id}: price must be whole fen, not {bid.price_fen!r}"
            )
        if not price_min_fen <= bid.price_fen <= price_max_fen:
            raise Refused(
                Code.CLEARING_BID_OUTSIDE_LIMIT,
                f"bid {bid_id} at {bid.price_fen} fen is outside {price_min_fen}..{price_max_fen} fen",
                bid_id=bid_id,
            )
