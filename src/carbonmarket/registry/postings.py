"""Registry operations that run inside another context's unit of work.

Allocation delivers allowances, compliance surrenders them, the exchange settles trades, the
voluntary market issues CCERs: each of those use cases is one transaction of its own context
(its journal, its rows) and must move units atomically with it (rule 5). These functions give
them the registry's business checks (REGISTRY_CHECKS.md §1, in the UK order) and the ledger's
legs on the caller's connection; the caller's `run_command` supplies idempotency, the audit row
and the commit. Nothing outside `registry/` and `ledger/` writes a balance.

Who may move units is said by `Authority`:
- `HOLDER`: the actor initiates from accounts it holds the initiate right on (regulators act for
  government accounts), as a transfer at the CLI or API does.
- `ORDER`: a regulator, registry operator or provincial authority moves units by an order of the
  competent authority — the true-up withdrawal, mandatory compliance, a penalty deduction.
- `SETTLEMENT`: the exchange operator settles what its engine matched; the units come out of the
  holds the owners placed when they ordered or bid, so their consent is the hold itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from carbonmarket.core.actors import Actor, Permission, Role, require_right, require_role
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.instruments import FUNDS_ID, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Refused
from carbonmarket.core.units import amount_max_fen, parse_quantity, quantity_max_t
from carbonmarket.db import raw
from carbonmarket.ledger import service as ledger
from carbonmarket.ledger import store as ledger_store
from carbonmarket.ledger.model import (
    MINT_ACCOUNT_ID,
    Balance,
    HoldKind,
    HoldStatus,
    Key,
    Leg,
    LegKind,
    hold_remaining,
)
from carbonmarket.registry import store
from carbonmarket.registry.model import (
    RETIREMENT_TYPES,
    Account,
    AccountType,
    HolderKind,
    check_account_opening,
    check_acquiring,
    check_issuance_cap,
    check_issuance_target,
    check_text,
    check_transferring,
    parse_account_type,
    parse_holder_kind,
)

ORDER_ROLES = {Role.REGULATOR, Role.REGISTRY_OPERATOR, Role.PROVINCIAL_AUTHORITY}
SETTLEMENT_ROLES = {Role.EXCHANGE_OPERATOR}
# One linked batch may carry a whole year's allocation of the national market (about 3,500
# entities, DOMAIN.md §1) many times over; beyond this a caller splits its batches.
moves_per_batch_max = 200_000
# Ledger batch ids fit transfers.batch_id (100) with room for the `/<n>` of a batch's legs.
internal_id_length_max = 64
certificate_id_length_max = 64


class Authority(StrEnum):
    """On whose say-so units move (see the module text)."""

    HOLDER = "holder"
    ORDER = "order"
    SETTLEMENT = "settlement"


def holding_account(holder_id: str) -> str:
    """A holder's registry holding account, `<holder>-H` (docs/markets-contract.md)."""
    return f"{holder_id}-H"


def trading_account(holder_id: str) -> str:
    """A holder's trading account on the exchange, `<holder>-T` (docs/markets-contract.md)."""
    return f"{holder_id}-T"


@dataclass(frozen=True)
class Move:
    """One movement of a batch; with `hold_id` the units come out of that pending hold (in part)."""

    from_account: str
    to_account: str
    instrument: str
    quantity: int
    hold_id: str | None = None


def move(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    type_: str,
    moves: Sequence[Move],
    at: str,
    authority: Authority = Authority.HOLDER,
) -> dict[str, Any]:
    """Check and apply `moves` as one linked batch named `transaction_id`; all legs or none.

    Every move gets the UK transferring, acquiring and quantity checks; one registry transaction row
    is recorded per move (`<id>` for a single move, `<id>/<n>` for the n-th of several). Returns
    the transaction id, the number of legs and, per leg index, the CCER serial ranges that moved.
    """
    return _move(connection, actor, transaction_id, type_, moves, at, authority, frozenset())


def _move(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    type_: str,
    moves: Sequence[Move],
    at: str,
    authority: Authority,
    close: frozenset[str],
    lookups: _Lookups | None = None,
) -> dict[str, Any]:
    _check_transaction_id(transaction_id)
    if not moves:
        raise AssertionError("a batch needs at least one move")
    if len(moves) > moves_per_batch_max:
        raise Refused(
            Code.QUANTITY_TOO_LARGE, f"a batch carries at most {moves_per_batch_max} moves, not {len(moves)}"
        )
    _require_authority(actor, authority, "moving units")
    if lookups is None:
        lookups = _Lookups(
            store.get_accounts(
                connection, sorted({m.from_account for m in moves} | {m.to_account for m in moves})
            ),
            _instrument_kinds(connection, {m.instrument for m in moves}),
        )
    else:
        wanted = {m.instrument for m in moves} - set(lookups.kinds)
        if wanted:
            lookups.kinds.update(_instrument_kinds(connection, wanted))
    accounts, kinds = lookups.accounts, lookups.kinds
    # The UK checks of each move, in its order. An account's own checks do not depend on the move,
    # so each runs once per sender and once per receiver and instrument kind (a passed check is
    # remembered; a failed one refuses at the first move that needs it, as move by move).
    senders: dict[str, Account] = {}
    receivers: dict[tuple[str, InstrumentKind], Account] = {}
    legs: list[Leg] = []
    for m in moves:
        sender = senders.get(m.from_account)
        if sender is None:
            sender = check_transferring(accounts.get(m.from_account), m.from_account)
            if authority is Authority.HOLDER:
                _require_initiate(actor, sender, "moving units")
            senders[m.from_account] = sender
        kind = kinds[m.instrument]
        receiver = receivers.get((m.to_account, kind))
        if receiver is None:
            receiver = check_acquiring(accounts.get(m.to_account), m.to_account, kind, None)
            receivers[(m.to_account, kind)] = receiver
        if m.from_account == m.to_account:
            check_acquiring(receiver, m.to_account, kind, m.from_account)
        quantity = m.quantity
        limit = amount_max_fen if m.instrument == FUNDS_ID else quantity_max_t
        amount = (
            quantity if type(quantity) is int and 0 < quantity <= limit else _quantity(m.instrument, quantity)
        )
        legs.append(
            Leg(sender.id, receiver.id, m.instrument, amount, _leg_kind(receiver, m.hold_id), m.hold_id)
        )
    is_retirement = _lookup(accounts)
    # The legs' transfer ids are not part of the answer, so they are not read back.
    if close or any(leg.hold_id for leg in legs):
        applied = ledger.apply_closing_holds(
            connection, transaction_id, legs, at, is_retirement, close, with_ids=False
        )
    else:
        applied = ledger.apply(connection, transaction_id, legs, at, is_retirement, with_ids=False)
    _record(connection, transaction_id, type_, legs, actor, at)
    return {
        "transaction": transaction_id,
        "legs": len(legs),
        "quantity": sum(leg.quantity for leg in legs),
        "serials": {index: ranges for index, ranges in applied.serials.items()},
    }


@dataclass(frozen=True)
class _Lookups:
    """The accounts and instrument kinds a group of ledger steps checks against, read once."""

    accounts: dict[str, Account]
    kinds: dict[str, InstrumentKind]


@dataclass(frozen=True)
class Movement:
    """One linked batch of `apply_group`: as `move_closing_holds` takes it."""

    transaction_id: str
    type_: str
    moves: Sequence[Move]
    close_holds: frozenset[str] = frozenset()


def apply_group(
    connection: Connection,
    at: str,
    *,
    release: Sequence[str] = (),
    movements: Sequence[Movement] = (),
    actor: Actor,
    authority: Authority,
    holds: Sequence[HoldSpec] = (),
    hold_actor: Actor | None = None,
    hold_authority: Authority | None = None,
    kinds: Mapping[str, InstrumentKind] | None = None,
    accounts: Mapping[str, Account] | None = None,
    before_writes: Callable[[], None] | None = None,
    written_balances: dict[tuple[str, str], Balance] | None = None,
) -> None:
    """`release_many`, then each movement's `move_closing_holds`, then `hold_many`, in that order,
    with every check of each, as one group: the exchange's group commit settles a batch in one call.

    The accounts and instruments of every step are read once, each balance is locked once and
    written once (`ledger.store.deferred_balances`); each step still checks the balances as the
    steps before it left them. Any refusal refuses the group (the caller's transaction rolls back).
    `kinds` are the instruments' kinds if the caller read them (`instrument_kinds`) already, and
    `accounts` those of the accounts it read in this transaction (`accounts`); the rest are read.
    `before_writes` is called once everything is locked, before the group's first write: inside
    a pipeline, what it writes (the exchange's journal) is then not waited for by the locks.
    `written_balances`, if given, receives every balance the group wrote, as it wrote it.
    """
    if not (release or movements or holds):
        if before_writes is not None:
            before_writes()
        return
    account_ids = {m.from_account for g in movements for m in g.moves}
    account_ids |= {m.to_account for g in movements for m in g.moves}
    account_ids |= {spec.account for spec in holds}
    known = dict(accounts or {})
    known.update(store.get_accounts(connection, sorted(account_ids - set(known))))
    lookups = _Lookups(known, dict(kinds or {}))
    with ledger_store.deferred_balances(connection, written_balances):
        # Everything the steps will lock, locked first: the holds in id order in one statement, then
        # the balances in key order in one more. The steps then read them from memory, so inside
        # a pipeline (`pipelined`) nothing after this waits for the server.
        spent = {m.hold_id for g in movements for m in g.moves if m.hold_id}
        found = ledger_store.lock_holds(connection, {*release, *spent, *(spec.hold_id for spec in holds)})
        keys = {(m.from_account, m.instrument) for g in movements for m in g.moves}
        keys |= {(m.to_account, m.instrument) for g in movements for m in g.moves}
        released = set(release)
        keys |= {(h.account_id, h.instrument_id) for hold_id, h in found.items() if hold_id in released}
        keys |= {(spec.account, spec.instrument) for spec in holds}
        ledger_store.lock_balances(connection, sorted(k for k in keys if k[0] != MINT_ACCOUNT_ID))
        if before_writes is not None:
            before_writes()
        if release:
            release_many(connection, release, at)
        for group in movements:
            _move(
                connection,
                actor,
                group.transaction_id,
                group.type_,
                group.moves,
                at,
                authority,
                group.close_holds,
                lookups,
            )
        if holds:
            _hold_many(connection, hold_actor or actor, holds, at, hold_authority or authority, lookups)


def retire(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    type_: str,
    move_: Move,
    at: str,
    *,
    beneficiary: str,
    purpose: str,
    authority: Authority = Authority.HOLDER,
) -> dict[str, Any]:
    """Retire units into a cancellation account with a public certificate (beneficiary and purpose).

    The voluntary market's cancellations (claims for events, products, organisations; Article 6
    transfers) use it; the certificate id is `CERT-<transaction_id>`, as for registry cancellations.
    """
    check_text(beneficiary, "beneficiary")
    check_text(purpose, "purpose")
    target = store.get_accounts(connection, [move_.to_account]).get(move_.to_account)
    if target is None or target.type is not AccountType.CANCELLATION:
        raise Refused(
            Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED,
            f"{move_.to_account!r} is not a cancellation account; retirements go to one",
        )
    moved = move(connection, actor, transaction_id, type_, [move_], at, authority)
    certificate_id = f"CERT-{transaction_id}"
    if len(certificate_id) > certificate_id_length_max:
        # Still apart from the registry's own `CERT-<client id>`: '@' never follows it there.
        certificate_id = "CERT@" + hashlib.sha256(transaction_id.encode()).hexdigest()[:40]
    serials = moved["serials"].get(0)
    store.insert_certificate(
        connection,
        id=certificate_id,
        transaction_id=transaction_id,
        account_id=move_.from_account,
        instrument_id=move_.instrument,
        quantity=moved["quantity"],
        beneficiary=beneficiary.strip(),
        purpose=purpose.strip(),
        serials=json.dumps(serials) if serials else None,
        at=at,
    )
    return {**moved, "certificate": certificate_id}


def issue(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    instrument: str,
    quantity: int,
    to_account: str,
    at: str,
) -> dict[str, Any]:
    """Create units of a defined instrument in an issuance account — regulators only, never above the cap."""
    _check_transaction_id(transaction_id)
    require_role(actor, {Role.REGULATOR}, "issuing units")
    instrument_id = parse_instrument(instrument).text
    kind = _instrument_kinds(connection, {instrument_id})[instrument_id]
    target = check_acquiring(
        store.get_accounts(connection, [to_account]).get(to_account), to_account, kind, None
    )
    check_issuance_target(target)
    amount = parse_quantity(quantity)
    row = ledger_store.lock_instrument(connection, instrument_id)
    assert row is not None, "checked by _instrument_kinds"
    check_issuance_cap(row.issued, amount, row.cap, row.id)
    leg = Leg(MINT_ACCOUNT_ID, target.id, row.id, amount, LegKind.ISSUE)
    applied = ledger.apply(connection, transaction_id, [leg], at, _lookup({target.id: target}))
    _record(connection, transaction_id, "issuance", [leg], actor, at)
    return {
        "transaction": transaction_id,
        "instrument": row.id,
        "quantity": amount,
        "to": target.id,
        "issued_total": row.issued + amount,
        "serials": applied.serials.get(0),
    }


def deposit_funds(
    connection: Connection, actor: Actor, transaction_id: str, account_id: str, fen: int, at: str
) -> dict[str, Any]:
    """Funds arrive from a settlement bank into a trading account (exchange or registry operators only).

    Funds are not issued under a cap: the mint stands for the banks outside the market, so the
    CNY supply the reconciliation reports is deposits minus withdrawals.
    """
    _check_transaction_id(transaction_id)
    require_role(actor, SETTLEMENT_ROLES | {Role.REGISTRY_OPERATOR}, "depositing funds")
    amount = parse_quantity(fen, maximum=amount_max_fen, what="amount in fen")
    target = check_acquiring(
        store.get_accounts(connection, [account_id]).get(account_id), account_id, InstrumentKind.FUNDS, None
    )
    leg = Leg(MINT_ACCOUNT_ID, target.id, FUNDS_ID, amount, LegKind.ISSUE)
    ledger.apply(connection, transaction_id, [leg], at, _lookup({target.id: target}))
    _record(connection, transaction_id, "funds_deposit", [leg], actor, at)
    return {"transaction": transaction_id, "account": target.id, "fen": amount}


def withdraw_funds(
    connection: Connection, actor: Actor, transaction_id: str, account_id: str, fen: int, at: str
) -> dict[str, Any]:
    """Funds leave a trading account for the holder's bank; only what is available (not held by orders)."""
    _check_transaction_id(transaction_id)
    amount = parse_quantity(fen, maximum=amount_max_fen, what="amount in fen")
    accounts = store.get_accounts(connection, [account_id])
    sender = check_transferring(accounts.get(account_id), account_id)
    if not (actor.superuser or actor.role in SETTLEMENT_ROLES | {Role.REGISTRY_OPERATOR}):
        require_right(actor, account_id, Permission.INITIATE, "withdrawing funds")
    leg = Leg(sender.id, MINT_ACCOUNT_ID, FUNDS_ID, amount, LegKind.TRANSFER)
    ledger.apply(connection, transaction_id, [leg], at, _lookup(accounts))
    _record(connection, transaction_id, "funds_withdrawal", [leg], actor, at)
    return {"transaction": transaction_id, "account": sender.id, "fen": amount}


def hold(
    connection: Connection,
    actor: Actor,
    hold_id: str,
    kind: HoldKind,
    account_id: str,
    instrument: str,
    quantity: int,
    at: str,
    *,
    expires_at: str | None = None,
    reason: str | None = None,
    authority: Authority = Authority.HOLDER,
) -> dict[str, Any]:
    """Reserve units or funds of an account (an order, a bid, a pending surrender) as a pending hold."""
    spec = HoldSpec(hold_id, kind, account_id, instrument, quantity, expires_at, reason)
    return hold_many(connection, actor, [spec], at, authority)[0]


def release(connection: Connection, hold_id: str, at: str) -> int:
    """Void a pending hold and return how many units it still reserved (0 if it was already resolved)."""
    return release_many(connection, [hold_id], at)[hold_id]


@dataclass(frozen=True)
class HoldSpec:
    """One reservation of a `hold_many` batch (the arguments of `hold`)."""

    hold_id: str
    kind: HoldKind
    account: str
    instrument: str
    quantity: int
    expires_at: str | None = None
    reason: str | None = None


def hold_many(
    connection: Connection,
    actor: Actor,
    specs: Sequence[HoldSpec],
    at: str,
    authority: Authority = Authority.HOLDER,
) -> list[dict[str, Any]]:
    return _hold_many(connection, actor, specs, at, authority, None)


def _hold_many(
    connection: Connection,
    actor: Actor,
    specs: Sequence[HoldSpec],
    at: str,
    authority: Authority,
    lookups: _Lookups | None,
) -> list[dict[str, Any]]:
    """`hold` for many reservations at once, all or none, with the same checks per reservation.

    One read of the accounts, one per instrument, one of the hold ids, and one balance ensure, lock
    (in key order) and write and one insert for the whole batch: the exchange's group commit
    reserves a batch's resting orders in a constant number of statements.
    """
    if not specs:
        return []
    if len(specs) > moves_per_batch_max:
        raise Refused(
            Code.QUANTITY_TOO_LARGE, f"a batch carries at most {moves_per_batch_max} holds, not {len(specs)}"
        )
    for spec in specs:
        _check_transaction_id(spec.hold_id, what="hold id")
    _require_authority(actor, authority, "reserving units")
    found = (
        store.get_accounts(connection, sorted({spec.account for spec in specs}))
        if lookups is None
        else lookups.accounts
    )
    # The UK order: the transferring account first, then the units and the quantity.
    checked: set[str] = set()
    for spec in specs:
        if spec.account in checked:
            continue
        account = check_transferring(found.get(spec.account), spec.account)
        if authority is Authority.HOLDER:
            _require_initiate(actor, account, "reserving units")
        checked.add(spec.account)
    parsed: dict[str, str] = {}
    for spec in specs:
        if spec.instrument not in parsed:
            parsed[spec.instrument] = parse_instrument(spec.instrument).text
    instrument_ids = [parsed[spec.instrument] for spec in specs]
    if lookups is None or not set(instrument_ids) <= set(lookups.kinds):
        _instrument_kinds(connection, set(instrument_ids))
    requests: list[ledger.HoldRequest] = []
    seen: set[str] = set()
    for spec, instrument_id in zip(specs, instrument_ids, strict=True):
        account = found[spec.account]
        amount = _quantity(instrument_id, spec.quantity)
        if spec.hold_id in seen:
            raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"hold id {spec.hold_id!r} is given twice")
        seen.add(spec.hold_id)
        requests.append(
            ledger.HoldRequest(
                spec.hold_id, spec.kind, account.id, instrument_id, amount, None, spec.expires_at, spec.reason
            )
        )
    taken = ledger_store.read_holds(connection, seen)
    if taken:
        raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"hold id {min(taken)!r} is already in use")
    ledger.create_holds(connection, requests, at)
    return [
        {
            "hold": r.hold_id,
            "kind": str(r.kind),
            "account": r.account,
            "instrument": r.instrument,
            "quantity": r.quantity,
        }
        for r in requests
    ]


def release_many(connection: Connection, hold_ids: Iterable[str], at: str) -> dict[str, int]:
    """`release` for many holds at once: each pending one is voided; returns what each still reserved.

    The holds are locked in id order in one statement and the balances once, so batches that
    release overlapping holds queue rather than deadlock. An unknown id refuses the whole call.
    """
    wanted = sorted(set(hold_ids))
    found = ledger_store.lock_holds(connection, wanted)
    missing = [hold_id for hold_id in wanted if hold_id not in found]
    if missing:
        raise Refused(Code.HOLD_NOT_FOUND, f"hold {missing[0]!r} does not exist")
    pending = [found[hold_id] for hold_id in wanted if found[hold_id].status == HoldStatus.PENDING]
    if pending:
        ledger.void_holds(connection, pending, at)
    left = {hold.id: hold_remaining(hold.quantity, hold.posted_quantity) for hold in pending}
    return {hold_id: left.get(hold_id, 0) for hold_id in wanted}


def hold_states(connection: Connection, hold_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`hold_state` of many holds in one read; unknown ids are left out."""
    return {
        hold_id: _hold_state(row) for hold_id, row in ledger_store.read_holds(connection, hold_ids).items()
    }


def move_closing_holds(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    type_: str,
    moves: Sequence[Move],
    at: str,
    authority: Authority,
    close_holds: Iterable[str],
) -> dict[str, Any]:
    """`move`, and the holds in `close_holds` (each spent by a move of the batch) are posted: what
    they still reserve after it is released in the same linked batch, as a finished order frees the
    rest of its reservation. Same checks as `move`; the holds are locked in one statement."""
    return _move(connection, actor, transaction_id, type_, moves, at, authority, frozenset(close_holds))


def hold_state(connection: Connection, hold_id: str) -> dict[str, Any] | None:
    """A hold's status, what it reserved, what was posted from it and what it still reserves."""
    found = ledger_store.get_hold(connection, hold_id)
    if found is None:
        return None
    return _hold_state(found)


def _hold_state(found: Any) -> dict[str, Any]:
    remaining = (
        hold_remaining(found.quantity, found.posted_quantity) if found.status == HoldStatus.PENDING else 0
    )
    return {
        "hold": found.id,
        "kind": found.kind,
        "account": found.account_id,
        "instrument": found.instrument_id,
        "quantity": found.quantity,
        "posted": found.posted_quantity or 0,
        "remaining": remaining,
        "status": found.status,
    }


def balances(connection: Connection, keys: Iterable[Key]) -> dict[Key, Balance]:
    """Cached balances of (account, instrument) pairs, unlocked; missing pairs are zero."""
    wanted = sorted(set(keys))
    found = ledger_store.read_balances(connection, wanted)
    return {key: found.get(key, Balance(0, 0)) for key in wanted}


def ensure_instrument(
    connection: Connection,
    actor: Actor,
    instrument: str,
    at: str,
    cap: int | None = None,
    source: str | None = None,
) -> bool:
    """Define an instrument if it is not defined yet (regulators only); True when it was created."""
    from carbonmarket.registry.service import _insert_instrument

    require_role(actor, {Role.REGULATOR}, "defining an instrument")
    parsed = parse_instrument(instrument)
    if store.get_instrument(connection, parsed.text) is not None:
        return False
    checked_cap = None if cap is None else parse_quantity(cap, what="cap")
    _insert_instrument(connection, parsed, checked_cap, source, at)
    return True


def ensure_holder(
    connection: Connection, actor: Actor, holder_id: str, name: str, kind: str, at: str
) -> bool:
    """Register a holder unless it exists with the same kind; True when it was created."""
    require_role(actor, ORDER_ROLES, "adding an account holder")
    check_id(holder_id, what="holder id")
    holder_kind = parse_holder_kind(kind)
    existing = store.get_holder(connection, holder_id)
    if existing is not None:
        if existing.kind != holder_kind.value:
            raise Refused(
                Code.EXISTS_WITH_DIFFERENT_FIELDS,
                f"holder {holder_id!r} exists as a {existing.kind}, not {kind}",
            )
        return False
    check_text(name, "holder name")
    store.insert_holder(connection, holder_id, name.strip(), holder_kind, at)
    return True


def ensure_account(
    connection: Connection, actor: Actor, account_id: str, holder_id: str, account_type: str, at: str
) -> bool:
    """Open an account unless it exists for the same holder and type; True when it was opened."""
    require_role(actor, ORDER_ROLES, "opening an account")
    check_id(account_id, what="account id")
    type_ = parse_account_type(account_type)
    existing = store.account_row(connection, account_id)
    if existing is not None:
        if (existing.holder_id, existing.type) != (holder_id, type_.value):
            raise Refused(
                Code.EXISTS_WITH_DIFFERENT_FIELDS,
                f"account {account_id!r} exists for holder {existing.holder_id!r} "
                f"as a {existing.type} account",
            )
        return False
    holder = store.get_holder(connection, holder_id)
    if holder is None:
        raise Refused(Code.UNKNOWN_HOLDER, f"holder {holder_id!r} does not exist")
    check_account_opening(HolderKind(holder.kind), type_)
    store.insert_account(connection, account_id, holder_id, type_, False, at)
    return True


def ensure_entity_accounts(
    connection: Connection, actor: Actor, holders: Sequence[tuple[str, str]], account_type: str, at: str
) -> int:
    """`ensure_holder` (kind entity) and `ensure_account` (`<holder>-H` or `-T`) for many holders at once.

    The same checks and refusals as the one-by-one functions, with one read per slice and one
    executemany per table, so a year's allocation can open thousands of holding accounts (added for
    allocation, issue 4). `holders` are (holder id, name); returns how many accounts were opened.
    """
    require_role(actor, ORDER_ROLES, "opening accounts")
    type_ = parse_account_type(account_type)
    suffix = {AccountType.HOLDING: "-H", AccountType.TRADING: "-T"}.get(type_)
    if suffix is None:
        raise Refused(Code.INVALID_ACCOUNT_TYPE, "entity accounts are holding or trading accounts")
    check_account_opening(HolderKind.ENTITY, type_)
    names = dict(holders)
    wanted = sorted(names)
    slice_size = 5_000
    known_holders: dict[str, str] = {}
    known_accounts: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), slice_size):
        chunk = wanted[start : start + slice_size]
        known_holders.update(store.holder_kinds(connection, chunk))
        known_accounts.update(store.account_owners(connection, [f"{h}{suffix}" for h in chunk]))
    new_holders: list[dict[str, Any]] = []
    new_accounts: list[dict[str, Any]] = []
    for holder_id in wanted:
        check_id(holder_id, what="holder id")
        kind = known_holders.get(holder_id)
        if kind is not None and kind != HolderKind.ENTITY.value:
            raise Refused(
                Code.EXISTS_WITH_DIFFERENT_FIELDS, f"holder {holder_id!r} exists as a {kind}, not entity"
            )
        if kind is None:
            name = names[holder_id]
            check_text(name, "holder name")
            new_holders.append(
                {"id": holder_id, "name": name.strip(), "kind": HolderKind.ENTITY.value, "created_at": at}
            )
        account_id = f"{holder_id}{suffix}"
        existing = known_accounts.get(account_id)
        if existing is not None and existing != (holder_id, type_.value):
            raise Refused(
                Code.EXISTS_WITH_DIFFERENT_FIELDS,
                f"account {account_id!r} exists for holder {existing[0]!r} as a {existing[1]} account",
            )
        if existing is None:
            new_accounts.append(
                {
                    "id": account_id,
                    "holder_id": holder_id,
                    "type": type_.value,
                    "status": "open",
                    "approval_required": False,
                    "created_at": at,
                }
            )
    for start in range(0, len(new_holders), slice_size):
        store.insert_holders(connection, new_holders[start : start + slice_size])
    for start in range(0, len(new_accounts), slice_size):
        store.insert_accounts(connection, new_accounts[start : start + slice_size])
    return len(new_accounts)


def accounts(connection: Connection, account_ids: Sequence[str]) -> dict[str, Account]:
    """Accounts as the registry's checks see them (type, status, holder kind)."""
    return store.get_accounts(connection, list(account_ids))


def serial_holder(connection: Connection, instrument: str, serial: int) -> Any:
    """Which account holds one serial number of a serialised instrument now: a row with `account_id`,
    `first_serial`, `last_serial` (the block it sits in) and the account's `type`, or None."""
    return store.block_holding_serial(connection, instrument, serial)


def traded_net(
    connection: Connection, account_ids: Sequence[str], instruments: Sequence[str], start_at: str, end_at: str
) -> dict[str, int]:
    """Units the accounts sold and bought on the exchange in [start_at, end_at): `sold`, `bought`, `net_sold`.

    Exchange settlements record their unit legs as registry transactions of type `trade`
    (docs/markets-contract.md); moves between the accounts themselves are not trades and cancel out.
    """
    sold, bought = store.traded_between(connection, list(account_ids), list(instruments), start_at, end_at)
    return {"sold": sold, "bought": bought, "net_sold": sold - bought}


def internal_id(context: str, command_id: str) -> str:
    """The ledger batch id a context uses for one of its commands: `@<context>:<command id>`.

    Ledger batch ids are one space shared by every context and by the registry's own commands,
    whose ids clients choose. A client's id can never start with '@' (`core.ids.check_id`), so a
    context that names its batches this way never collides with a client, nor with another context.
    Too long ids are hashed (`derived_id`), keeping the context visible.
    """
    text = f"@{context}:{command_id}"
    if len(text) <= internal_id_length_max:
        return text
    return f"@{derived_id(context, command_id)}"


# --- helpers ---------------------------------------------------------------------------------------


def _check_transaction_id(value: str, what: str = "transaction id") -> None:
    """A client-style id, or an internal one (`internal_id`): '@' then a client-style id.

    Hold ids are one space too (a client's freeze, an exchange order's reservation), so they follow
    the same rule.
    """
    check_id(value[1:] if isinstance(value, str) and value.startswith("@") else value, what=what)


def _require_authority(actor: Actor, authority: Authority, action: str) -> None:
    """Orders need an authority's role, settlements the exchange operator's; holders go per account."""
    if authority is Authority.ORDER:
        require_role(actor, ORDER_ROLES, f"{action} by order")
    elif authority is Authority.SETTLEMENT:
        require_role(actor, SETTLEMENT_ROLES, f"{action} in settlement")


def _require_initiate(actor: Actor, account: Account, action: str) -> None:
    """The initiate right on the account; regulators act for government accounts."""
    if actor.role is Role.REGULATOR and account.holder_kind is HolderKind.GOVERNMENT:
        return
    require_right(actor, account.id, Permission.INITIATE, action)


def is_serialised(connection: Connection, instrument_id: str) -> bool:
    """Whether the instrument's units carry serial numbers (CCER), as the ledger moves them."""
    return ledger.serialised(connection, instrument_id)


def begin_pipeline(connection: Connection, *, enabled: bool = True) -> None:
    """The statements from here to the command's end pipelined on PostgreSQL
    (`db.raw.begin_pipeline`; only this module's batch functions and raw statements, no SQLAlchemy
    reads)."""
    raw.begin_pipeline(connection, enabled=enabled)


def instrument_kinds(connection: Connection, instrument_ids: Iterable[str]) -> dict[str, InstrumentKind]:
    """The kind of each defined instrument, refusing unknown or non-canonical ids (as a move would)."""
    return _instrument_kinds(connection, instrument_ids)


def _instrument_kinds(connection: Connection, instrument_ids: Iterable[str]) -> dict[str, InstrumentKind]:
    """The kind of each defined instrument, refusing unknown or non-canonical ids."""
    kinds: dict[str, InstrumentKind] = {}
    for instrument_id in instrument_ids:
        canonical = parse_instrument(instrument_id).text
        if canonical != instrument_id:
            raise Refused(
                Code.INVALID_INSTRUMENT_ID, f"write the instrument id as {canonical!r}, not {instrument_id!r}"
            )
        row = store.get_instrument(connection, canonical)
        if row is None:
            raise Refused(
                Code.UNKNOWN_INSTRUMENT, f"instrument {instrument_id!r} is not defined in this registry"
            )
        kinds[instrument_id] = InstrumentKind(row.kind)
    return kinds


def _quantity(instrument: str, quantity: object) -> int:
    """Whole tonnes for units, whole fen for funds; positive and within the absurdity limits."""
    if instrument == FUNDS_ID:
        return parse_quantity(quantity, maximum=amount_max_fen, what="amount in fen")
    return parse_quantity(quantity)


def _leg_kind(receiver: Account, hold_id: str | None) -> LegKind:
    if hold_id is not None:
        return LegKind.POST
    return LegKind.RETIRE if receiver.type in RETIREMENT_TYPES else LegKind.TRANSFER


def _lookup(accounts: dict[str, Account]) -> Callable[[str], bool]:
    """Whether an account is a retirement account, for the accounts this batch loaded."""
    retiring = {account_id for account_id, account in accounts.items() if account.type in RETIREMENT_TYPES}
    return lambda account_id: account_id in retiring


def _record(
    connection: Connection, transaction_id: str, type_: str, legs: Sequence[Leg], actor: Actor, at: str
) -> None:
    """One completed registry transaction row per leg, so each shows in the accounts' transaction lists."""
    single = len(legs) == 1
    store.insert_transactions(
        connection,
        [
            {
                "id": transaction_id if single else f"{transaction_id}/{index}",
                "type": type_,
                "status": "completed",
                "from_account": None if leg.debit == MINT_ACCOUNT_ID else leg.debit,
                "to_account": None if leg.credit == MINT_ACCOUNT_ID else leg.credit,
                "instrument_id": leg.instrument,
                "quantity": leg.quantity,
                "hold_id": leg.hold_id,
                "initiated_by": actor.username,
                "approved_by": None,
                "reason": None,
                "created_at": at,
                "completed_at": at,
            }
            for index, leg in enumerate(legs)
        ],
    )


__all__ = [
    "AccountType",
    "Authority",
    "HoldKind",
    "HoldSpec",
    "Move",
    "Movement",
    "accounts",
    "apply_group",
    "balances",
    "begin_pipeline",
    "deposit_funds",
    "ensure_account",
    "ensure_entity_accounts",
    "ensure_holder",
    "ensure_instrument",
    "hold",
    "hold_many",
    "hold_state",
    "hold_states",
    "instrument_kinds",
    "internal_id",
    "is_serialised",
    "issue",
    "move",
    "move_closing_holds",
    "release",
    "release_many",
    "retire",
    "serial_holder",
    "withdraw_funds",
]
