"""Hot-path statements sent straight to the database driver, inside SQLAlchemy's transaction.

Why: a registry transfer is about ten statements, and on this 2-core machine its throughput is set
by client CPU. Through SQLAlchemy Core each statement costs the client 100-300 µs (building the
execution context, result metadata, type processing); the driver's own cursor costs a tenth of
that (bench/README.md, "Where a transfer's time goes"). So the statements every command runs —
idempotency, accounts, balance locks, ledger legs, registry transaction, audit chain — are written
once as SQL text here and executed on the DBAPI connection SQLAlchemy already holds: same
connection, same transaction, same commit, and driver errors are re-raised as SQLAlchemy's
(`IntegrityError`, `OperationalError`, ...) so the unit of work's retries and the idempotency race
handling see exactly what they saw before. Everything else keeps using SQLAlchemy Core.

Statements use `:name` parameters (SQLite's own style); for psycopg they are rewritten once to
`%(name)s`. psycopg prepares a statement on the server after a few executions of the same text.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Connection, Integer, Table, event
from sqlalchemy.exc import DBAPIError

_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")
Parameters = Mapping[str, Any] | None
# Benchmarks and profilers count and time the statements sent here, as they do SQLAlchemy's with
# its cursor events: each observer gets (statement text, seconds it took). Empty in normal use.
statement_observers: list[Callable[[str, float], None]] = []


class Sql:
    """One statement for both databases: one text, a suffix for either, or (`postgres=`) a text of
    PostgreSQL's own — e.g. a join with `jsonb_array_elements_text` where SQLite reads `json_each`."""

    __slots__ = ("_postgres", "_sqlite")

    def __init__(
        self, text: str, *, postgres: str | None = None, postgres_suffix: str = "", sqlite_suffix: str = ""
    ) -> None:
        self._sqlite = text + sqlite_suffix
        postgres_text = (text if postgres is None else postgres) + postgres_suffix
        self._postgres = _PARAMETER.sub(r"%(\1)s", postgres_text.replace("%", "%%"))

    def text_for(self, connection: Connection) -> str:
        """The statement as the connection's driver wants it."""
        return self._postgres if connection.dialect.name == "postgresql" else self._sqlite

    def execute(self, connection: Connection, parameters: Mapping[str, Any] | None = None) -> Any:
        """Run the statement once; returns the connection's driver cursor, valid until the next statement."""
        text = self.text_for(connection)
        cursor = _cursor(connection)
        started = time.perf_counter() if statement_observers else 0.0
        try:
            cursor.execute(text, parameters or {})
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, text, parameters, error) from error
        if statement_observers:
            _notify(text, started)
        return cursor

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set, in one driver call."""
        if not rows:
            return
        text = self.text_for(connection)
        cursor = _driver(connection).cursor()
        started = time.perf_counter() if statement_observers else 0.0
        try:
            cursor.executemany(text, rows)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, text, rows, error) from error
        finally:
            cursor.close()
        if statement_observers:
            _notify(text, started)

    def one(
        self, connection: Connection, parameters: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """The first row as a tuple, or None."""
        row = self.execute(connection, parameters).fetchone()
        return None if row is None else tuple(row)

    def all(
        self, connection: Connection, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row as tuples."""
        return [tuple(row) for row in self.execute(connection, parameters).fetchall()]

    def run(self, connection: Connection, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows."""
        self.execute(connection, parameters)


class SqlByArity:
    """Statements with an `IN (...)` list of n items, built once per n (n is small on hot paths)."""

    __slots__ = ("_build", "_cache")

    def __init__(self, build: Any) -> None:
        self._build = build
        self._cache: dict[int, Sql] = {}

    def __call__(self, count: int) -> Sql:
        """The statement for `count` items."""
        statement = self._cache.get(count)
        if statement is None:
            statement = self._cache[count] = self._build(count)
        return statement


def placeholders(prefix: str, count: int) -> str:
    """`:p0, :p1, ...` for an IN list."""
    return ", ".join(f":{prefix}{index}" for index in range(count))


def _notify(text: str, started: float) -> None:
    elapsed = time.perf_counter() - started
    for observer in statement_observers:
        observer(text, elapsed)


def _cursor(connection: Connection) -> Any:
    """One driver cursor per database connection, reused: making a cursor costs as much as a small query.

    The cursor lives in the pool record's `info` next to the DBAPI connection it belongs to; a
    connection replaced after a failure gets a new cursor.
    """
    driver = _driver(connection)
    info = connection.connection.info
    cached = info.get("carbonmarket_cursor")
    if cached is not None and cached[0] is driver:
        return cached[1]
    cursor = driver.cursor()
    info["carbonmarket_cursor"] = (driver, cursor)
    return cursor


def _driver(connection: Connection) -> Any:
    """The DBAPI connection behind a SQLAlchemy connection (already in its transaction)."""
    return connection.connection.driver_connection


def _translated(connection: Connection, text: str, parameters: Any, error: Exception) -> Exception:
    """The driver's error wrapped as SQLAlchemy would (IntegrityError, OperationalError, ...)."""
    return DBAPIError.instance(
        text,
        parameters,
        error,
        connection.dialect.loaded_dbapi.Error,
        dialect=connection.dialect,
        ismulti=isinstance(parameters, Sequence) and not isinstance(parameters, Mapping),
    )


# --- statements for many rows ------------------------------------------------------------------
#
# The group commit of the exchange writes thousands of rows per transaction (order, hold, journal,
# trade rows). SQLAlchemy's executemany costs the client ~15 µs per row (parameter processing) and,
# with psycopg, the server one execution per row; psycopg's array parameters are dumped by Python
# code that escapes every quote of every string (30 ms for 1,000 journal rows). These send the rows
# straight to the driver (db/raw.py says why): on PostgreSQL as one JSON array of row arrays in a
# statement of fixed text (`jsonb_array_elements`, prepared once, one execution for any number of
# rows; the encoding is the standard library's C encoder); on SQLite as one driver executemany of
# the same row tuples. Values are str, int or None, in the column order given.

encode_rows = json.JSONEncoder(separators=(",", ":")).encode


class _BulkStatement:
    """A statement for many rows: its PostgreSQL text takes them as one JSON array, SQLite's one by one."""

    __slots__ = ("_postgres", "_sqlite")
    _postgres: Sql
    _sqlite: Sql

    def run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Run it for the rows, in one driver call."""
        if not rows:
            return
        if connection.dialect.name == "postgresql":
            self._postgres.run(connection, {"rows": encode_rows(rows)})
        else:
            self._sqlite.execute_many(connection, rows)  # type: ignore[arg-type]


class BulkInsert(_BulkStatement):
    """`INSERT INTO table (columns)` of many rows (tuples in column order; every column by default).

    The casts on PostgreSQL follow the table's own column types (`cast_type`), so they are never
    written a second time beside the table definition.
    """

    __slots__ = ()

    def __init__(
        self,
        table: Table,
        columns: Sequence[str] | None = None,
        *,
        postgres_suffix: str = "",
        sqlite_suffix: str = "",
    ) -> None:
        chosen = [table.c[name] for name in columns] if columns is not None else list(table.columns)
        names = ", ".join(column.name for column in chosen)
        values = ", ".join(f"CAST(r->>{index} AS {cast_type(column)})" for index, column in enumerate(chosen))
        self._postgres = Sql(
            f"INSERT INTO {table.name} ({names}) SELECT {values} "
            f"FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r{postgres_suffix}"
        )
        slots = ", ".join(f"?{index}" for index in range(1, len(chosen) + 1))
        self._sqlite = Sql(f"INSERT INTO {table.name} ({names}) VALUES ({slots}){sqlite_suffix}")


class BulkUpdate(_BulkStatement):
    """`UPDATE table SET columns WHERE key = ...` for many rows, each a tuple (key, then the columns).

    Keys must be distinct: PostgreSQL applies one joined row per target row. Casts as `BulkInsert`.
    """

    __slots__ = ()

    def __init__(self, table: Table, key: str, columns: Sequence[str]) -> None:
        every = [table.c[key], *(table.c[name] for name in columns)]
        values = ", ".join(
            f"CAST(r->>{index} AS {cast_type(column)}) AS {column.name}" for index, column in enumerate(every)
        )
        sets = ", ".join(f"{name} = u.{name}" for name in columns)
        self._postgres = Sql(
            f"UPDATE {table.name} AS t SET {sets} FROM (SELECT {values} "
            f"FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r) AS u WHERE t.{key} = u.{key}"
        )
        slots = ", ".join(f"{name} = ?{index}" for index, name in enumerate(columns, start=2))
        self._sqlite = Sql(f"UPDATE {table.name} SET {slots} WHERE {key} = ?1")


def cast_type(column: Column[Any]) -> str:
    """The PostgreSQL type a JSON text field is cast to for this column."""
    if isinstance(column.type, BigInteger):
        return "bigint"
    if isinstance(column.type, Integer):
        return "integer"
    if isinstance(column.type, Boolean):
        return "boolean"
    return "text"


# Set on a connection while its pipeline is open; where `begin_pipeline` keeps the pipeline it
# opens: the connection's own info, for the length of a `pipeline_scope` only.
_OPEN = "carbonmarket_pipeline_open"
_SCOPE = "carbonmarket_pipeline_scope"


@contextlib.contextmanager
def pipelined(connection: Connection, *, enabled: bool = True) -> Iterator[None]:
    """On PostgreSQL, send the block's statements without waiting for each one's answer.

    psycopg's pipeline mode: a statement is sent and the client goes on building the next while
    the server runs it; a statement whose rows are read waits for everything sent before it, so
    the order and the outcome are those of sending them one by one. A group commit writes most
    of its rows after its last read, so the server's work overlaps the client's.

    Only statements sent through `db.raw.Sql` (and this module's bulk statements) may run in the
    block: a SQLAlchemy statement's rows are not there before the pipeline syncs, so a SELECT
    through SQLAlchemy would see none. Driver errors of statements sent in the block surface at
    its end (or at the next read) and are re-raised as SQLAlchemy's, as `db.raw` does.
    """
    if not enabled or connection.dialect.name != "postgresql" or connection.info.get(_OPEN):
        # Off PostgreSQL, or inside an open pipeline: the block's statements join that one.
        yield
        return
    dbapi_error = connection.dialect.loaded_dbapi.Error
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection inside a transaction has its driver connection"
    # The rule above, enforced: a SQLAlchemy statement in the block fails loudly instead of
    # quietly reading nothing.
    event.listen(connection, "before_cursor_execute", _refuse_inside_pipeline)
    connection.info[_OPEN] = True
    try:
        with driver.pipeline():
            yield
    except dbapi_error as error:
        raise DBAPIError.instance(
            "(statements of a pipeline)", None, error, dbapi_error, dialect=connection.dialect
        ) from error
    finally:
        connection.info.pop(_OPEN, None)
        event.remove(connection, "before_cursor_execute", _refuse_inside_pipeline)


@contextlib.contextmanager
def pipeline_scope(connection: Connection) -> Iterator[None]:
    """The end of a pipeline that `begin_pipeline` opens inside the block (the whole command).

    `run_command` wraps each command's transaction in one, so a command that pipelines its writes
    (the exchange's group commit) sends the command row and audit row in the same pipeline, and the
    client waits once, here, for all of them. Errors of the pipelined statements surface at the
    block's end as SQLAlchemy's, exactly as `pipelined` raises them.
    """
    stack = contextlib.ExitStack()
    connection.info[_SCOPE] = stack
    try:
        with stack:
            yield
    finally:
        connection.info.pop(_SCOPE, None)


def begin_pipeline(connection: Connection, *, enabled: bool = True) -> None:
    """`pipelined` from here to the end of the enclosing `pipeline_scope` (no-op off PostgreSQL,
    when not `enabled`, or when this scope's pipeline is already open).

    Its rule holds to the scope's end: only `db.raw` statements and SQLAlchemy writes after this.
    """
    stack = connection.info.get(_SCOPE)
    if stack is None:
        raise AssertionError("begin_pipeline needs an enclosing pipeline_scope (run_command opens one)")
    stack.enter_context(pipelined(connection, enabled=enabled))


def _refuse_inside_pipeline(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    """Writes through SQLAlchemy are fine in a pipeline; a statement that returns rows is not."""
    text = statement.lstrip().upper()
    if text.startswith(("SELECT", "WITH")) or " RETURNING " in text:
        raise AssertionError(
            "a SQLAlchemy statement that reads rows inside db.raw.pipelined would read none; "
            f"send it through db.raw instead: {statement[:80]!r}"
        )
