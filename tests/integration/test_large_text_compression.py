"""PostgreSQL stores the large texts (a batch's audit payload and command result) lz4-compressed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from carbonmarket.audit.service import verify
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine

pytestmark = pytest.mark.postgres


def test_a_large_command_result_and_its_audit_payload_are_stored_lz4_and_read_back_whole(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        clock = FixedClock(datetime(2025, 7, 1, 2, 0, tzinfo=UTC))
        results = [{"order_id": f"o{n}", "ok": True, "status": "open", "remaining": n} for n in range(2_000)]
        outcome = run_command(
            engine,
            clock,
            LOCAL_OPERATOR,
            "test.big",
            "big-1",
            {"n": 2_000},
            lambda _c, _at: {"results": results},
        )
        assert isinstance(outcome, Done)
        with engine.connect() as connection:
            stored = connection.execute(
                text(
                    "SELECT pg_column_compression(c.result), pg_column_compression(a.payload), "
                    "length(c.result), octet_length(a.payload) "
                    "FROM commands AS c, audit_log AS a WHERE c.id = 'test.big:big-1' AND a.subject = 'big-1'"
                )
            ).one()
        assert stored[0] == "lz4" and stored[1] == "lz4"
        assert stored[2] > 50_000  # large enough to be stored out of line, compressed
        assert run_command(
            engine, clock, LOCAL_OPERATOR, "test.big", "big-1", {"n": 2_000}, lambda _c, _at: {}
        ).data == {"results": results}  # the replay reads the stored result back, whole
        assert verify(engine).ok
    finally:
        engine.dispose()
