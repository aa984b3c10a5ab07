"""The exchange's command journal: every command of a stream, in order, written before it is applied.

DESIGN.md rule 9: the matching engine is pure and deterministic, so its books are a function of
the commands it was given. Each command is appended here in the same transaction that applies
it (and settles its trades), so a committed book change always has its journal row and a rolled
back one never does; replaying a stream in `seq` order rebuilds the book exactly.

A stream is one sequence of commands: `listed:<instrument>` for a listed book; other parts name
their own (B3's bidding sessions journal on theirs). Writers lock the stream's head row first
(`lock`), so two processes never interleave one stream, and a process whose book was built
earlier sees from the head that another wrote since and catches up before it applies anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from carbonmarket.db.tables_exchange import exchange_journal, exchange_journal_heads

# A command's JSON is a few hundred bytes; anything far larger is a bug, not a command.
command_json_max_bytes = 16_384
# One catch-up or replay reads the journal in pages of this many rows.
read_page_rows = 10_000

_LOCK_HEAD = select(exchange_journal_heads.c.seq).where(exchange_journal_heads.c.stream == bindparam("s"))
_LOCK_HEAD_PG = _LOCK_HEAD.with_for_update()
_SET_HEAD = (
    update(exchange_journal_heads)
    .where(exchange_journal_heads.c.stream == bindparam("s"))
    .values(seq=bindparam("v"))
)
_INSERT_ROWS = insert(exchange_journal)


@dataclass(frozen=True)
class Entry:
    """One journalled command: its stream, position, JSON body and the time it was applied."""

    stream: str
    seq: int
    command: dict[str, Any]
    at: str


def listed_stream(instrument: str) -> str:
    """The stream of an instrument's listed-agreement book."""
    return f"listed:{instrument}"


def lock(connection: Connection, stream: str) -> int:
    """Lock the stream's head for this transaction and return its last seq (0 for a new stream)."""
    query = _LOCK_HEAD_PG if connection.dialect.name == "postgresql" else _LOCK_HEAD
    found = connection.execute(query, {"s": stream}).scalar()
    if found is not None:
        return int(found)
    insert_head = (
        postgresql.insert(exchange_journal_heads)
        if connection.dialect.name == "postgresql"
        else sqlite.insert(exchange_journal_heads)
    ).on_conflict_do_nothing()
    connection.execute(insert_head, {"stream": stream, "seq": 0})
    return int(connection.execute(query, {"s": stream}).scalar_one())


def append(connection: Connection, stream: str, command_json: dict[str, Any], at: str) -> int:
    """Append one command to a stream and return its seq (locks the head if the caller did not)."""
    return append_many(connection, stream, lock(connection, stream), [(command_json, at)])[0]


def append_many(
    connection: Connection, stream: str, head: int, commands: Sequence[tuple[dict[str, Any], str]]
) -> list[int]:
    """Append commands after `head` (what `lock` returned in this transaction); returns their seqs.

    One multi-row insert and one head update, whatever the number of commands: the group commit
    of `Exchange.submit_many` writes a whole batch's journal in two statements.
    """
    if not commands:
        return []
    rows: list[dict[str, Any]] = []
    for offset, (body, at) in enumerate(commands, start=1):
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        if len(text) > command_json_max_bytes:
            raise AssertionError(f"a journalled command of {len(text)} bytes is not a command")
        rows.append({"stream": stream, "seq": head + offset, "command": text, "at": at})
    connection.execute(_INSERT_ROWS, rows)
    connection.execute(_SET_HEAD, {"s": stream, "v": head + len(rows)})
    return [head + offset for offset in range(1, len(rows) + 1)]


def read(
    connection: Connection, stream: str, after_seq: int = 0, up_to_seq: int | None = None
) -> list[Entry]:
    """The stream's commands after `after_seq` (up to `up_to_seq` if given), in order."""
    entries: list[Entry] = []
    cursor = after_seq
    while True:
        query = (
            select(exchange_journal.c.seq, exchange_journal.c.command, exchange_journal.c.at)
            .where(exchange_journal.c.stream == stream)
            .where(exchange_journal.c.seq > cursor)
            .order_by(exchange_journal.c.seq)
            .limit(read_page_rows)
        )
        if up_to_seq is not None:
            query = query.where(exchange_journal.c.seq <= up_to_seq)
        page = connection.execute(query).all()
        entries.extend(Entry(stream, int(r.seq), json.loads(r.command), r.at) for r in page)
        if len(page) < read_page_rows:
            return entries
        cursor = int(page[-1].seq)
