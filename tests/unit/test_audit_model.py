"""The audit chain's hashing and walking, without a database."""

from __future__ import annotations

from dataclasses import replace

from carbonmarket.audit.model import GENESIS_HASH, AuditRow, ChainWalker, canonical_json, row_hash


def chain(n: int) -> list[AuditRow]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        payload = canonical_json({"n": seq})
        digest = row_hash(prev, seq, f"t{seq}", "alice", "act", f"s{seq}", payload)
        rows.append(AuditRow(seq, f"t{seq}", "alice", "act", f"s{seq}", payload, prev, digest))
        prev = digest
    return rows


def walk(rows: list[AuditRow], tip: tuple[int, str]) -> tuple[int | None, int]:
    walker = ChainWalker()
    for row in rows:
        if not walker.feed(row):
            break
    result = walker.finish(*tip)
    return result.first_bad_row, result.rows


def test_canonical_json_is_independent_of_key_order() -> None:
    assert canonical_json({"b": 1, "a": "中"}) == canonical_json({"a": "中", "b": 1}) == '{"a":"中","b":1}'


def test_an_intact_chain_verifies() -> None:
    rows = chain(5)
    assert walk(rows, (5, rows[-1].hash)) == (None, 5)


def test_an_edited_row_is_found() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], payload='{"n":999}')
    assert walk(rows, (5, rows[-1].hash))[0] == 3


def test_a_deleted_middle_row_is_found() -> None:
    rows = chain(5)
    del rows[1]
    assert walk(rows, (5, chain(5)[-1].hash))[0] == 2


def test_a_deleted_last_row_is_found_by_the_tip() -> None:
    rows = chain(5)
    tip = (5, rows[-1].hash)
    assert walk(rows[:-1], tip)[0] == 5


def test_an_empty_log_verifies() -> None:
    assert walk([], (0, GENESIS_HASH)) == (None, 0)
