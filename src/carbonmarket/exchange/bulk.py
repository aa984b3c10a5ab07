"""Bulk agreement trading (大宗协议), as a pure state machine; the service stores and settles it.

DOMAIN.md §5 [reg]: at least 100,000 t; priced within ±30% of the previous close; 13:00-15:00 on
trading days; posted, negotiated, confirmed by both sides. Here:

- an *intent* is one party's posted wish to buy or sell a quantity at a price; naming a
  counterparty makes it a direct trade between two named parties (nobody else may answer);
- a *negotiation* is the intent with one counterparty; its *offers* are the terms proposed in
  turn (the counterparty answers, the poster counters, ...), and only the latest is current;
- each party *confirms* the current offer; a confirmation reserves that party's side (units or
  funds, a ledger hold), a new offer lapses the confirmations of the one it replaces, and when
  both have confirmed the agreement settles once, delivery versus payment.

Everything here is pure (no I/O): the functions check a step against the state and say what
follows, or refuse with a code. Also here: reading a price typed in CNY (two decimals) as fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from carbonmarket.core.results import Code, Refused
from carbonmarket.exchange.model import Side

_BASIS_POINTS = 10_000
price_text_chars_max = 20


class IntentStatus(StrEnum):
    """An intent is open until it is fully agreed (done) or its poster withdraws it."""

    OPEN = "open"
    DONE = "done"
    WITHDRAWN = "withdrawn"


class OfferStatus(StrEnum):
    """An offer is the current terms (open) until a newer offer, settlement or withdrawal."""

    OPEN = "open"
    SUPERSEDED = "superseded"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class BulkRules:
    """The bulk agreement's bounds (exchange.toml [bulk], DOMAIN.md §5 [reg])."""

    quantity_min_t: int
    quantity_max_t: int
    tick_fen: int
    price_band_bp: int
    offers_per_intent_max: int


@dataclass(frozen=True)
class Intent:
    """A posted intent; `counterparty` set makes it a direct trade."""

    intent_id: str
    account: str
    instrument: str
    side: Side
    quantity: int
    remaining: int
    price_fen: int
    counterparty: str | None
    status: IntentStatus


@dataclass(frozen=True)
class Offer:
    """Terms in one negotiation; the holds are set once that side confirmed."""

    offer_id: str
    intent_id: str
    counterparty: str
    made_by_account: str
    price_fen: int
    quantity: int
    status: OfferStatus
    buyer_hold: str | None = None
    seller_hold: str | None = None


def price_to_fen(text: object) -> int:
    """A price typed in CNY with at most two decimals ("97.49") as whole fen (tick CNY 0.01 [reg])."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise Refused(Code.ORDER_INVALID_FIELD, f"a price is CNY with at most 2 decimals, not {text!r}")
    cleaned = str(text).strip().replace(",", "")
    if not cleaned or len(cleaned) > price_text_chars_max:
        raise Refused(Code.ORDER_INVALID_FIELD, f"a price is CNY with at most 2 decimals, not {text!r}")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise Refused(Code.ORDER_INVALID_FIELD, f"{text!r} is not a price in CNY") from None
    if not amount.is_finite():
        raise Refused(Code.ORDER_INVALID_FIELD, f"{text!r} is not a price in CNY")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise Refused(Code.ORDER_PRICE_OFF_TICK, f"{text} CNY is not on the tick of CNY 0.01")
    if fen <= 0:
        raise Refused(Code.ORDER_PRICE_NOT_POSITIVE, f"a price must be positive, not {text}")
    return int(fen)


def bulk_band(reference_fen: int, band_bp: int, tick_fen: int) -> tuple[int, int]:
    """Lowest and highest bulk prices: the previous close ± 30%, rounded inward to the tick [reg]."""
    low = -((-reference_fen * (_BASIS_POINTS - band_bp)) // _BASIS_POINTS)
    high = reference_fen * (_BASIS_POINTS + band_bp) // _BASIS_POINTS
    return -((-low) // tick_fen) * tick_fen, high // tick_fen * tick_fen


def check_terms(rules: BulkRules, price_fen: int, quantity: int, reference_fen: int) -> None:
    """Quantity at least 100,000 t (and below the absurdity limit); price on tick, within the band."""
    if quantity < rules.quantity_min_t:
        raise Refused(
            Code.EXCHANGE_BULK_QUANTITY_BELOW_MINIMUM,
            f"a bulk agreement is at least {rules.quantity_min_t:,} t, not {quantity:,} t "
            "(smaller quantities trade as listed orders)",
        )
    if quantity > rules.quantity_max_t:
        raise Refused(
            Code.EXCHANGE_BULK_QUANTITY_TOO_LARGE,
            f"{quantity:,} t is above the limit of {rules.quantity_max_t:,} t for one agreement",
        )
    if price_fen % rules.tick_fen:
        raise Refused(
            Code.ORDER_PRICE_OFF_TICK, f"price {price_fen} fen is not on the tick of {rules.tick_fen} fen"
        )
    low, high = bulk_band(reference_fen, rules.price_band_bp, rules.tick_fen)
    if not low <= price_fen <= high:
        raise Refused(
            Code.EXCHANGE_BULK_PRICE_OUTSIDE_BAND,
            f"price {price_fen} fen is outside the bulk band {low}..{high} fen "
            f"(±{rules.price_band_bp / 100:g}% of the previous close, {reference_fen} fen)",
        )


def check_open(intent: Intent) -> None:
    """Steps other than reading need an open intent."""
    if intent.status is not IntentStatus.OPEN:
        raise Refused(
            Code.EXCHANGE_BULK_INTENT_NOT_OPEN, f"intent {intent.intent_id} is {intent.status.value}"
        )


def negotiation_counterparty(intent: Intent, by_account: str, counterparty: str | None) -> str:
    """Which negotiation an offer by `by_account` belongs to: its own, or — for the poster — the one named."""
    check_open(intent)
    if by_account == intent.account:
        if counterparty is None:
            raise Refused(
                Code.EXCHANGE_BULK_OWN_INTENT,
                f"{by_account} posted intent {intent.intent_id}; to counter, name the counterparty answered",
            )
        return counterparty
    if counterparty not in (None, by_account):
        raise Refused(Code.FORBIDDEN, f"{by_account} may only negotiate for itself")
    if intent.counterparty is not None and intent.counterparty != by_account:
        raise Refused(
            Code.FORBIDDEN,
            f"intent {intent.intent_id} is a direct trade with {intent.counterparty}; "
            f"{by_account} may not answer it",
        )
    return by_account


def check_offer(
    intent: Intent, rules: BulkRules, price_fen: int, quantity: int, reference_fen: int, offers_so_far: int
) -> None:
    """New terms: within the bulk rules and the intent's remaining quantity, and not too many offers."""
    check_open(intent)
    check_terms(rules, price_fen, quantity, reference_fen)
    if quantity > intent.remaining:
        raise Refused(
            Code.EXCHANGE_BULK_QUANTITY_ABOVE_INTENT,
            f"intent {intent.intent_id} has {intent.remaining:,} t left; the offer asks {quantity:,} t",
        )
    if offers_so_far >= rules.offers_per_intent_max:
        raise Refused(
            Code.EXCHANGE_BULK_TOO_MANY_OFFERS,
            f"intent {intent.intent_id} has collected {offers_so_far} offers, the most one intent may",
        )


def parties(intent: Intent, counterparty: str) -> tuple[str, str]:
    """(buyer, seller) of a negotiation: the poster on its side, the counterparty on the other."""
    if intent.side is Side.SELL:
        return counterparty, intent.account
    return intent.account, counterparty


def confirming_side(intent: Intent, offer: Offer, by_account: str) -> Side:
    """Which side `by_account` confirms for; refuses a stale offer, a stranger and a second confirmation."""
    check_open(intent)
    if offer.status is not OfferStatus.OPEN:
        raise Refused(
            Code.EXCHANGE_BULK_OFFER_NOT_CURRENT,
            f"offer {offer.offer_id} is {offer.status.value}; confirm the negotiation's current offer",
        )
    buyer, seller = parties(intent, offer.counterparty)
    if by_account not in (buyer, seller):
        raise Refused(Code.FORBIDDEN, f"{by_account} is not a party to offer {offer.offer_id}")
    side = Side.BUY if by_account == buyer else Side.SELL
    already = offer.buyer_hold if side is Side.BUY else offer.seller_hold
    if already is not None:
        raise Refused(
            Code.EXCHANGE_BULK_ALREADY_CONFIRMED, f"{by_account} has already confirmed {offer.offer_id}"
        )
    return side


def remaining_after(intent: Intent, quantity: int) -> tuple[int, IntentStatus]:
    """The intent after an agreement of `quantity`: done once nothing is left."""
    left = intent.remaining - quantity
    if left < 0:
        raise AssertionError("an agreement above the intent's remaining quantity was let through")
    return left, IntentStatus.DONE if left == 0 else IntentStatus.OPEN
