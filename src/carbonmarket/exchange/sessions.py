"""One-way bidding sessions and primary auctions: their life, sealed bids with holds, clearing and settlement.

One-way bidding (DOMAIN.md §5 [reg], DOMAIN-SOURCES §6 [sec]): a member applies → the exchange
operator approves and publishes the notice, which fixes the band from the previous close and
draws the tie-break seed, and holds the initiator's units (or funds, for a buy session) → bidders
send sealed bids inside the window, each holding the bidder's funds (or units) → after the window
the operator clears with `exchange.clearing.clear_bidding`; every award settles through B2's
`exchange.settlement.settle` (delivery versus payment with fees), spending the holds in part; what
the holds still reserve is released; an under-subscribed session is cancelled and releases all.

Primary auctions (DOMAIN.md §5 [reg: EU]): the regulator offers allowances from `CN-AUCTION` (issued
into it first, or already there) plus shares of earlier auctions' unsold volume, with a reserve
price; bids hold funds; the exchange operator clears with `clear_auction` against the secondary
market's close; units go `CN-AUCTION` → buyers and the proceeds to `CN-AUCTION-PROCEEDS`; unsold
volume is cut into shares for the next 4 auctions of the instrument.

Every command is journalled on its stream (`bidding` or `auction`) before it is applied, in the
same transaction (DESIGN.md rule 9), and runs through `run_command` (idempotent, audited).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row

from carbonmarket.core.actors import Actor, Permission, Role, require_right, require_role
from carbonmarket.core.calendar import CHINA_STANDARD_TIME, MarketCalendar
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id, id_length_max
from carbonmarket.core.instruments import FUNDS_ID, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.core.units import parse_quantity
from carbonmarket.db.command import run_command, run_read
from carbonmarket.exchange import journal, marketdata
from carbonmarket.exchange import sessions_store as store
from carbonmarket.exchange import store as trading_store
from carbonmarket.exchange.clearing import (
    AuctionSpec,
    Bid,
    BiddingSpec,
    Clearing,
    clear_auction,
    clear_bidding,
)
from carbonmarket.exchange.sessions_model import (
    AuctionRules,
    AuctionStatus,
    BiddingRules,
    BiddingStatus,
    BidStatus,
    PriceMode,
    SessionSide,
    Window,
    auction_rules,
    bid_bounds,
    bidding_rules,
    check_application_lead,
    check_approval_in_time,
    check_bid_price,
    check_bidder_cap,
    check_limit_price,
    check_lot,
    check_window,
    check_window_open,
    check_window_over,
    cst_day,
    minimum_quantity,
    parse_price,
    parse_price_mode,
    parse_side,
    parse_time,
    price_fen_max,
    session_band,
    spread_unsold,
    stamp,
)
from carbonmarket.exchange.settlement import SettlementSpec, exchange_rules, settle
from carbonmarket.ledger.model import HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry import store as registry_store
from carbonmarket.registry.model import Account, AccountType
from carbonmarket.registry.postings import Authority, Move

BIDDING_STREAM = "bidding"
AUCTION_STREAM = "auction"
BIDDING = "bidding"
AUCTION = "auction"
AUCTION_ACCOUNT = "CN-AUCTION"
ISSUANCE_ACCOUNT = "CN-ISSUANCE"
PROCEEDS_ACCOUNT = "CN-AUCTION-PROCEEDS"
OPERATORS = {Role.EXCHANGE_OPERATOR}
REGULATORS = {Role.REGULATOR}
note_length_max = 500
# Seeds are drawn below 2^62 so they fit a signed BIGINT on every database.
seed_bits = 62
# How a session's awards are settled: (connection, actor, session row, bids, clearing, at) → trade ids.
_SettleAwards = Callable[[Connection, Actor, Row[Any], Sequence[Row[Any]], Clearing, str], dict[str, str]]


def _suffixed(base: str, suffix: str) -> str:
    """`base` + `suffix` as an id, or a stable derived id when that would be longer than ids may be."""
    joined = f"{base}{suffix}"
    return (
        joined if len(joined) <= id_length_max - 5 else derived_id(suffix.strip(".:-") or "id", base, suffix)
    )


def _internal(base: str, suffix: str) -> str:
    """A ledger batch or hold id of our own: '@' keeps it apart from ids clients choose."""
    return "@" + _suffixed(base, suffix)


def _seed(seed: int | None) -> int:
    """The tie-break seed: the operator's own (for a reproducible demonstration) or a fresh secret draw."""
    if seed is None:
        return secrets.randbits(seed_bits)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**seed_bits:
        raise Refused(
            Code.INVALID_REQUEST, f"a seed must be a whole number in 0..2^{seed_bits} − 1, not {seed!r}"
        )
    return seed


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > note_length_max:
        raise Refused(Code.INVALID_TEXT, f"{what} must be text of at most {note_length_max} characters")
    return value.strip() or None


def _window(opens_at: object, closes_at: object) -> Window:
    return Window(parse_time(opens_at, "opens_at"), parse_time(closes_at, "closes_at"))


def _stored_window(row: Row[Any]) -> Window:
    return Window(datetime.fromisoformat(row.opens_at), datetime.fromisoformat(row.closes_at))


def _allowance(connection: Connection, instrument: object) -> str:
    """An allowance vintage defined in the registry: what one-way bidding and auctions trade."""
    parsed = parse_instrument(str(instrument))
    if parsed.kind is not InstrumentKind.ALLOWANCE:
        raise Refused(
            Code.EXCHANGE_INSTRUMENT_NOT_LISTED,
            f"one-way bidding and auctions trade allowance vintages (CEA24 …), not {parsed.text}",
        )
    if registry_store.get_instrument(connection, parsed.text) is None:
        raise Refused(Code.UNKNOWN_INSTRUMENT, f"instrument {parsed.text!r} is not defined in this registry")
    return parsed.text


def _trading_account(connection: Connection, account_id: str) -> Account:
    found = postings.accounts(connection, [account_id]).get(account_id)
    if found is None:
        raise Refused(Code.TRANSFERRING_ACCOUNT_NOT_FOUND, f"account {account_id!r} does not exist")
    if found.type is not AccountType.TRADING:
        raise Refused(
            Code.EXCHANGE_NOT_TRADING_ACCOUNT,
            f"{account_id!r} is a {found.type.value} account; sessions trade from trading accounts "
            "(<holder>-T)",
        )
    return found


def _phase(row: Row[Any], now: datetime) -> str:
    """Where a session stands for a reader: awaiting approval, upcoming, open, closing, or its outcome."""
    if row.status != BiddingStatus.PUBLISHED.value and row.status != AuctionStatus.OPEN.value:
        return str(row.status)
    window = _stored_window(row)
    if now < window.opens_at:
        return "upcoming"
    if now < window.closes_at:
        return "open"
    return "closing"


class Sessions:
    """One-way bidding sessions and primary auctions over one database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
        rules: BiddingRules | None = None,
        auctions: AuctionRules | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.calendar = calendar or MarketCalendar.load()
        self.rules = rules or bidding_rules()
        self.auction_rules = auctions or auction_rules()

    def _today(self) -> Any:
        return self.clock.now().astimezone(CHINA_STANDARD_TIME).date()

    # --- one-way bidding: the notice ---------------------------------------------------------------

    def apply(
        self,
        actor: Actor,
        session_id: str,
        *,
        account: str,
        side: str,
        instrument: str,
        quantity: object,
        limit_price_fen: object,
        opens_at: str,
        closes_at: str,
        price_mode: str = PriceMode.UNIFORM.value,
        bidder_cap_t: object | None = None,
        minimum_t: object | None = None,
        note: str | None = None,
    ) -> Outcome:
        """A member applies for a one-way bidding session (DOMAIN-SOURCES §6 [sec]); the id names the session.

        Lot ≥ 100,000 t; applied ≥ 10 working days before the window; floor (sell) or cap (buy)
        within the previous close ± 10%; window within one trading day's hours.
        """
        body = {
            "account": account,
            "side": side,
            "instrument": instrument,
            "quantity": quantity,
            "limit_price_fen": limit_price_fen,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "price_mode": price_mode,
            "bidder_cap_t": bidder_cap_t,
            "minimum_t": minimum_t,
            "note": note,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection,
                BIDDING_STREAM,
                {"type": "apply", "id": session_id, **body, "by": actor.username},
                at,
            )
            check_id(session_id, what="session id")
            require_right(actor, account, Permission.INITIATE, "applying for a bidding session")
            _trading_account(connection, account)
            if store.get_bidding_session(connection, session_id) is not None:
                raise Refused(
                    Code.EXISTS_WITH_DIFFERENT_FIELDS, f"bidding session {session_id!r} already exists"
                )
            chosen_side = parse_side(side)
            name = _allowance(connection, instrument)
            amount = parse_quantity(quantity)
            check_lot(amount, self.rules)
            window = _window(opens_at, closes_at)
            check_window(window, self.rules, self.calendar)
            check_application_lead(self._today(), window, self.rules, self.calendar)
            limit = parse_price(limit_price_fen, "the floor or cap price")
            reference = marketdata.reference_close_fen(connection, name, window.day)
            check_limit_price(limit, session_band(reference, self.rules.band_bp), chosen_side)
            mode = parse_price_mode(price_mode, self.rules)
            cap = (
                amount
                if bidder_cap_t is None
                else parse_quantity(bidder_cap_t, maximum=amount, what="bidder cap")
            )
            minimum = (
                minimum_quantity(amount, self.rules.minimum_fill_bp_default)
                if minimum_t is None
                else _minimum(minimum_t, amount)
            )
            store.insert_bidding_session(
                connection,
                id=session_id,
                initiator_account=account,
                side=chosen_side.value,
                instrument=name,
                quantity=amount,
                limit_price_fen=limit,
                price_mode=mode.value,
                bidder_cap_t=cap,
                minimum_t=minimum,
                opens_at=stamp(window.opens_at),
                closes_at=stamp(window.closes_at),
                status=BiddingStatus.APPLIED.value,
                note=_text(note, "note"),
                applied_by=actor.username,
                applied_at=at,
            )
            return {"session": self._bidding_view(connection, session_id, actor)}

        return run_command(
            self.engine,
            self.clock,
            actor,
            "exchange.bidding.apply",
            session_id,
            body,
            work,
            "exchange.bidding",
        )

    def approve(self, actor: Actor, command_id: str, session_id: str, seed: int | None = None) -> Outcome:
        """The exchange approves and publishes the notice: band fixed, seed drawn, initiator's units held.

        Units (or, for a buy session, funds) must be in place 5 working days before the window
        (DOMAIN-SOURCES §6 [sec]); the band is the previous close ± 10% as of publication.
        """
        body = {"session": session_id, "seed": seed}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection,
                BIDDING_STREAM,
                {"type": "approve", "session": session_id, "by": actor.username},
                at,
            )
            require_role(actor, OPERATORS, "publishing a bidding session")
            row = self._session(connection, session_id, lock=True)
            if row.status != BiddingStatus.APPLIED.value:
                raise Refused(
                    Code.EXCHANGE_BIDDING_NOT_AWAITING_APPROVAL,
                    f"bidding session {session_id!r} is {row.status}, not awaiting approval",
                )
            window = _stored_window(row)
            check_approval_in_time(self._today(), window, self.rules, self.calendar)
            reference = marketdata.reference_close_fen(connection, row.instrument, window.day)
            band = session_band(reference, self.rules.band_bp)
            side = SessionSide(row.side)
            check_limit_price(row.limit_price_fen, band, side)
            hold_id = _internal(f"BS-{session_id}", ".hold")
            if side is SessionSide.SELL:
                instrument, amount = row.instrument, int(row.quantity)
            else:
                instrument = FUNDS_ID
                amount = exchange_rules().buy_reservation(BIDDING, row.limit_price_fen, int(row.quantity))
            postings.hold(
                connection,
                actor,
                hold_id,
                HoldKind.BID,
                row.initiator_account,
                instrument,
                amount,
                at,
                reason=f"one-way bidding session {session_id}",
                authority=Authority.SETTLEMENT,
            )
            store.update_bidding_session(
                connection,
                session_id,
                status=BiddingStatus.PUBLISHED.value,
                reference_close_fen=reference,
                band_low_fen=band[0],
                band_high_fen=band[1],
                seed=_seed(seed),
                hold_id=hold_id,
                decided_by=actor.username,
                decided_at=at,
            )
            return {"session": self._bidding_view(connection, session_id, actor)}

        return run_command(self.engine, self.clock, actor, "exchange.bidding.approve", command_id, body, work)

    def reject(self, actor: Actor, command_id: str, session_id: str, reason: str) -> Outcome:
        """The exchange refuses an application (nothing was held yet)."""
        body = {"session": session_id, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection,
                BIDDING_STREAM,
                {"type": "reject", "session": session_id, "by": actor.username},
                at,
            )
            require_role(actor, OPERATORS, "rejecting a bidding session")
            row = self._session(connection, session_id, lock=True)
            if row.status != BiddingStatus.APPLIED.value:
                raise Refused(
                    Code.EXCHANGE_BIDDING_NOT_AWAITING_APPROVAL,
                    f"bidding session {session_id!r} is {row.status}, not awaiting approval",
                )
            words = _text(reason, "reason")
            if words is None:
                raise Refused(Code.INVALID_TEXT, "say why the application is rejected")
            store.update_bidding_session(
                connection,
                session_id,
                status=BiddingStatus.REJECTED.value,
                outcome_reason=words,
                decided_by=actor.username,
                decided_at=at,
            )
            return {"session": self._bidding_view(connection, session_id, actor)}

        return run_command(self.engine, self.clock, actor, "exchange.bidding.reject", command_id, body, work)

    # --- one-way bidding: sealed bids --------------------------------------------------------------

    def bid(
        self, actor: Actor, bid_id: str, session_id: str, *, account: str, price_fen: object, quantity: object
    ) -> Outcome:
        """A sealed bid in an open session, holding the bidder's funds (or units, into a buy session).

        Refused after the window, above close + 10% (or the cap), below the floor (or close − 10%),
        from the initiator, or beyond the per-bidder cap (DOMAIN-SOURCES §6 [sec]).
        """
        body = {"session": session_id, "account": account, "price_fen": price_fen, "quantity": quantity}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection, BIDDING_STREAM, {"type": "bid", "id": bid_id, **body, "by": actor.username}, at
            )
            check_id(bid_id, what="bid id")
            require_right(actor, account, Permission.INITIATE, "bidding")
            row = self._session(connection, session_id, lock=True)
            self._check_biddable(row)
            check_window_open(self.clock.now(), _stored_window(row))
            bidder = _trading_account(connection, account)
            initiator = postings.accounts(connection, [row.initiator_account])[row.initiator_account]
            if bidder.holder_id == initiator.holder_id:
                raise Refused(
                    Code.EXCHANGE_BID_BY_INITIATOR,
                    f"{account!r} belongs to the session's initiator {initiator.holder_id!r}, who cannot bid",
                )
            side = SessionSide(row.side)
            price = parse_price(price_fen, "bid price")
            check_bid_price(
                price, bid_bounds(side, row.limit_price_fen, (row.band_low_fen, row.band_high_fen)), side
            )
            amount = parse_quantity(quantity, maximum=int(row.quantity), what="bid quantity")
            self._check_counts(connection, BIDDING, session_id, account, amount, int(row.bidder_cap_t))
            if side is SessionSide.SELL:
                held = (FUNDS_ID, exchange_rules().buy_reservation(BIDDING, price, amount))
            else:
                self._check_resellable(connection, account, row.instrument, amount, at)
                held = (row.instrument, amount)
            return self._place_bid(
                connection, actor, BIDDING, session_id, bid_id, account, price, amount, held, at
            )

        return run_command(
            self.engine, self.clock, actor, "exchange.bidding.bid", bid_id, body, work, "exchange.bid"
        )

    def _check_biddable(self, row: Row[Any]) -> None:
        if row.status in (BiddingStatus.CLEARED.value, BiddingStatus.CANCELLED.value):
            raise Refused(Code.EXCHANGE_BIDDING_WINDOW_CLOSED, f"bidding session {row.id!r} is {row.status}")
        if row.status != BiddingStatus.PUBLISHED.value:
            raise Refused(
                Code.EXCHANGE_BIDDING_NOT_PUBLISHED,
                f"bidding session {row.id!r} is {row.status}; bids are taken once its notice is published",
            )

    def _check_counts(
        self, connection: Connection, kind: str, session_id: str, account: str, amount: int, cap_t: int
    ) -> None:
        """Platform limits on bids per session and per bidder, and the notice's per-bidder cap."""
        count, mine, mine_t = store.bid_totals(connection, kind, session_id, account)
        if count >= self.rules.bids_per_session_max or mine >= self.rules.bids_per_bidder_max:
            raise Refused(
                Code.EXCHANGE_BIDDING_TOO_MANY_BIDS,
                f"a session takes at most {self.rules.bids_per_session_max} bids, "
                f"{self.rules.bids_per_bidder_max} from one account",
            )
        check_bidder_cap(mine_t, amount, cap_t)

    def _check_resellable(
        self, connection: Connection, account: str, instrument: str, amount: int, at: str
    ) -> None:
        """Units bought today cannot be offered today (T+1, DOMAIN.md §5 [sec]); the hold checks the rest."""
        day = cst_day(at).isoformat()
        bought = trading_store.bought_on(connection, [(account, instrument)], day).get(
            (account, instrument), 0
        )
        balance = postings.balances(connection, [(account, instrument)])[(account, instrument)]
        tradable = balance.total - balance.held - bought
        if bought and amount > tradable:
            raise Refused(
                Code.EXCHANGE_UNITS_BOUGHT_TODAY,
                f"{account!r} may offer {max(tradable, 0):,} t of {instrument} today; "
                f"{bought:,} t bought today are resellable from the next trading day",
            )

    def _place_bid(
        self,
        connection: Connection,
        actor: Actor,
        kind: str,
        session_id: str,
        bid_id: str,
        account: str,
        price: int,
        amount: int,
        held: tuple[str, int],
        at: str,
    ) -> dict[str, Any]:
        if store.get_bid(connection, bid_id) is not None:
            raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"bid id {bid_id!r} is already in use")
        hold_id = _internal(f"BH-{bid_id}", ".hold")
        instrument, reserved = held
        postings.hold(
            connection,
            actor,
            hold_id,
            HoldKind.BID,
            account,
            instrument,
            reserved,
            at,
            reason=f"{kind} bid {bid_id}",
        )
        seq = store.next_bid_seq(connection, kind, session_id)
        store.insert_bid(
            connection,
            id=bid_id,
            kind=kind,
            session_id=session_id,
            seq=seq,
            account=account,
            price_fen=price,
            quantity=amount,
            hold_id=hold_id,
            hold_quantity=reserved,
            status=BidStatus.SEALED.value,
            submitted_by=actor.username,
            at=at,
        )
        return {
            "bid": bid_id,
            kind: session_id,
            "seq": seq,
            "account": account,
            "price_fen": price,
            "quantity": amount,
            "hold": hold_id,
            "held": {"instrument": instrument, "quantity": reserved},
            "status": BidStatus.SEALED.value,
        }

    # --- one-way bidding: clearing ----------------------------------------------------------------

    def close(self, actor: Actor, command_id: str, session_id: str) -> Outcome:
        """After the window: clear with the recorded seed, settle each award, release the rest; publish.

        `clear_bidding` ranks by price then time with the seeded tie-break and fills the marginal
        bid in part; an under-subscribed session is cancelled and every hold released.
        """
        body = {"session": session_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection, BIDDING_STREAM, {"type": "close", "session": session_id, "by": actor.username}, at
            )
            require_role(actor, OPERATORS, "clearing a bidding session")
            row = self._session(connection, session_id, lock=True)
            if row.status != BiddingStatus.PUBLISHED.value:
                raise Refused(
                    Code.EXCHANGE_BIDDING_NOT_PUBLISHED,
                    f"bidding session {session_id!r} is {row.status}, not open",
                )
            check_window_over(self.clock.now(), _stored_window(row))
            bids = store.bids_of(connection, BIDDING, session_id)
            low, high = bid_bounds(
                SessionSide(row.side), row.limit_price_fen, (row.band_low_fen, row.band_high_fen)
            )
            spec = BiddingSpec(
                session_id=session_id,
                instrument=row.instrument,
                side=row.side,
                quantity=int(row.quantity),
                price_min_fen=low,
                price_max_fen=high,
                price_mode=row.price_mode,
                per_bidder_max_t=int(row.bidder_cap_t),
                subscription_min_t=int(row.minimum_t),
            )
            clearing = clear_bidding(spec, _clearing_bids(bids), int(row.seed))
            self._conclude(connection, actor, row, bids, clearing, at, self._settle_bidding)
            status = BiddingStatus.CANCELLED if clearing.cancelled else BiddingStatus.CLEARED
            store.update_bidding_session(
                connection,
                session_id,
                status=status.value,
                closed_by=actor.username,
                closed_at=at,
                cleared_quantity=clearing.awarded_t,
                cleared_value_fen=clearing.value_fen,
                clearing_price_fen=clearing.clearing_price_fen,
                outcome_reason=clearing.reason,
                tie_break=_tie_break_json(clearing),
            )
            return {"session": self._bidding_view(connection, session_id, actor)}

        return run_command(self.engine, self.clock, actor, "exchange.bidding.close", command_id, body, work)

    def _settle_bidding(
        self,
        connection: Connection,
        actor: Actor,
        row: Row[Any],
        bids: Sequence[Row[Any]],
        clearing: Clearing,
        at: str,
    ) -> dict[str, str]:
        """Each award is one trade through B2's settlement (DvP with fees), spending both holds in part."""
        holds = {b.id: b.hold_id for b in bids}
        trade_ids: dict[str, str] = {}
        for index, award in enumerate(clearing.awards, start=1):
            trade_id = _suffixed(f"BD-{row.id}", f":{index}")
            if row.side == SessionSide.SELL.value:
                buyer, seller = award.account, row.initiator_account
                buyer_hold, seller_hold = holds[award.bid_id], row.hold_id
            else:
                buyer, seller = row.initiator_account, award.account
                buyer_hold, seller_hold = row.hold_id, holds[award.bid_id]
            spec = SettlementSpec(
                trade_id=trade_id,
                modality=BIDDING,
                instrument=row.instrument,
                quantity=award.quantity,
                price_fen=award.price_fen,
                buyer_account=buyer,
                seller_account=seller,
                buyer_hold=buyer_hold,
                seller_hold=seller_hold,
            )
            settle(connection, actor, spec, at)
            trade_ids[award.bid_id] = trade_id
        return trade_ids

    def _conclude(
        self,
        connection: Connection,
        actor: Actor,
        row: Row[Any],
        bids: Sequence[Row[Any]],
        clearing: Clearing,
        at: str,
        settle_awards: _SettleAwards,
    ) -> None:
        """Settle the awards (none when cancelled), then release every hold's rest and record each bid."""
        trades = {} if clearing.cancelled else settle_awards(connection, actor, row, bids, clearing, at)
        self._release(connection, [b.hold_id for b in bids] + [row.hold_id], at)
        _record_outcomes(connection, bids, clearing, trades)

    def _release(self, connection: Connection, hold_ids: Sequence[str | None], at: str) -> None:
        """Void what each hold still reserves (a hold spent in full is already resolved)."""
        for hold_id in hold_ids:
            if hold_id is not None:
                postings.release(connection, hold_id, at)

    # --- primary auctions --------------------------------------------------------------------------

    def create_auction(
        self,
        actor: Actor,
        auction_id: str,
        *,
        instrument: str,
        quantity: object,
        reserve_price_fen: object,
        opens_at: str,
        closes_at: str,
        issue: bool = False,
        bidder_cap_t: object | None = None,
        seed: int | None = None,
    ) -> Outcome:
        """The regulator offers allowances at auction from `CN-AUCTION` (DOMAIN.md §5 [reg: EU]).

        With `issue`, the new volume is issued into `CN-ISSUANCE` and moved to `CN-AUCTION` first;
        shares of earlier auctions' unsold volume of the instrument join the offer, one share per
        earlier auction. The whole offer is held in `CN-AUCTION` until clearing; the seed of the
        tie-break is fixed now, in advance, and published with the results.
        """
        body = {
            "instrument": instrument,
            "quantity": quantity,
            "reserve_price_fen": reserve_price_fen,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "issue": issue,
            "bidder_cap_t": bidder_cap_t,
            "seed": seed,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection,
                AUCTION_STREAM,
                {"type": "create", "id": auction_id, **body, "by": actor.username},
                at,
            )
            check_id(auction_id, what="auction id")
            require_role(actor, REGULATORS, "creating a primary auction")
            if store.get_auction(connection, auction_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"auction {auction_id!r} already exists")
            name = _allowance(connection, instrument)
            base = parse_quantity(
                quantity, maximum=self.auction_rules.quantity_max_t, what="auction quantity"
            )
            reserve = parse_price(reserve_price_fen, "reserve price")
            window = _window(opens_at, closes_at)
            check_window(window, self.rules, self.calendar)
            if window.closes_at <= self.clock.now():
                raise Refused(Code.EXCHANGE_BIDDING_WINDOW_INVALID, "the auction's window is already over")
            if issue:
                postings.issue(
                    connection,
                    actor,
                    _internal(f"AU-{auction_id}", ".issue"),
                    name,
                    base,
                    ISSUANCE_ACCOUNT,
                    at,
                )
                postings.move(
                    connection,
                    actor,
                    _internal(f"AU-{auction_id}", ".supply"),
                    "auction_supply",
                    [Move(ISSUANCE_ACCOUNT, AUCTION_ACCOUNT, name, base)],
                    at,
                )
            shares = _one_share_per_auction(store.open_carryovers(connection, name))
            carried = sum(int(s.quantity) for s in shares)
            total = base + carried
            cap = (
                total
                if bidder_cap_t is None
                else parse_quantity(bidder_cap_t, maximum=total, what="bidder cap")
            )
            hold_id = _internal(f"AU-{auction_id}", ".hold")
            postings.hold(
                connection,
                actor,
                hold_id,
                HoldKind.BID,
                AUCTION_ACCOUNT,
                name,
                total,
                at,
                reason=f"auction {auction_id}",
            )
            store.take_carryovers(connection, [int(s.id) for s in shares], auction_id)
            store.insert_auction(
                connection,
                id=auction_id,
                instrument=name,
                base_quantity=base,
                carried_quantity=carried,
                quantity=total,
                reserve_price_fen=reserve,
                bidder_cap_t=cap,
                opens_at=stamp(window.opens_at),
                closes_at=stamp(window.closes_at),
                status=AuctionStatus.OPEN.value,
                seed=_seed(seed),
                hold_id=hold_id,
                created_by=actor.username,
                created_at=at,
            )
            return {"auction": self._auction_view(connection, auction_id, actor)}

        return run_command(self.engine, self.clock, actor, "exchange.auction.create", auction_id, body, work)

    def auction_bid(
        self, actor: Actor, bid_id: str, auction_id: str, *, account: str, price_fen: object, quantity: object
    ) -> Outcome:
        """A sealed bid in an open auction, holding price × quantity of the bidder's funds (no fee)."""
        body = {"auction": auction_id, "account": account, "price_fen": price_fen, "quantity": quantity}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection, AUCTION_STREAM, {"type": "bid", "id": bid_id, **body, "by": actor.username}, at
            )
            check_id(bid_id, what="bid id")
            require_right(actor, account, Permission.INITIATE, "bidding")
            row = self._auction(connection, auction_id, lock=True)
            if row.status != AuctionStatus.OPEN.value:
                raise Refused(Code.EXCHANGE_BIDDING_WINDOW_CLOSED, f"auction {auction_id!r} is {row.status}")
            check_window_open(self.clock.now(), _stored_window(row))
            _trading_account(connection, account)
            price = parse_price(price_fen, "bid price")
            if price < row.reserve_price_fen:
                raise Refused(
                    Code.EXCHANGE_BID_BELOW_RESERVE,
                    f"a bid of {price} fen is below the auction's reserve ({row.reserve_price_fen} fen)",
                )
            amount = parse_quantity(quantity, maximum=int(row.quantity), what="bid quantity")
            self._check_counts(connection, AUCTION, auction_id, account, amount, int(row.bidder_cap_t))
            held = (FUNDS_ID, price * amount)
            return self._place_bid(
                connection, actor, AUCTION, auction_id, bid_id, account, price, amount, held, at
            )

        return run_command(
            self.engine, self.clock, actor, "exchange.auction.bid", bid_id, body, work, "exchange.bid"
        )

    def close_auction(self, actor: Actor, command_id: str, auction_id: str) -> Outcome:
        """Clear an auction after its window against the secondary market's previous close (EU rules).

        Cancelled when under-subscribed or clearing below the configured share of the secondary
        price; awards deliver `CN-AUCTION` → buyers and pay `CN-AUCTION-PROCEEDS` as one transaction;
        unsold volume is cut into shares for the next auctions (DOMAIN.md §5 [reg: EU]).
        """
        body = {"auction": auction_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            journal.append(
                connection, AUCTION_STREAM, {"type": "close", "auction": auction_id, "by": actor.username}, at
            )
            require_role(actor, OPERATORS, "clearing an auction")
            row = self._auction(connection, auction_id, lock=True)
            if row.status != AuctionStatus.OPEN.value:
                raise Refused(
                    Code.EXCHANGE_AUCTION_NOT_OPEN, f"auction {auction_id!r} is {row.status}, not open"
                )
            check_window_over(self.clock.now(), _stored_window(row))
            secondary = marketdata.reference_close_fen(connection, row.instrument, self._today())
            bids = store.bids_of(connection, AUCTION, auction_id)
            spec = AuctionSpec(
                auction_id=auction_id,
                instrument=row.instrument,
                quantity=int(row.quantity),
                reserve_price_fen=int(row.reserve_price_fen),
                price_max_fen=price_fen_max,
                per_bidder_max_t=int(row.bidder_cap_t),
                subscription_min_t=minimum_quantity(int(row.quantity), self.auction_rules.minimum_fill_bp),
                cancel_below_secondary_bp=self.auction_rules.cancellation_ratio_bp,
            )
            clearing = clear_auction(spec, _clearing_bids(bids), int(row.seed), secondary)
            self._conclude(connection, actor, row, bids, clearing, at, self._settle_auction)
            unsold = clearing.unsold_t
            store.insert_carryovers(
                connection,
                [
                    {
                        "from_auction": auction_id,
                        "slot": slot,
                        "instrument": row.instrument,
                        "quantity": share,
                    }
                    for slot, share in enumerate(
                        spread_unsold(unsold, self.auction_rules.unsold_spread_auctions), 1
                    )
                ],
            )
            status = AuctionStatus.CANCELLED if clearing.cancelled else AuctionStatus.CLEARED
            store.update_auction(
                connection,
                auction_id,
                status=status.value,
                closed_by=actor.username,
                closed_at=at,
                secondary_price_fen=secondary,
                clearing_price_fen=clearing.clearing_price_fen,
                sold=clearing.awarded_t,
                unsold=unsold,
                proceeds_fen=clearing.value_fen,
                outcome_reason=clearing.reason,
                tie_break=_tie_break_json(clearing),
            )
            return {"auction": self._auction_view(connection, auction_id, actor)}

        return run_command(self.engine, self.clock, actor, "exchange.auction.close", command_id, body, work)

    def _settle_auction(
        self,
        connection: Connection,
        actor: Actor,
        row: Row[Any],
        bids: Sequence[Row[Any]],
        clearing: Clearing,
        at: str,
    ) -> dict[str, str]:
        """Delivery and payment of every award: two linked batches of one transaction, all or none."""
        holds = {b.id: b.hold_id for b in bids}
        deliveries: list[Move] = []
        payments: list[Move] = []
        rows: list[dict[str, Any]] = []
        bought: dict[tuple[str, str, str], int] = {}
        day = cst_day(at).isoformat()
        trade_ids: dict[str, str] = {}
        for index, award in enumerate(clearing.awards, start=1):
            trade_id = _suffixed(f"AT-{row.id}", f":{index}")
            deliveries.append(
                Move(AUCTION_ACCOUNT, award.account, row.instrument, award.quantity, row.hold_id)
            )
            payments.append(
                Move(
                    award.account,
                    PROCEEDS_ACCOUNT,
                    FUNDS_ID,
                    award.quantity * award.price_fen,
                    holds[award.bid_id],
                )
            )
            rows.append(
                {
                    "trade_id": trade_id,
                    "modality": AUCTION,
                    "instrument": row.instrument,
                    "price_fen": award.price_fen,
                    "quantity": award.quantity,
                    "buyer_account": award.account,
                    "seller_account": AUCTION_ACCOUNT,
                    "at": at,
                    "day": day,
                }
            )
            key = (award.account, row.instrument, day)
            bought[key] = bought.get(key, 0) + award.quantity
            trade_ids[award.bid_id] = trade_id
        if deliveries:
            postings.move(
                connection,
                actor,
                _internal(f"AU-{row.id}", ".delivery"),
                "auction_delivery",
                deliveries,
                at,
                Authority.SETTLEMENT,
            )
            postings.move(
                connection,
                actor,
                _internal(f"AU-{row.id}", ".payment"),
                "auction_payment",
                payments,
                at,
                Authority.SETTLEMENT,
            )
            trading_store.insert_trades(connection, rows)
            trading_store.add_bought(connection, bought)
        return trade_ids

    # --- reads -------------------------------------------------------------------------------------

    def _session(self, connection: Connection, session_id: str, *, lock: bool = False) -> Row[Any]:
        row = store.get_bidding_session(connection, session_id, lock=lock)
        if row is None:
            raise Refused(Code.EXCHANGE_BIDDING_NOT_FOUND, f"bidding session {session_id!r} does not exist")
        return row

    def _auction(self, connection: Connection, auction_id: str, *, lock: bool = False) -> Row[Any]:
        row = store.get_auction(connection, auction_id, lock=lock)
        if row is None:
            raise Refused(Code.EXCHANGE_AUCTION_NOT_FOUND, f"auction {auction_id!r} does not exist")
        return row

    def _bidding_view(self, connection: Connection, session_id: str, actor: Actor | None) -> dict[str, Any]:
        row = self._session(connection, session_id)
        now = self.clock.now()
        finished = row.status in (BiddingStatus.CLEARED.value, BiddingStatus.CANCELLED.value)
        view: dict[str, Any] = {
            "session": row.id,
            "status": row.status,
            "phase": _phase(row, now),
            "side": row.side,
            "instrument": row.instrument,
            "quantity": int(row.quantity),
            "limit_price_fen": int(row.limit_price_fen),
            "price_mode": row.price_mode,
            "bidder_cap_t": int(row.bidder_cap_t),
            "minimum_t": int(row.minimum_t),
            "opens_at": row.opens_at,
            "closes_at": row.closes_at,
            "reference_close_fen": row.reference_close_fen,
            "band_low_fen": row.band_low_fen,
            "band_high_fen": row.band_high_fen,
            "bid_range_fen": (
                list(
                    bid_bounds(
                        SessionSide(row.side), row.limit_price_fen, (row.band_low_fen, row.band_high_fen)
                    )
                )
                if row.band_low_fen is not None
                else None
            ),
            "note": row.note,
            "applied_at": row.applied_at,
            "decided_at": row.decided_at,
            "closed_at": row.closed_at,
            "reason": row.outcome_reason,
        }
        if _sees_initiator(actor, row.initiator_account):
            view["initiator_account"] = row.initiator_account
        bids = store.bids_of(connection, BIDDING, session_id)
        view["bids_received"] = len(bids) if finished or row.status == BiddingStatus.PUBLISHED.value else 0
        if finished:
            view["result"] = _result(row, bids, row.cleared_quantity, row.cleared_value_fen, row.seed)
        view["my_bids"] = [_bid_view(b) for b in bids if actor is not None and _sees(actor, b.account)]
        return view

    def _auction_view(self, connection: Connection, auction_id: str, actor: Actor | None) -> dict[str, Any]:
        row = self._auction(connection, auction_id)
        finished = row.status != AuctionStatus.OPEN.value
        bids = store.bids_of(connection, AUCTION, auction_id)
        view: dict[str, Any] = {
            "auction": row.id,
            "status": row.status,
            "phase": _phase(row, self.clock.now()),
            "instrument": row.instrument,
            "quantity": int(row.quantity),
            "base_quantity": int(row.base_quantity),
            "carried_quantity": int(row.carried_quantity),
            "reserve_price_fen": int(row.reserve_price_fen),
            "bidder_cap_t": int(row.bidder_cap_t),
            "opens_at": row.opens_at,
            "closes_at": row.closes_at,
            "closed_at": row.closed_at,
            "reason": row.outcome_reason,
            "bids_received": len(bids),
        }
        if finished:
            view["result"] = {
                **_result(row, bids, row.sold, row.proceeds_fen, row.seed),
                "secondary_price_fen": row.secondary_price_fen,
                "unsold": int(row.unsold or 0),
                "unsold_shares": [
                    {"slot": c.slot, "quantity": int(c.quantity), "to_auction": c.to_auction}
                    for c in store.carryovers_of(connection, auction_id)
                ],
            }
        view["my_bids"] = [_bid_view(b) for b in bids if actor is not None and _sees(actor, b.account)]
        return view

    def session(self, session_id: str, actor: Actor | None = None) -> dict[str, Any]:
        """A session's public notice and, once cleared, its published result; the reader's own bids."""
        return run_read(self.engine, lambda c: self._bidding_view(c, session_id, actor))  # type: ignore[no-any-return]

    def sessions(
        self, status: str | None = None, actor: Actor | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Sessions, latest window first: upcoming, open, closed with results (public)."""
        statuses = None
        if status is not None:
            allowed = {s.value for s in BiddingStatus}
            if status not in allowed:
                raise Refused(
                    Code.EXCHANGE_BIDDING_INVALID_STATUS,
                    f"status must be one of {', '.join(sorted(allowed))}, not {status!r}",
                )
            statuses = [status]
        bounded = max(1, min(limit, self.rules.sessions_listed_max))

        def read(connection: Connection) -> list[dict[str, Any]]:
            rows = store.list_bidding_sessions(connection, statuses, bounded)
            return [self._bidding_view(connection, row.id, actor) for row in rows]

        return run_read(self.engine, read)  # type: ignore[no-any-return]

    def auction(self, auction_id: str, actor: Actor | None = None) -> dict[str, Any]:
        """An auction's terms and, once closed, its result (public)."""
        return run_read(self.engine, lambda c: self._auction_view(c, auction_id, actor))  # type: ignore[no-any-return]

    def auctions(self, actor: Actor | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Auctions, latest window first (public)."""
        bounded = max(1, min(limit, self.rules.sessions_listed_max))

        def read(connection: Connection) -> list[dict[str, Any]]:
            return [
                self._auction_view(connection, row.id, actor)
                for row in store.list_auctions(connection, bounded)
            ]

        return run_read(self.engine, read)  # type: ignore[no-any-return]


# --- helpers -----------------------------------------------------------------------------------------


def _minimum(value: object, quantity: int) -> int:
    """A session's minimum subscription: 0..quantity tonnes."""
    if (isinstance(value, int) and not isinstance(value, bool) and value == 0) or (
        isinstance(value, str) and value.strip() == "0"
    ):
        return 0
    return parse_quantity(value, maximum=quantity, what="minimum subscription")


def _clearing_bids(bids: Sequence[Row[Any]]) -> list[Bid]:
    return [Bid(b.id, b.account, int(b.price_fen), int(b.quantity), b.at) for b in bids]


def _one_share_per_auction(shares: Sequence[Row[Any]]) -> list[Row[Any]]:
    """The earliest open share of each earlier auction: its unsold volume spreads over the next auctions."""
    taken: dict[str, Row[Any]] = {}
    for share in shares:
        taken.setdefault(share.from_auction, share)
    return list(taken.values())


def _record_outcomes(
    connection: Connection, bids: Sequence[Row[Any]], clearing: Clearing, trades: dict[str, str]
) -> None:
    """Each bid's outcome: won in full, in part (the marginal bid or a capped bidder), lost, or released."""
    awards = {award.bid_id: award for award in clearing.awards}
    for bid in bids:
        award = awards.get(bid.id)
        if clearing.cancelled:
            status = BidStatus.RELEASED
        elif award is None:
            status = BidStatus.LOST
        else:
            status = BidStatus.WON if award.quantity == bid.quantity else BidStatus.PARTIAL
        store.update_bid(
            connection,
            bid.id,
            status=status.value,
            awarded_quantity=award.quantity if award else 0,
            awarded_price_fen=award.price_fen if award else None,
            trade_id=trades.get(bid.id),
        )


def _tie_break_json(clearing: Clearing) -> str:
    """What an auditor needs to redo the clearing: the seed, the ranking and each tie's draw."""
    record = clearing.as_json()
    return json.dumps(
        {"seed": record["seed"], "ranking": record["ranking"], "tie_breaks": record["tie_breaks"]},
        sort_keys=True,
        separators=(",", ":"),
    )


def _result(row: Row[Any], bids: Sequence[Row[Any]], awarded: Any, value: Any, seed: Any) -> dict[str, Any]:
    """The published result: totals, price, the seed and ties, and each bid's award (not the bidders)."""
    record = json.loads(row.tie_break) if row.tie_break else {}
    awarded_t = int(awarded or 0)
    return {
        "cleared_quantity": awarded_t,
        "cleared_value_fen": int(value or 0),
        "clearing_price_fen": row.clearing_price_fen,
        "average_price_fen": marketdata.divide_half_up(int(value or 0), awarded_t) if awarded_t else None,
        "seed": seed,
        "tie_breaks": record.get("tie_breaks", []),
        "ranking": record.get("ranking", []),
        "bids": [
            {
                "bid": b.id,
                "seq": b.seq,
                "price_fen": int(b.price_fen),
                "quantity": int(b.quantity),
                "status": b.status,
                "awarded_quantity": int(b.awarded_quantity or 0),
                "awarded_price_fen": b.awarded_price_fen,
            }
            for b in bids
        ],
    }


def _bid_view(bid: Row[Any]) -> dict[str, Any]:
    return {
        "bid": bid.id,
        "account": bid.account,
        "price_fen": int(bid.price_fen),
        "quantity": int(bid.quantity),
        "status": bid.status,
        "awarded_quantity": int(bid.awarded_quantity or 0),
        "awarded_price_fen": bid.awarded_price_fen,
        "trade": bid.trade_id,
        "at": bid.at,
    }


def _sees(actor: Actor, account: str) -> bool:
    return actor.may_view(account)


def _sees_initiator(actor: Actor | None, account: str) -> bool:
    """The initiator's account is shown to the exchange, the regulator and the initiator."""
    if actor is None:
        return False
    return (
        actor.superuser or actor.role in (Role.EXCHANGE_OPERATOR, Role.REGULATOR) or actor.may_view(account)
    )
