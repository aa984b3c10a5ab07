"""One-way bidding, primary auctions, the official close and market data on the command line.

`sessions_app` holds the groups `bidding` and `auction` and the commands `close-day` and
`marketdata`; B2's `exchange/cli.py` mounts them under `carbonmarket exchange`:

    carbonmarket exchange bidding apply|approve|reject|bid|close|results|list
    carbonmarket exchange auction create|bid|close|results|list
    carbonmarket exchange close-day --date 2025-07-16
    carbonmarket exchange marketdata --instrument CEA24 --from 2025-07-01 --to 2025-07-31 --json

Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object with
`--json`, and exits 1 on a refusal with `{"ok": false, "code", "message"}`. The CLI acts as the
local operator, who holds the database; `--at` lets that operator act as of a given moment (a
rehearsal, or re-entering a day's commands), since windows and closes depend on the time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import Clock, FixedClock, SystemClock
from carbonmarket.core.results import Outcome, Refused

sessions_app = typer.Typer(
    help="One-way bidding, auctions, the official close, market data.", no_args_is_help=True
)
bidding_app = typer.Typer(
    help="One-way bidding sessions: apply, approve, bid, close (clear), results.", no_args_is_help=True
)
auction_app = typer.Typer(
    help="Primary auctions of allowances: create, bid, close (clear), results.", no_args_is_help=True
)
sessions_app.add_typer(bidding_app, name="bidding")
sessions_app.add_typer(auction_app, name="auction")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
At = Annotated[
    str | None,
    typer.Option("--at", help="Act as at this ISO-8601 moment (default: now), e.g. 2025-07-16T11:05+08:00."),
]
Account = Annotated[str, typer.Option("--account", help="The trading (-T) account.")]
Instrument = Annotated[str, typer.Option("--instrument", help="An allowance vintage, e.g. CEA24.")]
Price = Annotated[str, typer.Option("--price", help="CNY per tonne with at most 2 decimals, e.g. 97.49.")]
Quantity = Annotated[str, typer.Option("--quantity", help="Whole tonnes.")]
Opens = Annotated[str, typer.Option("--opens", help="Window opens, ISO-8601 (naive = China Standard Time).")]
Closes = Annotated[str, typer.Option("--closes", help="Window closes, ISO-8601.")]


def _emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    from carbonmarket.cli import emit

    emit(data, as_json, human=human)


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _run(call: Callable[[], Outcome], as_json: bool) -> None:
    """Run a command; a refusal raised before the service (a malformed flag) exits 1 like any other."""
    from carbonmarket.cli import refuse

    try:
        outcome = call()
    except Refused as refused:
        refuse(refused, as_json)
        return
    _emit_outcome(outcome, as_json)


def _query(call: Callable[[], Any], as_json: bool, rows_key: str | None = None) -> None:
    """Run a query and print it; a refusal exits 1 with its code (`carbonmarket.cli.emit_query`)."""
    from carbonmarket.cli import emit_query

    emit_query(call, as_json, rows_key)


def _clock(at: str | None) -> Clock:
    if at is None:
        return SystemClock()
    from carbonmarket.exchange.sessions_model import parse_time

    moment: datetime = parse_time(at, "--at")
    return FixedClock(moment)


def _engine(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine

    return cached_engine(database_url(db))


def _sessions(db: str | None, at: str | None = None) -> Any:
    from carbonmarket.exchange.sessions import Sessions

    return Sessions(_engine(db), _clock(at))


def _marketdata(db: str | None, at: str | None = None) -> Any:
    from carbonmarket.exchange.marketdata import MarketData

    return MarketData(_engine(db), _clock(at))


def _fen(price: str) -> int:
    from carbonmarket.exchange.sessions_model import parse_price_cny

    return parse_price_cny(price)


# --- one-way bidding -----------------------------------------------------------------------------------


@bidding_app.command("apply")
def bidding_apply(
    session_id: Annotated[str, typer.Option("--id", help="The session's id (also the command id).")],
    account: Account,
    instrument: Instrument,
    quantity: Quantity,
    price: Annotated[str, typer.Option("--price", help="The floor (sell) or cap (buy), CNY/t, e.g. 74.00.")],
    opens: Opens,
    closes: Closes,
    side: Annotated[str, typer.Option("--side", help="sell (bidders buy) or buy (bidders sell).")] = "sell",
    mode: Annotated[str, typer.Option("--mode", help="uniform or pay_as_bid.")] = "uniform",
    bidder_cap: Annotated[
        str | None, typer.Option("--bidder-cap", help="Most tonnes one bidder may win.")
    ] = None,
    minimum: Annotated[
        str | None, typer.Option("--minimum", help="Least tonnes bid, else cancelled.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Apply for a one-way bidding session (lot ≥ 100,000 t, ≥ 10 working days ahead)."""
    _run(
        lambda: _sessions(db, at).apply(
            LOCAL_OPERATOR,
            session_id,
            account=account,
            side=side,
            instrument=instrument,
            quantity=quantity,
            limit_price_fen=_fen(price),
            opens_at=opens,
            closes_at=closes,
            price_mode=mode,
            bidder_cap_t=bidder_cap,
            minimum_t=minimum,
            note=note,
        ),
        as_json,
    )


@bidding_app.command("approve")
def bidding_approve(
    session_id: Annotated[str, typer.Argument(help="The session.")],
    command_id: CommandId,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The tie-break seed (default: a secret draw).")
    ] = None,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Approve and publish the notice: the band is fixed and the initiator's units (or funds) held."""
    _run(lambda: _sessions(db, at).approve(LOCAL_OPERATOR, command_id, session_id, seed), as_json)


@bidding_app.command("reject")
def bidding_reject(
    session_id: Annotated[str, typer.Argument(help="The session.")],
    command_id: CommandId,
    reason: Annotated[str, typer.Option("--reason")],
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Reject an application."""
    _run(lambda: _sessions(db, at).reject(LOCAL_OPERATOR, command_id, session_id, reason), as_json)


@bidding_app.command("bid")
def bidding_bid(
    session_id: Annotated[str, typer.Argument(help="The session.")],
    bid_id: Annotated[str, typer.Option("--id", help="The bid's id (also the command id).")],
    account: Account,
    price: Price,
    quantity: Quantity,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A sealed bid inside the window; the bidder's funds (or units) are held."""
    _run(
        lambda: _sessions(db, at).bid(
            LOCAL_OPERATOR, bid_id, session_id, account=account, price_fen=_fen(price), quantity=quantity
        ),
        as_json,
    )


@bidding_app.command("close")
def bidding_close(
    session_id: Annotated[str, typer.Argument(help="The session.")],
    command_id: CommandId,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """After the window: clear (seeded tie-break), settle the awards, release the rest, publish."""
    _run(lambda: _sessions(db, at).close(LOCAL_OPERATOR, command_id, session_id), as_json)


@bidding_app.command("results")
def bidding_results(
    session_id: Annotated[str, typer.Argument(help="The session.")], db: Db = None, as_json: Json = False
) -> None:
    """A session's notice and, once cleared, its published result."""
    _query(lambda: {"session": _sessions(db).session(session_id, LOCAL_OPERATOR)}, as_json)


@bidding_app.command("list")
def bidding_list(
    status: Annotated[str | None, typer.Option("--status", help="applied, published, cleared, ...")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Sessions, latest window first."""

    def call() -> dict[str, Any]:
        rows = _sessions(db).sessions(status, LOCAL_OPERATOR)
        return {"sessions": [_session_line(r) for r in rows] if not as_json else rows}

    _query(call, as_json, rows_key="sessions")


def _session_line(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("session", "phase", "side", "instrument", "quantity", "limit_price_fen", "price_mode", "opens_at")
    return {key: row[key] for key in keys}


# --- primary auctions ----------------------------------------------------------------------------------


@auction_app.command("create")
def auction_create(
    auction_id: Annotated[str, typer.Option("--id", help="The auction's id (also the command id).")],
    instrument: Instrument,
    quantity: Quantity,
    reserve: Annotated[str, typer.Option("--reserve", help="Reserve price, CNY/t.")],
    opens: Opens,
    closes: Closes,
    issue: Annotated[bool, typer.Option("--issue", help="Issue the volume into CN-AUCTION first.")] = False,
    bidder_cap: Annotated[str | None, typer.Option("--bidder-cap")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="The tie-break seed, fixed in advance.")] = None,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Offer allowances from CN-AUCTION (plus carried-over unsold volume) with a reserve price."""
    _run(
        lambda: _sessions(db, at).create_auction(
            LOCAL_OPERATOR,
            auction_id,
            instrument=instrument,
            quantity=quantity,
            reserve_price_fen=_fen(reserve),
            opens_at=opens,
            closes_at=closes,
            issue=issue,
            bidder_cap_t=bidder_cap,
            seed=seed,
        ),
        as_json,
    )


@auction_app.command("bid")
def auction_bid(
    auction_id: Annotated[str, typer.Argument(help="The auction.")],
    bid_id: Annotated[str, typer.Option("--id", help="The bid's id (also the command id).")],
    account: Account,
    price: Price,
    quantity: Quantity,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A sealed bid in an open auction; price × quantity of funds are held."""
    _run(
        lambda: _sessions(db, at).auction_bid(
            LOCAL_OPERATOR, bid_id, auction_id, account=account, price_fen=_fen(price), quantity=quantity
        ),
        as_json,
    )


@auction_app.command("close")
def auction_close(
    auction_id: Annotated[str, typer.Argument(help="The auction.")],
    command_id: CommandId,
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """After the window: clear against the secondary price, deliver, collect proceeds, carry unsold."""
    _run(lambda: _sessions(db, at).close_auction(LOCAL_OPERATOR, command_id, auction_id), as_json)


@auction_app.command("results")
def auction_results(
    auction_id: Annotated[str, typer.Argument(help="The auction.")], db: Db = None, as_json: Json = False
) -> None:
    """An auction's terms and, once closed, its result."""
    _query(lambda: {"auction": _sessions(db).auction(auction_id, LOCAL_OPERATOR)}, as_json)


@auction_app.command("list")
def auction_list(db: Db = None, as_json: Json = False) -> None:
    """Auctions, latest window first."""
    _query(lambda: {"auctions": _sessions(db).auctions(LOCAL_OPERATOR)}, as_json)


# --- the official close and market data ----------------------------------------------------------------


@sessions_app.command("close-day")
def close_day(
    day: Annotated[str, typer.Option("--date", help="The trading day, YYYY-MM-DD.")],
    at: At = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Strike the official close of a day per instrument and the composite (after 15:00 CST)."""
    _run(lambda: _marketdata(db, at).close_day(LOCAL_OPERATOR, day), as_json)


@sessions_app.command("marketdata")
def marketdata(
    instrument: Annotated[str, typer.Option("--instrument", help="A vintage, or CEA for the composite.")],
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    period: Annotated[str, typer.Option("--period", help="day, month or year.")] = "day",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Open, high, low, close, volume and value by modality per day, month or year."""

    def call() -> dict[str, Any]:
        data: dict[str, Any] = _marketdata(db).series(instrument, first, last, period)
        if as_json:
            return data
        return {"series": [_series_line(row) for row in data["series"]]}

    _query(call, as_json, rows_key="series")


def _series_line(row: dict[str, Any]) -> dict[str, Any]:
    from carbonmarket.core.units import format_fen

    def price(value: int | None) -> str:
        return "—" if value is None else format_fen(value)

    return {
        "day": row.get("day") or row.get("period"),
        "open": price(row["open_fen"]),
        "high": price(row["high_fen"]),
        "low": price(row["low_fen"]),
        "close": price(row["close_fen"]),
        "listed t": row["volume"]["listed"],
        "bulk t": row["volume"]["bulk"],
        "bidding t": row["volume"]["bidding"],
        "auction t": row["volume"]["auction"],
    }
