"""All SQL of the ledger: balances, transfers, holds, serial blocks, supply counters."""

from __future__ import annotations

import contextlib
import operator
from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from carbonmarket.db.raw import BulkInsert, BulkUpdate, Sql, SqlByArity, encode_rows
from carbonmarket.db.tables import balances, holds, instruments, serial_blocks, transfers
from carbonmarket.ledger.model import Balance, Key, Leg, LegKind


def ensure_balances(connection: Connection, keys: Sequence[Key]) -> None:
    """Create zero balance rows that do not exist yet, in key order (so inserts never deadlock)."""
    if keys:
        _ENSURE_BALANCES.run(connection, [(account, instrument, 0, 0) for account, instrument in keys])


_ENSURE_BALANCES = BulkInsert(
    balances,
    postgres_suffix=" ON CONFLICT DO NOTHING",
    sqlite_suffix=" ON CONFLICT DO NOTHING",
)


def lock_balances(connection: Connection, keys: Sequence[Key]) -> dict[Key, Balance]:
    """Read and lock the balances in key order; concurrent batches queue instead of deadlocking.

    Inside `deferred_balances`, keys locked earlier in the block come from memory.
    """
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is None:
        return _select_balances(connection, keys, lock=True)
    missing = [key for key in keys if key not in deferred.values]
    if missing:
        deferred.values.update(_select_balances(connection, missing, lock=True))
    return {key: deferred.values[key] for key in keys if key in deferred.values}


_DEFERRED = "carbonmarket_deferred_balances"


class _Deferred:
    """The balances a `deferred_balances` block locked, as its steps left them, and which changed;
    and the holds it locked (None: no such hold), as its steps left them."""

    __slots__ = ("changed", "holds", "values")

    def __init__(self) -> None:
        self.values: dict[Key, Balance] = {}
        self.changed: set[Key] = set()
        self.holds: dict[str, Any] = {}


@contextlib.contextmanager
def deferred_balances(connection: Connection, written: dict[Key, Balance] | None = None) -> Iterator[None]:
    """Within the block, each balance is locked once and written once, when the block ends.

    A group commit runs several ledger steps over the same balances (releases, three settlement
    batches, new holds); each step still reads the balances as the steps before it left them and
    runs its checks on them (`balance_changes`, `create_holds`), only the statements are saved:
    one lock of each key, then one write of every changed row. The rows are locked from their
    first read, so nothing else can change them in between. A block inside a block joins it.

    Holds locked in the block are remembered the same way (their changes are still written at
    once): a later step that locks them again reads them as the earlier steps left them, without
    a statement, so a caller that locks everything first sends no read after that.

    `written`, if given, receives every balance the block wrote, as it wrote it.
    """
    if _DEFERRED in connection.info:
        yield
        return
    deferred = _Deferred()
    connection.info[_DEFERRED] = deferred
    try:
        yield
        del connection.info[_DEFERRED]
        changes = {key: deferred.values[key] for key in sorted(deferred.changed)}
        _write_balances(connection, changes)
        if written is not None:
            written.update(changes)
    finally:
        connection.info.pop(_DEFERRED, None)


def _select_balances(connection: Connection, keys: Sequence[Key], *, lock: bool) -> dict[Key, Balance]:
    """Balances of the keys, in key order; locked with FOR UPDATE on PostgreSQL when `lock`.

    PostgreSQL gets the keys as one JSON array joined to the primary key, so a batch of 100,000 keys is
    100,000 index look-ups; a row-value IN list of that size makes the planner test every row of
    the instrument against every pair (quadratic, bench/compliance.md). SQLite takes its write lock
    at BEGIN and gets IN lists in slices within its limit on bound variables.
    """
    if not keys:
        return {}
    if connection.dialect.name == "postgresql":
        statement = _LOCK_BALANCES_PG if lock else _READ_BALANCES_PG
        rows = statement.all(connection, {"keys": encode_rows(keys)})
    else:
        rows = []
        for start in range(0, len(keys), sqlite_keys_per_statement_max):
            part = keys[start : start + sqlite_keys_per_statement_max]
            rows.extend(_LOCK_BALANCES(len(part)).all(connection, _key_parameters(part)))
        rows.sort()
    return {
        (account, instrument): Balance(int(total), int(held)) for account, instrument, total, held in rows
    }


def _key_parameters(keys: Sequence[Key]) -> dict[str, str]:
    """Parameters `a<n>`, `i<n>` for the n-th (account, instrument) key."""
    parameters: dict[str, str] = {}
    for index, (account, instrument) in enumerate(keys):
        parameters[f"a{index}"] = account
        parameters[f"i{index}"] = instrument
    return parameters


# Every movement locks and writes its balances: sent to the driver directly (db/raw.py says why).
# SQLite holds its one write lock from BEGIN IMMEDIATE, so only PostgreSQL needs FOR UPDATE.
_LOCK_BALANCES = SqlByArity(
    lambda n: Sql(
        "SELECT account_id, instrument_id, total, held FROM balances WHERE (account_id, instrument_id) IN ("
        + ", ".join(f"(:a{i}, :i{i})" for i in range(n))
        + ") ORDER BY account_id, instrument_id",
        postgres_suffix=" FOR UPDATE",
    )
)
_BALANCES_BY_KEY_PG = (
    "SELECT b.account_id, b.instrument_id, b.total, b.held FROM balances AS b "
    "JOIN (SELECT r->>0 AS account_id, r->>1 AS instrument_id "
    "FROM jsonb_array_elements(CAST(:keys AS jsonb)) AS r) AS k "
    "ON b.account_id = k.account_id AND b.instrument_id = k.instrument_id "
    "ORDER BY b.account_id, b.instrument_id"
)
_LOCK_BALANCES_PG = Sql(_BALANCES_BY_KEY_PG + " FOR UPDATE OF b")
_READ_BALANCES_PG = Sql(_BALANCES_BY_KEY_PG)
# SQLite's default limit is 32,766 bound variables; each key takes two.
sqlite_keys_per_statement_max = 10_000
_WRITE_BALANCE = Sql(
    "UPDATE balances SET total = :v_total, held = :v_held "
    "WHERE account_id = :k_account AND instrument_id = :k_instrument"
)


def read_balances(connection: Connection, keys: Sequence[Key]) -> dict[Key, Balance]:
    """Read balances without locking them (for checks and displays, not for writing)."""
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is None:
        return _select_balances(connection, keys, lock=False)
    found = _select_balances(connection, [key for key in keys if key not in deferred.values], lock=False)
    found.update((key, deferred.values[key]) for key in keys if key in deferred.values)
    return found


def write_balances(connection: Connection, changes: Mapping[Key, Balance]) -> None:
    """Store new cached balances (the CHECK constraints are the last line of defence)."""
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is not None:
        deferred.values.update(changes)
        deferred.changed.update(changes)
        return
    _write_balances(connection, changes)


def _write_balances(connection: Connection, changes: Mapping[Key, Balance]) -> None:
    if not changes:
        return
    rows = [
        {"k_account": a, "k_instrument": i, "v_total": b.total, "v_held": b.held}
        for (a, i), b in changes.items()
    ]
    if len(rows) == 1:
        _WRITE_BALANCE.run(connection, rows[0])
    elif connection.dialect.name == "postgresql":
        # One statement of fixed text for any number of rows (they are locked already, in key order).
        encoded = encode_rows([(r["k_account"], r["k_instrument"], r["v_total"], r["v_held"]) for r in rows])
        _WRITE_BALANCES_PG.run(connection, {"rows": encoded})
    else:
        _WRITE_BALANCE.execute_many(connection, rows)


_WRITE_BALANCES_PG = Sql(
    "UPDATE balances AS b SET total = u.total, held = u.held "
    "FROM (SELECT r->>0 AS account_id, r->>1 AS instrument_id, CAST(r->>2 AS bigint) AS total, "
    "CAST(r->>3 AS bigint) AS held FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r) AS u "
    "WHERE b.account_id = u.account_id AND b.instrument_id = u.instrument_id"
)


def insert_legs(
    connection: Connection,
    batch_id: str,
    legs: Sequence[Leg],
    at: str,
    first_leg: int = 0,
    *,
    with_ids: bool = True,
) -> list[int]:
    """Append the legs as transfer rows and return their ids, in leg order (none: `with_ids` False).

    One leg is one INSERT; a batch of many legs is one statement, so a year's allocation of
    thousands of legs costs a few round trips, not thousands. Without ids nothing is read back,
    so the statement does not wait for the server inside a pipeline (`pipelined`).
    """
    rows = [
        {
            "batch_id": batch_id,
            "leg": number,
            "kind": str(leg.kind),  # a StrEnum's value; quicker than .value on 3.11
            "debit_account": leg.debit,
            "credit_account": leg.credit,
            "instrument_id": leg.instrument,
            "quantity": leg.quantity,
            "hold_id": leg.hold_id,
            "reverses_id": leg.reverses_id,
            "at": at,
        }
        for number, leg in enumerate(legs, start=first_leg)
    ]
    if not with_ids:
        if connection.dialect.name == "postgresql":
            _INSERT_LEGS_PG_QUIET.run(connection, {"batch_id": batch_id, "at": at, "legs": _leg_json(rows)})
        else:
            _INSERT_LEGS.run(connection, [_leg_values(row) for row in rows])
        return []
    if len(rows) == 1:
        inserted = _INSERT_LEG.one(connection, rows[0])
        assert inserted is not None, "INSERT ... RETURNING returns the new row's id"
        return [int(inserted[0])]
    if connection.dialect.name == "sqlite":
        # SQLite cannot return ids in parameter order from one multi-row insert, so SQLAlchemy
        # would send one INSERT per leg; (batch_id, leg) is unique, so read the ids back instead.
        connection.execute(insert(transfers), rows)
        found = connection.execute(
            _LEG_IDS, {"batch_id": batch_id, "first": first_leg, "last": first_leg + len(rows) - 1}
        )
        return [int(row[0]) for row in found]
    # PostgreSQL: the legs as one JSON array in one statement of fixed text (prepared once, parsed
    # once; `BulkInsert` says why), instead of a VALUES list whose text grows with the batch. Rows
    # come back with their leg number, so ids are put in leg order without trusting the order
    # RETURNING happens to use.
    returned = _INSERT_LEGS_PG.all(connection, {"batch_id": batch_id, "at": at, "legs": _leg_json(rows)})
    by_leg = {int(leg): int(new_id) for new_id, leg in returned}
    return [by_leg[number] for number in range(first_leg, first_leg + len(rows))]


def _leg_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return encode_rows(
        [
            (
                r["leg"],
                r["kind"],
                r["debit_account"],
                r["credit_account"],
                r["instrument_id"],
                r["quantity"],
                r["hold_id"],
                r["reverses_id"],
            )
            for r in rows
        ]
    )


_INSERT_LEGS_PG_TEXT = (
    "INSERT INTO transfers (batch_id, leg, kind, debit_account, credit_account, instrument_id, quantity, "
    "hold_id, reverses_id, at) "
    "SELECT :batch_id, CAST(r->>0 AS integer), r->>1, r->>2, r->>3, r->>4, CAST(r->>5 AS bigint), r->>6, "
    "CAST(r->>7 AS bigint), :at FROM jsonb_array_elements(CAST(:legs AS jsonb)) AS r"
)
_INSERT_LEGS_PG_QUIET = Sql(_INSERT_LEGS_PG_TEXT)
_LEG_COLUMNS = (
    "batch_id",
    "leg",
    "kind",
    "debit_account",
    "credit_account",
    "instrument_id",
    "quantity",
    "hold_id",
    "reverses_id",
    "at",
)
_leg_values = operator.itemgetter(*_LEG_COLUMNS)
_INSERT_LEGS = BulkInsert(transfers, _LEG_COLUMNS)
_INSERT_LEGS_PG = Sql(_INSERT_LEGS_PG_TEXT + " RETURNING id, leg")


_LEG_IDS = (
    select(transfers.c.id)
    .where(transfers.c.batch_id == bindparam("batch_id"))
    .where(transfers.c.leg.between(bindparam("first"), bindparam("last")))
    .order_by(transfers.c.leg)
)


_INSERT_LEG = Sql(
    "INSERT INTO transfers (batch_id, leg, kind, debit_account, credit_account, instrument_id, quantity, "
    "hold_id, reverses_id, at) VALUES (:batch_id, :leg, :kind, :debit_account, :credit_account, "
    ":instrument_id, :quantity, :hold_id, :reverses_id, :at) RETURNING id"
)


def batch_legs(connection: Connection, batch_id: str) -> list[tuple[int, Leg]]:
    """The legs of one batch with their transfer ids, in leg order."""
    rows = connection.execute(
        select(transfers).where(transfers.c.batch_id == batch_id).order_by(transfers.c.leg)
    )
    return [(r.id, _leg(r)) for r in rows]


def reversed_ids(connection: Connection, transfer_ids: Iterable[int]) -> set[int]:
    """Which of these transfers already have a reversing leg (UK 3019)."""
    ids = list(transfer_ids)
    if not ids:
        return set()
    rows = connection.execute(select(transfers.c.reverses_id).where(transfers.c.reverses_id.in_(ids)))
    return {int(r.reverses_id) for r in rows}


def _leg(row: Row[Any]) -> Leg:
    return Leg(
        row.debit_account,
        row.credit_account,
        row.instrument_id,
        row.quantity,
        LegKind(row.kind),
        row.hold_id,
        row.reverses_id,
    )


def account_history(
    connection: Connection, account_id: str, limit: int, before_id: int | None
) -> list[Row[Any]]:
    """The account's legs, newest first, a page at a time."""
    query = (
        select(transfers)
        .where((transfers.c.debit_account == account_id) | (transfers.c.credit_account == account_id))
        .order_by(transfers.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(transfers.c.id < before_id)
    return list(connection.execute(query))


def account_balances(connection: Connection, account_id: str) -> list[Row[Any]]:
    """All non-empty balances of an account, by instrument."""
    return list(
        connection.execute(
            select(balances.c.instrument_id, balances.c.total, balances.c.held)
            .where(balances.c.account_id == account_id)
            .where(balances.c.total > 0)
            .order_by(balances.c.instrument_id)
        )
    )


# --- instruments' supply counters -------------------------------------------------------------


def lock_instrument(connection: Connection, instrument_id: str) -> Row[Any] | None:
    """Read an instrument row, locking it on PostgreSQL because its counters will change."""
    query = select(instruments).where(instruments.c.id == instrument_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def add_to_supply(connection: Connection, instrument_id: str, issued: int, retired: int) -> None:
    """Move the instrument's issued and retired counters by the given amounts."""
    if issued == 0 and retired == 0:
        return
    connection.execute(
        update(instruments)
        .where(instruments.c.id == instrument_id)
        .values(issued=instruments.c.issued + issued, retired=instruments.c.retired + retired)
    )


def take_serials(connection: Connection, instrument_id: str, quantity: int) -> int:
    """Reserve the next `quantity` serial numbers of an instrument; returns the first."""
    row = connection.execute(
        select(instruments.c.next_serial).where(instruments.c.id == instrument_id)
    ).scalar_one()
    connection.execute(
        update(instruments).where(instruments.c.id == instrument_id).values(next_serial=row + quantity)
    )
    return int(row)


# --- serial blocks ------------------------------------------------------------------------------


def insert_block(connection: Connection, instrument_id: str, account_id: str, first: int, last: int) -> None:
    """Record that `account_id` holds serials first..last of the instrument."""
    connection.execute(
        insert(serial_blocks).values(
            instrument_id=instrument_id, account_id=account_id, first_serial=first, last_serial=last
        )
    )


def blocks_of(connection: Connection, instrument_id: str, account_id: str) -> list[tuple[int, int, int]]:
    """The account's blocks of an instrument, lowest serial first, as (id, first, last)."""
    rows = connection.execute(
        select(serial_blocks.c.id, serial_blocks.c.first_serial, serial_blocks.c.last_serial)
        .where(serial_blocks.c.instrument_id == instrument_id)
        .where(serial_blocks.c.account_id == account_id)
        .order_by(serial_blocks.c.first_serial)
    )
    return [(r.id, r.first_serial, r.last_serial) for r in rows]


def move_blocks(connection: Connection, block_ids: Sequence[int], account_id: str) -> None:
    """Give whole blocks to another account."""
    if block_ids:
        connection.execute(
            update(serial_blocks).where(serial_blocks.c.id.in_(list(block_ids))).values(account_id=account_id)
        )


def shrink_block(connection: Connection, block_id: int, new_first: int) -> None:
    """Keep the upper part of a split block with its holder."""
    connection.execute(
        update(serial_blocks).where(serial_blocks.c.id == block_id).values(first_serial=new_first)
    )


def block_ranges(connection: Connection, block_ids: Sequence[int]) -> list[tuple[int, int]]:
    """The (first, last) ranges of the given blocks."""
    if not block_ids:
        return []
    rows = connection.execute(
        select(serial_blocks.c.first_serial, serial_blocks.c.last_serial).where(
            serial_blocks.c.id.in_(list(block_ids))
        )
    )
    return sorted((r.first_serial, r.last_serial) for r in rows)


def delete_blocks(connection: Connection, block_ids: Sequence[int]) -> None:
    """Remove blocks whose units went back to the mint (a reversed issuance)."""
    from sqlalchemy import delete

    if block_ids:
        connection.execute(delete(serial_blocks).where(serial_blocks.c.id.in_(list(block_ids))))


# --- holds ----------------------------------------------------------------------------------------


def lock_hold(connection: Connection, hold_id: str) -> Row[Any] | None:
    """Read a hold, locked, so two workers cannot both resolve it."""
    query = select(holds).where(holds.c.id == hold_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


HOLD_COLUMNS = tuple(column.name for column in holds.columns)
# A hold as `lock_holds` and `read_holds` return it: its columns by name, like a row.
HoldRow = namedtuple("HoldRow", HOLD_COLUMNS)  # type: ignore[misc]
_INSERTED_HOLD_COLUMNS = tuple(
    name for name in HOLD_COLUMNS if name not in ("posted_quantity", "resolved_at")
)


def insert_holds(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record many new pending holds in one statement (`postings.hold_many`)."""
    insert_hold_rows(connection, [tuple(row.get(name) for name in _INSERTED_HOLD_COLUMNS) for row in rows])


def insert_hold_rows(connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """`insert_holds` for rows given as tuples in the order of `_INSERTED_HOLD_COLUMNS`."""
    if rows:
        _INSERT_HOLDS.run(connection, rows)
        deferred: _Deferred | None = connection.info.get(_DEFERRED)
        if deferred is not None:
            # Forget that these ids had no hold: a later lock reads the new rows.
            for row in rows:
                deferred.holds.pop(row[0], None)


_INSERT_HOLDS = BulkInsert(holds, _INSERTED_HOLD_COLUMNS)


def lock_holds(connection: Connection, hold_ids: Iterable[str]) -> dict[str, Any]:
    """Read many holds in one statement, locked in id order on PostgreSQL (no deadlocks between batches).

    Inside `deferred_balances`, holds locked earlier in the block come from memory.
    """
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is None:
        return _select_holds(connection, hold_ids, lock=True)
    wanted = set(hold_ids)
    missing = wanted - set(deferred.holds)
    if missing:
        found = _select_holds(connection, missing, lock=True)
        deferred.holds.update((hold_id, found.get(hold_id)) for hold_id in missing)
    return {
        hold_id: deferred.holds[hold_id] for hold_id in sorted(wanted) if deferred.holds[hold_id] is not None
    }


def read_holds(connection: Connection, hold_ids: Iterable[str]) -> dict[str, Any]:
    """Read many holds in one statement without locking them (inside `deferred_balances`, those
    the block locked come from memory)."""
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is None:
        return _select_holds(connection, hold_ids, lock=False)
    wanted = set(hold_ids)
    found = _select_holds(connection, wanted - set(deferred.holds), lock=False)
    found.update((h, deferred.holds[h]) for h in wanted if deferred.holds.get(h) is not None)
    return {hold_id: found[hold_id] for hold_id in sorted(found)}


def _remember_holds(connection: Connection, changes: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Inside `deferred_balances`, keep the remembered holds as the statements leave them."""
    deferred: _Deferred | None = connection.info.get(_DEFERRED)
    if deferred is None:
        return
    for hold_id, values in changes:
        current = deferred.holds.get(hold_id)
        if current is not None:
            deferred.holds[hold_id] = current._replace(**values)


def _select_holds(connection: Connection, hold_ids: Iterable[str], *, lock: bool) -> dict[str, Any]:
    ids = sorted(set(hold_ids))
    if not ids:
        return {}
    rows = (_LOCK_HOLDS if lock else _READ_HOLDS).all(connection, {"ids": encode_rows(ids)})
    return {row[0]: HoldRow(*row) for row in rows}


def consume_holds(connection: Connection, posted_totals: Mapping[str, int]) -> None:
    """`consume_hold` for many holds in one statement."""
    if posted_totals:
        _CONSUME_HOLDS.run(connection, list(posted_totals.items()))
        _remember_holds(connection, ((h, {"posted_quantity": q}) for h, q in posted_totals.items()))


def resolve_holds(connection: Connection, resolved: Sequence[tuple[str, str, int | None]], at: str) -> None:
    """`resolve_hold` for many (hold id, status, posted) in one statement."""
    if resolved:
        _RESOLVE_HOLDS.run(
            connection, [(hold_id, status, at, posted) for hold_id, status, posted in resolved]
        )
        _remember_holds(
            connection,
            ((h, {"status": st, "resolved_at": at, "posted_quantity": q}) for h, st, q in resolved),
        )


# On PostgreSQL a join with the ids rather than `id = ANY(array)`: with stale statistics (a table
# that grew since it was analysed) the planner may scan the table and test every row against every
# id, which costs ids × rows; the join is a hash or an index look-up per id either way. SQLite holds
# its one write lock from BEGIN, so only PostgreSQL locks the rows.
_READ_HOLDS_TEXT = (
    f"SELECT {', '.join(HOLD_COLUMNS)} FROM holds WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id"
)
_READ_HOLDS_PG_TEXT = (
    f"SELECT {', '.join('h.' + name for name in HOLD_COLUMNS)} FROM holds AS h "
    "JOIN jsonb_array_elements_text(CAST(:ids AS jsonb)) AS k(id) ON h.id = k.id ORDER BY h.id"
)
_READ_HOLDS = Sql(_READ_HOLDS_TEXT, postgres=_READ_HOLDS_PG_TEXT)
_LOCK_HOLDS = Sql(_READ_HOLDS_TEXT, postgres=_READ_HOLDS_PG_TEXT, postgres_suffix=" FOR UPDATE OF h")
_CONSUME_HOLDS = BulkUpdate(holds, "id", ["posted_quantity"])
_RESOLVE_HOLDS = BulkUpdate(holds, "id", ["status", "resolved_at", "posted_quantity"])


def get_hold(connection: Connection, hold_id: str) -> Row[Any] | None:
    """Read a hold without locking it."""
    return connection.execute(select(holds).where(holds.c.id == hold_id)).first()


def resolve_hold(connection: Connection, hold_id: str, status: str, at: str, posted: int | None) -> None:
    """Mark a hold posted, voided or expired."""
    connection.execute(
        update(holds)
        .where(holds.c.id == hold_id)
        .values(status=status, resolved_at=at, posted_quantity=posted)
    )


def due_holds(connection: Connection, now: str, limit: int) -> list[str]:
    """Ids of pending holds whose expiry time has passed."""
    rows = connection.execute(
        select(holds.c.id)
        .where(holds.c.status == "pending")
        .where(holds.c.expires_at.is_not(None))
        .where(holds.c.expires_at <= now)
        .order_by(holds.c.expires_at)
        .limit(limit)
    )
    return [r.id for r in rows]


def pending_holds_of(connection: Connection, account_id: str) -> list[Row[Any]]:
    """An account's pending holds."""
    return list(
        connection.execute(
            select(holds)
            .where(holds.c.account_id == account_id)
            .where(holds.c.status == "pending")
            .order_by(holds.c.id)
        )
    )


# --- reconciliation -------------------------------------------------------------------------------


def replayed_net(connection: Connection) -> dict[Key, int]:
    """Credits minus debits per (account, instrument), summed from every transfer ever made."""
    net: dict[Key, int] = {}
    credits = select(
        transfers.c.credit_account, transfers.c.instrument_id, func.sum(transfers.c.quantity)
    ).group_by(transfers.c.credit_account, transfers.c.instrument_id)
    debits = select(
        transfers.c.debit_account, transfers.c.instrument_id, func.sum(transfers.c.quantity)
    ).group_by(transfers.c.debit_account, transfers.c.instrument_id)
    for account, instrument, amount in connection.execute(credits):
        net[(account, instrument)] = net.get((account, instrument), 0) + int(amount)
    for account, instrument, amount in connection.execute(debits):
        net[(account, instrument)] = net.get((account, instrument), 0) - int(amount)
    return net


def pending_held(connection: Connection) -> dict[Key, int]:
    """Units reserved by pending holds, per (account, instrument)."""
    rows = connection.execute(
        select(
            holds.c.account_id,
            holds.c.instrument_id,
            func.sum(holds.c.quantity - func.coalesce(holds.c.posted_quantity, 0)),
        )
        .where(holds.c.status == "pending")
        .group_by(holds.c.account_id, holds.c.instrument_id)
    )
    return {(a, i): int(q) for a, i, q in rows}


def cached_balances(connection: Connection) -> dict[Key, Balance]:
    """Every cached balance row."""
    rows = connection.execute(
        select(balances.c.account_id, balances.c.instrument_id, balances.c.total, balances.c.held)
    )
    return {(r.account_id, r.instrument_id): Balance(r.total, r.held) for r in rows}


def all_instruments(connection: Connection) -> list[Row[Any]]:
    """Every instrument row, by id."""
    return list(connection.execute(select(instruments).order_by(instruments.c.id)))


def serial_totals(connection: Connection) -> dict[Key, int]:
    """Units covered by serial blocks per (account, instrument)."""
    size = serial_blocks.c.last_serial - serial_blocks.c.first_serial + 1
    rows = connection.execute(
        select(serial_blocks.c.account_id, serial_blocks.c.instrument_id, func.sum(size)).group_by(
            serial_blocks.c.account_id, serial_blocks.c.instrument_id
        )
    )
    return {(a, i): int(q) for a, i, q in rows}


def overlapping_blocks(connection: Connection) -> int:
    """How many pairs of serial blocks of one instrument overlap (must be zero)."""
    a = serial_blocks.alias("a")
    b = serial_blocks.alias("b")
    query = (
        select(func.count())
        .select_from(a.join(b, (a.c.instrument_id == b.c.instrument_id) & (a.c.id < b.c.id)))
        .where(a.c.first_serial <= b.c.last_serial)
        .where(b.c.first_serial <= a.c.last_serial)
    )
    return int(connection.execute(query).scalar_one())
