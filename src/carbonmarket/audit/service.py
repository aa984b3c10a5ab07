"""Use cases of the audit log: verify the whole chain."""

from __future__ import annotations

from sqlalchemy import Engine

from carbonmarket.audit import store
from carbonmarket.audit.model import ChainCheck, ChainWalker


def verify(engine: Engine) -> ChainCheck:
    """Walk the chain from the first row; report the first edited, missing or re-ordered row."""
    walker = ChainWalker()
    with engine.connect() as connection:
        for row in store.rows(connection):
            if not walker.feed(row):
                break
        head_seq, head_hash = store.tip(connection)
    return walker.finish(head_seq, head_hash)
