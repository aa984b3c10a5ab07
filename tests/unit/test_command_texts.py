"""The texts a command is hashed and audited by, composed from parts, equal the canonical JSON of the whole.

`run_command` encodes a body once and builds the idempotency fingerprint and the audit payload from
that text (a group commit's body holds thousands of commands). Rows written before that change were
hashed from the whole dicts, so a replayed command id must still hash the same: the composed texts
must be byte-identical to `canonical_json` of the dicts, for any JSON-like body.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from carbonmarket.audit.model import canonical_json, row_hash, row_hash_parts
from carbonmarket.core.actors import Actor, Role
from carbonmarket.db.command import command_body_hash

texts = st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
bodies = st.dictionaries(texts, json_values, max_size=6)


@given(username=texts, kind=texts, body=bodies)
def test_the_body_hash_is_the_hash_of_the_whole_fingerprint(
    username: str, kind: str, body: dict[str, Any]
) -> None:
    actor = Actor(username, Role.REGULATOR)
    whole = canonical_json({"actor": username, "kind": kind, "body": body})
    assert command_body_hash(actor, kind, body) == hashlib.sha256(whole.encode()).hexdigest()


@given(body=bodies, result=bodies)
def test_the_composed_audit_payload_is_the_canonical_payload(
    body: dict[str, Any], result: dict[str, Any]
) -> None:
    composed = f'{{"body":{canonical_json(body)},"result":{canonical_json(result)}}}'
    assert composed == canonical_json({"body": body, "result": result})


@given(prev=texts, seq=st.integers(min_value=1, max_value=10**15), at=texts, actor=texts, action=texts,
       subject=texts, payload=texts)  # fmt: skip
def test_the_audit_row_split_around_its_seq_hashes_as_the_row(
    prev: str, seq: int, at: str, actor: str, action: str, subject: str, payload: str
) -> None:
    """registry/direct.py has the server compute the hash from these parts (migration 0013)."""
    before, after = row_hash_parts(at, actor, action, subject, payload)
    in_parts = hashlib.sha256((prev + before + str(seq) + after).encode("utf-8")).hexdigest()
    assert in_parts == row_hash(prev, seq, at, actor, action, subject, payload)
