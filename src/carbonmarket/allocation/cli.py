"""The `allocation` commands of the CLI; `carbonmarket.cli` mounts `allocation_app`.

Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object
with `--json`, and exits 1 on a refusal. The CLI acts as the local operator, who holds the database.

    carbonmarket allocation plan load power-2023            validate a plan file (or packaged id)
    carbonmarket allocation plan publish power-2023 --id P1 publish it (a new version if revised)
    carbonmarket allocation plan list | show power-2023
    carbonmarket allocation import-activity activity.csv    activity data, per-row errors
    carbonmarket allocation calc --year 2023 [--entity E]   dry run: nothing moves
    carbonmarket allocation issue --year 2023 --id PRE23    pre-allocation into holding accounts
    carbonmarket allocation true-up --year 2023 --id TU23   final allocation: top up or withdraw
    carbonmarket allocation trace E --year 2023             every line of an entity-year
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Outcome, Refused

allocation_app = typer.Typer(
    help="Allocation plans, allowance calculation, pre-allocation, issuance and true-up.",
    no_args_is_help=True,
)
plan_app = typer.Typer(help="Allocation plans: load, publish, list, show.", no_args_is_help=True)
allocation_app.add_typer(plan_app, name="plan")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Year = Annotated[int, typer.Option("--year", help="The allocation (compliance) year.")]


def _service(db: str | None) -> Any:
    from carbonmarket.allocation.service import Allocation
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine

    return Allocation(cached_engine(database_url(db)))


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _query(call: Callable[[], dict[str, Any]], as_json: bool) -> None:
    """Run a query and print it; a refusal exits 1 with its code (`carbonmarket.cli.emit_query`)."""
    from carbonmarket.cli import emit_query

    emit_query(call, as_json)


# --- plans ------------------------------------------------------------------------------------------


@plan_app.command("load")
def plan_load(
    source: Annotated[str, typer.Argument(help="A plan TOML file, or a packaged plan id (e.g. power-2023).")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Read and validate a plan (unknown categories, missing benchmarks are refused); nothing is stored."""
    _query(lambda: _service(db).load_plan(source), as_json)


@plan_app.command("publish")
def plan_publish(
    source: Annotated[str, typer.Argument(help="A plan TOML file, or a packaged plan id.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Publish a plan; publishing a revised plan of the same id adds a version and keeps the old one."""
    from carbonmarket.allocation.service import plan_source_text
    from carbonmarket.cli import refuse

    try:
        text, _name = plan_source_text(source)
    except Refused as refused:
        refuse(refused, as_json)
        return
    _emit_outcome(_service(db).publish_plan(LOCAL_OPERATOR, command_id, text), as_json)


@plan_app.command("list")
def plan_list(db: Db = None, as_json: Json = False) -> None:
    """Published plan versions and the packaged plan files."""
    _query(lambda: _service(db).plans(), as_json)


@plan_app.command("show")
def plan_show(
    plan_id: Annotated[str, typer.Argument(help="A published plan id.")],
    version: Annotated[int | None, typer.Option("--version", help="Default: the newest.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """One published plan version with every value, tag and source."""
    _query(lambda: _service(db).plan(plan_id, version), as_json)


# --- activity, calculation, issuance ------------------------------------------------------------------


@allocation_app.command("import-activity")
def import_activity(
    file: Annotated[
        Path, typer.Argument(help="CSV: entity_id, facility_id, year, electricity_generated_mwh, ...")
    ],
    command_id: Annotated[
        str | None, typer.Option("--id", help="Default: derived from the file's bytes.")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Import activity data (one row per unit and year); bad rows are listed with the reason."""
    from carbonmarket.core.results import Refusal

    if not file.is_file():
        _emit_outcome(Refusal(Code.ALLOCATION_FILE_UNREADABLE, f"{file} is not a file"), as_json)
        return
    _emit_outcome(
        _service(db).import_activity(LOCAL_OPERATOR, file.read_bytes(), file.name, command_id), as_json
    )


@allocation_app.command("calc")
def calc(
    year: Year,
    entity: Annotated[str | None, typer.Option("--entity", help="One entity only.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Dry run of a year: pre-allocation and final allocation per entity, summary by sector; no units move."""
    _query(lambda: _service(db).calc(year, entity), as_json)


@allocation_app.command("issue")
def issue(year: Year, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Pre-allocate a year into every entity's holding account (once per year)."""
    _emit_outcome(_service(db).preallocate(LOCAL_OPERATOR, command_id, year), as_json)


@allocation_app.command("true-up")
def true_up(
    year: Year,
    command_id: CommandId,
    entity: Annotated[str | None, typer.Option("--entity", help="One entity only.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Settle a year at its final allocation: top up the shortfall, withdraw the excess."""
    _emit_outcome(_service(db).true_up(LOCAL_OPERATOR, command_id, year, entity), as_json)


@allocation_app.command("deduct")
def deduct(
    entity: Annotated[str, typer.Argument(help="The entity that owes the deduction.")],
    quantity: Annotated[str, typer.Option("--quantity", help="Whole tonnes.")],
    reason: Annotated[str, typer.Option("--reason")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Order a deduction from an entity's next allocations (e.g. the Art. 24 next-year cut)."""
    _emit_outcome(_service(db).order_deduction(LOCAL_OPERATOR, command_id, entity, quantity, reason), as_json)


@allocation_app.command("show")
def show(year: Year, db: Db = None, as_json: Json = False) -> None:
    """A year's allocation by sector and its runs."""
    _query(lambda: _service(db).year_overview(year), as_json)


@allocation_app.command("trace")
def trace(
    entity: Annotated[str, typer.Argument(help="The entity.")],
    year: Year,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Every allocation line of an entity-year: plan version, inputs, formula terms, result, deductions."""
    _query(lambda: _service(db).trace(entity, year), as_json)


# --- benchmark ---------------------------------------------------------------------------------------


def bench_allocation(
    entities: Annotated[
        str, typer.Option("--entities", help="Comma-separated sizes, e.g. 3500 or 3500,20000,100000.")
    ] = "3500",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Calculate, pre-allocate and true up a year for N synthetic entities; seconds per stage vs target."""
    from carbonmarket.allocation.bench import run_allocation_benchmark
    from carbonmarket.cli import database_url, emit

    sizes = [int(s) for s in entities.split(",") if s.strip()]
    emit(run_allocation_benchmark(database_url(db), sizes, progress=not as_json), as_json)


bench_commands = {"allocation": bench_allocation}
