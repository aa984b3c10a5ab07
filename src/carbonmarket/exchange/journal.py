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

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from carbonmarket.db.raw import BulkInsert, Sql
from carbonmarket.db.tables_exchange import exchange_journal, exchange_journal_heads

# A command's JSON is a few hundred bytes; anything far larger is a bug, not a command.
command_json_max_bytes = 16_384
# The canonical text of a command: sorted keys, no spaces (as `json.dumps` with those options).
_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode
# One catch-up or replay reads the journal in pages of this many rows.
read_page_rows = 10_000

# Every batch locks its stream's head and appends its commands: sent to the driver directly
# (db/raw.py says why). SQLite holds its one write lock from BEGIN, so only PostgreSQL locks the row.
_LOCK_HEAD = Sql("SELECT seq FROM exchange_journal_heads WHERE stream = :s", postgres_suffix=" FOR UPDATE")
_SET_HEAD = Sql("UPDATE exchange_journal_heads SET seq = :v WHERE stream = :s")
_INSERT_ROWS = BulkInsert(exchange_journal, ["stream", "seq", "command", "at"])
# PostgreSQL: the rows and the new head in one statement that returns nothing, so it can be sent
# in a pipeline (`db.raw.pipelined`) without waiting. The commands travel as one JSON array of
# their texts; `json` (not `jsonb`) keeps each element's text exactly as sent, so every row holds
# its command's canonical text.
_APPEND_PG = Sql(
    "WITH appended AS (INSERT INTO exchange_journal (stream, seq, command, at) "
    "SELECT :s, :head + CAST(c.n AS bigint), CAST(c.command AS text), :at "
    "FROM json_array_elements(CAST(:commands AS json)) WITH ORDINALITY AS c(command, n)) "
    "UPDATE exchange_journal_heads SET seq = :v WHERE stream = :s"
)


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
    found = _LOCK_HEAD.one(connection, {"s": stream})
    if found is not None:
        return int(found[0])
    insert_head = (
        postgresql.insert(exchange_journal_heads)
        if connection.dialect.name == "postgresql"
        else sqlite.insert(exchange_journal_heads)
    ).on_conflict_do_nothing()
    connection.execute(insert_head, {"stream": stream, "seq": 0})
    found = _LOCK_HEAD.one(connection, {"s": stream})
    assert found is not None, "the head row was just made"
    return int(found[0])


def append(connection: Connection, stream: str, command_json: dict[str, Any], at: str) -> int:
    """Append one command to a stream and return its seq (locks the head if the caller did not)."""
    return append_many(connection, stream, lock(connection, stream), [(command_json, at)])[0]


def append_many(
    connection: Connection, stream: str, head: int, commands: Sequence[tuple[dict[str, Any], str]]
) -> list[int]:
    """Append commands after `head` (what `lock` returned in this transaction); returns their seqs."""
    return append_texts(connection, stream, head, [(_encode(body), at) for body, at in commands])


def append_texts(
    connection: Connection, stream: str, head: int, commands: Sequence[tuple[str, str]]
) -> list[int]:
    """`append_many` with each command already as its canonical text (`model.command_text`).

    One statement on PostgreSQL (the rows and the head), two on SQLite, whatever the number of
    commands: the group commit of `Exchange.submit_many` writes a whole batch's journal at once.
    Nothing is read back, so on PostgreSQL it can go in the batch's pipeline.
    """
    if not commands:
        return []
    longest = max(len(text) for text, _ in commands)
    if longest > command_json_max_bytes:
        raise AssertionError(f"a journalled command of {longest} bytes is not a command")
    seqs = list(range(head + 1, head + len(commands) + 1))
    ats = {at for _, at in commands}
    if connection.dialect.name == "postgresql" and len(ats) == 1:
        # One parameter whatever the batch: the texts joined into one JSON array.
        whole = "[" + ",".join(text for text, _ in commands) + "]"
        parameters = {"s": stream, "head": head, "at": ats.pop(), "v": seqs[-1], "commands": whole}
        _APPEND_PG.run(connection, parameters)
    else:
        rows = [(stream, seq, text, at) for seq, (text, at) in zip(seqs, commands, strict=True)]
        _INSERT_ROWS.run(connection, rows)
        _SET_HEAD.run(connection, {"s": stream, "v": seqs[-1]})
    return seqs


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
