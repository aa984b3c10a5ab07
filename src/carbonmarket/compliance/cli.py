"""Compliance on the command line: `carbonmarket compliance open|surrender|status|close|mandatory|
penalties|bank|risk|list|...`; `carbonmarket bench compliance` through `bench_commands`.

Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object with
`--json`, and exits 1 on a refusal. The CLI acts as the local operator, who holds the database.
Prices are given in CNY per tonne (`--price 80.00`) and kept in fen.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Outcome, Refusal, Refused

compliance_app = typer.Typer(
    help="Obligations, surrender, offsets, compliance status, year close, penalties, banking, risk.",
    no_args_is_help=True,
)
bank_app = typer.Typer(
    help="Banking: convert 2019-2024 vintages into 2025 allowances (A 附5).", no_args_is_help=True
)
compliance_app.add_typer(bank_app, name="bank")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Year = Annotated[int, typer.Option("--year", help="The compliance year (e.g. 2024, due by 2025-12-31).")]
Price = Annotated[
    str | None,
    typer.Option("--price", help="CNY per tonne, e.g. 80.00 (kept in fen); default: the exchange's."),
]


def _emit(data: Any, as_json: bool, human: Any = None) -> None:
    from carbonmarket.cli import emit

    emit(data, as_json, human=human)


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _query(call: Callable[[], Any], as_json: bool, rows_key: str | None = None) -> None:
    """Run a query and print it; a refusal exits 1 with its code (`carbonmarket.cli.emit_query`)."""
    from carbonmarket.cli import emit_query

    emit_query(call, as_json, rows_key)


def _compliance(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.compliance.service import Compliance
    from carbonmarket.db.engine import cached_engine

    return Compliance(cached_engine(database_url(db)))


def price_fen(text: str | None) -> int | None:
    """`80.00` CNY per tonne → 8,000 fen; refuses more than two decimals, signs and words."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise Refused(
            Code.COMPLIANCE_INVALID_PRICE, f"price {text!r} is not a number of CNY per tonne"
        ) from None
    fen = value * 100
    if not value.is_finite() or fen != fen.to_integral_value() or value <= 0:
        raise Refused(
            Code.COMPLIANCE_INVALID_PRICE,
            f"price {text!r} must be positive CNY per tonne with at most 2 decimals",
        )
    return int(fen)


def _with_price(as_json: bool, text: str | None, call: Callable[[int | None], Outcome]) -> None:
    try:
        fen = price_fen(text)
    except Refused as refused:
        _emit_outcome(refused.refusal, as_json)
        return
    _emit_outcome(call(fen), as_json)


def parse_item(text: str) -> tuple[str, str]:
    """`CEA24=1000` → ("CEA24", "1000"); the service checks both parts."""
    instrument, sep, quantity = text.partition("=")
    if not sep:
        raise Refused(
            Code.INVALID_REQUEST, f"write each item as INSTRUMENT=TONNES (e.g. CEA24=1000), not {text!r}"
        )
    return instrument.strip(), quantity.strip()


# --- the year ------------------------------------------------------------------------------------------


@compliance_app.command("open")
def open_year(year: Year, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Open a compliance year for surrender (regulator); obligations = the year's verified emissions."""
    _emit_outcome(_compliance(db).open_year(LOCAL_OPERATOR, command_id, year), as_json)


@compliance_app.command("years")
def years(db: Db = None, as_json: Json = False) -> None:
    """The configured compliance years: deadline, eligible vintages, open or closed."""
    _query(lambda: {"years": _compliance(db).years()}, as_json, rows_key="years")


@compliance_app.command("surrender")
def surrender(
    entity: Annotated[str, typer.Option("--entity", help="The entity's roster id (its account <id>-H).")],
    year: Year,
    items: Annotated[list[str], typer.Option("--item", help="INSTRUMENT=TONNES, repeatable (CEA24=1000).")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Surrender allowances and CCERs for a year (partial surrenders allowed; CCER ≤ 5%, M Art. 29)."""
    try:
        parsed = [parse_item(item) for item in items]
    except Refused as refused:
        _emit_outcome(refused.refusal, as_json)
        return
    _emit_outcome(_compliance(db).surrender(LOCAL_OPERATOR, command_id, entity, year, parsed), as_json)


@compliance_app.command("status")
def status(
    year: Year,
    province: Annotated[str | None, typer.Option("--province")] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="One entity's position instead.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Entities listed (1-5000).")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Compliance per entity (met / partly / not met) and the compliance rate; or one entity's position."""
    service = _compliance(db)
    if entity is not None:
        _query(lambda: service.position(LOCAL_OPERATOR, entity, year), as_json, rows_key="holdings")
        return
    _query(lambda: service.status(LOCAL_OPERATOR, year, province, limit), as_json, rows_key="rows")


@compliance_app.command("close")
def close(
    year: Year,
    command_id: CommandId,
    price: Price = None,
    multiple: Annotated[
        int | None, typer.Option("--multiple", help="Fine multiple 5-10 (R Art. 24).")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Close the year after its deadline: results, Art. 24 penalties, next-year cuts, the list."""
    service = _compliance(db)
    _with_price(
        as_json, price, lambda fen: service.close_year(LOCAL_OPERATOR, command_id, year, fen, multiple)
    )


@compliance_app.command("mandatory")
def mandatory(
    year: Year,
    command_id: CommandId,
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    province: Annotated[
        str | None, typer.Option("--province", help="Every owing entity of a province.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--from", help="A provincial account holding the entity's allowances.")
    ] = None,
    held: Annotated[str | None, typer.Option("--held", help="Tonnes of --from held for the entity.")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Mandatory compliance: the registry surrenders what an entity holds, up to what it owes."""
    service = _compliance(db)
    if (entity is None) == (province is None):
        _emit_outcome(Refusal(Code.INVALID_REQUEST, "give exactly one of --entity and --province"), as_json)
        return
    if province is not None:
        _emit_outcome(service.mandatory_province(LOCAL_OPERATOR, command_id, province, year), as_json)
        return
    assert entity is not None
    _emit_outcome(service.mandatory(LOCAL_OPERATOR, command_id, entity, year, source, held), as_json)


@compliance_app.command("penalties")
def penalties(
    year: Year,
    province: Annotated[str | None, typer.Option("--province")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A closed year's penalties: shortfall × price × multiple (R Art. 24), and next year's cut."""
    _query(lambda: _compliance(db).penalties(LOCAL_OPERATOR, year, province), as_json, rows_key="rows")


@compliance_app.command("list")
def public_list(
    year: Annotated[int | None, typer.Option("--year")] = None, db: Db = None, as_json: Json = False
) -> None:
    """The published compliance list of a closed year: the rate and the entities that fell short."""
    _query(lambda: _compliance(db).public_list(year), as_json, rows_key="non_compliant")


@compliance_app.command("risk")
def risk(
    year: Year,
    province: Annotated[str | None, typer.Option("--province")] = None,
    price: Price = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Risk per entity: eligible holdings + funds at a price vs owed; alerts before the deadline."""
    from carbonmarket.cli import refuse

    try:
        fen = price_fen(price)
    except Refused as refused:
        refuse(refused, as_json)
        return
    _query(lambda: _compliance(db).risk(LOCAL_OPERATOR, year, province, fen), as_json, rows_key="rows")


@compliance_app.command("authority")
def authority(
    username: Annotated[str, typer.Option("--username")],
    province: Annotated[str, typer.Option("--province")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Let a provincial_authority user act for one province."""
    _emit_outcome(_compliance(db).assign_authority(LOCAL_OPERATOR, username, province), as_json)


@compliance_app.command("trace")
def trace(
    entity: Annotated[str, typer.Option("--entity")], year: Year, db: Db = None, as_json: Json = False
) -> None:
    """An entity-year's compliance: obligation, surrenders, status, penalty."""
    _query(lambda: _compliance(db).trace(entity, year), as_json)


# --- banking -----------------------------------------------------------------------------------------


@bank_app.command("limit")
def bank_limit(
    entity: Annotated[str, typer.Option("--entity")], db: Db = None, as_json: Json = False
) -> None:
    """T = 10,000 t + 1.5 × net sold 2024-2025, at most the old-vintage holdings (A 附5)."""
    _query(lambda: _compliance(db).banking_limit(LOCAL_OPERATOR, entity), as_json)


@bank_app.command("apply")
def bank_apply(
    application_id: Annotated[str, typer.Option("--id", help="The application id (also the command id).")],
    entity: Annotated[str, typer.Option("--entity")],
    quantity: Annotated[str, typer.Option("--quantity", help="Tonnes to convert.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Apply to convert old vintages into 2025 allowances, within T."""
    _emit_outcome(_compliance(db).apply_banking(LOCAL_OPERATOR, application_id, entity, quantity), as_json)


@bank_app.command("convert")
def bank_convert(
    application: Annotated[str, typer.Option("--application")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Convert an application: the old vintages go to deletion, the same tonnes of CEA25 are issued."""
    _emit_outcome(_compliance(db).convert(LOCAL_OPERATOR, command_id, application), as_json)


@bank_app.command("list")
def bank_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None, db: Db = None, as_json: Json = False
) -> None:
    """Banking applications, newest first."""
    _query(
        lambda: {"applications": _compliance(db).applications(LOCAL_OPERATOR, entity)},
        as_json,
        "applications",
    )


# --- benchmark -----------------------------------------------------------------------------------------


def bench_compliance(
    entities: Annotated[
        str, typer.Option("--entities", help="Comma-separated market sizes, e.g. 3500,100000.")
    ] = "3500",
    db: Annotated[
        str | None,
        typer.Option("--db", help="A server or file to make scratch databases beside (never touched)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Surrender for every entity and close the year, for 3,500 (≤ 10 s) and 100,000 entities (≤ 3 min)."""
    from carbonmarket.cli import database_url
    from carbonmarket.compliance.bench import run_compliance_benchmark

    try:
        sizes = [int(part) for part in entities.split(",") if part.strip()]
    except ValueError:
        _emit({"ok": False, "code": "invalid_request", "message": f"--entities {entities!r}"}, as_json)
        raise typer.Exit(1) from None
    _emit(run_compliance_benchmark(database_url(db), sizes, progress=not as_json), as_json)


bench_commands = {"compliance": bench_compliance}
