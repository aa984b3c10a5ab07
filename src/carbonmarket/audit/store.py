"""SQL of the audit log: append under a lock on the chain's tip, read in sequence order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from carbonmarket.audit.model import GENESIS_HASH, AuditRow, canonical_json, row_hash
from carbonmarket.db.tables import audit_head, audit_log

read_batch_rows = 5_000


# Built once: compiling a statement costs more client CPU than sending it (bench/README.md).
_LOCK_TIP = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_INSERT_ROW = insert(audit_log)
_MOVE_TIP = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def append(connection: Connection, at: str, actor: str, action: str, subject: str, payload: Any) -> int:
    """Append one row chained to the tip; the tip row lock orders concurrent appenders."""
    tip = connection.execute(_LOCK_TIP).first()
    if tip is None:
        connection.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
        seq, prev = 1, GENESIS_HASH
    else:
        seq, prev = tip.seq + 1, tip.hash
    text = canonical_json(payload)
    digest = row_hash(prev, seq, at, actor, action, subject, text)
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject}
    connection.execute(_INSERT_ROW, {**row, "payload": text, "prev_hash": prev, "hash": digest})
    connection.execute(_MOVE_TIP, {"new_seq": seq, "new_hash": digest})
    return seq


def rows(connection: Connection) -> Iterator[AuditRow]:
    """Every row in sequence order, read in batches so a long log does not fill memory."""
    after = 0
    while True:
        batch = connection.execute(
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(read_batch_rows)
        ).all()
        if not batch:
            return
        for row in batch:
            yield AuditRow(
                row.seq, row.at, row.actor, row.action, row.subject, row.payload, row.prev_hash, row.hash
            )
        after = batch[-1].seq


def tip(connection: Connection) -> tuple[int, str]:
    """The recorded last sequence number and hash (0 and the genesis hash for an empty log)."""
    row = connection.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def recent(connection: Connection, limit: int, subject: str | None = None) -> list[AuditRow]:
    """The newest rows, newest first, optionally for one subject."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    return [
        AuditRow(r.seq, r.at, r.actor, r.action, r.subject, r.payload, r.prev_hash, r.hash)
        for r in connection.execute(query)
    ]
