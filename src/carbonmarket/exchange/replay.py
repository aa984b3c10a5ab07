"""`carbonmarket exchange replay FILE`: run a JSON-lines file of timestamped commands, print what happened.

Each line is one JSON object with an `at` (ISO-8601 with a zone) and a `type`; lines run in file
order, each with the clock standing at its `at`, as the local operator (who may do everything the
exchange and registry operators may). The format is documented in docs/exchange-replay.md with
an example in docs/examples/exchange-replay.jsonl. The result lists every trade, every refusal
with its code and line number, and each trading day's open/high/low/close per instrument (B3's
market data), and ends with the ledger's reconciliation.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Outcome, Refusal, Refused
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.exchange import store
from carbonmarket.exchange.service import Exchange
from carbonmarket.exchange.settlement import exchange_rules, trading_day
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from carbonmarket.registry.service import Registry

Handler = Callable[["_Replay", dict[str, Any]], Outcome]
trades_shown_max = 10_000


def run_replay_file(path: Path, database_url: str | None = None) -> dict[str, Any]:
    """Replay a file against `database_url` (migrated first), or a fresh SQLite file removed afterwards."""
    rules = exchange_rules()
    try:
        size = path.stat().st_size
    except OSError as error:
        raise Refused(Code.EXCHANGE_REPLAY_FILE_UNREADABLE, f"cannot read {path}: {error.strerror}") from None
    if size > rules.replay_file_bytes_max:
        raise Refused(
            Code.EXCHANGE_REPLAY_FILE_TOO_LARGE,
            f"{path} is {size} bytes; at most {rules.replay_file_bytes_max}",
        )
    lines = list(_read_lines(path, rules.replay_lines_max))
    with _database(database_url) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            return _Replay(engine, lines).run()
        finally:
            engine.dispose()


@contextmanager
def _database(database_url: str | None) -> Iterator[str]:
    if database_url is not None:
        yield database_url
        return
    with tempfile.TemporaryDirectory(prefix="cm_replay_") as folder:
        yield f"sqlite:///{Path(folder) / 'replay.db'}"


def _read_lines(path: Path, lines_max: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a malformed line is refused by its number."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise Refused(Code.EXCHANGE_REPLAY_FILE_UNREADABLE, f"cannot read {path}: {error.strerror}") from None
    with handle:
        count = 0
        for number, text in enumerate(handle, start=1):
            if not text.strip() or text.lstrip().startswith("//"):
                continue
            count += 1
            if count > lines_max:
                raise Refused(
                    Code.EXCHANGE_REPLAY_FILE_TOO_LARGE, f"a replay file has at most {lines_max} commands"
                )
            try:
                body = json.loads(text)
            except json.JSONDecodeError as error:
                raise Refused(
                    Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: not JSON ({error.msg})"
                ) from None
            if not isinstance(body, dict) or not isinstance(body.get("type"), str):
                raise Refused(
                    Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: expected an object with a type"
                )
            _moment(body.get("at"), number)
            yield number, body


def _moment(value: object, number: int) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Refused(
            Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: at {value!r} is not an ISO-8601 time"
        ) from None
    if moment.utcoffset() is None:
        raise Refused(Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: at {value!r} needs a time zone")
    return moment


class _Replay:
    """One run: a clock moved line by line, the services over one engine, what happened."""

    def __init__(self, engine: Engine, lines: list[tuple[int, dict[str, Any]]]) -> None:
        self.engine = engine
        self.lines = lines
        self.clock = FixedClock(
            _moment(lines[0][1]["at"], lines[0][0]) if lines else datetime.now().astimezone()
        )
        self.registry = Registry(engine, self.clock)
        self.exchange = Exchange(engine, self.clock)
        self.refusals: list[dict[str, Any]] = []
        self.applied = 0

    def run(self) -> dict[str, Any]:
        self.registry.define_defaults(LOCAL_OPERATOR)
        self.registry.open_central_accounts(LOCAL_OPERATOR)
        with self.engine.connect() as connection:
            trades_before = store.trade_count(connection)
        first_at = None
        for number, body in self.lines:
            moment = _moment(body["at"], number)
            self.clock.advance(moment - self.clock.now())
            first_at = first_at or self.clock.now()
            outcome = self._apply(number, body)
            if isinstance(outcome, Refusal):
                self.refusals.append(
                    {
                        "line": number,
                        "type": body["type"],
                        "code": outcome.code.value,
                        "message": outcome.message,
                    }
                )
            else:
                self.applied += 1
        return self._report(trades_before, first_at)

    def _apply(self, number: int, body: dict[str, Any]) -> Outcome:
        handler = HANDLERS.get(body["type"])
        if handler is None:
            return Refusal(Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: unknown type {body['type']!r}")
        try:
            return handler(self, {k: v for k, v in body.items() if k not in ("type", "at")})
        except TypeError as error:
            return Refusal(Code.EXCHANGE_REPLAY_INVALID_LINE, f"line {number}: {error}")
        except Refused as refused:
            return refused.refusal

    def _report(self, trades_before: int, first_at: datetime | None) -> dict[str, Any]:
        with self.engine.connect() as connection:
            trades = store.trades(connection, limit=trades_shown_max + trades_before)[trades_before:]
            days = _days(connection, trades)
        return {
            "ok": True,
            "commands": len(self.lines),
            "applied": self.applied,
            "refused": len(self.refusals),
            "trades": [
                {
                    k: t[k]
                    for k in (
                        "trade_id",
                        "modality",
                        "instrument",
                        "price_fen",
                        "quantity",
                        "buyer_account",
                        "seller_account",
                        "at",
                    )
                }
                for t in trades
            ],
            "refusals": self.refusals,
            "days": days,
            "reconcile_ok": self.registry.reconcile().ok,
        }


def _days(connection: Connection, trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (instrument, trading day) with trades: B3's day summary (open, high, low, close, volumes)."""
    from carbonmarket.exchange.marketdata import summary_of_day

    keys = sorted({(t["instrument"], t["day"]) for t in trades})
    return [
        summary_of_day(connection, instrument, date.fromisoformat(day)).as_json() for instrument, day in keys
    ]


# --- line handlers ------------------------------------------------------------------------------------


def _holder(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.registry.add_holder(LOCAL_OPERATOR, a["id"], a.get("name", a["id"]), a.get("kind", "entity"))


def _account(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.registry.open_account(LOCAL_OPERATOR, a["id"], a["holder"], a.get("account_type", "trading"))


def _allocate(run: _Replay, a: dict[str, Any]) -> Outcome:
    """Issue units into the national issuance account and deliver them to an account in one command."""
    instrument, quantity, to = a["instrument"], a["quantity"], a["to"]
    command_id = a.get("id") or f"replay-alloc-{to}-{instrument}-{run.clock.now().isoformat()}"

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.issue(
            connection, LOCAL_OPERATOR, f"{command_id}.iss", instrument, quantity, "CN-ISSUANCE", at
        )
        postings.move(
            connection,
            LOCAL_OPERATOR,
            f"{command_id}.del",
            "allocation",
            [Move("CN-ISSUANCE", to, instrument, quantity)],
            at,
        )
        return {"to": to, "instrument": instrument, "quantity": quantity}

    body = {"instrument": instrument, "quantity": quantity, "to": to}
    return run_command(run.engine, run.clock, LOCAL_OPERATOR, "replay.allocate", command_id[:64], body, work)


def _deposit(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.deposit(LOCAL_OPERATOR, a["id"], a["account"], a["fen"])


def _withdraw(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.withdraw(LOCAL_OPERATOR, a["id"], a["account"], a["fen"])


def _order(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.place_order(
        LOCAL_OPERATOR,
        a["order_id"],
        a["account"],
        a["instrument"],
        a["side"],
        a["price_fen"],
        a["quantity"],
        a.get("mode", "auto"),
        a.get("pick_order_id"),
    )


def _cancel(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.cancel_order(LOCAL_OPERATOR, a.get("id", f"cancel-{a['order_id']}"), a["order_id"])


def _amend(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.amend_order(
        LOCAL_OPERATOR, a["id"], a["order_id"], a.get("price_fen"), a.get("quantity")
    )


def _bulk_post(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.bulk_post(
        LOCAL_OPERATOR,
        a["intent_id"],
        a["account"],
        a["instrument"],
        a["side"],
        a["price_fen"],
        a["quantity"],
        a.get("counterparty"),
    )


def _bulk_offer(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.bulk_offer(
        LOCAL_OPERATOR,
        a["offer_id"],
        a["intent_id"],
        a["account"],
        a["price_fen"],
        a["quantity"],
        a.get("counterparty"),
    )


def _bulk_confirm(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.bulk_confirm(
        LOCAL_OPERATOR, a.get("id", f"confirm-{a['offer_id']}-{a['account']}"), a["offer_id"], a["account"]
    )


def _bulk_withdraw(run: _Replay, a: dict[str, Any]) -> Outcome:
    return run.exchange.bulk_withdraw(
        LOCAL_OPERATOR, a.get("id", f"withdraw-{a['intent_id']}"), a["intent_id"]
    )


def _bidding(run: _Replay, a: dict[str, Any]) -> Outcome:
    """B3's one-way bidding sessions and auctions: `call` names a `Sessions` method, `args` its arguments."""
    from carbonmarket.exchange.sessions import Sessions

    allowed = {"apply", "approve", "reject", "bid", "close", "create_auction", "auction_bid", "close_auction"}
    call = a.get("call")
    if call not in allowed:
        return Refusal(
            Code.EXCHANGE_REPLAY_INVALID_LINE, f"bidding call must be one of {sorted(allowed)}, not {call!r}"
        )
    args = dict(a.get("args") or {})
    ids = args.pop("ids", [])
    method = getattr(Sessions(run.engine, run.clock), str(call))
    result: Outcome = method(LOCAL_OPERATOR, *ids, **args)
    return result


def _close_day(run: _Replay, a: dict[str, Any]) -> Outcome:
    """B3's official close of a day, when its market data offers one."""
    from carbonmarket.exchange import marketdata

    closer = getattr(marketdata, "MarketData", None)
    if closer is None:
        return Refusal(Code.EXCHANGE_REPLAY_INVALID_LINE, "this installation has no close-day")
    result: Outcome = closer(run.engine, run.clock).close_day(LOCAL_OPERATOR, a["day"])
    return result


HANDLERS: dict[str, Handler] = {
    "holder": _holder,
    "account": _account,
    "allocate": _allocate,
    "deposit": _deposit,
    "withdraw": _withdraw,
    "order": _order,
    "cancel": _cancel,
    "amend": _amend,
    "bulk_post": _bulk_post,
    "bulk_offer": _bulk_offer,
    "bulk_confirm": _bulk_confirm,
    "bulk_withdraw": _bulk_withdraw,
    "bidding": _bidding,
    "close_day": _close_day,
}


__all__ = ["HANDLERS", "run_replay_file", "trading_day"]
