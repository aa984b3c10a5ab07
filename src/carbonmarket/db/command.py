"""Running a command from outside: idempotency by client id, one transaction, an audit row.

Every write of every context goes through `run_command` (rules 4, 8 and 11): the same id with the
same body returns the first result (`exists`); the same id with another body is refused
(`exists_with_different_fields`); a refusal rolls the whole transaction back and is recorded in
the audit log as a refusal, so the log shows attempts as well as changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from carbonmarket.audit import store as audit_store
from carbonmarket.audit.model import canonical_json
from carbonmarket.core.actors import Actor
from carbonmarket.core.clock import Clock
from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.db.raw import Sql, pipeline_scope
from carbonmarket.db.uow import run_in_transaction

Work = Callable[[Connection, str], dict[str, Any]]

# Built once: compiling a statement costs more client CPU than sending it (bench/README.md).
# Hot path: sent to the driver directly (db/raw.py says why).
_FIND_COMMAND = Sql("SELECT body_hash, result FROM commands WHERE id = :key")
_INSERT_COMMAND = Sql(
    "INSERT INTO commands (id, kind, body_hash, result, actor, at) "
    "VALUES (:id, :kind, :body_hash, :result, :actor, :at)"
)


def timestamp(clock: Clock) -> str:
    """The clock's now as fixed-width ISO-8601 UTC text (sorts as it reads)."""
    return clock.now().isoformat(timespec="microseconds")


def run_command(
    engine: Engine,
    clock: Clock,
    actor: Actor,
    kind: str,
    command_id: str,
    body: dict[str, Any],
    work: Work,
    namespace: str | None = None,
) -> Outcome:
    """Run `work` once per command id, atomically, with an audit row; return Done or a Refusal.

    Ids are unique within a namespace (by default the command's kind). Commands that share one —
    every registry movement shares `movement`, because its id also names the ledger batch — refuse
    an id already used by another kind as `exists_with_different_fields`.
    """
    prepared = prepare_command(actor, kind, command_id, body, namespace)
    if not isinstance(prepared, PreparedCommand):
        return prepared

    def transaction(connection: Connection) -> Done:
        # A command that pipelines its writes (`db.raw.begin_pipeline`) sends the command and audit
        # rows below in the same pipeline; the scope's end waits for all of them at once.
        with pipeline_scope(connection):
            return steps(connection)

    def steps(connection: Connection) -> Done:
        at = timestamp(clock)
        previous = find_previous(connection, prepared)
        if previous is not None:
            return previous
        data = work(connection, at)
        record_command(connection, prepared, data, at)
        return Done("created", data)

    for attempt in (1, 2):
        try:
            return run_in_transaction(engine, transaction)
        except Refused as refused:
            record_refusal(engine, clock, actor, kind, command_id, body, refused)
            return refused.refusal
        except IntegrityError:
            # Two requests with one id raced and the loser hit a unique key (the command's, or its
            # transfer legs'). Its transaction rolled back; run once more and it sees `exists`. A
            # second integrity error is a real bug and surfaces.
            if attempt == 2:
                raise
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class PreparedCommand:
    """A command's row key and its body's canonical text and hash, made once before its transaction."""

    actor: Actor
    kind: str
    command_id: str
    key: str
    body_text: str
    body_hash: str


def prepare_command(
    actor: Actor, kind: str, command_id: str, body: dict[str, Any], namespace: str | None = None
) -> PreparedCommand | Refusal:
    """The id checked, and the body encoded once for its hash and its audit row (a group commit's
    body holds thousands of commands); a refusal for a malformed id."""
    try:
        check_id(command_id, what="command id")
    except Refused as refused:
        return refused.refusal
    body_text = canonical_json(body)
    key = command_key(kind, command_id, namespace)
    body_hash = _body_hash_of_text(actor, kind, body_text)
    return PreparedCommand(actor, kind, command_id, key, body_text, body_hash)


def find_previous(connection: Connection, prepared: PreparedCommand) -> Done | None:
    """`exists` with the first result if the id ran before with this body; refused if with another."""
    previous = _FIND_COMMAND.one(connection, {"key": prepared.key})
    if previous is None:
        return None
    previous_hash, previous_result = previous
    if previous_hash != prepared.body_hash:
        raise Refused(
            Code.EXISTS_WITH_DIFFERENT_FIELDS,
            f"command id {prepared.command_id!r} was already used for a {prepared.kind} with different "
            "fields; choose a new id",
        )
    return Done("exists", json.loads(previous_result))


def record_command(connection: Connection, prepared: PreparedCommand, data: dict[str, Any], at: str) -> None:
    """The command row with its result, and its audit row (body and result), in the transaction."""
    result_text = canonical_json(data)
    actor = prepared.actor.username
    _INSERT_COMMAND.run(
        connection,
        {
            "id": prepared.key,
            "kind": prepared.kind,
            "body_hash": prepared.body_hash,
            "result": result_text,
            "actor": actor,
            "at": at,
        },
    )
    # canonical_json({"body": body, "result": data}), from the texts already made.
    payload = f'{{"body":{prepared.body_text},"result":{result_text}}}'
    audit_store.append_text(connection, at, actor, prepared.kind, prepared.command_id, payload)


def command_key(kind: str, command_id: str, namespace: str | None = None) -> str:
    """The row id of a command: its id within its namespace (by default its kind)."""
    return f"{namespace or kind}:{command_id}"


def command_body_hash(actor: Actor, kind: str, body: dict[str, Any]) -> str:
    """What a replayed id is compared by: who asked, for what, with which fields."""
    return _body_hash_of_text(actor, kind, canonical_json(body))


def _body_hash_of_text(actor: Actor, kind: str, body_text: str) -> str:
    """sha256 of canonical_json({"actor", "kind", "body"}), the body given as its canonical text."""
    fingerprint = (
        f'{{"actor":{canonical_json(actor.username)},"body":{body_text},"kind":{canonical_json(kind)}}}'
    )
    return hashlib.sha256(fingerprint.encode()).hexdigest()


def run_read(engine: Engine, work: Callable[[Connection], Any]) -> Any:
    """Run a read-only query in its own connection; refusals pass through as exceptions."""
    with engine.connect() as connection:
        return work(connection)


def record_refusal(
    engine: Engine,
    clock: Clock,
    actor: Actor,
    kind: str,
    command_id: str,
    body: dict[str, Any],
    refused: Refused,
) -> None:
    """Append the refusal to the audit log in its own transaction; the refused change left nothing."""
    refusal = refused.refusal

    def transaction(connection: Connection) -> None:
        audit_store.append(
            connection,
            timestamp(clock),
            actor.username,
            "refused",
            command_id[:64],
            {"kind": kind, "body": body, "code": refusal.code.value, "message": refusal.message},
        )

    run_in_transaction(engine, transaction)
