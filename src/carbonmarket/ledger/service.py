"""Ledger operations. Each runs on the caller's connection, inside the caller's unit of work, so a
registry use case made of several ledger steps commits or rolls back as one (rule 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from carbonmarket.core.results import Code, Refused
from carbonmarket.db.tables import instruments
from carbonmarket.ledger import store
from carbonmarket.ledger.model import (
    MINT_ACCOUNT_ID,
    Balance,
    HoldKind,
    HoldStatus,
    Key,
    Leg,
    LegKind,
    balance_changes,
    check_hold_pending,
    check_post_quantity,
    hold_remaining,
    keys_touched,
    reversal_legs,
    split_blocks,
)

# Whether an account is a retirement account (surrender, cancellation, deletion): units landing
# there leave circulation. The registry knows account types; the ledger asks it.
IsRetirement = Callable[[str], bool]

# Serialisation is fixed when an instrument is defined, so it is safe to remember per process.
_serialised_cache: dict[str, bool] = {}


@dataclass(frozen=True)
class Applied:
    """What a batch did: the transfer ids of its legs and, per leg, the serial ranges that moved."""

    transfer_ids: list[int]
    serials: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


def apply(
    connection: Connection,
    batch_id: str,
    legs: Sequence[Leg],
    at: str,
    is_retirement: IsRetirement,
    released: Mapping[Key, int] | None = None,
    *,
    with_ids: bool = True,
) -> Applied:
    """Apply a linked batch: every leg or none (rule 5). Balances are locked in a fixed order.

    Without `with_ids` the legs' transfer ids are not read back (`Applied.transfer_ids` is empty).
    """
    keys = keys_touched(legs)
    current = store.lock_balances(connection, keys)
    if len(current) < len(keys):
        # First movement of an instrument into some account: create its row, then lock again
        # (in key order, so it still queues rather than deadlocks; a rare deadlock is retried).
        store.ensure_balances(connection, keys)
        current = store.lock_balances(connection, keys)
    store.write_balances(connection, balance_changes(legs, current, released or {}))
    ids = store.insert_legs(connection, batch_id, legs, at, with_ids=with_ids)
    _update_supply(connection, legs, is_retirement)
    serials = {
        index: _move_serials(connection, leg)
        for index, leg in enumerate(legs)
        if _is_serialised(connection, leg.instrument)
    }
    return Applied(ids, serials)


def _update_supply(connection: Connection, legs: Sequence[Leg], is_retirement: IsRetirement) -> None:
    """Keep issued and retired counters equal to what the legs say (checked by reconcile)."""
    by_instrument: dict[str, list[int]] = {}
    for leg in legs:
        delta = by_instrument.setdefault(leg.instrument, [0, 0])
        if leg.debit == MINT_ACCOUNT_ID:
            delta[0] += leg.quantity
        if leg.credit == MINT_ACCOUNT_ID:
            delta[0] -= leg.quantity
        if is_retirement(leg.credit):
            delta[1] += leg.quantity
        if is_retirement(leg.debit):
            delta[1] -= leg.quantity
    for instrument, (issued, retired) in by_instrument.items():
        store.add_to_supply(connection, instrument, issued, retired)


def serialised(connection: Connection, instrument_id: str) -> bool:
    """Whether the instrument's units carry serial numbers (CCER); read once per process."""
    return _is_serialised(connection, instrument_id)


def known_serialised(instrument_id: str) -> bool | None:
    """Whether the instrument's units carry serials, if this process has looked; None if not yet."""
    return _serialised_cache.get(instrument_id)


def _is_serialised(connection: Connection, instrument_id: str) -> bool:
    """Whether the instrument's units carry serial numbers (CCER)."""
    if instrument_id not in _serialised_cache:
        flag = connection.execute(
            select(instruments.c.serialised).where(instruments.c.id == instrument_id)
        ).scalar_one()
        _serialised_cache[instrument_id] = bool(flag)
    return _serialised_cache[instrument_id]


def _move_serials(connection: Connection, leg: Leg) -> list[tuple[int, int]]:
    """Move serial blocks with the units: new blocks on issue, lowest serials first otherwise."""
    if leg.debit == MINT_ACCOUNT_ID:
        first = store.take_serials(connection, leg.instrument, leg.quantity)
        store.insert_block(connection, leg.instrument, leg.credit, first, first + leg.quantity - 1)
        return [(first, first + leg.quantity - 1)]
    whole, part = split_blocks(store.blocks_of(connection, leg.instrument, leg.debit), leg.quantity)
    moved = store.block_ranges(connection, whole)
    if leg.credit == MINT_ACCOUNT_ID:
        store.delete_blocks(connection, whole)
    else:
        store.move_blocks(connection, whole, leg.credit)
    if part is not None:
        block_id, first, last = part
        store.shrink_block(connection, block_id, last + 1)
        if leg.credit != MINT_ACCOUNT_ID:
            store.insert_block(connection, leg.instrument, leg.credit, first, last)
        moved.append((first, last))
    return sorted(moved)


# --- holds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldRequest:
    """A reservation of units in one account, optionally for a pledgee and with an expiry."""

    hold_id: str
    kind: HoldKind
    account: str
    instrument: str
    quantity: int
    pledgee: str | None = None
    expires_at: str | None = None
    reason: str | None = None


def create_hold(connection: Connection, request: HoldRequest, at: str) -> None:
    """Reserve units (pending): they stay in the account but can no longer be moved or re-reserved."""
    create_holds(connection, [request], at)


def load_pending_hold(connection: Connection, hold_id: str, at: str) -> Any:
    """Lock a hold that must still be pending and not past its expiry."""
    return _usable_hold(hold_id, store.lock_hold(connection, hold_id), at)


def _usable_hold(hold_id: str, hold: Any, at: str) -> Any:
    """The hold, if it exists, is pending and is not past its expiry; else the refusal naming why."""
    if hold is None:
        raise Refused(Code.HOLD_NOT_FOUND, f"hold {hold_id!r} does not exist")
    check_hold_pending(hold_id, hold.status)
    if hold.expires_at is not None and hold.expires_at <= at:
        raise Refused(Code.HOLD_EXPIRED, f"hold {hold_id!r} expired at {hold.expires_at}")
    return hold


def post_hold(
    connection: Connection,
    hold: Any,
    to_account: str,
    quantity: int | None,
    batch_id: str,
    at: str,
    is_retirement: IsRetirement,
) -> Applied:
    """Post a pending hold: `quantity` (all by default) moves to `to_account`, the rest is released."""
    remaining = hold_remaining(hold.quantity, hold.posted_quantity)
    wanted = remaining if quantity is None else quantity
    check_post_quantity(hold.id, remaining, wanted)
    leg = Leg(hold.account_id, to_account, hold.instrument_id, wanted, LegKind.POST, hold_id=hold.id)
    applied = apply(
        connection,
        batch_id,
        [leg],
        at,
        is_retirement,
        released={(hold.account_id, hold.instrument_id): remaining},
    )
    store.resolve_hold(connection, hold.id, HoldStatus.POSTED.value, at, (hold.posted_quantity or 0) + wanted)
    return applied


def apply_consuming_holds(
    connection: Connection, batch_id: str, legs: Sequence[Leg], at: str, is_retirement: IsRetirement
) -> Applied:
    """Apply a linked batch whose legs may take units out of pending holds, in part (rule 5, 6).

    A leg with a `hold_id` spends that many reserved units of the hold's account; the hold stays
    pending with what remains (an order filled in parts) and is posted when nothing remains.
    Legs without a hold spend available units, as in `apply`.
    """
    return apply_closing_holds(connection, batch_id, legs, at, is_retirement, ())


def apply_closing_holds(
    connection: Connection,
    batch_id: str,
    legs: Sequence[Leg],
    at: str,
    is_retirement: IsRetirement,
    close: Iterable[str],
    *,
    with_ids: bool = True,
) -> Applied:
    """`apply_consuming_holds`, and the holds in `close` are posted: what they still reserve after
    this batch's legs is released in the same batch, as `post_hold` releases the rest of a hold.

    An exchange order that fills and finishes in one group commit spends its hold and frees the
    rest at once. The holds are read and locked in one statement, in id order, and written back
    with one executemany each, so a batch spending thousands of holds costs a few statements.
    """
    consumed: dict[str, int] = {}
    for leg in legs:
        if leg.hold_id is not None:
            consumed[leg.hold_id] = consumed.get(leg.hold_id, 0) + leg.quantity
    closing = set(close)
    if not closing <= set(consumed):
        raise AssertionError(f"holds {sorted(closing - set(consumed))} are closed but no leg spends them")
    found = store.lock_holds(connection, consumed)
    released: dict[Key, int] = {}
    posted: dict[str, int] = {}
    resolved: list[tuple[str, str, int | None]] = []
    for hold_id in sorted(consumed):
        hold = _usable_hold(hold_id, found.get(hold_id), at)
        remaining = hold_remaining(hold.quantity, hold.posted_quantity)
        check_post_quantity(hold_id, remaining, consumed[hold_id])
        for leg in legs:
            if leg.hold_id == hold_id and (leg.debit, leg.instrument) != (
                hold.account_id,
                hold.instrument_id,
            ):
                raise AssertionError(f"leg spends hold {hold_id!r} from another account or instrument")
        key = (hold.account_id, hold.instrument_id)
        left = remaining - consumed[hold_id]
        freed = consumed[hold_id] + (left if hold_id in closing else 0)
        released[key] = released.get(key, 0) + freed
        posted_total = (hold.posted_quantity or 0) + consumed[hold_id]
        if left == 0 or hold_id in closing:
            resolved.append((hold_id, HoldStatus.POSTED.value, posted_total))
        else:
            posted[hold_id] = posted_total
    applied = apply(connection, batch_id, legs, at, is_retirement, released=released, with_ids=with_ids)
    store.resolve_holds(connection, resolved, at)
    store.consume_holds(connection, posted)
    return Applied(applied.transfer_ids, applied.serials)


def create_holds(connection: Connection, requests: Sequence[HoldRequest], at: str) -> None:
    """`create_hold` for many holds at once: the balances they reserve are created, locked in key
    order and written once; each key must have available what all of its holds together reserve."""
    wanted: dict[Key, int] = {}
    for request in requests:
        key = (request.account, request.instrument)
        wanted[key] = wanted.get(key, 0) + request.quantity
    keys = sorted(wanted)
    current = store.lock_balances(connection, keys)
    if len(current) < len(keys):
        # A reservation of an instrument the account never held: the row is made at zero (and the
        # refusal below follows), then everything is locked again in key order.
        store.ensure_balances(connection, keys)
        current = store.lock_balances(connection, keys)
    for key in keys:
        if wanted[key] > current[key].available:
            raise Refused(
                Code.INSUFFICIENT_BALANCE,
                f"account {key[0]!r} has {current[key].available} t of {key[1]} available to reserve; "
                f"the {'hold needs' if len(requests) == 1 else 'holds need'} {wanted[key]} t",
                available=current[key].available,
            )
    store.write_balances(
        connection, {key: Balance(current[key].total, current[key].held + wanted[key]) for key in keys}
    )
    pending = HoldStatus.PENDING.value
    store.insert_hold_rows(
        connection,
        [
            (
                r.hold_id,
                str(r.kind),  # a StrEnum's value; quicker than .value on 3.11
                r.account,
                r.instrument,
                r.quantity,
                r.pledgee,
                pending,
                r.expires_at,
                r.reason,
                at,
            )
            for r in requests
        ],
    )


def void_holds(
    connection: Connection, found: Sequence[Any], at: str, status: HoldStatus = HoldStatus.VOIDED
) -> None:
    """Release what pending holds still reserve (voided, or expired): one balance lock and write."""
    freed: dict[Key, int] = {}
    for hold in found:
        key = (hold.account_id, hold.instrument_id)
        freed[key] = freed.get(key, 0) + hold_remaining(hold.quantity, hold.posted_quantity)
    keys = sorted(freed)
    current = store.lock_balances(connection, keys)
    store.write_balances(
        connection, {key: Balance(current[key].total, current[key].held - freed[key]) for key in keys}
    )
    store.resolve_holds(connection, [(hold.id, status.value, hold.posted_quantity) for hold in found], at)


def void_hold(connection: Connection, hold: Any, at: str, status: HoldStatus = HoldStatus.VOIDED) -> None:
    """Release what a pending hold still reserves (voided by a person, or expired by the clock)."""
    void_holds(connection, [hold], at, status)


# --- reversal -------------------------------------------------------------------------------------


def reverse(
    connection: Connection, original_batch: str, new_batch: str, at: str, is_retirement: IsRetirement
) -> Applied:
    """Undo a whole batch with legs that name the originals; refuse twice-reversal (UK 3019)."""
    originals = store.batch_legs(connection, original_batch)
    if not originals:
        raise Refused(Code.TRANSFER_NOT_FOUND, f"no transfer has the id {original_batch!r}")
    if any(leg.kind is LegKind.REVERSE for _, leg in originals):
        raise Refused(
            Code.NOT_REVERSIBLE, f"{original_batch!r} is itself a reversal; make a new transfer to correct it"
        )
    if store.reversed_ids(connection, (transfer_id for transfer_id, _ in originals)):
        raise Refused(Code.ALREADY_REVERSED, f"transfer {original_batch!r} has already been reversed")
    return apply(connection, new_batch, reversal_legs(originals), at, is_retirement)


# --- reconciliation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    """Replay of every transfer compared with cached balances, holds, supply and serial blocks."""

    accounts_checked: int
    transfers_net_zero: bool
    mismatches: list[dict[str, Any]]
    supply: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        """True when the replay, the cache and the counters agree everywhere."""
        return self.transfers_net_zero and not self.mismatches

    def as_json(self) -> dict[str, Any]:
        """The report as the JSON the CLI and API print."""
        return {
            "ok": self.ok,
            "accounts_checked": self.accounts_checked,
            "debits_equal_credits": self.transfers_net_zero,
            "mismatches": self.mismatches,
            "supply": self.supply,
        }


def reconcile(engine: Engine, retirement_accounts: Callable[[Connection], set[str]]) -> Reconciliation:
    """Replay all transfers in one consistent snapshot and compare with everything cached."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        net = store.replayed_net(connection)
        held = store.pending_held(connection)
        cached = store.cached_balances(connection)
        instrument_rows = store.all_instruments(connection)
        serial = store.serial_totals(connection)
        overlaps = store.overlapping_blocks(connection)
        retiring = retirement_accounts(connection)
    mismatches = _balance_mismatches(net, held, cached)
    supply, supply_problems = _supply_check(net, instrument_rows, retiring, serial)
    mismatches.extend(supply_problems)
    if overlaps:
        mismatches.append({"what": "serial_blocks_overlap", "pairs": overlaps})
    totals: dict[str, int] = {}
    for (_, instrument), amount in net.items():
        totals[instrument] = totals.get(instrument, 0) + amount
    return Reconciliation(
        accounts_checked=len({a for a, _ in cached}),
        transfers_net_zero=all(v == 0 for v in totals.values()),
        mismatches=mismatches,
        supply=supply,
    )


def _balance_mismatches(
    net: Mapping[Key, int], held: Mapping[Key, int], cached: Mapping[Key, Balance]
) -> list[dict[str, Any]]:
    """Every (account, instrument) whose cached total or held differs from the replay."""
    problems: list[dict[str, Any]] = []
    for key in sorted((set(net) | set(cached) | set(held)) - {k for k in net if k[0] == MINT_ACCOUNT_ID}):
        balance = cached.get(key, Balance(0, 0))
        replay_total, replay_held = net.get(key, 0), held.get(key, 0)
        if balance.total != replay_total or balance.held != replay_held:
            problems.append(
                {
                    "what": "balance",
                    "account": key[0],
                    "instrument": key[1],
                    "cached_total": balance.total,
                    "replayed_total": replay_total,
                    "cached_held": balance.held,
                    "replayed_held": replay_held,
                }
            )
    return problems


def _supply_check(
    net: Mapping[Key, int], rows: Sequence[Any], retiring: set[str], serial: Mapping[Key, int]
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """Issued = −(mint's replay); retired = replay of retirement accounts; supply = issued − retired."""
    supply: dict[str, dict[str, int]] = {}
    problems: list[dict[str, Any]] = []
    for row in rows:
        replay_issued = -net.get((MINT_ACCOUNT_ID, row.id), 0)
        replay_retired = sum(v for (a, i), v in net.items() if i == row.id and a in retiring)
        in_circulation = sum(
            v for (a, i), v in net.items() if i == row.id and a not in retiring and a != MINT_ACCOUNT_ID
        )
        supply[row.id] = {"issued": row.issued, "retired": row.retired, "supply": row.issued - row.retired}
        if (row.issued, row.retired) != (
            replay_issued,
            replay_retired,
        ) or in_circulation != replay_issued - replay_retired:
            problems.append(
                {
                    "what": "supply",
                    "instrument": row.id,
                    "issued": row.issued,
                    "replayed_issued": replay_issued,
                    "retired": row.retired,
                    "replayed_retired": replay_retired,
                    "in_circulation": in_circulation,
                }
            )
        if row.serialised:
            problems.extend(_serial_problems(row.id, net, serial))
    return supply, problems


def _serial_problems(
    instrument: str, net: Mapping[Key, int], serial: Mapping[Key, int]
) -> list[dict[str, Any]]:
    """Each holder's serial blocks must add up to its balance of that instrument."""
    keys = {k for k in set(net) | set(serial) if k[1] == instrument and k[0] != MINT_ACCOUNT_ID}
    return [
        {
            "what": "serial_blocks",
            "account": a,
            "instrument": i,
            "blocks": serial.get((a, i), 0),
            "balance": net.get((a, i), 0),
        }
        for a, i in sorted(keys)
        if serial.get((a, i), 0) != net.get((a, i), 0)
    ]
