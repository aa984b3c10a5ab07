"""The `carbonmarket` command line: one Typer app, a sub-app per context.

Every command takes `--db URL` (default: $CARBONMARKET_DATABASE_URL, else ./carbonmarket.db) and
`--json`. With `--json` a command prints exactly one JSON object on stdout; a refusal prints
`{"ok": false, "code": ..., "message": ...}` and exits with status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome, Refusal, Refused

app = typer.Typer(
    help="An open national carbon market: registry, MRV, exchange, compliance.", no_args_is_help=True
)
registry_app = typer.Typer(
    help="The registry: holders, accounts, issuance, transfers, holds.", no_args_is_help=True
)
holder_app = typer.Typer(help="Account holders.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts.", no_args_is_help=True)
instrument_app = typer.Typer(
    help="Instruments (allowance vintages, CCERs) and their caps.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
user_app = typer.Typer(help="Users, roles and account rights.", no_args_is_help=True)
bench_app = typer.Typer(help="Reproducible benchmarks.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
registry_app.add_typer(holder_app, name="holder")
registry_app.add_typer(account_app, name="account")
registry_app.add_typer(instrument_app, name="instrument")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(bench_app, name="bench")
mrv_app = typer.Typer(
    help="The MRV platform: roster, monthly records, rules, review, verification.", no_args_is_help=True
)
app.add_typer(mrv_app, name="mrv")


def _wire_contexts() -> None:
    """Attach each context's own Typer apps (they import this module lazily, so this runs last)."""
    from carbonmarket.mrv.records.cli import import_monthly, records_app
    from carbonmarket.mrv.review.cli import review_app
    from carbonmarket.mrv.roster.cli import import_app, roster_app
    from carbonmarket.mrv.rules.cli import rules_app
    from carbonmarket.mrv.trace import trace_command
    from carbonmarket.mrv.verification.cli import verification_app

    import_app.command("monthly")(import_monthly)
    app.add_typer(import_app, name="import")
    mrv_app.add_typer(roster_app, name="roster")
    mrv_app.add_typer(records_app, name="record")
    mrv_app.add_typer(rules_app, name="rules")
    mrv_app.add_typer(review_app, name="review")
    mrv_app.add_typer(verification_app, name="verification")
    app.command("trace")(trace_command)
    _wire_markets()


def _wire_markets() -> None:
    """Allocation, compliance, the exchange and the voluntary market (issues 4-6)."""
    from carbonmarket import trace_links
    from carbonmarket.allocation.cli import allocation_app
    from carbonmarket.compliance.cli import compliance_app
    from carbonmarket.exchange.cli import exchange_app
    from carbonmarket.voluntary.cli import ccer_app

    trace_links.register()

    from carbonmarket.simulation.cli import demo_command, simulate_command

    app.command("demo")(demo_command)
    app.command("simulate")(simulate_command)

    app.add_typer(allocation_app, name="allocation")
    app.add_typer(compliance_app, name="compliance")
    app.add_typer(exchange_app, name="exchange")
    app.add_typer(ccer_app, name="ccer")
    for module_name in ("compliance", "exchange", "voluntary", "allocation", "simulation"):
        # A context may offer benchmarks as `bench_commands = {"name": function}` in its cli.py.
        module = __import__(f"carbonmarket.{module_name}.cli", fromlist=["bench_commands"])
        for name, function in getattr(module, "bench_commands", {}).items():
            bench_app.command(name)(function)


console = Console(stderr=False)
Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def database_url(db: str | None) -> str:
    """The URL to use: the flag, else the environment, else ./carbonmarket.db."""
    return db or Settings().database_url


def _registry(db: str | None) -> Any:
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.registry.service import Registry

    return Registry(cached_engine(database_url(db)))


def emit(data: Any, as_json: bool, *, ok: bool = True, human: Callable[[], None] | None = None) -> None:
    """Print a result: JSON if asked, else a readable form; exit 1 if it is a failure."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    elif human is not None:
        human()
    else:
        console.print_json(json.dumps(data, default=str))
    if not ok:
        raise typer.Exit(1)


def emit_outcome(outcome: Outcome, as_json: bool) -> None:
    """Print a command's outcome; a refusal exits 1 with its code and message."""
    if isinstance(outcome, Refusal):
        emit(
            outcome.as_json(),
            as_json,
            ok=False,
            human=lambda: console.print(f"[bold red]refused[/] [{outcome.code.value}] {outcome.message}"),
        )
        return
    assert isinstance(outcome, Done)
    emit(
        outcome.as_json(),
        as_json,
        human=lambda: console.print(
            f"[green]{outcome.result}[/] "
            + ", ".join(f"{k}={v}" for k, v in outcome.data.items() if v is not None)
        ),
    )


def emit_query(call: Callable[[], Any], as_json: bool, rows_key: str | None = None) -> None:
    """Run a context's query and print `{"ok": true, ...}`; a refusal exits 1 with its code.

    With `rows_key`, people (not `--json`) get the scalar fields and that list as a table.
    """
    try:
        data = call()
    except Refused as refused:
        refuse(refused, as_json)
    human = None
    if rows_key is not None and data.get(rows_key):

        def human() -> None:
            console.print({k: v for k, v in data.items() if k != rows_key and not isinstance(v, list | dict)})
            _table(data[rows_key])

    emit({"ok": True, **data}, as_json, human=human)


def refuse(refused: Refused, as_json: bool) -> NoReturn:
    """Print a refusal raised by a query and exit 1."""
    emit_outcome(refused.refusal, as_json)
    raise typer.Exit(1)


# --- init, reconcile, audit --------------------------------------------------------------------------


@app.command()
def init(db: Db = None, as_json: Json = False) -> None:
    """Create or upgrade the database schema and define the packaged instruments."""
    from carbonmarket.db.migrate import current_revision, upgrade

    url = database_url(db)
    upgrade(url)
    registry = _registry(db)
    outcomes = registry.define_defaults(LOCAL_OPERATOR)
    defined = [o.data["instrument"] for o in outcomes if isinstance(o, Done) and o.result == "created"]
    central = registry.open_central_accounts(LOCAL_OPERATOR)
    if not isinstance(central, Done):
        emit_outcome(central, as_json)
        return
    emit(
        {
            "ok": True,
            "database": url,
            "revision": current_revision(url),
            "instruments_defined": defined,
            "central_accounts_opened": central.data["opened"] if central.result == "created" else [],
        },
        as_json,
    )


@app.command()
def reconcile(db: Db = None, as_json: Json = False) -> None:
    """Replay every transfer and compare with cached balances, holds, supply and serial blocks."""
    report = _registry(db).reconcile()
    data = report.as_json()

    def human() -> None:
        colour = "green" if report.ok else "red"
        console.print(
            f"[{colour}]reconciliation {'clean' if report.ok else 'FAILED'}[/]: "
            f"{report.accounts_checked} accounts, {len(report.mismatches)} mismatches"
        )
        for problem in report.mismatches[:50]:
            console.print(problem)

    emit(data, as_json, ok=report.ok, human=human)


@audit_app.command("verify")
def audit_verify(db: Db = None, as_json: Json = False) -> None:
    """Walk the audit chain and report the first edited or deleted row."""
    from carbonmarket.audit.service import verify
    from carbonmarket.db.engine import cached_engine

    check = verify(cached_engine(database_url(db)))
    data = {"ok": check.ok, "rows": check.rows, "first_bad_row": check.first_bad_row, "reason": check.reason}

    def human() -> None:
        if check.ok:
            console.print(f"[green]audit chain intact[/]: {check.rows} rows")
        else:
            console.print(f"[red]audit chain broken at row {check.first_bad_row}[/]: {check.reason}")

    emit(data, as_json, ok=check.ok, human=human)


@audit_app.command("tail")
def audit_tail(db: Db = None, as_json: Json = False, limit: int = 20) -> None:
    """Show the newest audit rows."""
    from carbonmarket.audit import store
    from carbonmarket.db.engine import cached_engine

    with cached_engine(database_url(db)).connect() as connection:
        rows = store.recent(connection, min(max(limit, 1), 500))
    emit({"ok": True, "rows": [r.__dict__ for r in rows]}, as_json)


# --- registry: holders, accounts, instruments ------------------------------------------------------


@holder_app.command("add")
def holder_add(
    holder_id: Annotated[str, typer.Option("--id")],
    name: Annotated[str, typer.Option("--name")],
    kind: Annotated[str, typer.Option("--kind", help="entity|financial|individual|project_owner|government")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Register an account holder."""
    emit_outcome(_registry(db).add_holder(LOCAL_OPERATOR, holder_id, name, kind), as_json)


@holder_app.command("list")
def holder_list(db: Db = None, as_json: Json = False) -> None:
    """List account holders."""
    rows = _registry(db).holders()
    emit({"ok": True, "holders": rows}, as_json, human=lambda: _table(rows))


@account_app.command("open")
def account_open(
    account_id: Annotated[str, typer.Option("--id")],
    holder: Annotated[str, typer.Option("--holder")],
    account_type: Annotated[
        str,
        typer.Option(
            "--type",
            help="issuance|allocation|auction|reserve|holding|trading|"
            "clearing|surrender|cancellation|deletion",
        ),
    ],
    approval_required: Annotated[
        bool, typer.Option("--approval-required", help="Four-eyes on outgoing transfers.")
    ] = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Open an account for a holder."""
    emit_outcome(
        _registry(db).open_account(LOCAL_OPERATOR, account_id, holder, account_type, approval_required),
        as_json,
    )


@account_app.command("status")
def account_status(
    account_id: Annotated[str, typer.Option("--id")],
    status: Annotated[str, typer.Option("--status", help="open|blocked|closed")],
    reason: Annotated[str, typer.Option("--reason")],
    command_id: Annotated[str, typer.Option("--command-id")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Block, unblock or close an account."""
    emit_outcome(
        _registry(db).set_account_status(LOCAL_OPERATOR, command_id, account_id, status, reason), as_json
    )


@account_app.command("list")
def account_list(
    holder: Annotated[str | None, typer.Option("--holder")] = None, db: Db = None, as_json: Json = False
) -> None:
    """List accounts."""
    rows = _registry(db).accounts(holder)
    emit({"ok": True, "accounts": rows}, as_json, human=lambda: _table(rows))


@instrument_app.command("add")
def instrument_add(
    instrument: Annotated[str, typer.Option("--id", help="CEA25, CEA19-20, CCER-<PROJECT>-<YEAR>")],
    cap: Annotated[int | None, typer.Option("--cap", help="Issuance cap in t (none if omitted).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Where the cap comes from.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Define an instrument with its issuance cap."""
    emit_outcome(_registry(db).define_instrument(LOCAL_OPERATOR, instrument, cap, source), as_json)


@instrument_app.command("cap")
def instrument_cap(
    instrument: Annotated[str, typer.Option("--id")],
    cap: Annotated[str, typer.Option("--cap")],
    command_id: Annotated[str, typer.Option("--command-id")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Change an instrument's issuance cap."""
    emit_outcome(_registry(db).set_cap(LOCAL_OPERATOR, command_id, instrument, cap), as_json)


@instrument_app.command("list")
def instrument_list(db: Db = None, as_json: Json = False) -> None:
    """List instruments with issued, retired and circulating supply."""
    rows = _registry(db).instruments()
    emit({"ok": True, "instruments": rows}, as_json, human=lambda: _table(rows))


# --- registry: movements ---------------------------------------------------------------------------

CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Quantity = Annotated[str, typer.Option("--quantity", help="Whole tonnes.")]
Instrument = Annotated[str, typer.Option("--instrument")]


@registry_app.command("issue")
def registry_issue(
    instrument: Instrument,
    quantity: Quantity,
    to: Annotated[str, typer.Option("--to")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Issue units of a vintage into an issuance account (regulator)."""
    emit_outcome(_registry(db).issue(LOCAL_OPERATOR, command_id, instrument, quantity, to), as_json)


@registry_app.command("transfer")
def registry_transfer(
    from_account: Annotated[str, typer.Option("--from")],
    to: Annotated[str, typer.Option("--to")],
    instrument: Instrument,
    quantity: Quantity,
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Transfer units between accounts."""
    emit_outcome(
        _registry(db).transfer(LOCAL_OPERATOR, command_id, from_account, to, instrument, quantity), as_json
    )


@registry_app.command("freeze")
def registry_freeze(
    account: Annotated[str, typer.Option("--account")],
    instrument: Instrument,
    quantity: Quantity,
    reason: Annotated[str, typer.Option("--reason")],
    command_id: CommandId,
    expires: Annotated[str | None, typer.Option("--expires", help="ISO time the freeze lapses.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Freeze holdings; the command id becomes the hold id."""
    emit_outcome(
        _registry(db).freeze(LOCAL_OPERATOR, command_id, account, instrument, quantity, reason, expires),
        as_json,
    )


@registry_app.command("pledge")
def registry_pledge(
    account: Annotated[str, typer.Option("--account")],
    instrument: Instrument,
    quantity: Quantity,
    pledgee: Annotated[str, typer.Option("--pledgee", help="The pledgee's account.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Pledge holdings to a pledgee; the command id becomes the hold id."""
    emit_outcome(
        _registry(db).pledge(LOCAL_OPERATOR, command_id, account, instrument, quantity, pledgee), as_json
    )


@registry_app.command("release")
def registry_release(
    hold: Annotated[str, typer.Option("--hold")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Release a freeze or pledge."""
    emit_outcome(_registry(db).release(LOCAL_OPERATOR, hold, reason), as_json)


@registry_app.command("execute-pledge")
def registry_execute_pledge(
    hold: Annotated[str, typer.Option("--hold")],
    quantity: Annotated[str | None, typer.Option("--quantity")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Move pledged units to the pledgee."""
    emit_outcome(_registry(db).execute_pledge(LOCAL_OPERATOR, hold, quantity), as_json)


@registry_app.command("cancel")
def registry_cancel(
    from_account: Annotated[str, typer.Option("--from")],
    instrument: Instrument,
    quantity: Quantity,
    to: Annotated[str, typer.Option("--to", help="The cancellation account.")],
    beneficiary: Annotated[str, typer.Option("--beneficiary")],
    purpose: Annotated[str, typer.Option("--purpose")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Cancel (retire) units voluntarily; a certificate records for whom and why."""
    outcome = _registry(db).cancel(
        LOCAL_OPERATOR, command_id, from_account, instrument, quantity, to, beneficiary, purpose
    )
    emit_outcome(outcome, as_json)


@registry_app.command("surrender")
def registry_surrender(
    from_account: Annotated[str, typer.Option("--from")],
    instrument: Instrument,
    quantity: Quantity,
    to: Annotated[str, typer.Option("--to", help="The surrender account.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Surrender units to a surrender account."""
    emit_outcome(
        _registry(db).surrender(LOCAL_OPERATOR, command_id, from_account, instrument, quantity, to), as_json
    )


@registry_app.command("reverse")
def registry_reverse(
    transfer: Annotated[str, typer.Option("--transfer", help="Id of the transaction to reverse.")],
    reason: Annotated[str, typer.Option("--reason")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Reverse a completed transaction with a new one that names it."""
    emit_outcome(_registry(db).reverse(LOCAL_OPERATOR, command_id, transfer, reason), as_json)


@registry_app.command("expire-holds")
def registry_expire_holds(command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Expire holds past their time, releasing their units."""
    emit_outcome(_registry(db).expire_holds(LOCAL_OPERATOR, command_id), as_json)


@registry_app.command("balance")
def registry_balance(
    account: Annotated[str, typer.Option("--account")], db: Db = None, as_json: Json = False
) -> None:
    """An account's balances per instrument."""
    try:
        data = _registry(db).balance(LOCAL_OPERATOR, account)
    except Refused as refused:
        refuse(refused, as_json)
    emit({"ok": True, **data}, as_json)


@registry_app.command("history")
def registry_history(
    account: Annotated[str, typer.Option("--account")], limit: int = 100, db: Db = None, as_json: Json = False
) -> None:
    """An account's movements, newest first."""
    try:
        data = _registry(db).history(LOCAL_OPERATOR, account, limit)
    except Refused as refused:
        refuse(refused, as_json)
    emit({"ok": True, **data}, as_json, human=lambda: _table(data["entries"]))


@registry_app.command("transactions")
def registry_transactions(
    status: Annotated[str | None, typer.Option("--status")] = None, db: Db = None, as_json: Json = False
) -> None:
    """Registry transactions, newest first."""
    rows = _registry(db).transactions(status)
    emit({"ok": True, "transactions": rows}, as_json, human=lambda: _table(rows))


# --- users -----------------------------------------------------------------------------------------


def _identity(db: str | None) -> Any:
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.identity.service import Identity

    settings = Settings()
    return Identity(cached_engine(database_url(db)), settings.jwt_secret, settings.jwt_lifetime_s)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Option("--username")],
    role: Annotated[
        str, typer.Option("--role", help="regulator|registry_operator|entity_representative|public")
    ],
    password: Annotated[
        str | None, typer.Option("--password", help="Omit to read it from standard input.")
    ] = None,
    holder: Annotated[str | None, typer.Option("--holder")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Create a user (the password is stored as an argon2 hash)."""
    secret = password if password is not None else sys.stdin.readline().rstrip("\n")
    emit_outcome(_identity(db).add_user(LOCAL_OPERATOR, username, secret, role, holder), as_json)


@user_app.command("grant")
def user_grant(
    username: Annotated[str, typer.Option("--username")],
    account: Annotated[str, typer.Option("--account")],
    permission: Annotated[str, typer.Option("--right", help="initiate|approve|view")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Give a user a right on an account."""
    emit_outcome(_identity(db).grant(LOCAL_OPERATOR, username, account, permission), as_json)


@user_app.command("list")
def user_list(db: Db = None, as_json: Json = False) -> None:
    """List users."""
    rows = _identity(db).users()
    emit({"ok": True, "users": rows}, as_json, human=lambda: _table(rows))


# --- serve and demo --------------------------------------------------------------------------------


@app.command()
def serve(
    db: Db = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Serve the API (/docs) and the web pages."""
    import uvicorn

    from carbonmarket.api.app import create_app

    uvicorn.run(create_app(database_url(db)), host=host, port=port, log_level="info")


@bench_app.command("ledger")
def bench_ledger(
    db: Db = None,
    as_json: Json = False,
    clients: Annotated[int, typer.Option("--clients")] = 4,
    seconds: Annotated[float, typer.Option("--seconds")] = 10.0,
    accounts: Annotated[int, typer.Option("--accounts")] = 1000,
) -> None:
    """Transfers per second with N clients, beside pgbench TPC-B on the same server."""
    from carbonmarket.benchmarks.ledger import run_ledger_benchmark

    result = run_ledger_benchmark(
        database_url(db), clients=clients, seconds=seconds, accounts=accounts, progress=not as_json
    )
    emit(result, as_json)


@bench_app.command("validation")
def bench_validation(
    records: Annotated[
        int, typer.Option("--records", help="Monthly records to validate in bulk.")
    ] = 3_000_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Json = False,
) -> None:
    """Bulk validation of N monthly records, single-submission latency, detection quality."""
    from carbonmarket.benchmarks.validation import run_validation_benchmark

    emit(run_validation_benchmark(records, seed, progress=not as_json), as_json)


def _table(rows: list[dict[str, Any]]) -> None:
    """Print rows as a Rich table."""
    if not rows:
        console.print("(none)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


_wire_contexts()

if __name__ == "__main__":
    app()
