"""`carbonmarket mrv rules ...`: read the validation model's catalogue and check a record from a file.

With `--json` each command prints exactly one JSON object; a refusal prints `{"ok": false, "code",
"message"}` and exits 1 (the conventions of `carbonmarket/cli.py`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonmarket.core.results import Code, Refusal, Refused
from carbonmarket.mrv.model import RuleCategory, Sector
from carbonmarket.mrv.rules.catalogue import catalogue, catalogue_version, rule_by_id
from carbonmarket.mrv.rules.engine import evaluate, findings_json, parse_check_request

rules_app = typer.Typer(help="The validation model: its rules, and checking a record.", no_args_is_help=True)
console = Console()
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
record_file_size_max_bytes = 1_000_000


def _emit(data: dict[str, Any], as_json: bool, human: Any = None, ok: bool = True) -> None:
    if as_json or human is None:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    else:
        human()
    if not ok:
        raise typer.Exit(1)


def _refuse(refusal: Refusal, as_json: bool) -> None:
    _emit(
        refusal.as_json(),
        as_json,
        human=lambda: console.print(f"[red]{refusal.code.value}[/]: {refusal.message}"),
        ok=False,
    )


@rules_app.command("list")
def list_rules(
    sector: Annotated[str | None, typer.Option("--sector", help="power | steel | cement | aluminium")] = None,
    category: Annotated[
        str | None,
        typer.Option("--category", help="theoretical_extreme | threshold | standard_value | logic"),
    ] = None,
    as_json: Json = False,
) -> None:
    """The catalogue's rules, optionally of one sector or category."""
    try:
        wanted_sector = None if sector is None else Sector(sector)
        wanted_category = None if category is None else RuleCategory(category)
    except ValueError as error:
        _refuse(Refusal(Code.INVALID_REQUEST, str(error)), as_json)
        return
    rules = [
        r
        for r in catalogue()
        if (wanted_sector is None or wanted_sector in r.sectors)
        and (wanted_category is None or r.category is wanted_category)
    ]

    def human() -> None:
        table = Table(title=f"validation model {catalogue_version()}: {len(rules)} rules")
        for column in ("id", "category", "severity", "sectors", "check"):
            table.add_column(column)
        for r in rules:
            table.add_row(
                r.id, r.category.value, r.severity.value, ",".join(s.value for s in r.sectors), r.check
            )
        console.print(table)

    _emit({"ok": True, "version": catalogue_version(), "rules": [r.as_json() for r in rules]}, as_json, human)


@rules_app.command("show")
def show_rule(rule_id: str, as_json: Json = False) -> None:
    """One rule: its check, message, rationale and source."""
    rule = rule_by_id(rule_id)
    if rule is None:
        _refuse(Refusal(Code.UNKNOWN_RULE, f"there is no rule {rule_id!r}"), as_json)
        return
    data = rule.as_json()

    def human() -> None:
        for key, value in data.items():
            console.print(f"[bold]{key}[/]: {value}")

    _emit({"ok": True, **data}, as_json, human)


@rules_app.command("check")
def check_record(
    file: Annotated[
        Path,
        typer.Argument(help="A JSON record: sector, year, month, values, context, previous; - for stdin"),
    ],
    as_json: Json = False,
) -> None:
    """Run the catalogue on one record (a dry run: nothing is stored)."""
    try:
        text = sys.stdin.read(record_file_size_max_bytes + 1) if str(file) == "-" else _read(file)
        if len(text) > record_file_size_max_bytes:
            raise Refused(
                Code.INVALID_RECORD, f"the record file is larger than {record_file_size_max_bytes} bytes"
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise Refused(Code.INVALID_RECORD, f"not JSON: {error.msg} at line {error.lineno}") from None
        if not isinstance(data, dict):
            raise Refused(Code.INVALID_RECORD, "the record must be a JSON object")
        record, previous, context = parse_check_request(data)
    except Refused as refused:
        _refuse(refused.refusal, as_json)
        return
    findings = findings_json(evaluate(record, previous, context=context))

    def human() -> None:
        if not findings:
            console.print("[green]no findings[/]")
        for f in findings:
            colour = {"error": "red", "warning": "yellow"}.get(f["severity"], "blue")
            console.print(f"[{colour}]{f['severity']}[/] {f['rule_id']} ({f['parameter']}): {f['message']}")

    _emit({"ok": True, "findings": findings}, as_json, human)


def _read(file: Path) -> str:
    """A record file's text, refusing one that cannot be read."""
    try:
        with file.open(encoding="utf-8") as handle:
            return handle.read(record_file_size_max_bytes + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(Code.INVALID_RECORD, f"cannot read {file}: {error}") from None
