"""SQL of the audit log: append under a lock on the chain's tip, read in sequence order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, insert, select

from carbonmarket.audit.model import GENESIS_HASH, AuditRow, canonical_json, row_hash, row_hash_parts
from carbonmarket.db.raw import Sql
from carbonmarket.db.tables import audit_head, audit_log

read_batch_rows = 5_000


# Every command appends here, so these go to the driver directly (db/raw.py says why). The tip row
# is the one lock all writers share. On PostgreSQL one call of `cm_append_audit` (migration 0016)
# claims the next seq, hashes and writes the row and the tip under that lock, and nothing comes
# back that the client must wait for; on SQLite claiming the seq reads the previous hash in one
# statement, and the row and the tip are two more.
_APPEND = Sql("SELECT cm_append_audit(:at, :actor, :action, :subject, :payload, :hash_prefix, :hash_suffix)")
_CLAIM_SEQ = Sql("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
_INSERT_ROW_TEXT = (
    "INSERT INTO audit_log (seq, at, actor, action, subject, payload, prev_hash, hash) "
    "VALUES (:seq, :at, :actor, :action, :subject, :payload, :prev_hash, :hash)"
)
_INSERT_ROW = Sql(_INSERT_ROW_TEXT)
_MOVE_TIP = Sql("UPDATE audit_head SET hash = :hash WHERE id = 1")


def append(connection: Connection, at: str, actor: str, action: str, subject: str, payload: Any) -> None:
    """Append one row chained to the tip; the tip row lock orders concurrent appenders."""
    append_text(connection, at, actor, action, subject, canonical_json(payload))


def append_text(connection: Connection, at: str, actor: str, action: str, subject: str, text: str) -> None:
    """`append` with the payload already as its canonical JSON text.

    Returns nothing, so on PostgreSQL the append waits for no answer: inside a pipeline
    (`db.raw.pipelined`) it is sent and the client goes on. `tip` reads the chain's end.
    """
    row: dict[str, Any] = {"at": at, "actor": actor, "action": action, "subject": subject, "payload": text}
    if connection.dialect.name == "postgresql":
        before_seq, after_seq = row_hash_parts(at, actor, action, subject, text)
        _APPEND.run(connection, {**row, "hash_prefix": before_seq, "hash_suffix": after_seq})
        return
    claimed = _CLAIM_SEQ.one(connection)
    if claimed is None:
        connection.execute(insert(audit_head).values(id=1, seq=1, hash=GENESIS_HASH))
        seq, prev = 1, GENESIS_HASH
    else:
        seq, prev = int(claimed[0]), str(claimed[1])
    digest = row_hash(prev, seq, at, actor, action, subject, text)
    _INSERT_ROW.run(connection, {**row, "seq": seq, "prev_hash": prev, "hash": digest})
    _MOVE_TIP.run(connection, {"hash": digest})


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
