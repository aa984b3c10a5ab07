"""All SQL of the exchange's trading part: orders, trades, the T+1 bought-today ledger, bulk agreements.

Nothing here commits (rule 8) and nothing here moves a unit: balances and holds belong to
`registry.postings`. Statements used once per order are built once, with bind parameters, because
building a statement costs more client CPU than sending it (bench/README.md).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from carbonmarket.db.raw import BulkInsert, BulkUpdate, Sql
from carbonmarket.db.tables_exchange import (
    exchange_bought_today,
    exchange_bulk_intents,
    exchange_bulk_offers,
    exchange_orders,
    exchange_trades,
)

# The default and the largest page of any listing (rule 12).
page_size_default = 100
page_size_max = 500

TRADE_COLUMNS = tuple(column.name for column in exchange_trades.columns)
ORDER_CHANGE_COLUMNS = (
    "price_fen",
    "quantity",
    "remaining",
    "filled",
    "status",
    "hold_id",
    "updated_at",
    "reason",
)

ORDER_COLUMNS = tuple(column.name for column in exchange_orders.columns)
# Group commit writes every order, trade and bought-today row of a batch: one statement each, rows
# sent as columns straight to the driver (db/raw.py `BulkInsert` says why).
_INSERT_ORDERS = BulkInsert(exchange_orders)
_order_values = operator.itemgetter(*ORDER_COLUMNS)
_change_values = operator.itemgetter(*ORDER_CHANGE_COLUMNS)
_UPDATE_ORDERS = BulkUpdate(exchange_orders, "order_id", ORDER_CHANGE_COLUMNS)
_ORDERS_BY_ID = Sql(
    f"SELECT {', '.join(ORDER_COLUMNS)} FROM exchange_orders "
    "WHERE order_id IN (SELECT value FROM json_each(:ids))",
    # A join with the ids, not `= ANY(array)` (ledger/store.py `_READ_HOLDS` says why).
    postgres=f"SELECT {', '.join('o.' + name for name in ORDER_COLUMNS)} FROM exchange_orders AS o "
    "JOIN jsonb_array_elements_text(CAST(:ids AS jsonb)) AS k(id) ON o.order_id = k.id",
)


# --- orders -----------------------------------------------------------------------------------------


def insert_orders(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record new orders (one statement), each row with every column of ORDER_COLUMNS."""
    if rows:
        _INSERT_ORDERS.run(connection, [_order_values(row) for row in rows])


def orders_by_id(connection: Connection, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The orders with these ids that exist, as column → value dicts (one statement)."""
    if not order_ids:
        return {}
    ids = json.dumps(list(order_ids))
    found = _ORDERS_BY_ID.all(connection, {"ids": ids})
    return {row[0]: dict(zip(ORDER_COLUMNS, row, strict=True)) for row in found}


def get_order(connection: Connection, order_id: str) -> dict[str, Any] | None:
    """One order as a column → value dict, or None."""
    return orders_by_id(connection, [order_id]).get(order_id)


def update_orders(connection: Connection, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the changed columns of orders (every column of ORDER_CHANGE_COLUMNS, one statement)."""
    if not changes:
        return
    _UPDATE_ORDERS.run(connection, [(order_id, *_change_values(row)) for order_id, row in changes.items()])


def orders(
    connection: Connection,
    *,
    accounts: Sequence[str] | None = None,
    instrument: str | None = None,
    status: str | None = None,
    limit: int = page_size_default,
) -> list[dict[str, Any]]:
    """Orders, newest first, filtered by accounts, instrument and status."""
    o = exchange_orders
    query = select(o).order_by(o.c.placed_at.desc(), o.c.order_id.desc()).limit(min(limit, page_size_max))
    if accounts is not None:
        query = query.where(o.c.account.in_(list(accounts)))
    if instrument is not None:
        query = query.where(o.c.instrument == instrument)
    if status is not None:
        query = query.where(o.c.status == status)
    return [dict(row._mapping) for row in connection.execute(query)]


def open_orders(connection: Connection, instrument: str | None = None) -> list[Row[Any]]:
    """Every open order (for the invariants and for the end of a day), oldest first."""
    o = exchange_orders
    query = select(o).where(o.c.status == "open").order_by(o.c.placed_at, o.c.order_id)
    if instrument is not None:
        query = query.where(o.c.instrument == instrument)
    return list(connection.execute(query))


# --- trades -----------------------------------------------------------------------------------------


def insert_trade(connection: Connection, **row: Any) -> None:
    """Record one trade of any modality (B3's bidding and auction settlements land here too)."""
    insert_trades(connection, [row])


def insert_trades(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record trades (one statement); missing optional columns are NULL or 0."""
    if not rows:
        return
    known = set(TRADE_COLUMNS)
    for row in rows:
        if not known.issuperset(row):
            raise AssertionError(f"unknown trade columns {sorted(set(row) - known)}")
    filled = []
    for row in rows:
        values = [row.get(name) for name in TRADE_COLUMNS]
        values[_BUYER_FEE] = values[_BUYER_FEE] or 0
        values[_SELLER_FEE] = values[_SELLER_FEE] or 0
        if values[_DAY] is None:
            from carbonmarket.exchange.settlement import trading_day

            values[_DAY] = trading_day(str(values[_AT])).isoformat()
        filled.append(values)
    _INSERT_TRADES.run(connection, filled)


_INSERT_TRADES = BulkInsert(exchange_trades)
_BUYER_FEE, _SELLER_FEE = TRADE_COLUMNS.index("buyer_fee_fen"), TRADE_COLUMNS.index("seller_fee_fen")
_AT, _DAY = TRADE_COLUMNS.index("at"), TRADE_COLUMNS.index("day")


def trades(
    connection: Connection,
    *,
    instrument: str | None = None,
    modality: str | None = None,
    start_at: str | None = None,
    end_at: str | None = None,
    accounts: Sequence[str] | None = None,
    limit: int = page_size_default,
) -> list[dict[str, Any]]:
    """Trades in time order within [start_at, end_at), filtered by instrument, modality and party."""
    t = exchange_trades
    query = select(t).order_by(t.c.at, t.c.trade_id).limit(limit)
    if instrument is not None:
        query = query.where(t.c.instrument == instrument)
    if modality is not None:
        query = query.where(t.c.modality == modality)
    if start_at is not None:
        query = query.where(t.c.at >= start_at)
    if end_at is not None:
        query = query.where(t.c.at < end_at)
    if accounts is not None:
        query = query.where(
            or_(t.c.buyer_account.in_(list(accounts)), t.c.seller_account.in_(list(accounts)))
        )
    return [dict(row._mapping) for row in connection.execute(query)]


def recent_trades(
    connection: Connection, accounts: Sequence[str] | None, instrument: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest trades first (a blotter), of some accounts or of everyone."""
    t = exchange_trades
    query = select(t).order_by(t.c.at.desc(), t.c.trade_id.desc()).limit(min(limit, page_size_max))
    if accounts is not None:
        query = query.where(
            or_(t.c.buyer_account.in_(list(accounts)), t.c.seller_account.in_(list(accounts)))
        )
    if instrument is not None:
        query = query.where(t.c.instrument == instrument)
    return [dict(row._mapping) for row in connection.execute(query)]


def trade_count(connection: Connection) -> int:
    """How many trades there are."""
    return int(connection.execute(select(func.count()).select_from(exchange_trades)).scalar_one())


# --- bought today (T+1) -------------------------------------------------------------------------------


def bought_on(
    connection: Connection, keys: Sequence[tuple[str, str]], day: str
) -> dict[tuple[str, str], int]:
    """Units each (account, instrument) bought on the trading day; missing pairs bought none."""
    if not keys:
        return {}
    wanted = set(keys)
    accounts = sorted({account for account, _ in wanted})
    rows = _BOUGHT.all(connection, {"day": day, "accounts": json.dumps(accounts)})
    found = {(account, instrument): int(quantity) for account, instrument, quantity in rows}
    return {key: found.get(key, 0) for key in wanted}


_BOUGHT = Sql(
    "SELECT account, instrument, quantity FROM exchange_bought_today "
    "WHERE day = :day AND account IN (SELECT value FROM json_each(:accounts))",
    postgres="SELECT b.account, b.instrument, b.quantity FROM exchange_bought_today AS b "
    "JOIN jsonb_array_elements_text(CAST(:accounts AS jsonb)) AS k(account) ON b.account = k.account "
    "WHERE b.day = :day",
)


def add_bought(connection: Connection, bought: Mapping[tuple[str, str, str], int]) -> None:
    """Add units bought to (account, instrument, day) rows, creating them as needed (an upsert)."""
    keys = [key for key in sorted(bought) if bought[key]]
    if keys:
        _ADD_BOUGHT.run(connection, [(*key, bought[key]) for key in keys])


# Keys are distinct (a mapping's), as one PostgreSQL upsert may touch a row only once.
_UPSERT_BOUGHT = (
    " ON CONFLICT (account, instrument, day) DO UPDATE SET quantity = exchange_bought_today.quantity "
    "+ excluded.quantity"
)
_ADD_BOUGHT = BulkInsert(
    exchange_bought_today,
    ["account", "instrument", "day", "quantity"],
    postgres_suffix=_UPSERT_BOUGHT,
    sqlite_suffix=_UPSERT_BOUGHT,
)


# --- bulk agreements ----------------------------------------------------------------------------------


def insert_intent(connection: Connection, **row: Any) -> None:
    """Record a posted bulk intent."""
    connection.execute(insert(exchange_bulk_intents).values(**row))


def get_intent(connection: Connection, intent_id: str, *, lock: bool = False) -> Row[Any] | None:
    """A bulk intent, locked for a change when asked (PostgreSQL; SQLite holds its write lock)."""
    query = select(exchange_bulk_intents).where(exchange_bulk_intents.c.intent_id == intent_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def update_intent(connection: Connection, intent_id: str, **values: Any) -> None:
    """Change an intent's status or remaining quantity."""
    connection.execute(
        update(exchange_bulk_intents).where(exchange_bulk_intents.c.intent_id == intent_id).values(**values)
    )


def intents(
    connection: Connection,
    *,
    status: str | None = None,
    instrument: str | None = None,
    limit: int = page_size_default,
) -> list[dict[str, Any]]:
    """Bulk intents, newest first."""
    i = exchange_bulk_intents
    query = select(i).order_by(i.c.posted_at.desc(), i.c.intent_id).limit(min(limit, page_size_max))
    if status is not None:
        query = query.where(i.c.status == status)
    if instrument is not None:
        query = query.where(i.c.instrument == instrument)
    return [dict(row._mapping) for row in connection.execute(query)]


def insert_offer(connection: Connection, **row: Any) -> None:
    """Record an offer (terms) in a negotiation."""
    connection.execute(insert(exchange_bulk_offers).values(**row))


def get_offer(connection: Connection, offer_id: str) -> Row[Any] | None:
    """One offer, or None."""
    return connection.execute(
        select(exchange_bulk_offers).where(exchange_bulk_offers.c.offer_id == offer_id)
    ).first()


def open_offers(connection: Connection, intent_id: str, counterparty: str | None = None) -> list[Row[Any]]:
    """The current terms of an intent's negotiations (one per counterparty)."""
    f = exchange_bulk_offers
    query = (
        select(f).where(f.c.intent_id == intent_id, f.c.status == "open").order_by(f.c.made_at, f.c.offer_id)
    )
    if counterparty is not None:
        query = query.where(f.c.counterparty == counterparty)
    return list(connection.execute(query))


def update_offer(connection: Connection, offer_id: str, **values: Any) -> None:
    """Change an offer's status, holds or trade."""
    connection.execute(
        update(exchange_bulk_offers).where(exchange_bulk_offers.c.offer_id == offer_id).values(**values)
    )


def offers(connection: Connection, intent_id: str) -> list[dict[str, Any]]:
    """Every offer of an intent, in the order they were made."""
    f = exchange_bulk_offers
    rows = connection.execute(select(f).where(f.c.intent_id == intent_id).order_by(f.c.made_at, f.c.offer_id))
    return [dict(row._mapping) for row in rows]


def offer_count(connection: Connection, intent_id: str) -> int:
    """How many offers an intent collected."""
    f = exchange_bulk_offers
    return int(connection.execute(select(func.count()).where(f.c.intent_id == intent_id)).scalar_one())
