"""The unit of work: one database transaction per use case, retried when the database says so.

Transaction boundaries belong to services (rule 8): a service calls `run_in_transaction` with a
function of a connection; endpoints and stores never commit. A refusal (`Refused`) rolls back
everything the function did, so a refused command leaves no trace in the state.

`HeldTransaction` is the one other shape: a transaction the service begins now and commits later,
after other work (the exchange's stream of group commits, `Exchange.submit_stream`).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from carbonmarket.db.raw import pipeline_scope

T = TypeVar("T")

# Deadlocks and serialisation failures are retried this many times before the error surfaces.
transaction_attempts_max = 20
retry_backoff_max_s = 0.05

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def run_in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction, committing on success and retrying transient conflicts."""
    for attempt in range(1, transaction_attempts_max + 1):
        try:
            with engine.begin() as connection:
                return work(connection)
        except DBAPIError as error:
            if attempt == transaction_attempts_max or not _is_transient(error):
                raise
            time.sleep(random.uniform(0, retry_backoff_max_s * attempt))
    raise AssertionError("unreachable: the loop returns or raises")


def _is_transient(error: DBAPIError) -> bool:
    """Whether a database error is a conflict that a retry of the whole transaction resolves."""
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


class HeldTransaction:
    """A transaction on a connection of its own, begun now and ended later by `commit` or
    `abandon`, inside a `db.raw.pipeline_scope` (so its statements may be pipelined to the end).

    Not retried: a service that holds one decides what a failure means (the exchange's stream
    sends the batch again through `run_in_transaction`).
    """

    def __init__(self, engine: Engine) -> None:
        self.connection = engine.connect()
        self._transaction = self.connection.begin()
        self._scope = pipeline_scope(self.connection)
        self._scope.__enter__()

    def commit(self) -> None:
        """Wait for the pipeline (its errors raise here) and commit; the connection is closed."""
        try:
            self._scope.__exit__(None, None, None)
            self._transaction.commit()
        finally:
            self.connection.close()

    def abandon(self) -> None:
        """Roll back and close; what the pipeline's statements raised goes with the transaction."""
        with contextlib.suppress(Exception):
            self._scope.__exit__(None, None, None)
        try:
            self._transaction.rollback()
        finally:
            self.connection.close()
