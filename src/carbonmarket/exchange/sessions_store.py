"""All SQL of one-way bidding, primary auctions and market data (DESIGN.md: `store.py` holds the SQL).

Writes touch only this part's tables (`db/tables_exchange_sessions.py`); market data also reads B2's
`exchange_trades`, where every modality's trades land (B3's awards through `exchange.store.insert_trade`).
Nothing here commits: the caller's `run_command` owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from carbonmarket.db.tables_exchange import exchange_trades
from carbonmarket.db.tables_exchange_sessions import (
    exchange_auction_carryovers,
    exchange_auctions,
    exchange_bidding_sessions,
    exchange_closes,
    exchange_session_bids,
)

# The composite's members: every allowance vintage's id starts with this (CEA24, CEA19-20).
ALLOWANCE_PREFIX = "CEA"
LISTED = "listed"

_TRADE_COLUMNS = (
    exchange_trades.c.trade_id,
    exchange_trades.c.modality,
    exchange_trades.c.instrument,
    exchange_trades.c.price_fen,
    exchange_trades.c.quantity,
    exchange_trades.c.at,
    exchange_trades.c.day,
)


def _instrument_filter(instrument: str, prefix: bool) -> Any:
    if prefix:
        return exchange_trades.c.instrument.startswith(ALLOWANCE_PREFIX, autoescape=True)
    return exchange_trades.c.instrument == instrument


# --- trades (B2's table, read only) ----------------------------------------------------------------


def trade_rows(
    connection: Connection, instrument: str, first_day: str, last_day: str, prefix: bool
) -> list[Row[Any]]:
    """Trades of an instrument (or, with `prefix`, of every allowance vintage) on days first..last."""
    query = (
        select(*_TRADE_COLUMNS)
        .where(_instrument_filter(instrument, prefix))
        .where(exchange_trades.c.day >= first_day, exchange_trades.c.day <= last_day)
        .order_by(exchange_trades.c.at, exchange_trades.c.trade_id)
    )
    return list(connection.execute(query))


def last_listed_day_before(connection: Connection, instrument: str, day: str, prefix: bool) -> str | None:
    """The last trading day before `day` with a listed trade of the instrument (or of any vintage)."""
    query = (
        select(func.max(exchange_trades.c.day))
        .where(_instrument_filter(instrument, prefix))
        .where(exchange_trades.c.modality == LISTED, exchange_trades.c.day < day)
    )
    found = connection.execute(query).scalar()
    return None if found is None else str(found)


def allowance_value_volume(
    connection: Connection, first_day: str, after_day: str, modalities: Sequence[str]
) -> tuple[int, int]:
    """Σ(price × quantity) and Σ quantity of all allowance vintages' trades, days [first, after)."""
    query = (
        select(
            func.coalesce(func.sum(exchange_trades.c.price_fen * exchange_trades.c.quantity), 0),
            func.coalesce(func.sum(exchange_trades.c.quantity), 0),
        )
        .where(_instrument_filter(ALLOWANCE_PREFIX, True))
        .where(exchange_trades.c.day >= first_day, exchange_trades.c.day < after_day)
        .where(exchange_trades.c.modality.in_(list(modalities)))
    )
    value, volume = connection.execute(query).one()
    return int(value), int(volume)


def latest_trades(connection: Connection, instrument: str | None, limit: int) -> list[Row[Any]]:
    """The newest trades first, of one instrument or all."""
    query = select(*_TRADE_COLUMNS).order_by(exchange_trades.c.at.desc(), exchange_trades.c.trade_id.desc())
    if instrument is not None:
        query = query.where(exchange_trades.c.instrument == instrument)
    return list(connection.execute(query.limit(limit)))


def trades_since(connection: Connection, at: str, limit: int) -> list[Row[Any]]:
    """Trades at or after `at`, oldest first (the live feed drops those it has already sent)."""
    query = (
        select(*_TRADE_COLUMNS)
        .where(exchange_trades.c.at >= at)
        .order_by(exchange_trades.c.at, exchange_trades.c.trade_id)
        .limit(limit)
    )
    return list(connection.execute(query))


def instruments_traded_until(connection: Connection, day: str) -> list[str]:
    """Every instrument that traded on or before `day`."""
    query = select(exchange_trades.c.instrument).where(exchange_trades.c.day <= day).distinct()
    return [row.instrument for row in connection.execute(query)]


# --- official closes ---------------------------------------------------------------------------------


def insert_close(connection: Connection, row: dict[str, Any]) -> None:
    """Store one instrument's official day."""
    connection.execute(insert(exchange_closes), row)


def close_row(connection: Connection, instrument: str, day: str) -> Row[Any] | None:
    """The official day of an instrument, if struck."""
    query = select(exchange_closes).where(
        exchange_closes.c.instrument == instrument, exchange_closes.c.day == day
    )
    return connection.execute(query).first()


def close_rows(connection: Connection, instrument: str, first_day: str, last_day: str) -> list[Row[Any]]:
    """An instrument's official days from first to last."""
    query = (
        select(exchange_closes)
        .where(exchange_closes.c.instrument == instrument)
        .where(exchange_closes.c.day >= first_day, exchange_closes.c.day <= last_day)
        .order_by(exchange_closes.c.day)
    )
    return list(connection.execute(query))


def close_rows_of_day(connection: Connection, day: str) -> list[Row[Any]]:
    """Every instrument's official close of a day."""
    query = select(exchange_closes).where(exchange_closes.c.day == day).order_by(exchange_closes.c.instrument)
    return list(connection.execute(query))


def last_close_before(connection: Connection, instrument: str, day: str) -> Row[Any] | None:
    """The latest official close of the instrument before `day`."""
    query = (
        select(exchange_closes)
        .where(exchange_closes.c.instrument == instrument, exchange_closes.c.day < day)
        .order_by(exchange_closes.c.day.desc())
        .limit(1)
    )
    return connection.execute(query).first()


def closed_instruments(connection: Connection) -> list[str]:
    """Every instrument that has an official close."""
    return [row.instrument for row in connection.execute(select(exchange_closes.c.instrument).distinct())]


def closes_since(connection: Connection, computed_at: str, limit: int) -> list[Row[Any]]:
    """Official closes struck at or after `computed_at`, oldest first (for the live feed)."""
    query = (
        select(exchange_closes)
        .where(exchange_closes.c.computed_at >= computed_at)
        .order_by(exchange_closes.c.computed_at, exchange_closes.c.instrument)
        .limit(limit)
    )
    return list(connection.execute(query))


# --- one-way bidding sessions ------------------------------------------------------------------------


def insert_bidding_session(connection: Connection, **values: Any) -> None:
    """A new application."""
    connection.execute(insert(exchange_bidding_sessions), values)


def get_bidding_session(connection: Connection, session_id: str, *, lock: bool = False) -> Row[Any] | None:
    """A session, locked for the rest of the transaction when asked (PostgreSQL; SQLite locks at BEGIN)."""
    query = select(exchange_bidding_sessions).where(exchange_bidding_sessions.c.id == session_id)
    if lock:
        query = query.with_for_update()
    return connection.execute(query).first()


def update_bidding_session(connection: Connection, session_id: str, **values: Any) -> None:
    """Change a session's status and outcome fields."""
    connection.execute(
        update(exchange_bidding_sessions).where(exchange_bidding_sessions.c.id == session_id).values(**values)
    )


def list_bidding_sessions(
    connection: Connection, statuses: Sequence[str] | None, limit: int
) -> list[Row[Any]]:
    """Sessions, the latest window first."""
    query = select(exchange_bidding_sessions).order_by(
        exchange_bidding_sessions.c.opens_at.desc(), exchange_bidding_sessions.c.id
    )
    if statuses:
        query = query.where(exchange_bidding_sessions.c.status.in_(list(statuses)))
    return list(connection.execute(query.limit(limit)))


# --- primary auctions --------------------------------------------------------------------------------


def insert_auction(connection: Connection, **values: Any) -> None:
    """A new auction."""
    connection.execute(insert(exchange_auctions), values)


def get_auction(connection: Connection, auction_id: str, *, lock: bool = False) -> Row[Any] | None:
    """An auction, locked when asked."""
    query = select(exchange_auctions).where(exchange_auctions.c.id == auction_id)
    if lock:
        query = query.with_for_update()
    return connection.execute(query).first()


def update_auction(connection: Connection, auction_id: str, **values: Any) -> None:
    """Change an auction's status and outcome fields."""
    connection.execute(update(exchange_auctions).where(exchange_auctions.c.id == auction_id).values(**values))


def list_auctions(connection: Connection, limit: int) -> list[Row[Any]]:
    """Auctions, the latest window first."""
    query = select(exchange_auctions).order_by(exchange_auctions.c.opens_at.desc(), exchange_auctions.c.id)
    return list(connection.execute(query.limit(limit)))


def open_carryovers(connection: Connection, instrument: str) -> list[Row[Any]]:
    """Shares of earlier auctions' unsold volume not yet offered again, oldest first, locked."""
    query = (
        select(exchange_auction_carryovers)
        .where(exchange_auction_carryovers.c.instrument == instrument)
        .where(exchange_auction_carryovers.c.to_auction.is_(None))
        .order_by(exchange_auction_carryovers.c.id)
        .with_for_update()
    )
    return list(connection.execute(query))


def take_carryovers(connection: Connection, ids: Sequence[int], auction_id: str) -> None:
    """Mark shares as offered in `auction_id`."""
    if ids:
        connection.execute(
            update(exchange_auction_carryovers)
            .where(exchange_auction_carryovers.c.id.in_(list(ids)))
            .values(to_auction=auction_id)
        )


def insert_carryovers(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Shares of one auction's unsold volume."""
    if rows:
        connection.execute(insert(exchange_auction_carryovers), list(rows))


def carryovers_of(connection: Connection, auction_id: str) -> list[Row[Any]]:
    """The shares an auction's unsold volume was cut into, and which auctions took them."""
    query = (
        select(exchange_auction_carryovers)
        .where(exchange_auction_carryovers.c.from_auction == auction_id)
        .order_by(exchange_auction_carryovers.c.slot)
    )
    return list(connection.execute(query))


# --- sealed bids -------------------------------------------------------------------------------------


def insert_bid(connection: Connection, **values: Any) -> None:
    """A sealed bid."""
    connection.execute(insert(exchange_session_bids), values)


def get_bid(connection: Connection, bid_id: str) -> Row[Any] | None:
    """One bid."""
    return connection.execute(
        select(exchange_session_bids).where(exchange_session_bids.c.id == bid_id)
    ).first()


def bids_of(connection: Connection, kind: str, session_id: str) -> list[Row[Any]]:
    """Every bid of a session in arrival order."""
    query = (
        select(exchange_session_bids)
        .where(exchange_session_bids.c.kind == kind, exchange_session_bids.c.session_id == session_id)
        .order_by(exchange_session_bids.c.seq)
    )
    return list(connection.execute(query))


def bid_totals(connection: Connection, kind: str, session_id: str, account: str) -> tuple[int, int, int]:
    """The session's number of bids, and the account's number of bids and tonnes bid."""
    session_filter = and_(
        exchange_session_bids.c.kind == kind, exchange_session_bids.c.session_id == session_id
    )
    count = connection.execute(select(func.count()).where(session_filter)).scalar_one()
    mine = connection.execute(
        select(func.count(), func.coalesce(func.sum(exchange_session_bids.c.quantity), 0)).where(
            session_filter, exchange_session_bids.c.account == account
        )
    ).one()
    return int(count), int(mine[0]), int(mine[1])


def next_bid_seq(connection: Connection, kind: str, session_id: str) -> int:
    """The arrival number of the next bid (time priority within a session)."""
    query = select(func.coalesce(func.max(exchange_session_bids.c.seq), 0)).where(
        exchange_session_bids.c.kind == kind, exchange_session_bids.c.session_id == session_id
    )
    return int(connection.execute(query).scalar_one()) + 1


def update_bid(connection: Connection, bid_id: str, **values: Any) -> None:
    """Record a bid's outcome."""
    connection.execute(
        update(exchange_session_bids).where(exchange_session_bids.c.id == bid_id).values(**values)
    )
