"""Settlement of exchange trades: delivery versus payment with fees, through `registry.postings`.

Every trade of every modality (listed fills, bulk agreements, bidding and auction awards) settles
here, inside the caller's transaction (rules 5 and 6): the units move seller → buyer (registry
transaction type `trade`), the funds buyer → seller (`trade_payment`), both sides' fees to the
exchange's `CN-FEES` (`fee`), spending the orders' or bids' holds in part. The three movements are
three linked batches of one database transaction — a batch carries one registry transaction type —
so a trade settles all or not at all. The trade is recorded in `exchange_trades` and the units
the buyer received count as bought today (T+1).

The exchange's rules that are numbers (modality bounds, fees, the resale rule, limits) are read
here from `exchange/data/exchange.toml`, each with its source.
"""

from __future__ import annotations

import functools
import tomllib
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import Connection

from carbonmarket.core.actors import Actor
from carbonmarket.core.calendar import CHINA_STANDARD_TIME
from carbonmarket.core.ids import derived_id
from carbonmarket.core.instruments import FUNDS_ID, InstrumentKind
from carbonmarket.core.results import Code, Refused
from carbonmarket.exchange import store
from carbonmarket.exchange.model import ListedRules, Modality
from carbonmarket.ledger.model import Balance
from carbonmarket.registry import postings
from carbonmarket.registry.model import Account
from carbonmarket.registry.postings import Authority, HoldSpec, Move, Movement

FEES_ACCOUNT = "CN-FEES"
# Settlement ledger batches are named in the exchange's own space, apart from ids clients choose:
# a client id never starts with '@' (registry.postings.internal_id).
SETTLEMENT_PREFIX = "@xch:"
_SCHEMA_VERSION = 1
_BASIS_POINTS = 10_000


@dataclass(frozen=True)
class Fees:
    """One side's fee of a modality: basis points of value (trading + settlement) plus fen per tonne."""

    trading_bp: int
    settlement_bp: int
    fen_per_t: int

    def of(self, value_fen: int, quantity: int) -> int:
        """The fee in fen, rounded down, so fees of parts never exceed the fee of the whole."""
        return value_fen * (self.trading_bp + self.settlement_bp) // _BASIS_POINTS + quantity * self.fen_per_t


@dataclass(frozen=True)
class ModalityRules:
    """The bounds of one trading modality (DOMAIN.md §5 [reg])."""

    session: str
    lot_t: int
    tick_fen: int
    quantity_min_t: int
    quantity_max_t: int
    price_band_bp: int


@dataclass(frozen=True)
class ExchangeRules:
    """Everything numeric the trading part obeys, from exchange/data/exchange.toml."""

    listed: ModalityRules
    bulk: ModalityRules
    fees: Mapping[str, Fees]
    bought_today_resellable: bool
    listed_allowances: frozenset[str]
    ccer_listed: bool
    offers_per_intent_max: int
    batch_commands_max: int
    page_size_max: int
    replay_lines_max: int
    replay_file_bytes_max: int
    price_fen_max: int
    sources: Mapping[str, str]

    def listed_rules(self) -> ListedRules:
        """The engine's view of the listed agreement rules."""
        return ListedRules(
            tick_fen=self.listed.tick_fen,
            lot_t=self.listed.lot_t,
            order_quantity_max_t=self.listed.quantity_max_t,
            price_band_bp=self.listed.price_band_bp,
        )

    def fee(self, modality: str, value_fen: int, quantity: int) -> int:
        """One side's fee of a trade of this modality (the schedule is [?], exchange.toml [fees])."""
        return self.fees[modality].of(value_fen, quantity)

    def buy_reservation(self, modality: str, price_fen: int, quantity: int) -> int:
        """Funds a buy order reserves: its value at the limit price plus the buyer's fee on it."""
        value = price_fen * quantity
        return value + self.fee(modality, value, quantity)


@functools.cache
def exchange_rules() -> ExchangeRules:
    """The packaged exchange rules (exchange/data/exchange.toml), read once."""
    text = (resources.files("carbonmarket.exchange") / "data" / "exchange.toml").read_text("utf-8")
    return parse_rules(text)


def parse_rules(text: str) -> ExchangeRules:
    """Read a rules file laid out like exchange.toml, refusing missing sources and absurd values."""
    document = tomllib.loads(text)
    if document.get("schema_version") != _SCHEMA_VERSION:
        raise ValueError(f"exchange rules schema_version must be {_SCHEMA_VERSION}")
    sources = {name: _source(document, name) for name in ("listed", "bulk", "fees", "resale", "listing")}
    listed, bulk, fees = document["listed"], document["bulk"], document["fees"]
    fee_bp_max = _positive(fees, "fee_bp_max")
    schedule = {}
    for modality in Modality:
        table = fees[modality.value]
        schedule[modality.value] = Fees(
            _natural(table, "trading_bp"), _natural(table, "settlement_bp"), _natural(table, "fen_per_t")
        )
        if schedule[modality.value].trading_bp + schedule[modality.value].settlement_bp > fee_bp_max:
            raise ValueError(f"fees of {modality.value} exceed fee_bp_max = {fee_bp_max} bp")
    limits = document["limits"]
    return ExchangeRules(
        listed=ModalityRules(
            session=str(listed["session"]),
            lot_t=_positive(listed, "lot_t"),
            tick_fen=_positive(listed, "tick_fen"),
            quantity_min_t=_positive(listed, "lot_t"),
            quantity_max_t=_positive(listed, "order_quantity_max_t"),
            price_band_bp=_positive(listed, "price_band_bp"),
        ),
        bulk=ModalityRules(
            session=str(bulk["session"]),
            lot_t=1,
            tick_fen=_positive(bulk, "tick_fen"),
            quantity_min_t=_positive(bulk, "quantity_min_t"),
            quantity_max_t=_positive(bulk, "quantity_max_t"),
            price_band_bp=_positive(bulk, "price_band_bp"),
        ),
        fees=schedule,
        bought_today_resellable=bool(document["resale"]["bought_today_resellable"]),
        listed_allowances=frozenset(str(a) for a in document["listing"]["allowances"]),
        ccer_listed=bool(document["listing"]["ccer"]),
        offers_per_intent_max=_positive(bulk, "offers_per_intent_max"),
        batch_commands_max=_positive(limits, "batch_commands_max"),
        page_size_max=_positive(limits, "page_size_max"),
        replay_lines_max=_positive(limits, "replay_lines_max"),
        replay_file_bytes_max=_positive(limits, "replay_file_bytes_max"),
        price_fen_max=_positive(limits, "price_fen_max"),
        sources=sources,
    )


def _source(document: Mapping[str, Any], table: str) -> str:
    value = document.get(table, {}).get("source")
    if not isinstance(value, str) or not value.rstrip().endswith(("[reg]", "[seed]", "[sec]", "[?]")):
        raise ValueError(f"[{table}] needs a source ending in its DOMAIN.md tag")
    return value


def _positive(table: Mapping[str, Any], name: str) -> int:
    value = table.get(name)
    if type(value) is not int or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return value


def _natural(table: Mapping[str, Any], name: str) -> int:
    value = table.get(name)
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a whole number ≥ 0, not {value!r}")
    return value


def trading_day(at: str) -> date:
    """The trading day (China Standard Time) an ISO-8601 UTC timestamp falls on."""
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise Refused(Code.EXCHANGE_INVALID_TIME, f"{at!r} is not an ISO-8601 time") from None
    if moment.utcoffset() is None:
        raise Refused(
            Code.EXCHANGE_INVALID_TIME, f"{at!r} has no time zone; write it in UTC, e.g. ...Z or +00:00"
        )
    return moment.astimezone(CHINA_STANDARD_TIME).date()


# --- settlement -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettlementSpec:
    """One trade to settle; the holds are the orders' or bids' reservations (None: spend available)."""

    trade_id: str
    modality: str
    instrument: str
    quantity: int
    price_fen: int
    buyer_account: str
    seller_account: str
    buyer_hold: str | None = None
    seller_hold: str | None = None
    buy_order_id: str | None = None
    sell_order_id: str | None = None
    aggressor: str | None = None


def settle(connection: Connection, actor: Actor, trade: SettlementSpec, at: str) -> dict[str, Any]:
    """Settle one trade, delivery versus payment with both sides' fees (DOMAIN.md §5 [reg]).

    The actor is the exchange operator (`Authority.SETTLEMENT`): it spends the holds the parties
    placed, and without holds it moves the parties' available units and funds.
    """
    return settle_many(connection, actor, [trade], at, batch_id=settlement_batch_id(trade.trade_id))[0]


def settlement_batch_id(trade_id: str) -> str:
    """The ledger batch a trade settles in, in the exchange's own id space (`@xch:<trade id>`)."""
    return ledger_id("", trade_id)


def ledger_id(kind: str, command_id: str) -> str:
    """A ledger batch id of the exchange for a command or trade id (hashed when it would be too long)."""
    text = f"{SETTLEMENT_PREFIX}{kind + ':' if kind else ''}{command_id}"
    return text if len(text) <= 59 else "@" + derived_id(f"xch{kind}", command_id)


def settle_many(
    connection: Connection, actor: Actor, trades: Sequence[SettlementSpec], at: str, *, batch_id: str
) -> list[dict[str, Any]]:
    """Settle trades together: one linked batch per registry transaction type, all or none.

    Group commit (`Exchange.submit_many`) settles a whole batch's fills in three ledger batches
    named `<batch_id>`, `<batch_id>.pay` and `<batch_id>.fee`; a single trade's are named after it.
    """
    if not trades:
        return []
    legs = _legs(trades, at, frozenset())
    postings.move(connection, actor, batch_id, "trade", legs.units, at, Authority.SETTLEMENT)
    postings.move(
        connection, actor, f"{batch_id}.pay", "trade_payment", legs.payments, at, Authority.SETTLEMENT
    )
    if legs.fees:
        postings.move(connection, actor, f"{batch_id}.fee", "fee", legs.fees, at, Authority.SETTLEMENT)
    store.insert_trades(connection, legs.rows)
    store.add_bought(connection, legs.bought)
    return legs.results


def settle_batch(
    connection: Connection,
    actor: Actor,
    trades: Sequence[SettlementSpec],
    at: str,
    *,
    batch_id: str,
    close_holds: Collection[str] = (),
    release: Sequence[str] = (),
    holds: Sequence[HoldSpec] = (),
    hold_actor: Actor | None = None,
    hold_authority: Authority = Authority.SETTLEMENT,
    kinds: Mapping[str, InstrumentKind] | None = None,
    accounts: Mapping[str, Account] | None = None,
    before_writes: Callable[[], None] | None = None,
    written_balances: dict[tuple[str, str], Balance] | None = None,
) -> list[dict[str, Any]]:
    """`settle_many` for a group commit: releases first, the trades, then new holds, as one group.

    A hold in `close_holds` belongs to an order the batch finished: its last fills spend it and
    what it still reserves is freed in the same linked batch (`postings.move_closing_holds`) — a
    sell's in the units batch, a buy's in the payments batch, so that buy's fee is paid from the
    funds just freed. Totals and holds end as `settle_many` followed by `release` would leave them.
    `release` are holds of orders that ended without a fill (voided before the settlement), and
    `holds` the reservations of the orders still resting after it (made last, by `hold_actor`):
    the whole ledger side of a batch is one `postings.apply_group`.

    A batch's fees are netted: one fee leg per paying account and hold (`_legs`); each trade's
    row still records its own fees. `before_writes` runs once the group's locks are held, before
    its first write, and `written_balances` receives the balances it wrote (`postings.apply_group`).
    """
    closing = frozenset(close_holds)
    legs = _legs(trades, at, closing, net_fees=True)
    movements = []
    if trades:
        spent_units = {m.hold_id for m in legs.units if m.hold_id}
        spent_funds = {m.hold_id for m in legs.payments if m.hold_id}
        movements.append(Movement(batch_id, "trade", legs.units, closing & spent_units))
        movements.append(Movement(f"{batch_id}.pay", "trade_payment", legs.payments, closing & spent_funds))
        if legs.fees:
            movements.append(Movement(f"{batch_id}.fee", "fee", legs.fees))
    postings.apply_group(
        connection,
        at,
        release=release,
        movements=movements,
        actor=actor,
        authority=Authority.SETTLEMENT,
        holds=holds,
        hold_actor=hold_actor,
        hold_authority=hold_authority,
        kinds=kinds,
        accounts=accounts,
        before_writes=before_writes,
        written_balances=written_balances,
    )
    store.insert_trades(connection, legs.rows)
    store.add_bought(connection, legs.bought)
    return legs.results


@dataclass
class _Legs:
    units: list[Move]
    payments: list[Move]
    fees: list[Move]
    rows: list[dict[str, Any]]
    bought: dict[tuple[str, str, str], int]
    results: list[dict[str, Any]]


def _legs(
    trades: Sequence[SettlementSpec], at: str, closing: frozenset[str], *, net_fees: bool = False
) -> _Legs:
    """The three movements of every trade, the trades' rows and the units each buyer bought today.

    A buyer's fee comes out of its hold, unless that hold is closed in the payments batch. With
    `net_fees`, the fees one account pays from one hold (or from what is available) are one leg,
    in the order of the trades that first owed them.
    """
    rules = exchange_rules()
    legs = _Legs([], [], [], [], defaultdict(int), [])
    day = trading_day(at).isoformat()
    netted: dict[tuple[str, str | None], int] = {}
    for trade in trades:
        _check_spec(trade)
        value = trade.price_fen * trade.quantity
        buyer_fee = rules.fee(trade.modality, value, trade.quantity)
        seller_fee = rules.fee(trade.modality, value, trade.quantity)
        if seller_fee >= value:
            raise AssertionError(f"fee {seller_fee} of trade {trade.trade_id} is not below its value {value}")
        legs.units.append(
            Move(
                trade.seller_account, trade.buyer_account, trade.instrument, trade.quantity, trade.seller_hold
            )
        )
        legs.payments.append(
            Move(trade.buyer_account, trade.seller_account, FUNDS_ID, value, trade.buyer_hold)
        )
        fee_hold = None if trade.buyer_hold in closing else trade.buyer_hold
        if net_fees:
            if buyer_fee:
                key = (trade.buyer_account, fee_hold)
                netted[key] = netted.get(key, 0) + buyer_fee
            if seller_fee:
                key = (trade.seller_account, None)
                netted[key] = netted.get(key, 0) + seller_fee
        else:
            if buyer_fee:
                legs.fees.append(Move(trade.buyer_account, FEES_ACCOUNT, FUNDS_ID, buyer_fee, fee_hold))
            if seller_fee:
                legs.fees.append(Move(trade.seller_account, FEES_ACCOUNT, FUNDS_ID, seller_fee))
        row = {
            "trade_id": trade.trade_id,
            "modality": trade.modality,
            "instrument": trade.instrument,
            "price_fen": trade.price_fen,
            "quantity": trade.quantity,
            "buyer_account": trade.buyer_account,
            "seller_account": trade.seller_account,
            "buy_order_id": trade.buy_order_id,
            "sell_order_id": trade.sell_order_id,
            "buyer_fee_fen": buyer_fee,
            "seller_fee_fen": seller_fee,
            "aggressor": trade.aggressor,
            "at": at,
            "day": day,
        }
        legs.rows.append(row)
        legs.bought[(trade.buyer_account, trade.instrument, day)] += trade.quantity
        legs.results.append({**row, "value_fen": value})
    legs.fees.extend(
        Move(account, FEES_ACCOUNT, FUNDS_ID, fee, hold_id) for (account, hold_id), fee in netted.items()
    )
    return legs


_MODALITIES = frozenset(m.value for m in Modality)


def _check_spec(trade: SettlementSpec) -> None:
    """A settlement names two different parties, a known modality and positive integer terms."""
    if trade.modality not in _MODALITIES:
        raise AssertionError(f"unknown modality {trade.modality!r}")
    if trade.buyer_account == trade.seller_account:
        raise Refused(Code.ORDER_SELF_TRADE, f"trade {trade.trade_id}: buyer and seller are one account")
    for name in ("quantity", "price_fen"):
        value = getattr(trade, name)
        if type(value) is not int or value <= 0:
            raise AssertionError(f"trade {trade.trade_id}: {name} must be a positive integer, not {value!r}")
