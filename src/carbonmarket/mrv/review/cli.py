"""Review on the command line: `carbonmarket mrv review ...` (reviewers, cases, queue).

`review_app` is a Typer app for the main CLI to mount under `mrv review`. Like every command of
`carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object with `--json`, and
exits 1 on a refusal. The CLI acts as the local operator, who holds the database and may act at
any tier; `queue --tier/--province/--city` looks through one reviewer's eyes.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.mrv.review.model import make_scope

review_app = typer.Typer(
    help="Three-tier review of MRV data: cases, threads, referral and resolution.", no_args_is_help=True
)
reviewer_app = typer.Typer(help="Reviewers' tiers and regions.", no_args_is_help=True)
review_app.add_typer(reviewer_app, name="reviewer")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Attach = Annotated[
    list[str] | None,
    typer.Option("--attach", help="Evidence as NAME=SHA256 (64 lowercase hex digits); repeat for more."),
]
Tier = Annotated[str | None, typer.Option("--tier", help="national | provincial | municipal")]
Province = Annotated[str | None, typer.Option("--province")]
City = Annotated[str | None, typer.Option("--city")]

# carbonmarket.cli mounts this app, so it is imported when a command runs, not when this module loads.


def _emit(data: Any, as_json: bool, human: Any = None) -> None:
    from carbonmarket.cli import emit

    emit(data, as_json, human=human)


def _emit_outcome(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _refuse(refused: Refused, as_json: bool) -> None:
    from carbonmarket.cli import refuse

    refuse(refused, as_json)


def _table(rows: list[dict[str, Any]]) -> None:
    from carbonmarket.cli import _table as table

    table(rows)


def _review(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.mrv.review.service import Review

    return Review(cached_engine(database_url(db)))


def attachments_of(pairs: list[str] | None) -> list[dict[str, str]]:
    """`NAME=SHA256` pairs as attachment objects (the service checks the hash)."""
    found = []
    for pair in pairs or []:
        name, sep, digest = pair.rpartition("=")
        if not sep or not name.strip():
            raise Refused(Code.REVIEW_INVALID_ATTACHMENT, f"--attach takes NAME=SHA256, not {pair!r}")
        found.append({"name": name.strip(), "sha256": digest.strip()})
    return found


# --- reviewers --------------------------------------------------------------------------------------


@reviewer_app.command("assign")
def reviewer_assign(
    username: Annotated[str, typer.Option("--username")],
    tier: Annotated[str, typer.Option("--tier", help="national | provincial | municipal")],
    command_id: CommandId,
    province: Province = None,
    city: City = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Give a reviewer (or regulator) user a tier and a region."""
    _emit_outcome(
        _review(db).assign_reviewer(LOCAL_OPERATOR, command_id, username, tier, province, city), as_json
    )


@reviewer_app.command("list")
def reviewer_list(db: Db = None, as_json: Json = False) -> None:
    """List reviewers with their tier and region."""
    rows = _review(db).reviewers()
    _emit({"ok": True, "reviewers": rows}, as_json, human=lambda: _table(rows))


# --- cases ------------------------------------------------------------------------------------------


@review_app.command("open")
def case_open(
    case_id: Annotated[str, typer.Option("--id", help="The new case's id (also the command id).")],
    alert: Annotated[list[str] | None, typer.Option("--alert", help="An alert id; repeat for more.")] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="For a case opened by hand.")] = None,
    year: Annotated[int | None, typer.Option("--year")] = None,
    month: Annotated[int | None, typer.Option("--month")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    message: Annotated[str | None, typer.Option("--message")] = None,
    tier: Tier = None,
    province: Province = None,
    city: City = None,
    attach: Attach = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Open a case from alerts of one entity-year, or by hand for an entity and year."""
    try:
        files = attachments_of(attach)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(
        _review(db).open_case(
            LOCAL_OPERATOR,
            case_id,
            alert_ids=alert or [],
            entity_id=entity,
            year=year,
            month=month,
            title=title,
            message=message,
            tier=tier,
            province=province,
            city=city,
            attachments=files,
        ),
        as_json,
    )


@review_app.command("take")
def case_take(
    case_id: Annotated[str, typer.Argument(help="The case.")],
    command_id: CommandId,
    note: Annotated[str | None, typer.Option("--note")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Take an open case into review."""
    _emit_outcome(_review(db).take(LOCAL_OPERATOR, command_id, case_id, note), as_json)


@review_app.command("refer")
def case_refer(
    case_id: Annotated[str, typer.Argument(help="The case.")],
    reason: Annotated[str, typer.Option("--reason")],
    command_id: CommandId,
    attach: Attach = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Refer a case one tier down (national → provincial → municipal)."""
    try:
        files = attachments_of(attach)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(_review(db).refer(LOCAL_OPERATOR, command_id, case_id, reason, files), as_json)


@review_app.command("resolve")
def case_resolve(
    case_id: Annotated[str, typer.Argument(help="The case.")],
    outcome: Annotated[str, typer.Option("--outcome", help="confirmed_error | explained | false_alert")],
    explanation: Annotated[str, typer.Option("--explanation")],
    command_id: CommandId,
    attach: Attach = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Resolve a case in review; its alerts take the outcome's status."""
    try:
        files = attachments_of(attach)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(
        _review(db).resolve(LOCAL_OPERATOR, command_id, case_id, outcome, explanation, files), as_json
    )


@review_app.command("confirm")
def case_confirm(
    case_id: Annotated[str, typer.Argument(help="The case.")],
    note: Annotated[str, typer.Option("--note")],
    command_id: CommandId,
    attach: Attach = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Close a case with a confirmed error once the entity's correction is checked."""
    try:
        files = attachments_of(attach)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(_review(db).confirm_correction(LOCAL_OPERATOR, command_id, case_id, note, files), as_json)


@review_app.command("comment")
def case_comment(
    case_id: Annotated[str, typer.Argument(help="The case.")],
    text: Annotated[str, typer.Option("--text")],
    command_id: CommandId,
    attach: Attach = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Add a message, with evidence by hash, to a case's thread."""
    try:
        files = attachments_of(attach)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit_outcome(_review(db).comment(LOCAL_OPERATOR, command_id, case_id, text, files), as_json)


@review_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(help="The case.")], db: Db = None, as_json: Json = False
) -> None:
    """A case with its alerts and its thread."""
    try:
        data = _review(db).case(LOCAL_OPERATOR, case_id)
    except Refused as refused:
        _refuse(refused, as_json)
        return
    _emit({"ok": True, **data}, as_json)


@review_app.command("queue")
def case_queue(
    tier: Tier = None,
    province: Province = None,
    city: City = None,
    alerts: Annotated[
        bool, typer.Option("--alerts/--no-alerts", help="Include open alerts no case covers.")
    ] = True,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Cases waiting at a tier and region (every tier when none is given), and uncovered open alerts."""
    try:
        scope = make_scope(tier, province, city) if tier else None
        data = _review(db).queue(LOCAL_OPERATOR, include_alerts=alerts, limit=limit, scope_filter=scope)
    except Refused as refused:
        _refuse(refused, as_json)
        return

    def human() -> None:
        from carbonmarket.cli import console

        console.print(f"[bold]{len(data['cases'])} cases[/]")
        _table(
            [
                {k: c[k] for k in ("case", "entity_id", "year", "month", "tier", "status", "title")}
                for c in data["cases"]
            ]
        )
        if alerts:
            console.print(f"[bold]{len(data['alerts'])} open alerts without a case[/]")
            _table(data["alerts"])

    _emit({"ok": True, **data}, as_json, human=human)
