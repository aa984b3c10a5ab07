"""A plain transfer in one round trip on PostgreSQL (migration 0013's `cm_transfer`).

Why: the registry's transfer is the ledger's hottest command, and on a small machine its speed is
set by round trips and client CPU — eleven of each through the driver for the ordinary path
(bench/README.md). Here the client decides everything it can without the database (the command
id, the quantity, the actor's right, the accounts the rules of `registry/model.py` let send and
receive this kind of unit), computes the command's result and its audit row, and sends one
statement in autocommit: the server function checks idempotency, the accounts and the balance
under lock, then writes the leg, the registry transaction, the command and the audit row.

The ordinary path stays the one source of refusals: whenever the function's guards fail
(an id already used, an account that is blocked or needs approval, too few units, ...) it writes
nothing and says why, and `attempt` returns None so the caller runs the ordinary path, which
refuses with the right code and message or handles the case. Cases the function never takes:
serialised units (CCER blocks), retirement accounts, the mint, SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from carbonmarket.audit.model import canonical_json, row_hash_parts
from carbonmarket.core.actors import Actor, Permission
from carbonmarket.core.clock import Clock
from carbonmarket.core.ids import check_id
from carbonmarket.core.instruments import InstrumentKind
from carbonmarket.core.results import Done, Refused
from carbonmarket.core.units import parse_quantity
from carbonmarket.db.command import command_body_hash, command_key, timestamp
from carbonmarket.ledger.model import LegKind
from carbonmarket.registry import store
from carbonmarket.registry.model import TransactionStatus, receiving_pairs, sending_types

DONE = "done"


def movement_result(
    transaction_id: str, sender: str, receiver: str, instrument: str, quantity: int, serials: Any
) -> dict[str, Any]:
    """What a completed movement returns (and stores as its command's result), on either path."""
    return {
        "transaction": transaction_id,
        "from": sender,
        "to": receiver,
        "instrument": instrument,
        "quantity": quantity,
        "status": TransactionStatus.COMPLETED,
        "serials": serials,
    }


class DirectTransfer:
    """Plain transfers of unserialised units as one statement; None means: take the ordinary path."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        # Autocommit: the function is the whole transaction, so no BEGIN and COMMIT round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        self._sendable = sending_types()
        self._receivable: dict[InstrumentKind, list[str]] = {}

    def attempt(
        self,
        actor: Actor,
        command_id: str,
        kind: str,
        namespace: str,
        body: dict[str, Any],
        sender: str,
        receiver: str,
        instrument: str,
        unit_kind: InstrumentKind,
        quantity: object,
    ) -> Done | None:
        """Transfer in one statement, or None when the ordinary path must decide (nothing written)."""
        amount = _plain_quantity(quantity)
        if amount is None or not _plain_id(command_id) or sender == receiver:
            return None
        if not actor.has_right(sender, Permission.INITIATE):
            return None
        at = timestamp(self._clock)
        result = movement_result(command_id, sender, receiver, instrument, amount, None)
        payload = canonical_json({"body": body, "result": result})
        before_seq, after_seq = row_hash_parts(at, actor.username, kind, command_id, payload)
        parameters = {
            "key": command_key(kind, command_id, namespace),
            "kind": kind,
            "body_hash": command_body_hash(actor, kind, body),
            "result": canonical_json(result),
            "actor": actor.username,
            "at": at,
            "batch": command_id,
            "type": "transfer",
            "leg_kind": LegKind.TRANSFER.value,
            "status": TransactionStatus.COMPLETED,
            "from_account": sender,
            "to_account": receiver,
            "instrument": instrument,
            "quantity": amount,
            "sendable": self._sendable,
            "receivable": self._receivable_for(unit_kind),
            "skip_approval": actor.superuser,
            "payload": payload,
            "hash_prefix": before_seq,
            "hash_suffix": after_seq,
        }
        return Done("created", result) if self._run(parameters) == DONE else None

    def _receivable_for(self, kind: InstrumentKind) -> list[str]:
        if kind not in self._receivable:
            self._receivable[kind] = receiving_pairs(kind)
        return self._receivable[kind]

    def _run(self, parameters: Mapping[str, Any]) -> str:
        """Send the statement; any database error leaves the transfer to the ordinary path.

        In autocommit an error rolls the statement back whole, so nothing of it stays: a deadlock
        or a lost race for the command id is then retried (or answered `exists`) by the ordinary
        path's own unit of work.
        """
        try:
            with self._engine.connect() as connection:
                return store.transfer_in_one_statement(connection, dict(parameters))
        except DBAPIError:
            return "database error"


def _plain_quantity(quantity: object) -> int | None:
    try:
        return parse_quantity(quantity)
    except Refused:
        return None


def _plain_id(command_id: str) -> bool:
    try:
        check_id(command_id, what="command id")
    except Refused:
        return False
    return True
