"""`carbonmarket bench ledger`: registry transfers per second under N concurrent clients.

What is measured (bench/README.md says more): N client processes, each with its own engine, call
`Registry.transfer` — the same use case the CLI and the API call, with its checks, idempotency
row, ledger legs, registry transaction and audit row — between random accounts of a populated
scratch registry for a fixed time. Then, on the same PostgreSQL server and with the same number of
clients, pgbench's TPC-B-like script runs for the same time, and the ratio of the two is printed.
At the end `Registry.reconcile()` replays the ledger; a run whose books do not balance is a failure
whatever its speed.

On SQLite the registry allows one writer at a time, so one client runs and there is no pgbench.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import random
import secrets
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import URL, Engine, event

from carbonmarket.benchmarks import scratch
from carbonmarket.benchmarks.host import cpu_count, host_cpu
from carbonmarket.benchmarks.pgbench import find_pgbench, run_pgbench
from carbonmarket.benchmarks.report import LoadFigures, Summary, busy_share, merge_counts
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome, Refusal
from carbonmarket.db import raw
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.registry.service import Registry

INSTRUMENT = "CEA24"
GOVERNMENT_HOLDER = "bench-gov"
ISSUANCE_ACCOUNT = "bench-issuance"

clients_max = 64
accounts_min = 2
accounts_max = 100_000
seconds_max = 3_600.0
# Each account starts with this many tonnes; a transfer moves 1..transfer_quantity_max_t, so an
# account would need hundreds of net outflows in one run before a refusal could happen.
initial_balance_t = 100_000
transfer_quantity_max_t = 100
# Unmeasured transfers per client before the clock starts: connect, fill the statement cache.
warmup_transfers = 5
# How long the parent waits for a client to start (spawn imports the package) or to report.
client_start_timeout_s = 120.0
client_report_grace_s = 120.0
progress_refresh_s = 0.2


def account_id(index: int) -> str:
    """The id of the index-th benchmark holding account."""
    return f"bench-acct-{index:06d}"


def run_ledger_benchmark(
    url: str,
    clients: int = 4,
    seconds: float = 10.0,
    accounts: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure transfers/s with `clients` processes (one on SQLite) beside pgbench; return the summary."""
    _check_limits(clients, seconds, accounts)
    target = scratch.parse_url(url)
    with _Bar(progress) as bar:
        if scratch.is_sqlite(target):
            return _run_sqlite(target, clients, seconds, accounts, bar)
        return _run_postgres(target, clients, seconds, accounts, bar)


def _check_limits(clients: int, seconds: float, accounts: int) -> None:
    """Refuse settings outside the limits, with the limit named."""
    if not 1 <= clients <= clients_max:
        raise ValueError(f"--clients must be 1-{clients_max}, not {clients}")
    if not 0 < seconds <= seconds_max:
        raise ValueError(f"--seconds must be above 0 and at most {seconds_max:g}, not {seconds:g}")
    if not accounts_min <= accounts <= accounts_max:
        raise ValueError(f"--accounts must be {accounts_min}-{accounts_max}, not {accounts}")


def _run_postgres(target: URL, clients: int, seconds: float, accounts: int, bar: _Bar) -> dict[str, Any]:
    """Our load in one scratch database, then pgbench in another, both on the server behind `target`."""
    server = {**scratch.server_facts(target), "host_cpus": cpu_count()}
    notes: list[str] = []
    with scratch.postgres_database(target, "ledger") as database:
        populate(database, accounts, bar)
        scratch.settle(database, analyse=True)
        load = run_load(database, clients, seconds, accounts, bar)
        reconcile_ok = _reconcile(database)
    pgbench_tps: float | None = None
    pgbench: dict[str, Any] = {}
    if find_pgbench() is None:
        notes.append("pgbench is not on PATH, so there is no ratio (install postgresql-client).")
    else:
        task = bar.start("pgbench TPC-B-like", max(1, round(seconds)))
        run = run_pgbench(target, clients, seconds, lambda s: bar.update(task, s))
        bar.finish(task)
        pgbench_tps = run.figures.tps
        pgbench = {
            "scale": run.scale,
            "clients": run.clients,
            "threads": run.threads,
            "seconds": run.seconds,
            "latency_avg_ms": run.figures.latency_avg_ms,
            "failed": run.figures.failed,
            "version": run.version,
            "host_cpu_busy": None if run.host_busy is None else round(run.host_busy, 2),
        }
    summary = Summary(
        database="postgresql",
        seconds=seconds,
        accounts=accounts,
        load=load,
        reconcile_ok=reconcile_ok,
        pgbench_tps=pgbench_tps,
        pgbench=pgbench,
        server=server,
        notes=notes,
    )
    return summary.as_json()


def _run_sqlite(target: URL, clients: int, seconds: float, accounts: int, bar: _Bar) -> dict[str, Any]:
    """One writer on a scratch SQLite file beside the given one; no pgbench, so no ratio."""
    import sqlite3

    notes = [
        "SQLite takes one writer at a time (BEGIN IMMEDIATE), so one client ran"
        + (f" ({clients} were asked for)" if clients != 1 else "")
        + "; pgbench needs PostgreSQL, so pgbench_tps and ratio are null."
    ]
    with scratch.sqlite_file(target) as database:
        populate(database, accounts, bar)
        load = run_load(database, 1, seconds, accounts, bar)
        reconcile_ok = _reconcile(database)
    summary = Summary(
        database="sqlite",
        seconds=seconds,
        accounts=accounts,
        load=load,
        reconcile_ok=reconcile_ok,
        server={
            "sqlite_version": sqlite3.sqlite_version,
            "journal_mode": "wal",
            "synchronous": "normal",
            "host_cpus": cpu_count(),
        },
        notes=notes,
    )
    return summary.as_json()


# --- set-up -----------------------------------------------------------------------------------------


def populate(database: URL, accounts: int, bar: _Bar | None = None) -> None:
    """Migrate, define the instruments, and give `accounts` entity accounts their opening balance.

    Everything goes through the registry's own commands, so the books start valid (audited,
    reconcilable). Set-up is not timed; on PostgreSQL it commits without waiting for the WAL flush
    (synchronous_commit=off, this session only) because nothing here needs to survive a crash.
    """
    bar = bar or _Bar(enabled=False)
    upgrade(scratch.url_text(database))
    engine = _setup_engine(database)
    try:
        registry = Registry(engine)
        operator = LOCAL_OPERATOR
        for outcome in registry.define_defaults(operator):
            _require_done(outcome, "defining the instruments")
        _require_done(
            registry.add_holder(operator, GOVERNMENT_HOLDER, "Benchmark regulator", "government"), "set-up"
        )
        _require_done(
            registry.open_account(operator, ISSUANCE_ACCOUNT, GOVERNMENT_HOLDER, "issuance"), "set-up"
        )
        issue = registry.issue(
            operator, "bench-issue", INSTRUMENT, accounts * initial_balance_t, ISSUANCE_ACCOUNT
        )
        _require_done(issue, "issuing the opening balances")
        task = bar.start("opening accounts", accounts)
        for index in range(accounts):
            holder = f"bench-holder-{index:06d}"
            account = account_id(index)
            _require_done(
                registry.add_holder(operator, holder, f"Benchmark entity {index}", "entity"), "set-up"
            )
            _require_done(registry.open_account(operator, account, holder, "holding"), "set-up")
            funding = registry.transfer(
                operator, f"bench-fund-{index}", ISSUANCE_ACCOUNT, account, INSTRUMENT, initial_balance_t
            )
            _require_done(funding, "funding the accounts")
            bar.update(task, index + 1)
        bar.finish(task)
    finally:
        engine.dispose()


def _setup_engine(database: URL) -> Engine:
    """An engine for untimed set-up: on PostgreSQL, commits do not wait for the disk."""
    if scratch.is_sqlite(database):
        return make_engine(scratch.url_text(database))
    return make_engine(scratch.url_text(database), connect_args={"options": "-c synchronous_commit=off"})


def _require_done(outcome: Outcome, step: str) -> None:
    """Stop the benchmark if a set-up command was refused: its figures would mean nothing."""
    if isinstance(outcome, Refusal):
        raise RuntimeError(f"{step} was refused: [{outcome.code.value}] {outcome.message}")


def _reconcile(database: URL) -> bool:
    """Replay the ledger against the cached balances and supply counters; True when all agree."""
    engine = make_engine(scratch.url_text(database))
    try:
        return Registry(engine).reconcile().ok
    finally:
        engine.dispose()


# --- load -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientPlan:
    """What one client process does: which database, which accounts, for how long, with which seed."""

    url: str
    index: int
    run_id: str
    accounts: int
    seconds: float
    seed: int


@dataclass
class ClientReport:
    """What one client measured, sent back to the parent at the end (or an error)."""

    index: int
    transfers: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    statements: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0
    error: str | None = None


def run_load(database: URL, clients: int, seconds: float, accounts: int, bar: _Bar) -> LoadFigures:
    """Start `clients` processes, release them together, wait for their reports and add them up."""
    context = multiprocessing.get_context("spawn")
    messages: multiprocessing.Queue[tuple[str, Any]] = context.Queue()
    go = context.Event()
    counters = context.Array("q", clients, lock=False)
    run_id = secrets.token_hex(4)
    processes: list[SpawnProcess] = []
    for index in range(clients):
        plan = ClientPlan(
            scratch.url_text(database), index, run_id, accounts, seconds, random.randrange(2**31)
        )
        process = context.Process(
            target=client_main, args=(plan, messages, go, counters), name=f"bench-client-{index}"
        )
        process.start()
        processes.append(process)
    reports: dict[int, ClientReport] = {}
    try:
        _wait_until_ready(messages, processes, reports)
        cpu_before = host_cpu()
        go.set()
        task = bar.start(f"transfers, {clients} client{'s' if clients > 1 else ''}", seconds)
        started = time.monotonic()
        deadline = started + seconds + client_report_grace_s
        while len(reports) < clients:
            with contextlib.suppress(queue.Empty):
                kind, payload = messages.get(timeout=progress_refresh_s)
                if kind == "report":
                    reports[payload.index] = payload
            elapsed = min(time.monotonic() - started, seconds)
            bar.update(task, elapsed, f"{sum(counters)} transfers")
            _check_alive(processes, reports, time.monotonic() > deadline)
        cpu_after = host_cpu()
        bar.finish(task)
    finally:
        go.set()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
    failures = [r.error for r in reports.values() if r.error]
    if failures:
        raise RuntimeError("a benchmark client failed:\n" + failures[0])
    return LoadFigures(
        clients=clients,
        transfers=sum(r.transfers for r in reports.values()),
        refusals=merge_counts(r.refusals for r in reports.values()),
        elapsed_s=max(r.elapsed_s for r in reports.values()),
        latencies_ms=[ms for r in reports.values() for ms in r.latencies_ms],
        statements=sum(r.statements for r in reports.values()),
        client_cpu_s=sum(r.cpu_s for r in reports.values()),
        host_busy=busy_share(cpu_before, cpu_after) if cpu_before and cpu_after else None,
    )


def _wait_until_ready(
    messages: multiprocessing.Queue[tuple[str, Any]],
    processes: list[SpawnProcess],
    reports: dict[int, ClientReport],
) -> None:
    """Block until every client has connected and warmed up (or failed trying)."""
    ready: set[int] = set()
    deadline = time.monotonic() + client_start_timeout_s
    while len(ready) + len(reports) < len(processes):
        with contextlib.suppress(queue.Empty):
            kind, payload = messages.get(timeout=progress_refresh_s)
            if kind == "ready":
                ready.add(int(payload))
            else:
                reports[payload.index] = payload
        _check_alive(processes, reports, time.monotonic() > deadline)
    failures = [r.error for r in reports.values() if r.error]
    if failures:
        raise RuntimeError("a benchmark client failed to start:\n" + failures[0])


def _check_alive(processes: list[SpawnProcess], reports: dict[int, ClientReport], late: bool) -> None:
    """Fail loudly if a client died without reporting, or if the clients are far past their time."""
    for index, process in enumerate(processes):
        if index not in reports and process.exitcode is not None:
            raise RuntimeError(
                f"benchmark client {index} exited with code {process.exitcode} without a report"
            )
    if late:
        raise RuntimeError("benchmark clients did not report in time")


def client_main(
    plan: ClientPlan,
    messages: multiprocessing.Queue[tuple[str, Any]],
    go: Any,
    counters: Any,
) -> None:
    """One client process: own engine, warm-up, wait for the start, transfer until time is up."""
    report = ClientReport(plan.index)
    try:
        engine = make_engine(plan.url)
        statements = _count_statements(engine)
        registry = Registry(engine)
        rng = random.Random(plan.seed)
        for number in range(warmup_transfers):
            _transfer(registry, rng, plan, f"w{number}")
        messages.put(("ready", plan.index))
        go.wait()
        statements[0] = 0
        cpu_started = time.process_time()
        started = time.perf_counter()
        deadline = started + plan.seconds
        finished = started
        sequence = 0
        while finished < deadline:
            outcome = _transfer(registry, rng, plan, str(sequence))
            now = time.perf_counter()
            report.latencies_ms.append((now - finished) * 1000)
            finished = now
            sequence += 1
            if isinstance(outcome, Done):
                report.transfers += 1
                counters[plan.index] = report.transfers
            else:
                code = outcome.code.value
                report.refusals[code] = report.refusals.get(code, 0) + 1
        report.elapsed_s = finished - started
        report.cpu_s = time.process_time() - cpu_started
        report.statements = statements[0]
        engine.dispose()
    except BaseException:
        report.error = traceback.format_exc()
    messages.put(("report", report))


def _transfer(registry: Registry, rng: random.Random, plan: ClientPlan, suffix: str) -> Outcome:
    """One transfer of a random small quantity between two distinct random accounts."""
    sender, receiver = rng.sample(range(plan.accounts), 2)
    command_id = f"bench-{plan.run_id}-{plan.index}-{suffix}"
    quantity = rng.randint(1, transfer_quantity_max_t)
    return registry.transfer(
        LOCAL_OPERATOR, command_id, account_id(sender), account_id(receiver), INSTRUMENT, quantity
    )


def _count_statements(engine: Engine) -> list[int]:
    """Count the SQL statements the engine sends (BEGIN, COMMIT and the pool's ping are not counted)."""
    counter = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        counter[0] += 1

    def _count_raw(_text: str, _seconds: float) -> None:
        counter[0] += 1

    # The hot-path statements go to the driver directly (db/raw.py) and are counted there.
    raw.statement_observers.append(_count_raw)
    return counter


# --- progress ---------------------------------------------------------------------------------------


class _Bar:
    """A Rich progress display on stderr, or nothing when progress is off (e.g. with --json)."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._progress.stop()

    def start(self, description: str, total: float) -> TaskID:
        """Show a new phase with its total (accounts, or seconds)."""
        return self._progress.add_task(description, total=total, detail="")

    def update(self, task: TaskID, completed: float, detail: str | None = None) -> None:
        """Move a phase's bar, optionally with a short detail such as the count so far."""
        if detail is None:
            self._progress.update(task, completed=completed)
        else:
            self._progress.update(task, completed=completed, detail=detail)

    def finish(self, task: TaskID) -> None:
        """Mark a phase complete."""
        total = next(t.total for t in self._progress.tasks if t.id == task)
        self._progress.update(task, completed=total or 0)
