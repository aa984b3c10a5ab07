"""Exchange trading use cases: listed orders with pre-trade checks and holds, settlement of every
fill, funds, bulk agreements, and the books rebuilt from the journal.

Each command is one `run_command` (idempotent by the client's id, audited, one transaction):
1. who may: an `exchange_member` with the initiate right on the `-T` trading account it orders
   for, or the exchange operator (and the local operator at the CLI) for every account;
2. is a listed session open (core/calendar.py `session_open`, SEEE trading rules [reg]) and is
   the instrument listed (exchange.toml [listing]);
3. pre-trade checks (DOMAIN.md §5): a sell needs tradable units — available in the `-T` account
   and not bought today (T+1 [sec]); a buy needs available funds for price × quantity + its fee;
4. the command is journalled, then the pure engine applies it (DESIGN.md rule 9);
5. the order's units or funds are reserved with a ledger hold (`HoldKind.ORDER`); every fill is
   settled at once (`settlement.settle_many`), spending both orders' holds in part; an order that
   is filled or cancelled releases what its hold still reserves (a buy filled below its limit
   frees the difference).

Books live in memory, one per listed instrument, and are rebuilt from the journal when a process
starts; before applying anything a writer locks the stream's journal head and catches its book up
with whatever another process journalled, so the CLI, the API and a replay can share a database.
If a transaction fails after the engine applied a command, the book is thrown away and rebuilt
from the journal, which only ever holds committed commands.

Listed orders are day orders: the first command for an instrument on a new trading day expires
the resting orders of the previous day (releasing their holds) and moves the price band to the
new reference price (B3's `marketdata.reference_close_fen`), both journalled as an `open_day`
entry.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.calendar import CalendarNotCovered, MarketCalendar
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.instruments import FUNDS_ID, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.core.units import quantity_max_t
from carbonmarket.db.command import (
    PreparedCommand,
    find_previous,
    prepare_command,
    record_command,
    record_refusal,
    run_command,
    run_read,
    timestamp,
)
from carbonmarket.db.uow import HeldTransaction
from carbonmarket.exchange import bulk as bulk_model
from carbonmarket.exchange import journal, store
from carbonmarket.exchange.engine import Book
from carbonmarket.exchange.model import (
    AmendOrder,
    CancelOrder,
    Command,
    Event,
    MatchMode,
    Modality,
    NewOrder,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    Side,
    TradeExecuted,
    command_from_json,
    command_text,
)
from carbonmarket.exchange.settlement import (
    ExchangeRules,
    SettlementSpec,
    exchange_rules,
    ledger_id,
    settle_batch,
    settle_many,
    settlement_batch_id,
    trading_day,
)
from carbonmarket.ledger.model import Balance, HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry import store as registry_store
from carbonmarket.registry.model import AccountType, check_acquiring, check_transferring
from carbonmarket.registry.postings import Authority, HoldSpec

# The stored texts of the sides (Python 3.11 reads an enum's .value through a descriptor: slow
# on paths that run for every order).
_BUY_TEXT: str = Side.BUY.value
_SELL_TEXT: str = Side.SELL.value

# The exchange's own identity for settlement: it spends the holds members placed (markets contract).
SETTLEMENT_ACTOR = Actor("exchange-settlement", Role.EXCHANGE_OPERATOR)
OPERATOR_ROLES = {Role.EXCHANGE_OPERATOR}
OPEN_DAY = "open_day"
CANCEL_EXPIRED = "expired"


def order_hold_id(order_id: str, generation: int = 0) -> str:
    """The ledger hold of an order (a new one after each amendment that changes the reservation).

    In the internal '@' id space (`registry.postings.internal_id`), like settlement batches: a
    client's own hold (a registry freeze) can never start with '@', so it never takes an order's.
    """
    text = f"@xo:{order_id}" if generation == 0 else f"@xo{generation}:{order_id}"
    return text if len(text) <= 64 else "@" + derived_id("xo", order_id, generation)


def _reference_close(connection: Connection, instrument: str, day: date) -> int:
    """The previous close from B3's market data (DOMAIN.md §5 [reg]: bands follow the previous close)."""
    from carbonmarket.exchange.marketdata import reference_close_fen

    return reference_close_fen(connection, instrument, day)


ReferencePrice = Callable[[Connection, str, date], int]


@dataclass
class BookState:
    """A book in memory with the journal position it reflects and the trading day it is open for."""

    book: Book | None
    seq: int = 0
    day: str | None = None
    # The book's open orders as stored, each with what its reservation still reserves; None until
    # loaded (one query) and again whenever the book caught up with commands another process wrote.
    resting: dict[str, tuple[dict[str, Any], int]] | None = None


@dataclass
class _Tx:
    """What one transaction changed, buffered so the orders table is written once per transaction."""

    connection: Connection
    actor: Actor
    at: str
    day: str
    books: dict[str, BookState] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    pending_journal: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (command text, at)
    new_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, Any] = field(default_factory=dict)
    accounts_checked: set[str] = field(default_factory=set)
    settled: int = 0
    # Set once the engine accepted the current command: a refusal after it would leave a half-done
    # command, so from then on any refusal aborts the whole transaction.
    applied: bool = False
    # A batch of `submit_stream` planned while the batch before it is still committing: what that
    # batch changed (which this transaction cannot see yet), and the call that commits it, made
    # before this batch takes its first lock.
    carried: _Carried | None = None
    before_apply: Callable[[], None] | None = None
    # What this batch changes, for the stream's next batch (None outside a stream).
    carry_out: _Carried | None = None


@dataclass
class _Carried:
    """What a streamed batch wrote, as the next batch must see it before it is committed: its
    orders' rows, the balances it wrote, and the units each (account, instrument) bought in it."""

    day: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    balances: dict[tuple[str, str], Balance] = field(default_factory=dict)
    bought: dict[tuple[str, str], int] = field(default_factory=dict)


class _NotSpeculable(Exception):
    """A streamed batch needs a book this process does not hold open for today: it waits."""


class _AheadFailed(Exception):
    """The stream's batch ahead, sent again alone after it failed to commit, raised `error`."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _StaleBook(Exception):
    """A streamed batch's books moved on without it (the batch before failed, or another process
    wrote to the journal): it is planned again, from the journal."""


@dataclass
class _InFlight:
    """A streamed batch sent in full and not yet committed."""

    held: HeldTransaction
    prepared: PreparedCommand
    commands: Sequence[dict[str, Any]]
    data: dict[str, Any]
    carried: _Carried
    touched: set[str]


class Exchange:
    """Listed trading, funds and bulk agreements over one database (see the module text)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
        rules: ExchangeRules | None = None,
        reference_price: ReferencePrice | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.calendar = calendar or MarketCalendar.load()
        self.rules = rules or exchange_rules()
        self.reference_price = reference_price or _reference_close
        self._books: dict[str, BookState] = {}
        # Instruments seen defined in this database, with their kind: an instrument is never
        # undefined and its kind never changes, so each is read once per process.
        self._defined: dict[str, InstrumentKind] = {}
        # One matching process per instrument (DESIGN.md): within a process, commands queue here.
        self._lock = threading.RLock()
        # Batches of `submit_stream` that could not be planned ahead, or were planned again (a book
        # not open yet, the batch ahead failing, another process writing to the journal).
        self.stream_replans = 0

    # --- orders -----------------------------------------------------------------------------------

    def place_order(
        self,
        actor: Actor,
        order_id: str,
        account: str,
        instrument: str,
        side: str,
        price_fen: object,
        quantity: object,
        mode: str = "auto",
        pick_order_id: str | None = None,
    ) -> Outcome:
        """Place a listed limit order (DOMAIN.md §5 [reg]); the order id is the command id."""
        body = {
            "type": "new",
            "order_id": order_id,
            "account": account,
            "instrument": instrument,
            "side": side,
            "price_fen": price_fen,
            "quantity": quantity,
            "mode": mode,
            "pick_order_id": pick_order_id,
        }
        return self._single(actor, "exchange.order", order_id, body)

    def cancel_order(self, actor: Actor, command_id: str, order_id: str) -> Outcome:
        """Cancel a resting order's remainder; its hold's rest is released."""
        return self._single(actor, "exchange.cancel", command_id, {"type": "cancel", "order_id": order_id})

    def amend_order(
        self,
        actor: Actor,
        command_id: str,
        order_id: str,
        price_fen: object | None = None,
        quantity: object | None = None,
    ) -> Outcome:
        """Change a resting order's price and/or total quantity; the hold follows the new terms."""
        body = {"type": "amend", "order_id": order_id, "price_fen": price_fen, "quantity": quantity}
        return self._single(actor, "exchange.amend", command_id, body)

    def submit_many(self, actor: Actor, batch_id: str, commands: Sequence[dict[str, Any]]) -> Outcome:
        """Group commit: apply a batch of order commands in one transaction (journal, holds, settlements).

        Each command is refused or applied on its own, exactly as if sent alone in this order; the
        result lists what happened to each. The batch id makes the whole batch idempotent.
        """
        if len(commands) > self.rules.batch_commands_max:
            return Refusal(
                Code.EXCHANGE_BATCH_TOO_LARGE,
                f"a batch carries at most {self.rules.batch_commands_max} commands, not {len(commands)}",
            )
        bodies = [dict(c) for c in commands]

        def work(tx: _Tx) -> dict[str, Any]:
            return self._batch_result(tx, batch_id, bodies)

        return self._run(actor, "exchange.batch", batch_id, {"commands": bodies}, work, bodies)

    def submit_stream(
        self, actor: Actor, batches: Iterable[tuple[str, Sequence[dict[str, Any]]]]
    ) -> list[Outcome]:
        """Group commits back to back: each batch (id, commands) is read and planned while the
        batch before it is still being written and committed; the outcomes in batch order.

        Every outcome is what `submit_many` of that batch, sent after the batches before it, gives:
        the same checks against the same balances (a batch's plan sees what the batch ahead of it
        wrote, carried in memory until that one commits), the same journal, ledger, command and
        audit rows. A batch is durable when its outcome is; the call returns once all are (a crash
        leaves a prefix committed, and resending the stream finds those batch ids `exists`).
        A batch that fails is sent again alone, after the batches before it; what it raises then,
        this raises. If anything else raises (the iterable too), the batch in flight is rolled back
        and the ones before it stay committed. Other commands of this Exchange wait for the whole
        stream. On SQLite (one writer) it is `submit_many` batch by batch.
        """
        if self.engine.dialect.name != "postgresql":
            return [self.submit_many(actor, batch_id, commands) for batch_id, commands in batches]
        outcomes: list[Outcome] = []
        # The batch sent and not yet committed: at most one, taken out when it is committed.
        ahead: list[_InFlight] = []
        with self._lock:
            try:
                for batch_id, commands in batches:
                    with _collector_deferred():
                        self._stream_batch(actor, batch_id, commands, ahead, outcomes)
                if ahead:
                    outcomes.append(self._commit_ahead(actor, ahead.pop())[0])
            except BaseException:
                if ahead:
                    in_flight = ahead.pop()
                    in_flight.held.abandon()
                    self._forget(in_flight.touched)
                raise
        return outcomes

    def _stream_batch(
        self,
        actor: Actor,
        batch_id: str,
        commands: Sequence[dict[str, Any]],
        ahead: list[_InFlight],
        outcomes: list[Outcome],
    ) -> None:
        """Send one batch of a stream in full, committing the batch ahead of it on the way; it is
        left in `ahead` to commit, or its outcome is in `outcomes` when it ended already."""
        bodies = [dict(c) for c in commands]
        prepared = prepare_command(actor, "exchange.batch", batch_id, {"commands": bodies})

        def commit_ahead() -> None:
            if not ahead:
                return
            try:
                outcome, resent = self._commit_ahead(actor, ahead.pop())
            except Exception as error:
                raise _AheadFailed(error) from error
            outcomes.append(outcome)
            if resent:
                # This batch planned on what that one was to write: it is planned again.
                raise _StaleBook("the batch ahead was sent again")

        def commit_ahead_first() -> None:
            """The batch ahead committed before this one is planned again or sent alone; that it
            had to be sent again itself changes nothing more for this one."""
            with contextlib.suppress(_StaleBook):
                commit_ahead()

        try:
            if len(bodies) > self.rules.batch_commands_max or not isinstance(prepared, PreparedCommand):
                # Refused before any transaction: the batch ahead first, then this one sent alone.
                commit_ahead_first()
                outcomes.append(self.submit_many(actor, batch_id, commands))
                return
            carried, before_apply = (ahead[0].carried, commit_ahead) if ahead else (None, None)
            try:
                sent = self._send_batch(prepared, bodies, carried, before_apply, outcomes)
            except (_NotSpeculable, _StaleBook):
                self.stream_replans += 1
                commit_ahead_first()
                sent = self._send_batch(prepared, bodies, None, None, outcomes)
            except DBAPIError:
                # One of this batch's statements failed while it was being sent (a pipeline answers
                # early when it can): as `submit_many` would, it is sent again, alone, which retries
                # what is transient and answers a repeated id `exists`.
                self.stream_replans += 1
                commit_ahead_first()
                outcomes.append(self.submit_many(actor, batch_id, commands))
                return
        except _AheadFailed as failed:
            # The batch ahead, sent again alone, raised: the stream stops there, as one by one.
            raise failed.error from None
        if sent is not None:
            ahead.append(sent)

    def _send_batch(
        self,
        prepared: PreparedCommand,
        bodies: list[dict[str, Any]],
        carried: _Carried | None,
        commit_ahead: Callable[[], None] | None,
        outcomes: list[Outcome],
    ) -> _InFlight | None:
        """`submit_many`'s transaction up to its commit, which is left to the stream (`_InFlight`)."""
        actor = prepared.actor
        held = HeldTransaction(self.engine)
        connection = held.connection
        tx: _Tx | None = None
        try:
            at = timestamp(self.clock)
            previous = find_previous(connection, prepared)
            if previous is None:
                day = trading_day(at).isoformat()
                carry_out = _Carried(day)
                tx = _Tx(connection, actor, at, day, carried=carried, carry_out=carry_out)
                tx.before_apply = commit_ahead
                # `_Batch.commit` commits the batch ahead (`tx.before_apply`) before its first lock.
                data = self._work_in(
                    tx, bodies, lambda tx: self._batch_result(tx, prepared.command_id, bodies)
                )
                record_command(connection, prepared, data, at)
                return _InFlight(held, prepared, bodies, data, carry_out, set(tx.books))
        except Refused as refused:
            self._abandon(held, tx)
            if commit_ahead is not None:
                commit_ahead()
            record_refusal(
                self.engine,
                self.clock,
                actor,
                prepared.kind,
                prepared.command_id,
                {"commands": bodies},
                refused,
            )
            outcomes.append(refused.refusal)
            return None
        except BaseException:
            self._abandon(held, tx)
            raise
        # The id ran before: `exists`, after the batches ahead.
        self._abandon(held, tx)
        if commit_ahead is not None:
            commit_ahead()
        outcomes.append(previous)
        return None

    def _batch_result(self, tx: _Tx, batch_id: str, bodies: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """A group commit's work and its result: what happened to each command, and the totals."""
        results = self._plan_and_commit(tx, bodies, single=False)
        accepted = sum(1 for r in results if r.get("ok"))
        return {
            "batch": batch_id,
            "commands": len(results),
            "accepted": accepted,
            "refused": len(results) - accepted,
            "trades": tx.settled,
            "results": results,
        }

    def _abandon(self, held: HeldTransaction, tx: _Tx | None) -> None:
        """Roll a streamed batch back; the books it touched are rebuilt from the journal."""
        held.abandon()
        if tx is not None:
            self._forget(tx.books)

    def _commit_ahead(self, actor: Actor, ahead: _InFlight) -> tuple[Outcome, bool]:
        """Wait for the batch's pipeline and commit it; its outcome, and whether it had to be sent
        again: if committing fails, its books are rebuilt and it is sent on its own, as
        `submit_many` (whose outcome, or error, is then the batch's)."""
        try:
            ahead.held.commit()
        except Exception:
            self._forget(ahead.touched)
            return self.submit_many(actor, ahead.prepared.command_id, ahead.commands), True
        return Done("created", ahead.data), False

    def _single(self, actor: Actor, kind: str, command_id: str, body: dict[str, Any]) -> Outcome:
        return self._run(
            actor,
            kind,
            command_id,
            body,
            lambda tx: self._plan_and_commit(tx, [body], single=True)[0],
            [body],
        )

    def _plan_and_commit(
        self, tx: _Tx, bodies: Sequence[dict[str, Any]], *, single: bool
    ) -> list[dict[str, Any]]:
        """Plan every command of the batch in order, then apply the plan (`_Batch`)."""
        batch = _Batch(self, tx, bodies)
        results = []
        for body in bodies:
            tx.applied = False
            try:
                results.append(batch.plan(body))
            except Refused as refused:
                if single or tx.applied:
                    raise
                results.append({"order_id": body.get("order_id"), "ok": False, **_refusal_json(refused)})
        tx.settled += batch.commit()
        return results

    def _run(
        self,
        actor: Actor,
        kind: str,
        command_id: str,
        body: dict[str, Any],
        work: Callable[[_Tx], dict[str, Any]],
        bodies: Sequence[dict[str, Any]],
    ) -> Outcome:
        """One audited, idempotent transaction; a failure throws the touched books away (rebuilt later).

        A pipelined command's statements can still fail after `transaction` returned, when
        `run_command` ends the pipeline: so the books an attempt touched are thrown away when a
        further attempt starts or the command fails, not only when `transaction` raises.
        """
        touched: set[str] = set()

        def transaction(connection: Connection, at: str) -> dict[str, Any]:
            self._forget(touched)
            tx = _Tx(connection, actor, at, trading_day(at).isoformat())
            try:
                return self._work_in(tx, bodies, work)
            except BaseException:
                self._forget(tx.books)
                raise
            finally:
                touched.update(tx.books)

        with self._lock, _collector_deferred():
            try:
                return run_command(self.engine, self.clock, actor, kind, command_id, body, transaction)
            except BaseException:
                self._forget(touched)
                raise

    def _work_in(
        self, tx: _Tx, bodies: Sequence[dict[str, Any]], work: Callable[[_Tx], dict[str, Any]]
    ) -> dict[str, Any]:
        """A transaction's exchange work: the session checked, the books of its commands opened,
        `work` done, and whatever journal and order rows it left unwritten written."""
        self._check_session(tx.at)
        for instrument in sorted(self._instruments_of(tx.connection, bodies)):
            self._open_book(tx, instrument)
        data = work(tx)
        self._flush_journal(tx)
        self._flush_orders(tx)
        return data

    def _forget(self, instruments: Iterable[str]) -> None:
        """Throw the books away; the next command rebuilds them from the journal."""
        for instrument in instruments:
            self._books.pop(instrument, None)

    # --- books and the journal ----------------------------------------------------------------------

    def _open_book(self, tx: _Tx, instrument: str) -> None:
        """Lock the instrument's stream, catch its book up with the journal, open today if needed.

        A streamed batch planned before the batch ahead of it committed (`tx.before_apply`) takes
        no lock yet (that batch holds it): it plans on the book as that batch left it, and checks
        the journal's head when it locks, once that batch committed (`_Batch.commit`).
        """
        stream = journal.listed_stream(instrument)
        if tx.before_apply is not None:
            state = self._books.get(instrument)
            if state is None or state.book is None or state.day != tx.day or state.resting is None:
                raise _NotSpeculable(instrument)
            tx.heads[stream] = state.seq
            tx.books[instrument] = state
            return
        head = journal.lock(tx.connection, stream)
        tx.heads[stream] = head
        state = self._books.get(instrument)
        if state is None or state.seq > head:
            state = BookState(None)
        if state.seq < head:
            for entry in journal.read(tx.connection, stream, state.seq, head):
                self._replay_entry(state, instrument, entry.command)
                state.seq = entry.seq
            state.resting = None
        self._books[instrument] = state
        tx.books[instrument] = state
        if state.day != tx.day:
            self._open_day(tx, instrument, state)

    def _open_day(self, tx: _Tx, instrument: str, state: BookState) -> None:
        """Expire yesterday's day orders and centre the band on the previous close (DOMAIN.md §5 [reg])."""
        price = self.reference_price(tx.connection, instrument, date.fromisoformat(tx.day))
        entry = {"type": OPEN_DAY, "instrument": instrument, "day": tx.day, "price_fen": price, "at": tx.at}
        stream = journal.listed_stream(instrument)
        journal.append_many(tx.connection, stream, tx.heads[stream], [(entry, tx.at)])
        tx.heads[stream] += 1
        expired = self._replay_entry(state, instrument, entry)
        state.seq = tx.heads[stream]
        rows = store.orders_by_id(tx.connection, [event.order_id for event in expired])
        holds = []
        for event in expired:
            if event.order_id not in rows:
                continue
            tx.loaded.setdefault(event.order_id, rows[event.order_id])
            order = self._order(tx, event.order_id)
            assert order is not None
            self._update(tx, event.order_id, remaining=0, status="cancelled", reason=CANCEL_EXPIRED)
            if order["hold_id"]:
                holds.append(order["hold_id"])
        postings.release_many(tx.connection, holds, tx.at)
        # Every order rested for one day only: the book is empty now.
        state.resting = {}

    def _replay_entry(self, state: BookState, instrument: str, entry: dict[str, Any]) -> list[OrderCancelled]:
        """Apply one journal entry to a book in memory; an `open_day` returns the orders it expired."""
        if entry.get("type") == OPEN_DAY:
            expired: list[OrderCancelled] = []
            if state.book is None:
                state.book = Book(instrument, self.rules.listed_rules(), int(entry["price_fen"]))
            else:
                expired = [e for e in state.book.expire_all(CANCEL_EXPIRED) if isinstance(e, OrderCancelled)]
                state.book.set_reference_price(int(entry["price_fen"]))
            state.day = str(entry["day"])
            return expired
        assert state.book is not None, "a stream starts with an open_day entry"
        state.book.apply(command_from_json(entry))
        return []

    def _flush_journal(self, tx: _Tx) -> None:
        """Write the batch's journal rows (one insert per stream), before anything is applied."""
        for stream, entries in sorted(tx.pending_journal.items()):
            journal.append_texts(tx.connection, stream, tx.heads[stream], entries)
            tx.heads[stream] += len(entries)
        tx.pending_journal.clear()

    def _flush_orders(self, tx: _Tx) -> None:
        """Write the batch's new and changed order rows (one statement each)."""
        store.insert_orders(tx.connection, list(tx.new_orders.values()))
        store.update_orders(tx.connection, {k: v for k, v in tx.changed.items() if k not in tx.new_orders})

    def _load_resting(self, tx: _Tx, instrument: str, state: BookState) -> None:
        """The book's open orders and what their holds still reserve, unless this process knows them."""
        if state.resting is not None:
            return
        rows = [dict(row._mapping) for row in store.open_orders(tx.connection, instrument)]
        holds = postings.hold_states(tx.connection, [r["hold_id"] for r in rows if r["hold_id"]])
        state.resting = {
            r["order_id"]: (r, holds[r["hold_id"]]["remaining"] if r["hold_id"] in holds else 0) for r in rows
        }

    def rebuild(self, instrument: str) -> Book | None:
        """A fresh book of the instrument built from its journal alone (replay determinism)."""
        stream = journal.listed_stream(instrument)

        def read(connection: Connection) -> Book | None:
            state = BookState(None)
            for entry in journal.read(connection, stream):
                self._replay_entry(state, instrument, entry.command)
            return state.book

        return run_read(self.engine, read)  # type: ignore[no-any-return]

    def live_book(self, instrument: str) -> Book | None:
        """This process's book of the instrument, caught up with the journal (None if it never opened)."""
        canonical = parse_instrument(instrument).text
        stream = journal.listed_stream(canonical)

        def read(connection: Connection) -> Book | None:
            state = self._books.get(canonical) or BookState(None)
            entries = journal.read(connection, stream, state.seq)
            for entry in entries:
                self._replay_entry(state, canonical, entry.command)
                state.seq = entry.seq
            if entries:
                state.resting = None
            if state.book is not None:
                self._books[canonical] = state
            return state.book

        with self._lock:
            return run_read(self.engine, read)  # type: ignore[no-any-return]

    # --- checks -------------------------------------------------------------------------------------

    def _check_session(self, at: str) -> None:
        """Orders only while a listed session is open (SEEE trading rules [reg], core/calendar.py)."""
        moment = datetime.fromisoformat(at)
        try:
            open_ = self.calendar.session_open(moment, self.rules.listed.session)
        except CalendarNotCovered as error:
            raise Refused(Code.EXCHANGE_SESSION_CLOSED, str(error)) from None
        if not open_:
            raise Refused(
                Code.EXCHANGE_SESSION_CLOSED,
                f"the listed agreement session is closed at {at} (open 9:30-11:30 and 13:00-15:00 "
                "China Standard Time on trading days)",
            )

    def _instruments_of(self, connection: Connection, bodies: Sequence[dict[str, Any]]) -> set[str]:
        """The listed instruments new orders of the batch name, each checked to be listed."""
        found: set[str] = set()
        for body in bodies:
            if body.get("type") != "new" or not isinstance(body.get("instrument"), str):
                continue
            try:
                instrument = _parsed_instrument(body["instrument"]).text
            except Refused:
                continue
            if instrument not in found:
                try:
                    self._check_listed(connection, instrument)
                except Refused:
                    if len(bodies) == 1:
                        raise
                    continue
                found.add(instrument)
        return found

    def _check_listed(self, connection: Connection, instrument: str) -> None:
        """What trades on the exchange: listed allowance vintages and defined CCERs (DOMAIN.md §5 [seed])."""
        parsed = parse_instrument(instrument)
        listed = (
            parsed.kind is InstrumentKind.ALLOWANCE and parsed.text in self.rules.listed_allowances
        ) or (parsed.kind is InstrumentKind.CCER and self.rules.ccer_listed)
        if listed and parsed.text in self._defined:
            return
        row = None if not listed else registry_store.get_instrument(connection, parsed.text)
        if row is None:
            raise Refused(Code.EXCHANGE_INSTRUMENT_NOT_LISTED, f"{instrument} is not listed on the exchange")
        self._defined[parsed.text] = InstrumentKind(row.kind)

    def _check_account(self, tx: _Tx, account: str) -> None:
        """The order's account is an open trading account the actor may order for."""
        if account in tx.accounts_checked:
            return
        found = postings.accounts(tx.connection, [account]).get(account)
        if found is None:
            raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account!r} does not exist")
        check_transferring(found, account)
        if found.type is not AccountType.TRADING:
            raise Refused(
                Code.EXCHANGE_NOT_TRADING_ACCOUNT,
                f"{account!r} is a {found.type.value} account; orders go through a trading (-T) account",
            )
        self._require_may_order(tx, account)
        tx.accounts_checked.add(account)

    def _require_may_order(self, tx: _Tx, account: str) -> None:
        actor = tx.actor
        if actor.superuser or actor.role in OPERATOR_ROLES:
            return
        if actor.role is Role.EXCHANGE_MEMBER and actor.has_right(account, Permission.INITIATE):
            return
        raise Refused(
            Code.FORBIDDEN,
            f"ordering for {account!r} needs an exchange member with the initiate right on it; "
            f"{actor.username!r} is {actor.role.value}",
        )

    def _check_units(self, tx: _Tx, account: str, instrument: str, quantity: int) -> None:
        """A sell needs tradable units: available, and not bought today (DOMAIN.md §5 [reg], T+1 [sec])."""
        if quantity <= 0:
            return
        available = postings.balances(tx.connection, [(account, instrument)])[(account, instrument)].available
        if quantity > available:
            raise Refused(
                Code.INSUFFICIENT_BALANCE,
                f"{account} has {available} t of {instrument} available to sell; "
                f"the order needs {quantity} t",
                available=available,
            )
        if self.rules.bought_today_resellable:
            return
        bought = store.bought_on(tx.connection, [(account, instrument)], tx.day)[(account, instrument)]
        tradable = max(available - bought, 0)
        if quantity > tradable:
            raise Refused(
                Code.EXCHANGE_UNITS_BOUGHT_TODAY,
                f"{account} bought {bought} t of {instrument} today; allowances bought today cannot be "
                f"resold today (T+1), so {tradable} t are tradable and the order needs {quantity} t",
                tradable=tradable,
            )

    def _check_funds(self, tx: _Tx, account: str, fen: int) -> None:
        """A buy needs available funds for price × quantity plus its fee (DOMAIN.md §5 [reg])."""
        if fen <= 0:
            return
        available = postings.balances(tx.connection, [(account, FUNDS_ID)])[(account, FUNDS_ID)].available
        if fen > available:
            raise Refused(
                Code.EXCHANGE_INSUFFICIENT_FUNDS,
                f"{account} has CNY {_yuan(available)} available; the order needs CNY {_yuan(fen)} "
                "(price × quantity plus the buyer's fee)",
                available_fen=available,
                needed_fen=fen,
            )

    def _hold(self, tx: _Tx, hold_id: str, account: str, instrument: str, quantity: int) -> None:
        """Reserve an order's units or funds; members reserve on their own account's right."""
        actor = tx.actor
        operator = actor.superuser or actor.role in OPERATOR_ROLES
        postings.hold(
            tx.connection,
            SETTLEMENT_ACTOR if operator else actor,
            hold_id,
            HoldKind.ORDER,
            account,
            instrument,
            quantity,
            tx.at,
            reason="exchange order",
            authority=Authority.SETTLEMENT if operator else Authority.HOLDER,
        )

    # --- order rows ---------------------------------------------------------------------------------

    def _order(self, tx: _Tx, order_id: str) -> dict[str, Any] | None:
        """The order as this transaction sees it (its buffered changes applied)."""
        if order_id in tx.new_orders:
            return tx.new_orders[order_id]
        if order_id not in tx.loaded:
            row = store.get_order(tx.connection, order_id)
            tx.loaded[order_id] = row
        found = tx.loaded[order_id]
        return None if found is None else dict(found)

    def _update(self, tx: _Tx, order_id: str, **values: Any) -> None:
        """Buffer a change of an order row; written once when the transaction ends."""
        values["updated_at"] = tx.at
        if order_id in tx.new_orders:
            tx.new_orders[order_id].update(values)
            return
        current = self._order(tx, order_id)
        assert current is not None, f"order {order_id} is not recorded"
        current.update(values)
        tx.loaded[order_id] = current
        tx.changed[order_id] = {name: current[name] for name in store.ORDER_CHANGE_COLUMNS}

    # --- funds --------------------------------------------------------------------------------------

    def deposit(self, actor: Actor, command_id: str, account: str, fen: object) -> Outcome:
        """Funds arrive from the member's settlement bank into its trading account (exchange operators)."""
        body = {"account": account, "fen": fen}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            self._require_trading_account(connection, account)
            return postings.deposit_funds(connection, actor, ledger_id("dep", command_id), account, fen, at)  # type: ignore[arg-type]

        return run_command(self.engine, self.clock, actor, "exchange.deposit", command_id, body, work)

    def withdraw(self, actor: Actor, command_id: str, account: str, fen: object) -> Outcome:
        """Funds leave for the member's bank: only what is available, never what orders reserve."""
        body = {"account": account, "fen": fen}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            self._require_trading_account(connection, account)
            return postings.withdraw_funds(connection, actor, ledger_id("wd", command_id), account, fen, at)  # type: ignore[arg-type]

        return run_command(self.engine, self.clock, actor, "exchange.withdraw", command_id, body, work)

    def _require_trading_account(self, connection: Connection, account: str) -> None:
        found = postings.accounts(connection, [account]).get(account)
        if found is None:
            raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account!r} does not exist")
        if found.type is not AccountType.TRADING:
            raise Refused(
                Code.EXCHANGE_NOT_TRADING_ACCOUNT,
                f"{account!r} is a {found.type.value} account, not a trading account",
            )

    # --- bulk agreements ------------------------------------------------------------------------------

    def bulk_post(
        self,
        actor: Actor,
        intent_id: str,
        account: str,
        instrument: str,
        side: str,
        price_fen: object,
        quantity: object,
        counterparty: str | None = None,
    ) -> Outcome:
        """Post a bulk agreement intent (DOMAIN.md §5 [reg]); naming a counterparty makes a direct trade."""
        body = {
            "account": account,
            "instrument": instrument,
            "side": side,
            "price_fen": price_fen,
            "quantity": quantity,
            "counterparty": counterparty,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(intent_id, what="intent id")
            self._check_bulk_session(at)
            tx = _Tx(connection, actor, at, trading_day(at).isoformat())
            canonical = parse_instrument(instrument).text
            self._check_listed(connection, canonical)
            self._check_account(tx, account)
            if counterparty is not None:
                if counterparty == account:
                    raise Refused(Code.ORDER_SELF_TRADE, "a direct trade needs two different accounts")
                self._require_trading_account(connection, counterparty)
            price = _whole(price_fen, "price_fen", self.rules.price_fen_max)
            amount = _whole(quantity, "quantity", self.rules.bulk.quantity_max_t)
            bulk_model.check_terms(self._bulk_rules(), price, amount, self._reference(tx, canonical))
            if store.get_intent(connection, intent_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"intent {intent_id!r} already exists")
            row = {
                "intent_id": intent_id,
                "account": account,
                "instrument": canonical,
                "side": _side(side).value,
                "quantity": amount,
                "remaining": amount,
                "price_fen": price,
                "counterparty": counterparty,
                "status": bulk_model.IntentStatus.OPEN.value,
                "posted_by": actor.username,
                "posted_at": at,
                "updated_at": at,
            }
            store.insert_intent(connection, **row)
            if counterparty is not None:
                # A direct trade opens its negotiation with the intent's own terms as the first offer.
                self._insert_offer(tx, f"{intent_id}.0", intent_id, counterparty, account, price, amount)
            return {"intent": row}

        return run_command(self.engine, self.clock, actor, "exchange.bulk_post", intent_id, body, work)

    def bulk_offer(
        self,
        actor: Actor,
        offer_id: str,
        intent_id: str,
        account: str,
        price_fen: object,
        quantity: object,
        counterparty: str | None = None,
    ) -> Outcome:
        """Answer or counter an intent with new terms; the negotiation's earlier offer lapses."""
        body = {
            "intent_id": intent_id,
            "account": account,
            "price_fen": price_fen,
            "quantity": quantity,
            "counterparty": counterparty,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(offer_id, what="offer id")
            self._check_bulk_session(at)
            tx = _Tx(connection, actor, at, trading_day(at).isoformat())
            intent = self._intent(connection, intent_id)
            self._check_account(tx, account)
            other = bulk_model.negotiation_counterparty(intent, account, counterparty)
            if account == intent.account and not store.open_offers(connection, intent_id, other):
                raise Refused(
                    Code.EXCHANGE_BULK_OFFER_NOT_FOUND,
                    f"{other} has made no offer on intent {intent_id} to counter",
                )
            price = _whole(price_fen, "price_fen", self.rules.price_fen_max)
            amount = _whole(quantity, "quantity", self.rules.bulk.quantity_max_t)
            bulk_model.check_offer(
                intent,
                self._bulk_rules(),
                price,
                amount,
                self._reference(tx, intent.instrument),
                store.offer_count(connection, intent_id),
            )
            if store.get_offer(connection, offer_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"offer id {offer_id!r} is already in use")
            self._lapse(
                tx, store.open_offers(connection, intent_id, other), bulk_model.OfferStatus.SUPERSEDED
            )
            self._insert_offer(tx, offer_id, intent_id, other, account, price, amount)
            buyer, seller = bulk_model.parties(intent, other)
            return {
                "offer": offer_id,
                "intent": intent_id,
                "buyer": buyer,
                "seller": seller,
                "price_fen": price,
                "quantity": amount,
            }

        return run_command(self.engine, self.clock, actor, "exchange.bulk_offer", offer_id, body, work)

    def bulk_confirm(self, actor: Actor, command_id: str, offer_id: str, account: str) -> Outcome:
        """Confirm an offer for one side, reserving that side; the second confirmation settles (DvP)."""
        body = {"offer_id": offer_id, "account": account}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            self._check_bulk_session(at)
            tx = _Tx(connection, actor, at, trading_day(at).isoformat())
            row = store.get_offer(connection, offer_id)
            if row is None:
                raise Refused(Code.EXCHANGE_BULK_OFFER_NOT_FOUND, f"offer {offer_id!r} does not exist")
            offer = _offer(row)
            intent = self._intent(connection, offer.intent_id)
            self._require_may_order(tx, account)
            side = bulk_model.confirming_side(intent, offer, account)
            hold_id = ledger_id(f"b{side.value[0]}", offer_id)
            if side is Side.SELL:
                self._check_units(tx, account, intent.instrument, offer.quantity)
                self._hold(tx, hold_id, account, intent.instrument, offer.quantity)
                offer = _replace_offer(offer, seller_hold=hold_id)
            else:
                need = self.rules.buy_reservation(Modality.BULK, offer.price_fen, offer.quantity)
                self._check_funds(tx, account, need)
                self._hold(tx, hold_id, account, FUNDS_ID, need)
                offer = _replace_offer(offer, buyer_hold=hold_id)
            store.update_offer(
                connection,
                offer_id,
                buyer_hold=offer.buyer_hold,
                seller_hold=offer.seller_hold,
                updated_at=at,
            )
            if offer.buyer_hold is None or offer.seller_hold is None:
                return {"offer": offer_id, "confirmed_by": account, "side": side.value, "settled": False}
            return self._settle_bulk(tx, intent, offer)

        return run_command(self.engine, self.clock, actor, "exchange.bulk_confirm", command_id, body, work)

    def bulk_withdraw(self, actor: Actor, command_id: str, intent_id: str) -> Outcome:
        """The poster withdraws an intent: open offers lapse and their reservations are released."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            tx = _Tx(connection, actor, at, trading_day(at).isoformat())
            intent = self._intent(connection, intent_id)
            self._require_may_order(tx, intent.account)
            bulk_model.check_open(intent)
            self._lapse(tx, store.open_offers(connection, intent_id), bulk_model.OfferStatus.WITHDRAWN)
            store.update_intent(
                connection, intent_id, status=bulk_model.IntentStatus.WITHDRAWN.value, updated_at=at
            )
            return {"intent": intent_id, "status": bulk_model.IntentStatus.WITHDRAWN.value}

        return run_command(
            self.engine,
            self.clock,
            actor,
            "exchange.bulk_withdraw",
            command_id,
            {"intent_id": intent_id},
            work,
        )

    def bulk_intents(self, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        """Posted intents (public, as the exchange's bulk board), newest first."""
        return run_read(self.engine, lambda c: store.intents(c, status=status, limit=_limit(limit)))  # type: ignore[no-any-return]

    def bulk_intent(self, intent_id: str) -> dict[str, Any]:
        """An intent with every offer made on it."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.get_intent(connection, intent_id)
            if row is None:
                raise Refused(Code.EXCHANGE_BULK_INTENT_NOT_FOUND, f"intent {intent_id!r} does not exist")
            return {"intent": dict(row._mapping), "offers": store.offers(connection, intent_id)}

        return run_read(self.engine, read)  # type: ignore[no-any-return]

    def _settle_bulk(self, tx: _Tx, intent: bulk_model.Intent, offer: bulk_model.Offer) -> dict[str, Any]:
        """Both confirmed: one settlement, delivery versus payment, spending both reservations."""
        buyer, seller = bulk_model.parties(intent, offer.counterparty)
        trade_id = (
            f"BULK-{offer.offer_id}" if len(offer.offer_id) <= 59 else derived_id("BULK", offer.offer_id)
        )
        spec = SettlementSpec(
            trade_id=trade_id,
            modality=Modality.BULK.value,
            instrument=intent.instrument,
            quantity=offer.quantity,
            price_fen=offer.price_fen,
            buyer_account=buyer,
            seller_account=seller,
            buyer_hold=offer.buyer_hold,
            seller_hold=offer.seller_hold,
        )
        settled = settle_many(
            tx.connection, SETTLEMENT_ACTOR, [spec], tx.at, batch_id=settlement_batch_id(trade_id)
        )
        for hold_id in (offer.buyer_hold, offer.seller_hold):
            if hold_id is not None:
                postings.release(tx.connection, hold_id, tx.at)
        store.update_offer(
            tx.connection,
            offer.offer_id,
            status=bulk_model.OfferStatus.SETTLED.value,
            trade_id=trade_id,
            updated_at=tx.at,
        )
        left, status = bulk_model.remaining_after(intent, offer.quantity)
        store.update_intent(
            tx.connection, intent.intent_id, remaining=left, status=status.value, updated_at=tx.at
        )
        if status is bulk_model.IntentStatus.DONE:
            self._lapse(
                tx, store.open_offers(tx.connection, intent.intent_id), bulk_model.OfferStatus.WITHDRAWN
            )
        return {"offer": offer.offer_id, "settled": True, "trade": settled[0], "intent_remaining": left}

    def _insert_offer(
        self,
        tx: _Tx,
        offer_id: str,
        intent_id: str,
        counterparty: str,
        by_account: str,
        price: int,
        quantity: int,
    ) -> None:
        store.insert_offer(
            tx.connection,
            offer_id=offer_id,
            intent_id=intent_id,
            counterparty=counterparty,
            made_by_account=by_account,
            price_fen=price,
            quantity=quantity,
            status=bulk_model.OfferStatus.OPEN.value,
            made_by=tx.actor.username,
            made_at=tx.at,
            updated_at=tx.at,
        )

    def _lapse(self, tx: _Tx, rows: Iterable[Any], status: bulk_model.OfferStatus) -> None:
        """Offers replaced or withdrawn: their confirmations lapse and reservations return."""
        for row in rows:
            for hold_id in (row.buyer_hold, row.seller_hold):
                if hold_id is not None:
                    postings.release(tx.connection, hold_id, tx.at)
            store.update_offer(tx.connection, row.offer_id, status=status.value, updated_at=tx.at)

    def _intent(self, connection: Connection, intent_id: str) -> bulk_model.Intent:
        row = store.get_intent(connection, intent_id, lock=True)
        if row is None:
            raise Refused(Code.EXCHANGE_BULK_INTENT_NOT_FOUND, f"intent {intent_id!r} does not exist")
        return bulk_model.Intent(
            intent_id=row.intent_id,
            account=row.account,
            instrument=row.instrument,
            side=Side(row.side),
            quantity=int(row.quantity),
            remaining=int(row.remaining),
            price_fen=int(row.price_fen),
            counterparty=row.counterparty,
            status=bulk_model.IntentStatus(row.status),
        )

    def _bulk_rules(self) -> bulk_model.BulkRules:
        bulk = self.rules.bulk
        return bulk_model.BulkRules(
            bulk.quantity_min_t,
            bulk.quantity_max_t,
            bulk.tick_fen,
            bulk.price_band_bp,
            self.rules.offers_per_intent_max,
        )

    def _reference(self, tx: _Tx, instrument: str) -> int:
        return self.reference_price(tx.connection, instrument, date.fromisoformat(tx.day))

    def _check_bulk_session(self, at: str) -> None:
        """Bulk agreements are posted, negotiated and confirmed 13:00-15:00 on trading days [reg]."""
        moment = datetime.fromisoformat(at)
        try:
            open_ = self.calendar.session_open(moment, self.rules.bulk.session)
        except CalendarNotCovered as error:
            raise Refused(Code.EXCHANGE_SESSION_CLOSED, str(error)) from None
        if not open_:
            raise Refused(
                Code.EXCHANGE_SESSION_CLOSED,
                f"the bulk agreement session is closed at {at} "
                "(open 13:00-15:00 China Standard Time on trading days)",
            )

    # --- reads --------------------------------------------------------------------------------------

    def book(self, instrument: str, levels: int = 5) -> dict[str, Any]:
        """The best `levels` price levels of each side (public, as on the exchange's screens)."""
        canonical = parse_instrument(instrument).text
        if type(levels) is not int or not 1 <= levels <= 50:
            raise Refused(Code.INVALID_REQUEST, "levels must be 1-50")
        found = self.live_book(canonical)
        if found is None:
            return {"instrument": canonical, "open": False, "bids": [], "asks": [], "band_fen": None}
        return {
            "instrument": canonical,
            "open": True,
            "reference_price_fen": found.reference_price_fen,
            "band_fen": list(found.band),
            "bids": [_level(level) for level in found.depth(Side.BUY, levels)],
            "asks": [_level(level) for level in found.depth(Side.SELL, levels)],
        }

    def pickable(self, instrument: str, side: str) -> list[dict[str, Any]]:
        """Resting orders of the other side's best 5 levels a PICK taker on `side` may name (SEEE mode)."""
        taker = _side(side)
        found = self.live_book(parse_instrument(instrument).text)
        if found is None:
            return []
        other = Side.SELL if taker is Side.BUY else Side.BUY
        prices = {level.price_fen for level in found.depth(other, 5)}
        return [
            {"order_id": o.order_id, "price_fen": o.price_fen, "remaining": o.remaining, "seq": o.seq}
            for o in found.resting_orders()
            if o.side is other and o.price_fen in prices
        ]

    def orders(
        self, actor: Actor, account: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Orders of the accounts the actor may see (a member: its own), newest first."""
        accounts = self._visible_accounts(actor, account)
        return run_read(  # type: ignore[no-any-return]
            self.engine, lambda c: store.orders(c, accounts=accounts, status=status, limit=_limit(limit))
        )

    def trades(
        self, actor: Actor | None, account: str | None = None, instrument: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Trades, newest first: a member sees its own fills; with no account, the public tape."""
        public = actor is None and account is None
        accounts = None if public else self._visible_accounts(actor, account)
        canonical = None if instrument is None else parse_instrument(instrument).text
        rows = run_read(self.engine, lambda c: store.recent_trades(c, accounts, canonical, _limit(limit)))
        if public:
            # The public tape shows prices and sizes, not who traded.
            return [
                {k: v for k, v in row.items() if not k.endswith(("account", "order_id", "fee_fen"))}
                for row in rows
            ]
        return rows  # type: ignore[no-any-return]

    def funds(self, actor: Actor, account: str) -> dict[str, Any]:
        """A trading account's funds and units: total, reserved by orders, available; and tradable today."""
        if not actor.may_view(account) and not actor.superuser and actor.role not in OPERATOR_ROLES:
            raise Refused(Code.FORBIDDEN, f"{actor.username!r} may not see account {account!r}")

        def read(connection: Connection) -> dict[str, Any]:
            self._require_trading_account(connection, account)
            from carbonmarket.ledger import store as ledger_store

            rows = ledger_store.account_balances(connection, account)
            day = trading_day(self._now()).isoformat()
            keys = [(account, r.instrument_id) for r in rows]
            bought = store.bought_on(connection, keys, day)
            holdings = []
            for r in rows:
                available = int(r.total) - int(r.held)
                entry = {
                    "instrument": r.instrument_id,
                    "total": int(r.total),
                    "held": int(r.held),
                    "available": available,
                }
                if r.instrument_id != FUNDS_ID:
                    entry["bought_today"] = bought.get((account, r.instrument_id), 0)
                    entry["tradable"] = (
                        available
                        if self.rules.bought_today_resellable
                        else max(available - entry["bought_today"], 0)
                    )
                holdings.append(entry)
            return {"account": account, "day": day, "balances": holdings}

        return run_read(self.engine, read)  # type: ignore[no-any-return]

    def _visible_accounts(self, actor: Actor | None, account: str | None) -> list[str] | None:
        """The accounts whose orders and fills the actor may see (None: all)."""
        if actor is None:
            raise Refused(Code.NOT_AUTHENTICATED, "sign in to see orders and fills")
        everyone = actor.superuser or actor.role in OPERATOR_ROLES | {Role.REGULATOR}
        if account is not None:
            if not everyone and not actor.may_view(account):
                raise Refused(Code.FORBIDDEN, f"{actor.username!r} may not see account {account!r}")
            return [account]
        if everyone:
            return None
        return sorted({a for a, _ in actor.rights})

    def _now(self) -> str:
        return self.clock.now().isoformat(timespec="microseconds")


# --- group commit: a batch planned in memory, then applied in phases ----------------------------------


@dataclass
class _Reservation:
    """What an order's current reservation still reserves, and whether it is a ledger hold already.

    A reservation made in this batch (`in_ledger` False) becomes a ledger hold only if its order
    still rests when the batch ends; until then its fills spend the units or funds directly.
    """

    hold_id: str | None
    left: int
    in_ledger: bool
    spent: bool = False


@dataclass
class _Fill:
    """A trade of the batch with the ledger holds its legs spend (None: spent from what is available)."""

    event: TradeExecuted
    buyer_hold: str | None
    seller_hold: str | None


class _Batch:
    """Plan a batch of order commands in memory, exactly as if each were applied alone in order, then
    apply it with a constant number of statements (bench/exchange.md, "How the batch is applied").

    Planning runs every check of a command against running balances loaded once (available units and
    funds, units bought today), journals it and lets the engine apply it; a command refused before
    the engine accepted it changes nothing. `commit` then writes the journal rows and hands the
    ledger side to one `postings.apply_group` (`settlement.settle_batch`): it releases the ledger
    holds of pre-existing orders that ended without a fill, settles every fill in three linked
    batches (the finished orders' holds spent and closed in them; fees netted per paying account
    and hold), and reserves what the orders still resting at the end need; then the trade and
    order rows. Every intermediate ledger state is valid because the final one is: releases only
    lower what is held, the settlement batches reach the final totals, and the new holds are the
    last step. On PostgreSQL these writes go in one pipeline (`postings.pipelined`): the server
    applies them while the client builds the next.
    """

    def __init__(self, exchange: Exchange, tx: _Tx, bodies: Sequence[dict[str, Any]]) -> None:
        self.x = exchange
        self.tx = tx
        self.available: dict[tuple[str, str], int] = {}
        self.bought: dict[tuple[str, str], int] = {}
        self.accounts: dict[str, Any] = {}
        self.checked: dict[str, Any] = {}
        self.acquiring: set[tuple[str, Any]] = set()
        self.known: dict[str, dict[str, Any]] = {}
        self.reservations: dict[str, _Reservation] = {}
        self.release_first: list[str] = []
        self.close: set[str] = set()
        self.fills: list[_Fill] = []
        self._prefetch(bodies)

    # --- loading, once per batch ----------------------------------------------------------------------

    def _prefetch(self, bodies: Sequence[dict[str, Any]]) -> None:
        """The rows, accounts, balances and bought-today figures the batch's commands can look at."""
        tx = self.tx
        ids: set[str] = set()
        accounts: set[str] = set()
        keys: set[tuple[str, str]] = set()
        for body in bodies:
            if isinstance(body.get("order_id"), str):
                ids.add(body["order_id"].strip())
            if body.get("type") == "new" and isinstance(body.get("account"), str):
                account = body["account"].strip()
                accounts.add(account)
                keys.add((account, FUNDS_ID))
                if isinstance(body.get("instrument"), str):
                    with contextlib.suppress(Refused):
                        keys.add((account, _parsed_instrument(body["instrument"]).text))
        found = store.orders_by_id(tx.connection, sorted(ids))
        carried = tx.carried
        if carried is not None:
            found.update({i: dict(carried.orders[i]) for i in ids if i in carried.orders})
        for order_id, row in found.items():
            self.known[order_id] = row
            if row["status"] == "open":
                account, instrument = row["account"], row["instrument"]
                accounts.add(account)
                keys |= {(account, FUNDS_ID), (account, instrument)}
                if instrument not in tx.books:
                    self.x._open_book(tx, instrument)
        for instrument, state in tx.books.items():
            self.x._load_resting(tx, instrument, state)
        self.accounts = postings.accounts(tx.connection, sorted(accounts))
        balances = postings.balances(tx.connection, keys)
        self.bought = store.bought_on(tx.connection, sorted(k for k in keys if k[1] != FUNDS_ID), tx.day)
        if carried is not None:
            # What the batch ahead wrote is not visible to this transaction until it commits,
            # which it does only after these reads: its balances as it wrote them, its purchases.
            balances.update({key: carried.balances[key] for key in keys if key in carried.balances})
            if carried.day == tx.day:
                for key in self.bought:
                    self.bought[key] += carried.bought.get(key, 0)
        self.available = {key: balance.available for key, balance in balances.items()}

    def _order(self, order_id: str) -> dict[str, Any] | None:
        """The order as the batch sees it: new in it, resting in a book, or as stored."""
        if order_id in self.tx.new_orders:
            return self.tx.new_orders[order_id]
        if order_id in self.tx.changed or order_id in self.tx.loaded:
            return self.tx.loaded[order_id]  # type: ignore[no-any-return]
        for state in self.tx.books.values():
            if state.resting is not None and order_id in state.resting:
                row = dict(state.resting[order_id][0])
                self.tx.loaded[order_id] = row
                self.reservations[order_id] = _Reservation(
                    row["hold_id"], state.resting[order_id][1], row["hold_id"] is not None
                )
                return row
        found = self.known.get(order_id)
        return None if found is None else dict(found)

    def _update(self, order_id: str, **values: Any) -> None:
        values["updated_at"] = self.tx.at
        row = self._order(order_id)
        assert row is not None, f"order {order_id} is not recorded"
        row.update(values)
        if order_id not in self.tx.new_orders:
            self.tx.changed[order_id] = row

    # --- planning one command -----------------------------------------------------------------------

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check, journal and match one command (module text, steps 1-4); ledger work is deferred."""
        kind = body.get("type")
        if kind == "new":
            return self._new(body)
        if kind in ("cancel", "amend"):
            return self._change(body)
        raise Refused(
            Code.ORDER_INVALID_FIELD, f"unknown command type {kind!r}; expected new, cancel or amend"
        )

    def _new(self, body: dict[str, Any]) -> dict[str, Any]:
        tx, rules = self.tx, self.x.rules
        order_id = check_id(_text(body, "order_id"), what="order id")
        account = _text(body, "account")
        parsed = _parsed_instrument(_text(body, "instrument"))
        instrument = parsed.text
        side = _side(body.get("side"))
        mode = _mode(body.get("mode"))
        price = _whole(body.get("price_fen"), "price_fen", rules.price_fen_max)
        quantity = _whole(body.get("quantity"), "quantity", quantity_max_t)
        pick = body.get("pick_order_id")
        if pick is not None and not isinstance(pick, str):
            raise Refused(Code.ORDER_INVALID_FIELD, "pick_order_id must be an order id")
        found = self._check_account(account)
        if self._order(order_id) is not None:
            raise Refused(Code.ORDER_EXISTS, f"order id {order_id!r} has already been used")
        if instrument not in tx.books:
            self.x._check_listed(tx.connection, instrument)
            raise AssertionError(f"the book of listed {instrument} was opened with the batch")
        if side is Side.BUY:
            if (account, parsed.kind) not in self.acquiring:
                check_acquiring(found, account, parsed.kind, None)
                self.acquiring.add((account, parsed.kind))
            reserve, reserve_in = rules.buy_reservation(Modality.LISTED, price, quantity), FUNDS_ID
            self._check_funds(account, reserve)
        else:
            self._check_units(account, instrument, quantity)
            reserve, reserve_in = quantity, instrument
        command = NewOrder(order_id, account, instrument, side, price, quantity, tx.at, mode, pick)
        events = self._journal_and_apply(instrument, command)
        self.available[(account, reserve_in)] -= reserve
        hold_id = order_hold_id(order_id)
        self.reservations[order_id] = _Reservation(hold_id, reserve, in_ledger=False)
        tx.new_orders[order_id] = {
            "order_id": order_id,
            "account": account,
            "instrument": instrument,
            "side": str(side),  # a StrEnum's text is its value; str() is quicker than .value
            "mode": str(mode),
            "price_fen": price,
            "quantity": quantity,
            "remaining": quantity,
            "filled": 0,
            "status": "open",
            "hold_id": hold_id,
            "placed_by": tx.actor.username,
            "placed_at": tx.at,
            "updated_at": tx.at,
            "reason": None,
        }
        return self._after_events(order_id, events)

    def _change(self, body: dict[str, Any]) -> dict[str, Any]:
        tx, rules = self.tx, self.x.rules
        order_id = _text(body, "order_id")
        order = self._order(order_id)
        if order is None:
            raise Refused(Code.ORDER_NOT_FOUND, f"order {order_id!r} does not exist")
        self.x._require_may_order(tx, order["account"])
        if order["status"] != "open":
            raise Refused(Code.EXCHANGE_ORDER_NOT_OPEN, f"order {order_id!r} is {order['status']}, not open")
        instrument, account = order["instrument"], order["account"]
        if body["type"] == "cancel":
            events = self._journal_and_apply(instrument, CancelOrder(order_id, account, tx.at))
            return self._after_events(order_id, events)
        price, quantity = body.get("price_fen"), body.get("quantity")
        new_price = None if price is None else _whole(price, "price_fen", rules.price_fen_max)
        new_quantity = None if quantity is None else _whole(quantity, "quantity", quantity_max_t)
        state = tx.books[instrument]
        assert state.book is not None
        resting = state.book.order(order_id)
        if resting is None:
            raise Refused(Code.EXCHANGE_ORDER_NOT_OPEN, f"order {order_id!r} is no longer resting")
        total = resting.quantity if new_quantity is None else new_quantity
        remaining = max(total - (resting.quantity - resting.remaining), 0)
        limit = resting.price_fen if new_price is None else new_price
        still_held = self.reservations[order_id].left
        if order["side"] == _SELL_TEXT:
            need, need_in = remaining, instrument
            self._check_units(account, instrument, need - still_held)
        else:
            need, need_in = rules.buy_reservation(Modality.LISTED, limit, remaining), FUNDS_ID
            self._check_funds(account, need - still_held)
        command = AmendOrder(order_id, account, tx.at, new_price, new_quantity)
        events = self._journal_and_apply(instrument, command)
        self._end_reservation(order_id, account, need_in)
        # The amendment's own journal position names the new hold, so it is unique and replayable.
        hold_id = order_hold_id(order_id, state.seq) if need > 0 else None
        self.available[(account, need_in)] -= need
        self.reservations[order_id] = _Reservation(hold_id, need, in_ledger=False)
        self._update(order_id, hold_id=hold_id)
        return self._after_events(order_id, events)

    def _journal_and_apply(self, instrument: str, command: Command) -> list[Event]:
        """Journal the command (its row is written before anything is applied), then match it."""
        state = self.tx.books[instrument]
        assert state.book is not None
        events = state.book.apply(command)
        rejected = next((e for e in events if isinstance(e, OrderRejected)), None)
        if rejected is not None:
            # The engine left the book as it was; a refused command is not journalled.
            raise Refused(Code(rejected.code), rejected.message, order_id=rejected.order_id)
        self.tx.applied = True
        stream = journal.listed_stream(instrument)
        self.tx.pending_journal.setdefault(stream, []).append((command_text(command), self.tx.at))
        state.seq += 1
        return events

    def _after_events(self, order_id: str, events: list[Event]) -> dict[str, Any]:
        """Follow the engine's events: fills spend reservations, finished orders free the rest."""
        trades: list[TradeExecuted] = []
        for event in events:
            if isinstance(event, TradeExecuted):
                trades.append(event)
                self._fill(event)
            elif isinstance(event, OrderCancelled):
                order = self._order(event.order_id)
                assert order is not None
                self._update(event.order_id, remaining=0, status="cancelled", reason=event.reason)
                self._finish(event.order_id, order)
            elif isinstance(event, OrderAmended):
                self._update(
                    event.order_id,
                    price_fen=event.price_fen,
                    quantity=event.quantity,
                    remaining=event.remaining,
                    filled=event.quantity - event.remaining,
                )
        order = self._order(order_id)
        assert order is not None
        return {
            "ok": True,
            "order_id": order_id,
            "status": order["status"],
            "remaining": order["remaining"],
            "filled": order["filled"],
            "trades": [
                {
                    "trade_id": t.trade_id,
                    "price_fen": t.price_fen,
                    "quantity": t.quantity,
                    "buyer": t.buy_account,
                    "seller": t.sell_account,
                }
                for t in trades
            ],
        }

    def _fill(self, event: TradeExecuted) -> None:
        """A fill spends both reservations; the buyer's units and the seller's net proceeds are available."""
        rules = self.x.rules
        value = event.price_fen * event.quantity
        buyer_fee = rules.fee(Modality.LISTED, value, event.quantity)
        seller_fee = rules.fee(Modality.LISTED, value, event.quantity)
        holds: dict[str, str | None] = {}
        for order_id, cost in (
            (event.buy_order_id, value + buyer_fee),
            (event.sell_order_id, event.quantity),
        ):
            order = self._order(order_id)
            assert order is not None, "the engine matched orders we recorded"
            reservation = self.reservations[order_id]
            assert reservation.left >= cost, f"order {order_id} reserved too little for its fill"
            reservation.left -= cost
            reservation.spent = reservation.spent or reservation.in_ledger
            holds[order_id] = reservation.hold_id if reservation.in_ledger else None
            remaining = order["remaining"] - event.quantity
            self._update(
                order_id,
                remaining=remaining,
                filled=order["filled"] + event.quantity,
                status="open" if remaining else "filled",
            )
            if not remaining:
                self._finish(order_id, order)
        self.fills.append(_Fill(event, holds[event.buy_order_id], holds[event.sell_order_id]))
        self._credit((event.buy_account, event.instrument), event.quantity)
        buyer_key = (event.buy_account, event.instrument)
        if buyer_key in self.bought:
            self.bought[buyer_key] += event.quantity
        self._credit((event.sell_account, FUNDS_ID), value - seller_fee)

    def _finish(self, order_id: str, order: dict[str, Any]) -> None:
        instrument = FUNDS_ID if order["side"] == _BUY_TEXT else order["instrument"]
        if not self._end_reservation(order_id, order["account"], instrument):
            # Reserved and ended inside this batch: its hold never reached the ledger.
            self._update(order_id, hold_id=None)

    def _end_reservation(self, order_id: str, account: str, instrument: str) -> bool:
        """The order no longer needs its reservation: what is left becomes available again.

        A ledger hold that fills of this batch spent is closed in the settlement; one they did not
        spend is released first. Returns whether the reservation was a ledger hold.
        """
        reservation = self.reservations[order_id]
        was_held = reservation.in_ledger
        if was_held:
            assert reservation.hold_id is not None
            if reservation.spent:
                self.close.add(reservation.hold_id)
            else:
                self.release_first.append(reservation.hold_id)
            reservation.in_ledger = False
        self._credit((account, instrument), reservation.left)
        reservation.left = 0
        return was_held

    def _credit(self, key: tuple[str, str], amount: int) -> None:
        if key in self.available:
            self.available[key] += amount

    # --- the checks, against the running balances ----------------------------------------------------

    def _check_account(self, account: str) -> Any:
        checked = self.checked.get(account)
        if checked is not None:
            return checked
        found = self.accounts.get(account)
        if found is None:
            raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account!r} does not exist")
        check_transferring(found, account)
        if found.type is not AccountType.TRADING:
            raise Refused(
                Code.EXCHANGE_NOT_TRADING_ACCOUNT,
                f"{account!r} is a {found.type.value} account; orders go through a trading (-T) account",
            )
        self.x._require_may_order(self.tx, account)
        # The account's checks do not depend on the order: each account passes them once a batch.
        self.checked[account] = found
        return found

    def _check_units(self, account: str, instrument: str, quantity: int) -> None:
        """A sell needs tradable units: available, and not bought today (DOMAIN.md §5 [reg], T+1 [sec])."""
        if quantity <= 0:
            return
        available = self.available[(account, instrument)]
        if quantity > available:
            raise Refused(
                Code.INSUFFICIENT_BALANCE,
                f"{account} has {available} t of {instrument} available to sell; "
                f"the order needs {quantity} t",
                available=available,
            )
        if self.x.rules.bought_today_resellable:
            return
        bought = self.bought[(account, instrument)]
        tradable = max(available - bought, 0)
        if quantity > tradable:
            raise Refused(
                Code.EXCHANGE_UNITS_BOUGHT_TODAY,
                f"{account} bought {bought} t of {instrument} today; allowances bought today cannot be "
                f"resold today (T+1), so {tradable} t are tradable and the order needs {quantity} t",
                tradable=tradable,
            )

    def _check_funds(self, account: str, fen: int) -> None:
        """A buy needs available funds for price × quantity plus its fee (DOMAIN.md §5 [reg])."""
        if fen <= 0:
            return
        available = self.available[(account, FUNDS_ID)]
        if fen > available:
            raise Refused(
                Code.EXCHANGE_INSUFFICIENT_FUNDS,
                f"{account} has CNY {_yuan(available)} available; the order needs CNY {_yuan(fen)} "
                "(price × quantity plus the buyer's fee)",
                available_fen=available,
                needed_fen=fen,
            )

    # --- applying the plan ------------------------------------------------------------------------------

    def commit(self) -> int:
        """Journal, release, settle, reserve, order rows (the class text); returns the trades settled."""
        tx = self.tx
        specs = [
            SettlementSpec(
                trade_id=f.event.trade_id,
                modality=Modality.LISTED.value,
                instrument=f.event.instrument,
                quantity=f.event.quantity,
                price_fen=f.event.price_fen,
                buyer_account=f.event.buy_account,
                seller_account=f.event.sell_account,
                buyer_hold=f.buyer_hold,
                seller_hold=f.seller_hold,
                buy_order_id=f.event.buy_order_id,
                sell_order_id=f.event.sell_order_id,
                aggressor=f.event.aggressor.value,
            )
            for f in self.fills
        ]
        resting = []
        for order_id, reservation in self.reservations.items():
            if reservation.in_ledger or reservation.left <= 0:
                continue
            order = self._order(order_id)
            if order is not None and order["status"] == "open":
                resting.append((order, reservation))
        if tx.before_apply is not None:
            self._after_batch_ahead()
        actor = tx.actor
        operator = actor.superuser or actor.role in OPERATOR_ROLES
        # What the ledger steps look up through SQLAlchemy is read before the pipeline
        # (`db.raw.pipelined` says why); serial numbers move through SQLAlchemy, so a
        # batch of a serialised instrument (CCER) is sent one statement at a time.
        instruments = {f.event.instrument for f in self.fills} | {o["instrument"] for o, _ in resting}
        if instruments:
            instruments.add(FUNDS_ID)
        defined = self.x._defined
        defined.update(postings.instrument_kinds(tx.connection, instruments - set(defined)))
        kinds = {instrument: defined[instrument] for instrument in instruments}
        plain = not any(
            postings.is_serialised(tx.connection, instrument) for instrument in sorted(instruments)
        )
        # From here to the command's end (its command and audit rows, `run_command`) the
        # statements are pipelined: the client waits for the server once, when the command ends.
        postings.begin_pipeline(tx.connection, enabled=plain)
        written: dict[tuple[str, str], Balance] = {}
        # The journal rows are written once the ledger's locks are held, before any ledger row:
        # so the server writes them while the client builds the ledger's rows, instead of the
        # client waiting for them before its first lock.
        self._settle(specs, resting, kinds, operator, lambda: self.x._flush_journal(tx), written)
        if tx.carry_out is not None:
            self._carry(tx.carry_out, written)
        # The order rows are written in the same pipeline, so `_flush_orders` finds none left.
        self.x._flush_orders(tx)
        self._remember()
        tx.new_orders.clear()
        tx.changed.clear()
        return len(self.fills)

    def _settle(
        self,
        specs: list[SettlementSpec],
        resting: list[tuple[dict[str, Any], _Reservation]],
        kinds: dict[str, Any],
        operator: bool,
        before_writes: Callable[[], None],
        written: dict[tuple[str, str], Balance],
    ) -> None:
        """The ledger side of the batch and its trade rows, in one `settle_batch`."""
        tx = self.tx
        settle_batch(
            tx.connection,
            SETTLEMENT_ACTOR,
            specs,
            tx.at,
            before_writes=before_writes,
            written_balances=written,
            batch_id=settlement_batch_id(specs[0].trade_id) if specs else "",
            close_holds=self.close,
            release=self.release_first,
            holds=[
                HoldSpec(
                    reservation.hold_id,  # type: ignore[arg-type]
                    HoldKind.ORDER,
                    order["account"],
                    FUNDS_ID if order["side"] == _BUY_TEXT else order["instrument"],
                    reservation.left,
                    reason="exchange order",
                )
                for order, reservation in resting
            ],
            # Members reserve on their account's right; operators through the settlement authority.
            hold_actor=SETTLEMENT_ACTOR if operator else tx.actor,
            hold_authority=Authority.SETTLEMENT if operator else Authority.HOLDER,
            kinds=kinds,
            # Read by `_prefetch` in this transaction: the accounts of the batch's commands.
            accounts=self.accounts,
        )

    def _after_batch_ahead(self) -> None:
        """Commit the stream's batch ahead (`tx.before_apply`), then lock this batch's streams and
        check that their heads are where this batch's plan left off."""
        tx = self.tx
        assert tx.before_apply is not None
        tx.before_apply()
        for instrument in sorted(tx.books):
            stream = journal.listed_stream(instrument)
            if journal.lock(tx.connection, stream) != tx.heads[stream]:
                raise _StaleBook(instrument)

    def _carry(self, carried: _Carried, written: dict[tuple[str, str], Balance]) -> None:
        """What the stream's next batch must see of this one before this one commits."""
        tx = self.tx
        carried.orders = {order_id: dict(row) for order_id, row in tx.changed.items()}
        carried.orders.update((order_id, dict(row)) for order_id, row in tx.new_orders.items())
        carried.balances = dict(written)
        for fill in self.fills:
            key = (fill.event.buy_account, fill.event.instrument)
            carried.bought[key] = carried.bought.get(key, 0) + fill.event.quantity

    def _remember(self) -> None:
        """Keep each book's resting orders and reservations for the next batch (valid after commit)."""
        for order_id, reservation in self.reservations.items():
            order = self._order(order_id)
            assert order is not None
            state = self.tx.books[order["instrument"]]
            assert state.resting is not None
            if order["status"] == "open":
                state.resting[order_id] = (dict(order), reservation.left)
            else:
                state.resting.pop(order_id, None)


# --- helpers -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _collector_deferred() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one command, and run (if due) after it.

    A group commit allocates hundreds of thousands of short-lived objects, and the collector, run
    every 700 net allocations, walked them and every generation above: in the durable benchmark
    about a tenth of the client's time, mostly full collections walking the books' resting orders
    (bench/exchange.md, "Fourth round"). Nothing of a command's work depends on a cycle being
    freed during it, so collection waits for its end: the first allocation after it collects
    what is due, at most once per command. Left alone when the process turned the collector off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _offer(row: Any) -> bulk_model.Offer:
    return bulk_model.Offer(
        offer_id=row.offer_id,
        intent_id=row.intent_id,
        counterparty=row.counterparty,
        made_by_account=row.made_by_account,
        price_fen=int(row.price_fen),
        quantity=int(row.quantity),
        status=bulk_model.OfferStatus(row.status),
        buyer_hold=row.buyer_hold,
        seller_hold=row.seller_hold,
    )


def _replace_offer(offer: bulk_model.Offer, **changes: Any) -> bulk_model.Offer:
    from dataclasses import replace

    return replace(offer, **changes)


def _level(level: Any) -> dict[str, Any]:
    return {"price_fen": level.price_fen, "quantity": level.quantity, "orders": level.orders}


def _refusal_json(refused: Refused) -> dict[str, Any]:
    return {"code": refused.refusal.code.value, "message": refused.refusal.message}


def _limit(limit: int) -> int:
    if type(limit) is not int or not 1 <= limit <= store.page_size_max:
        raise Refused(Code.INVALID_REQUEST, f"limit must be 1-{store.page_size_max}")
    return limit


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(Code.ORDER_INVALID_FIELD, f"{name} must be given as text")
    return value.strip()


# The usual spellings, looked up before the general parsing below.
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_MODES = {None: MatchMode.AUTO, "auto": MatchMode.AUTO, "pick": MatchMode.PICK}
# Parsing an instrument id is pure; a batch names the same few ids a thousand times.
_parsed_instrument = functools.lru_cache(maxsize=1024)(parse_instrument)


def _side(value: object) -> Side:
    if type(value) is str and value in _SIDES:
        return _SIDES[value]
    try:
        return Side(str(value).lower())
    except ValueError:
        raise Refused(Code.ORDER_INVALID_FIELD, f"side must be buy or sell, not {value!r}") from None


def _mode(value: object) -> MatchMode:
    if (value is None or type(value) is str) and value in _MODES:
        return _MODES[value]
    try:
        return MatchMode(str(value or "auto").lower())
    except ValueError:
        raise Refused(Code.ORDER_INVALID_FIELD, f"mode must be auto or pick, not {value!r}") from None


def _whole(value: object, what: str, maximum: int) -> int:
    """Prices in whole fen and quantities in whole tonnes, positive and below absurdity."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Refused(Code.ORDER_INVALID_FIELD, f"{what} must be a whole number, not {value!r}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise Refused(Code.ORDER_INVALID_FIELD, f"{what} must be a whole number, not {value!r}")
        value = int(value.strip())
    if value <= 0:
        code = Code.ORDER_PRICE_NOT_POSITIVE if what == "price_fen" else Code.QUANTITY_NOT_POSITIVE
        raise Refused(code, f"{what} must be positive, not {value}")
    if value > maximum:
        code = Code.ORDER_PRICE_OUTSIDE_LIMIT if what == "price_fen" else Code.ORDER_QUANTITY_TOO_LARGE
        raise Refused(code, f"{what} {value} is above the limit of {maximum}")
    return value


def _yuan(fen: int) -> str:
    from carbonmarket.core.units import format_fen

    return format_fen(fen)
