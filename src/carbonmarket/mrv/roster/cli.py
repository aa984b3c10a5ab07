"""The roster on the command line: `import roster FILE` and `mrv roster ...`.

Two Typer apps for the main CLI to mount: `import_app` (its command `roster`) and `roster_app`.
Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object
with `--json`, and exits 1 on a refusal. The CLI acts as the local operator, who holds the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Outcome, Refusal, Refused
from carbonmarket.mrv.roster.importer import file_bytes_max

import_app = typer.Typer(help="Import data files.", no_args_is_help=True)
roster_app = typer.Typer(help="The roster of key emitting entities.", no_args_is_help=True)
entity_app = typer.Typer(help="Entities on the roster.", no_args_is_help=True)
facility_app = typer.Typer(help="Power units and process lines of roster entities.", no_args_is_help=True)
roster_app.add_typer(entity_app, name="entity")
roster_app.add_typer(facility_app, name="facility")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Threshold = Annotated[
    int | None,
    typer.Option("--threshold", help="Inclusion threshold in t CO2e (default 26,000, DOMAIN.md §1 [seed])."),
]
rejected_shown_max = 20

# carbonmarket.cli mounts these apps, so it is imported when a command runs, not when this module loads.


def _emit(data: Any, as_json: bool, human: Any = None) -> None:
    """Print a result as the main CLI does."""
    from carbonmarket.cli import emit

    emit(data, as_json, human=human)


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    """Print a command's outcome as the main CLI does."""
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _refuse(refused: Refused, as_json: bool) -> None:
    """Print a refusal raised by a query and exit 1."""
    from carbonmarket.cli import refuse

    refuse(refused, as_json)


def _roster(db: str | None) -> Any:
    """The roster use cases over the chosen database."""
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.mrv.roster.service import Roster

    return Roster(cached_engine(database_url(db)))


def _table(rows: list[dict[str, Any]]) -> None:
    """Print rows as a table."""
    from carbonmarket.cli import _table as table

    table(rows)


def _updates(pairs: list[str]) -> dict[str, str | None]:
    """`field=value` pairs as a dict; an empty value clears the field."""
    updates: dict[str, str | None] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise Refused(Code.ROSTER_INVALID_FIELD, f"--set takes field=value, not {pair!r}")
        updates[field.strip()] = value.strip() or None
    return updates


# --- import -----------------------------------------------------------------------------------------


@import_app.callback()
def _import_group() -> None:
    """Import data files into the platform."""


@import_app.command("roster")
def import_roster(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK) or .xlsx; long or wide layout.")],
    year: Annotated[
        int | None, typer.Option("--year", help="Year to summarise (default: the file's latest).")
    ] = None,
    threshold: Threshold = None,
    command_id: Annotated[
        str | None, typer.Option("--id", help="Your id for this import (default: from the file's sha256).")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Import annual emissions (long or wide layout) and show who is included for a year."""
    try:
        if not file.is_file():
            raise Refused(Code.ROSTER_FILE_UNREADABLE, f"no such file: {file}")
        if file.stat().st_size > file_bytes_max:
            raise Refused(Code.ROSTER_FILE_TOO_LARGE, f"{file} is larger than {file_bytes_max} bytes")
        data = file.read_bytes()
    except Refused as refused:
        _emit_outcome(refused.refusal, as_json)
        return
    outcome = _roster(db).import_file(LOCAL_OPERATOR, data, file.name, year, threshold, command_id)
    if isinstance(outcome, Refusal):
        _emit_outcome(outcome, as_json)
        return
    summary = outcome.as_json()

    def human() -> None:
        from carbonmarket.cli import console

        console.print(
            f"[green]{summary['result']}[/] {summary['file']} ({summary['layout']}, {summary['encoding']}): "
            f"{summary['rows']} rows; for {summary['year']} at {summary['threshold_t']:,} t: "
            f"{summary['included']} included ({summary['included_t']:,} t), {summary['excluded']} excluded, "
            f"{len(summary['rejected'])} rejected"
        )
        if summary["rejected"]:
            _table(summary["rejected"][:rejected_shown_max])
            if len(summary["rejected"]) > rejected_shown_max:
                console.print(f"... and {len(summary['rejected']) - rejected_shown_max} more (see --json)")

    _emit(summary, as_json, human)


# --- entities and facilities ---------------------------------------------------------------------------


@entity_app.command("add")
def entity_add(
    entity_id: Annotated[str, typer.Option("--id")],
    name: Annotated[str, typer.Option("--name")],
    sector: Annotated[str, typer.Option("--sector", help="power|steel|cement|aluminium")],
    province: Annotated[str, typer.Option("--province")],
    city: Annotated[str | None, typer.Option("--city")] = None,
    inclusion_year: Annotated[int | None, typer.Option("--inclusion-year")] = None,
    status: Annotated[str, typer.Option("--status", help="active|suspended|removed")] = "active",
    reason: Annotated[str, typer.Option("--reason")] = "listed on the roster",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Put an entity on the roster."""
    outcome = _roster(db).add_entity(
        LOCAL_OPERATOR, entity_id, name, sector, province, city, inclusion_year, status, reason
    )
    _emit_outcome(outcome, as_json)


@facility_app.command("add")
def facility_add(
    facility_id: Annotated[str, typer.Option("--id")],
    entity: Annotated[str, typer.Option("--entity")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    fuel: Annotated[
        str | None, typer.Option("--fuel", help="Power: coal|unconventional_coal|cfb|gas.")
    ] = None,
    capacity_mw: Annotated[str | None, typer.Option("--capacity-mw", help="Power: rated power, MW.")] = None,
    cooling: Annotated[str | None, typer.Option("--cooling", help="Power: water|air.")] = None,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Allocation plan of the category (default 2023-2024).")
    ] = None,
    line_type: Annotated[
        str | None, typer.Option("--line-type", help="Steel, cement, aluminium: the line.")
    ] = None,
    capacity_t_per_year: Annotated[int | None, typer.Option("--capacity-t-per-year")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "facility recorded",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record a power unit (category from fuel and rated power) or a process line."""
    outcome = _roster(db).add_facility(
        LOCAL_OPERATOR,
        facility_id,
        entity,
        name=name,
        fuel=fuel,
        capacity_mw=capacity_mw,
        cooling=cooling,
        plan=plan,
        line_type=line_type,
        capacity_t_per_year=capacity_t_per_year,
        reason=reason,
    )
    _emit_outcome(outcome, as_json)


CommandId = Annotated[str, typer.Option("--id", help="Your id for this change; reusing it is safe.")]
Sets = Annotated[list[str], typer.Option("--set", help="field=value; repeat for several fields.")]
Reason = Annotated[str, typer.Option("--reason", help="Why; kept in the history.")]


@facility_app.command("change")
def facility_change(
    facility: Annotated[str, typer.Option("--facility")],
    sets: Sets,
    reason: Reason,
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Change a facility (name, fuel, capacity_mw, cooling, plan, line_type, capacity_t_per_year, status)."""
    try:
        updates = _updates(sets)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(_roster(db).change_facility(LOCAL_OPERATOR, command_id, facility, updates, reason), as_json)


@roster_app.command("change")
def roster_change(
    entity: Annotated[str, typer.Option("--entity")],
    sets: Sets,
    reason: Reason,
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Change an entity (name, sector, province, city, status, inclusion_year); history keeps the old."""
    try:
        updates = _updates(sets)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(_roster(db).change_entity(LOCAL_OPERATOR, command_id, entity, updates, reason), as_json)


# --- queries ------------------------------------------------------------------------------------------


@roster_app.command("list")
def roster_list(
    search: Annotated[str | None, typer.Option("--search", help="Part of an id or name.")] = None,
    sector: Annotated[str | None, typer.Option("--sector")] = None,
    province: Annotated[str | None, typer.Option("--province")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    page: Annotated[int, typer.Option("--page")] = 1,
    page_size: Annotated[int, typer.Option("--page-size")] = 50,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """List roster entities, a page at a time."""
    try:
        data = _roster(db).entities(search, sector, province, status, page, page_size)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit({"ok": True, **data}, as_json, lambda: _table(data["entities"]))


@roster_app.command("show")
def roster_show(
    entity: Annotated[str, typer.Option("--entity")], db: Db = None, as_json: Json = False
) -> None:
    """An entity with its facilities, history and reported emissions."""
    try:
        data = _roster(db).entity_detail(entity)
    except Refused as refused:
        _refuse(refused, as_json)
        return

    def human() -> None:
        from carbonmarket.cli import console

        console.print(data["entity"])
        _table(data["facilities"])
        _table(data["history"])
        _table(data["emissions"])

    _emit({"ok": True, **data}, as_json, human)


@roster_app.command("inclusion")
def roster_inclusion(
    year: Annotated[int, typer.Option("--year")],
    threshold: Threshold = None,
    limit: Annotated[int, typer.Option("--limit", help="How many included entities to list.")] = 100,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Who is in for a year at a threshold, from every import; largest emitters first."""
    try:
        data = _roster(db).inclusion(year, threshold, limit, offset)
    except Refused as refused:
        _refuse(refused, as_json)
        return

    def human() -> None:
        from carbonmarket.cli import console

        console.print(
            f"{data['year']} at {data['threshold_t']:,} t: {data['included']} of {data['reported']} reported "
            f"entities included ({data['included_t']:,} of {data['reported_t']:,} t); "
            f"{data['on_roster']} of them on the roster"
        )
        _table(data["entities"])

    _emit({"ok": True, **data}, as_json, human)
