"""Monthly records at the command line: `carbonmarket mrv record ...` and `carbonmarket import monthly FILE`.

Two Typer apps for the root CLI (src/carbonmarket/cli.py) to mount:

    mrv_app.add_typer(records_app, name="record")  # mrv record submit|check|history|report|plan-set|plan
    import_app.add_typer(import_monthly_app)       # no name: adds the `monthly` command itself

Every command takes `--db` and `--json` and prints as the root CLI does (its `emit`/`emit_outcome`,
imported when a command runs, because the root CLI imports this module). The actor is the local
operator, as for every CLI command: whoever can open the database file already controls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from carbonmarket.audit.model import canonical_json
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.ids import derived_id
from carbonmarket.core.results import Code, Refusal, Refused
from carbonmarket.mrv.records.model import RawRecord

if TYPE_CHECKING:
    from carbonmarket.mrv.records.service import Records

records_app = typer.Typer(
    help="Monthly records: submit, correct, check, history, annual report, monitoring plans.",
    no_args_is_help=True,
)
import_monthly_app = typer.Typer(help="Import monthly data files.", no_args_is_help=True)

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Entity = Annotated[str, typer.Option("--entity", help="Entity id.")]
Facility = Annotated[str, typer.Option("--facility", help="Facility (unit, process line) id.")]
Sector = Annotated[str, typer.Option("--sector", help="power|steel|cement|aluminium")]
Year = Annotated[int, typer.Option("--year")]
Values = Annotated[list[str] | None, typer.Option("--value", help="NAME=VALUE, once per parameter (repeat).")]
Evidence = Annotated[
    list[str] | None,
    typer.Option("--evidence", help="KEY=VALUE, e.g. file_sha256=<hex> or lab_report_id=LR-1 (repeat)."),
]
Correct = Annotated[
    bool, typer.Option("--correct", help="Submit a new version of a month already submitted.")
]
Reason = Annotated[str, typer.Option("--reason", help="Why the correction is made (kept in the history).")]
CommandId = Annotated[
    str | None,
    typer.Option(
        "--id", help="Your id for this command; reusing it is safe. Default: derived from the input."
    ),
]


def _records(db: str | None) -> Records:
    """The records service over the chosen database."""
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.mrv.records.service import Records

    return Records(cached_engine(database_url(db)))


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """NAME=VALUE options as a dict; a malformed or repeated one stops the command."""
    pairs: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{what} {item!r} must be NAME=VALUE")
        if name.strip() in pairs:
            raise typer.BadParameter(f"{what} {name.strip()!r} is given twice")
        pairs[name.strip()] = value.strip()
    return pairs


def _raw(
    entity: str, facility: str, sector: str, year: int, month: int, value: Any, evidence: Any
) -> RawRecord:
    """The record as typed at the command line."""
    return RawRecord(
        entity, facility, sector, year, month, _pairs(value, "--value"), _pairs(evidence, "--evidence")
    )


@records_app.command("submit")
def submit(
    entity: Entity,
    facility: Facility,
    sector: Sector,
    year: Year,
    month: Annotated[int, typer.Option("--month")],
    value: Values = None,
    evidence: Evidence = None,
    correct: Correct = False,
    reason: Reason = "",
    command_id: CommandId = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Submit a facility's monthly parameters (a month once; changes need --correct and --reason)."""
    from carbonmarket.cli import emit_outcome

    raw = _raw(entity, facility, sector, year, month, value, evidence)
    chosen = command_id or derived_id(
        "record", canonical_json({**raw.as_body(), "correct": correct, "reason": reason})
    )
    emit_outcome(
        _records(db).submit_raw(LOCAL_OPERATOR, chosen, raw, correct=correct, reason=reason), as_json
    )


@records_app.command("check")
def check(
    entity: Entity,
    facility: Facility,
    sector: Sector,
    year: Year,
    month: Annotated[int, typer.Option("--month")],
    value: Values = None,
    evidence: Evidence = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Check a month without saving it: problems, the validation model's findings, the estimate."""
    from carbonmarket.cli import emit

    answer = _records(db).check(LOCAL_OPERATOR, _raw(entity, facility, sector, year, month, value, evidence))
    emit(answer, as_json)


@records_app.command("history")
def history(entity: Entity, year: Year, db: Db = None, as_json: Json = False) -> None:
    """Every version of an entity's monthly records of a year, current and superseded."""
    from carbonmarket.cli import emit, refuse

    try:
        data = _records(db).history(LOCAL_OPERATOR, entity, year)
    except Refused as refused:
        refuse(refused, as_json)
    rows = [
        {
            "record": r["record_id"],
            "current": r["current"],
            "reason": r["reason"] or "",
            "by": r["submitted_by"],
            "at": r["at"][:19],
        }
        for r in data["records"]
    ]
    emit({"ok": True, **data}, as_json, human=lambda: _table(rows))


@records_app.command("report")
def report(
    entity: Entity,
    year: Year,
    gwp: Annotated[str | None, typer.Option("--gwp", help="GWP table: AR5 (default) or AR4.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The entity's annual emissions from its monthly records, rounded once, with every line used."""
    from carbonmarket.cli import console, emit, refuse

    try:
        data = _records(db).annual_report(entity, year, gwp_version=gwp)
    except Refused as refused:
        refuse(refused, as_json)

    def human() -> None:
        console.print(
            f"[bold]{entity} {year}[/]: [green]{data['emissions_tco2e']:,} t CO2e[/] "
            f"(exact {data['emissions_exact_tco2e']}; beside the total {data['reported_beside_total_tco2e']})"
        )
        _table(
            [
                {
                    "record": line["record_id"],
                    "source": line["source"],
                    "working": " × ".join(i["value"] for i in line["inputs"]),
                    "tCO2e": line["tco2e"],
                    "in total": line["in_total"],
                }
                for line in data["lines"]
            ]
        )
        console.print(data["rounding"])

    emit({"ok": True, **data}, as_json, human=human)


@records_app.command("plan-set")
def plan_set(
    entity: Entity,
    facility: Facility,
    sector: Sector,
    valid_from: Annotated[str, typer.Option("--from", help="First month in force, YYYY-MM.")],
    param: Annotated[list[str], typer.Option("--param", help="NAME=measured|calculated|default (repeat).")],
    lab: Annotated[list[str] | None, typer.Option("--lab", help="NAME=LAB that tests it (repeat).")] = None,
    meter: Annotated[
        list[str] | None, typer.Option("--meter", help="NAME=METER-ID (repeat per meter).")
    ] = None,
    reason: Reason = "",
    command_id: CommandId = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record a facility's monitoring plan: how each parameter is obtained, with which lab and meters."""
    from carbonmarket.cli import emit_outcome

    year, _sep, month = valid_from.partition("-")
    parameters: dict[str, dict[str, Any]] = {
        name: {"method": method, "meter_ids": []} for name, method in _pairs(param, "--param").items()
    }
    for name, where in _pairs(lab, "--lab").items():
        parameters.setdefault(name, {"method": "", "meter_ids": []})["lab"] = where
    for item in meter or []:
        name, sep, meter_id = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--meter {item!r} must be NAME=METER-ID")
        parameters.setdefault(name.strip(), {"method": "", "meter_ids": []})["meter_ids"].append(
            meter_id.strip()
        )
    body = {
        "entity": entity,
        "facility": facility,
        "sector": sector,
        "from": valid_from,
        "parameters": parameters,
    }
    chosen = command_id or derived_id("plan", canonical_json({**body, "reason": reason}))
    outcome = _records(db).set_plan(
        LOCAL_OPERATOR, chosen, entity, facility, sector, year, month, parameters, reason
    )
    emit_outcome(outcome, as_json)


@records_app.command("plan")
def plan_show(facility: Facility, db: Db = None, as_json: Json = False) -> None:
    """Every version of a facility's monitoring plan."""
    from carbonmarket.cli import emit, refuse

    try:
        data = _records(db).plans(LOCAL_OPERATOR, facility)
    except Refused as refused:
        refuse(refused, as_json)
    emit({"ok": True, **data}, as_json)


@import_monthly_app.command("monthly")
def import_monthly(
    file: Annotated[
        Path, typer.Argument(help="A CSV (UTF-8 or GBK) or .xlsx file, one row per facility-month.")
    ],
    correct: Annotated[
        bool, typer.Option("--correct", help="Rows for months already submitted become corrections.")
    ] = False,
    reason: Reason = "",
    command_id: CommandId = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Import monthly data: valid rows are stored together, every other row is listed with its reason.

    The default command id is derived from the file's sha256, so importing the same file again
    returns the first result (`exists`); pass --id to import it as a new attempt.
    """
    from carbonmarket.cli import console, emit, emit_outcome

    try:
        data = file.read_bytes()
    except OSError as error:
        emit_outcome(Refusal(Code.RECORD_FILE_UNREADABLE, f"{file}: {error.strerror or error}"), as_json)
        return
    outcome = _records(db).import_file(
        LOCAL_OPERATOR, data, file.name, command_id, correct=correct, reason=reason
    )
    if isinstance(outcome, Refusal):
        emit_outcome(outcome, as_json)
        return
    result = outcome.as_json()

    def human() -> None:
        console.print(
            f"[green]{outcome.result}[/]: {result['rows']} rows, {result['accepted']} accepted, "
            f"{len(result['rejected'])} problems, {result['warnings']} warnings "
            f"({result['format']}{', ' + result['encoding'] if result['encoding'] else ''})"
        )
        _table(
            [{k: r[k] for k in ("row", "facility_id", "month", "code", "reason")} for r in result["rejected"]]
        )

    emit(result, as_json, human=human)


def _table(rows: list[dict[str, Any]]) -> None:
    """Print rows as a Rich table."""
    from rich.table import Table

    from carbonmarket.cli import console

    if not rows:
        console.print("(none)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
