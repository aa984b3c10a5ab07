"""The `exchange` commands of the CLI; `carbonmarket.cli` mounts `exchange_app`.

`carbonmarket exchange order|cancel|amend|book|trades|orders|funds|deposit|withdraw|bulk ...|replay FILE`.
Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object
with `--json`, and exits 1 on a refusal with `{"ok": false, "code", "message"}`. The CLI acts as the
local operator, who holds the database (the exchange operator's powers included). B3's bidding,
auction, close-day and market-data commands are mounted here too when they exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Outcome, Refused

exchange_app = typer.Typer(
    help="The exchange: orders, books, bulk agreements, one-way bidding, auctions, settlement, market data.",
    no_args_is_help=True,
)
bulk_app = typer.Typer(
    help="Bulk agreement trading: intents, counter-offers, confirmations.", no_args_is_help=True
)
exchange_app.add_typer(bulk_app, name="bulk")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Account = Annotated[str, typer.Option("--account", help="The trading (-T) account.")]
Instrument = Annotated[str, typer.Option("--instrument", help="e.g. CEA24")]
Price = Annotated[
    str, typer.Option("--price", help="Price in CNY per tonne with at most 2 decimals, e.g. 97.49")
]


def _emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    from carbonmarket.cli import emit

    emit(data, as_json, human=human)


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _query(call: Callable[[], Any], as_json: bool, rows_key: str | None = None) -> None:
    """Run a query and print it; a refusal exits 1 with its code (`carbonmarket.cli.emit_query`)."""
    from carbonmarket.cli import emit_query

    emit_query(call, as_json, rows_key)


def _exchange(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.exchange.service import Exchange

    return Exchange(cached_engine(database_url(db)))


def _fen(price: str, as_json: bool) -> int:
    """CNY with at most two decimals → whole fen (DOMAIN.md §5: tick CNY 0.01), or exit 1."""
    from carbonmarket.exchange.bulk import price_to_fen

    try:
        return price_to_fen(price)
    except Refused as refused:
        from carbonmarket.cli import refuse

        refuse(refused, as_json)


# --- orders -----------------------------------------------------------------------------------------


@exchange_app.command("order")
def order(
    order_id: Annotated[str, typer.Option("--id", help="Your order id (also the command id).")],
    account: Account,
    instrument: Instrument,
    side: Annotated[str, typer.Option("--side", help="buy or sell")],
    price: Price,
    quantity: Annotated[str, typer.Option("--quantity", help="Whole tonnes.")],
    mode: Annotated[str, typer.Option("--mode", help="auto (price-time) or pick (SEEE best-5)")] = "auto",
    pick: Annotated[str | None, typer.Option("--pick", help="The resting order a pick order takes.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Place a listed-agreement limit order: checked, reserved, matched, settled."""
    fen = _fen(price, as_json)
    outcome = _exchange(db).place_order(
        LOCAL_OPERATOR, order_id, account, instrument, side, fen, quantity, mode, pick
    )
    _emit_outcome(outcome, as_json)


@exchange_app.command("cancel")
def cancel(
    order_id: Annotated[str, typer.Argument(help="The order to cancel.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Cancel a resting order; what its hold still reserves is released."""
    _emit_outcome(_exchange(db).cancel_order(LOCAL_OPERATOR, command_id, order_id), as_json)


@exchange_app.command("amend")
def amend(
    order_id: Annotated[str, typer.Argument(help="The order to amend.")],
    command_id: CommandId,
    price: Annotated[str | None, typer.Option("--price", help="New price in CNY.")] = None,
    quantity: Annotated[str | None, typer.Option("--quantity", help="New total quantity in tonnes.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Change a resting order's price or total quantity (a price change or increase loses priority)."""
    fen = None if price is None else _fen(price, as_json)
    _emit_outcome(_exchange(db).amend_order(LOCAL_OPERATOR, command_id, order_id, fen, quantity), as_json)


@exchange_app.command("book")
def book(
    instrument: Annotated[str, typer.Argument(help="e.g. CEA24")],
    levels: Annotated[int, typer.Option("--levels")] = 5,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The best price levels of each side of an instrument's listed book."""
    _query(lambda: _exchange(db).book(instrument, levels), as_json)


@exchange_app.command("orders")
def orders(
    account: Annotated[str | None, typer.Option("--account")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, filled or cancelled")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Orders, newest first."""
    _query(
        lambda: {"orders": _exchange(db).orders(LOCAL_OPERATOR, account, status, limit)}, as_json, "orders"
    )


@exchange_app.command("trades")
def trades(
    account: Annotated[str | None, typer.Option("--account")] = None,
    instrument: Annotated[str | None, typer.Option("--instrument")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Trades of every modality, newest first (with parties and fees: the CLI is the operator)."""
    _query(
        lambda: {"trades": _exchange(db).trades(LOCAL_OPERATOR, account, instrument, limit)},
        as_json,
        "trades",
    )


# --- funds ------------------------------------------------------------------------------------------


@exchange_app.command("deposit")
def deposit(
    account: Account,
    amount: Annotated[str, typer.Option("--cny", help="CNY with at most 2 decimals")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Funds arriving from the member's settlement bank into its trading account."""
    _emit_outcome(_exchange(db).deposit(LOCAL_OPERATOR, command_id, account, _fen(amount, as_json)), as_json)


@exchange_app.command("withdraw")
def withdraw(
    account: Account,
    amount: Annotated[str, typer.Option("--cny", help="CNY with at most 2 decimals")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Funds leaving for the member's bank: only what orders do not reserve."""
    _emit_outcome(_exchange(db).withdraw(LOCAL_OPERATOR, command_id, account, _fen(amount, as_json)), as_json)


@exchange_app.command("funds")
def funds(account: Annotated[str, typer.Argument()], db: Db = None, as_json: Json = False) -> None:
    """A trading account's funds and units: total, reserved by orders, available, tradable today."""
    _query(lambda: _exchange(db).funds(LOCAL_OPERATOR, account), as_json, "balances")


# --- bulk agreements --------------------------------------------------------------------------------


@bulk_app.command("post")
def bulk_post(
    intent_id: Annotated[str, typer.Option("--id", help="The intent's id (also the command id).")],
    account: Account,
    instrument: Instrument,
    side: Annotated[str, typer.Option("--side", help="buy or sell")],
    price: Price,
    quantity: Annotated[str, typer.Option("--quantity", help="Whole tonnes, at least 100,000.")],
    counterparty: Annotated[
        str | None,
        typer.Option("--counterparty", help="Deal only with this trading account (a direct trade)."),
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Post a bulk agreement intent (≥ 100,000 t, ±30% of the previous close, 13:00-15:00)."""
    fen = _fen(price, as_json)
    outcome = _exchange(db).bulk_post(
        LOCAL_OPERATOR, intent_id, account, instrument, side, fen, quantity, counterparty
    )
    _emit_outcome(outcome, as_json)


@bulk_app.command("offer")
def bulk_offer(
    intent_id: Annotated[str, typer.Argument()],
    offer_id: Annotated[str, typer.Option("--id", help="The offer's id (also the command id).")],
    account: Annotated[str, typer.Option("--account", help="The account making the offer.")],
    price: Price,
    quantity: Annotated[str, typer.Option("--quantity")],
    counterparty: Annotated[
        str | None, typer.Option("--counterparty", help="For the intent's poster: whom it answers.")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Make or counter an offer on an intent (new terms; earlier confirmations lapse)."""
    fen = _fen(price, as_json)
    outcome = _exchange(db).bulk_offer(
        LOCAL_OPERATOR, offer_id, intent_id, account, fen, quantity, counterparty
    )
    _emit_outcome(outcome, as_json)


@bulk_app.command("confirm")
def bulk_confirm(
    offer_id: Annotated[str, typer.Argument()],
    account: Annotated[str, typer.Option("--account", help="The confirming party's account.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Confirm an offer's terms; when both parties have, the agreement settles."""
    _emit_outcome(_exchange(db).bulk_confirm(LOCAL_OPERATOR, command_id, offer_id, account), as_json)


@bulk_app.command("withdraw")
def bulk_withdraw(
    intent_id: Annotated[str, typer.Argument()],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Withdraw an intent; its open offers lapse and their reservations are released."""
    _emit_outcome(_exchange(db).bulk_withdraw(LOCAL_OPERATOR, command_id, intent_id), as_json)


@bulk_app.command("list")
def bulk_list(
    status: Annotated[str | None, typer.Option("--status", help="open, done or withdrawn")] = "open",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Bulk intents, newest first."""
    _query(lambda: {"intents": _exchange(db).bulk_intents(status)}, as_json, "intents")


@bulk_app.command("show")
def bulk_show(intent_id: Annotated[str, typer.Argument()], db: Db = None, as_json: Json = False) -> None:
    """An intent with every offer of its negotiations."""
    _query(lambda: _exchange(db).bulk_intent(intent_id), as_json)


# --- replay -----------------------------------------------------------------------------------------


@exchange_app.command("replay")
def replay(
    file: Annotated[
        Path, typer.Argument(help="A JSON-lines file of timestamped commands (docs/exchange-replay.md).")
    ],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL; without it a fresh SQLite file is used and removed."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Run a file of timestamped commands; print the trades, refusals and each day's OHLC/close."""
    from carbonmarket.cli import refuse
    from carbonmarket.exchange.replay import run_replay_file

    try:
        result = run_replay_file(file, db)
    except Refused as refused:
        refuse(refused, as_json)
    _emit(result, as_json)


# --- benchmarks and B3's commands ---------------------------------------------------------------------


def _bench_exchange(
    db: Db = None,
    orders: Annotated[int, typer.Option("--orders", help="Orders to submit.")] = 20_000,
    batch: Annotated[int, typer.Option("--batch", help="Orders per group commit.")] = 1_000,
    repeat: Annotated[
        int,
        typer.Option("--repeat", help="Runs, each on a fresh scratch database; the medians are reported."),
    ] = 1,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="stream: Exchange.submit_stream (each batch planned while the one before commits); "
            "batches: Exchange.submit_many, one batch after the other.",
        ),
    ] = "stream",
    as_json: Json = False,
) -> None:
    """Durable orders/s: journal, holds and settlement into the ledger, group commit (target 10,000/s)."""
    from carbonmarket.cli import database_url
    from carbonmarket.exchange.bench_durable import run_durable_benchmark

    try:
        result = run_durable_benchmark(
            database_url(db), orders=orders, batch=batch, repeat=repeat, mode=mode, progress=not as_json
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    _emit(result, as_json)


def _bench_matching() -> Callable[..., None] | None:
    try:
        module = importlib.import_module("carbonmarket.exchange.bench_matching")
    except ImportError:
        return None
    found = getattr(module, "bench_matching", None)
    return found if callable(found) else None


def _mount_sessions() -> None:
    """B3's bidding sessions, auctions, close-day and market data, once its sessions_cli exists."""
    try:
        module = importlib.import_module("carbonmarket.exchange.sessions_cli")
    except ImportError:
        return
    sessions_app = getattr(module, "sessions_app", None)
    if isinstance(sessions_app, typer.Typer):
        for group in sessions_app.registered_groups:
            exchange_app.registered_groups.append(group)
        for command in sessions_app.registered_commands:
            exchange_app.registered_commands.append(command)


bench_commands: dict[str, Callable[..., None]] = {"exchange": _bench_exchange}
if (_matching := _bench_matching()) is not None:
    bench_commands = {"matching": _matching, **bench_commands}
_mount_sessions()
