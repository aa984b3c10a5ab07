"""How an audit row is hashed: sha256 over the previous hash and the row's canonical JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# The chain starts from a fixed hash, so the first row is checked like every other.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRow:
    """One appended fact: who did what to which subject, with the details as canonical JSON."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    payload: str
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept, so equal data hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str, payload: str) -> str:
    """sha256(prev_hash ‖ canonical row): changing any field, or any earlier row, changes it."""
    canonical = canonical_json(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "payload": payload}
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


# The canonical row sorts its keys, so "seq" always sits between "payload" and "subject"; inside a
# JSON string every quote is escaped, so this text can only be the key itself.
_SEQ_SLOT = ',"seq":0,"subject":'


def row_hash_parts(at: str, actor: str, action: str, subject: str, payload: str) -> tuple[str, str]:
    """The canonical row of `row_hash` without its seq, as the text before and after it.

    For a writer that learns the seq and the previous hash only under the tip's lock, inside the
    database: row_hash(prev, seq, ...) == sha256(prev ‖ before ‖ str(seq) ‖ after).
    """
    canonical = canonical_json(
        {"seq": 0, "at": at, "actor": actor, "action": action, "subject": subject, "payload": payload}
    )
    slot = canonical.index(_SEQ_SLOT)
    digits_at = slot + len(',"seq":')
    return canonical[:digits_at], canonical[digits_at + 1 :]


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking the chain: rows read and the first row that does not fit, if any."""

    rows: int
    first_bad_row: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """True when every row is where it should be and hashes as recorded."""
        return self.first_bad_row is None


class ChainWalker:
    """Checks rows one at a time in sequence order; stops at the first that breaks the chain."""

    def __init__(self) -> None:
        self.rows = 0
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.first_bad: int | None = None
        self.reason: str | None = None

    def feed(self, row: AuditRow) -> bool:
        """Check the next row; returns False once the chain is broken."""
        self.rows += 1
        if row.seq != self.expected_seq:
            return self._break(
                self.expected_seq, f"row {self.expected_seq} is missing (next row is {row.seq})"
            )
        if row.prev_hash != self.prev_hash:
            return self._break(row.seq, f"row {row.seq} does not point at the hash of row {row.seq - 1}")
        recomputed = row_hash(row.prev_hash, row.seq, row.at, row.actor, row.action, row.subject, row.payload)
        if recomputed != row.hash:
            return self._break(row.seq, f"row {row.seq} was edited: its content no longer matches its hash")
        self.prev_hash = row.hash
        self.expected_seq += 1
        return True

    def finish(self, head_seq: int, head_hash: str) -> ChainCheck:
        """Compare the end of the walk with the recorded tip, which catches deleted last rows."""
        if self.first_bad is None and (head_seq != self.expected_seq - 1 or head_hash != self.prev_hash):
            self._break(
                self.expected_seq,
                f"the chain ends at row {self.expected_seq - 1} but its tip says {head_seq}",
            )
        return ChainCheck(self.rows, self.first_bad, self.reason)

    def _break(self, seq: int, reason: str) -> bool:
        self.first_bad = seq
        self.reason = reason
        return False
