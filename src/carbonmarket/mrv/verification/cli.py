"""Verification on the command line: `carbonmarket mrv verification ...` (bodies, verifications,
nonconformities, the compliance figure, streamlined eligibility, the evaluation).

`verification_app` is a Typer app for the main CLI to mount under `mrv verification`. Like every
command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object with
`--json`, and exits 1 on a refusal. The CLI acts as the local operator, who holds the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Outcome

verification_app = typer.Typer(
    help="Third-party verification: bodies, assignments, nonconformities, verified emissions, evaluation.",
    no_args_is_help=True,
)
body_app = typer.Typer(help="Verification bodies and their qualification.", no_args_is_help=True)
verifier_app = typer.Typer(help="Verifier users and their body.", no_args_is_help=True)
nc_app = typer.Typer(help="Nonconformities found during a verification.", no_args_is_help=True)
evaluation_app = typer.Typer(help="The published evaluation of verification bodies.", no_args_is_help=True)
verification_app.add_typer(body_app, name="body")
verification_app.add_typer(verifier_app, name="verifier")
verification_app.add_typer(nc_app, name="nc")
verification_app.add_typer(evaluation_app, name="evaluation")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Reason = Annotated[str, typer.Option("--reason")]

# carbonmarket.cli mounts this app, so it is imported when a command runs, not when this module loads.


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


def _verification(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.mrv.verification.service import Verification

    return Verification(cached_engine(database_url(db)))


# --- bodies -----------------------------------------------------------------------------------------


@body_app.command("apply")
def body_apply(
    body_id: Annotated[str, typer.Option("--id", help="The body's id (also the command id).")],
    name: Annotated[str, typer.Option("--name")],
    province: Annotated[str | None, typer.Option("--province")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record a body's application for qualification (entry)."""
    _emit_outcome(_verification(db).apply_body(LOCAL_OPERATOR, body_id, name, province, note), as_json)


def _body_step(step: str) -> Callable[..., None]:
    def command(
        body_id: Annotated[str, typer.Argument(help="The verification body.")],
        reason: Reason,
        command_id: CommandId,
        db: Db = None,
        as_json: Json = False,
    ) -> None:
        service = _verification(db)
        _emit_outcome(getattr(service, step)(LOCAL_OPERATOR, command_id, body_id, reason), as_json)

    return command


for _step, _help in (
    ("qualify", "applied → qualified: admit a body that meets the entry rules."),
    ("suspend", "qualified → suspended: a breach of conduct stops new work."),
    ("reinstate", "suspended → qualified."),
    ("withdraw", "→ withdrawn, for good (exit)."),
):
    body_app.command(_step, help=_help)(_body_step(_step))


@body_app.command("list")
def body_list(
    status: Annotated[str | None, typer.Option("--status")] = None, db: Db = None, as_json: Json = False
) -> None:
    """The register of verification bodies."""
    _query(lambda: {"bodies": _verification(db).bodies(status)}, as_json, "bodies")


@body_app.command("show")
def body_show(
    body_id: Annotated[str, typer.Argument(help="The verification body.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A body with its qualification history and verifiers."""
    _query(lambda: _verification(db).body(body_id), as_json)


@verifier_app.command("add")
def verifier_add(
    username: Annotated[str, typer.Option("--username")],
    body_id: Annotated[str, typer.Option("--body")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Attach a user with the verifier role to a body."""
    _emit_outcome(_verification(db).add_verifier(LOCAL_OPERATOR, command_id, username, body_id), as_json)


# --- verifications ----------------------------------------------------------------------------------


@verification_app.command("assign")
def assign(
    verification_id: Annotated[
        str, typer.Option("--id", help="The verification's id (also the command id).")
    ],
    entity: Annotated[str, typer.Option("--entity")],
    year: Annotated[int, typer.Option("--year")],
    body_id: Annotated[str, typer.Option("--body")],
    mode: Annotated[
        str | None, typer.Option("--mode", help="full | streamlined (default: by eligibility)")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Assign a qualified body to verify an entity's year."""
    _emit_outcome(
        _verification(db).assign(LOCAL_OPERATOR, verification_id, entity, year, body_id, mode), as_json
    )


@verification_app.command("start")
def start(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """assigned → in_progress."""
    _emit_outcome(_verification(db).start(LOCAL_OPERATOR, command_id, verification_id), as_json)


@nc_app.command("raise")
def nc_raise(
    nonconformity_id: Annotated[
        str, typer.Option("--id", help="The nonconformity's id (also the command id).")
    ],
    verification_id: Annotated[str, typer.Option("--verification")],
    description: Annotated[str, typer.Option("--description")],
    parameter: Annotated[str | None, typer.Option("--parameter")] = None,
    month: Annotated[int | None, typer.Option("--month")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record a nonconformity in a verification in progress."""
    _emit_outcome(
        _verification(db).raise_nonconformity(
            LOCAL_OPERATOR, nonconformity_id, verification_id, description, parameter, month
        ),
        as_json,
    )


@nc_app.command("close")
def nc_close(
    nonconformity_id: Annotated[str, typer.Argument(help="The nonconformity.")],
    closure: Annotated[str, typer.Option("--closure", help="The corrective action taken.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Close a nonconformity with the corrective action taken."""
    _emit_outcome(
        _verification(db).close_nonconformity(LOCAL_OPERATOR, command_id, nonconformity_id, closure), as_json
    )


@verification_app.command("submit")
def submit(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    emissions: Annotated[str, typer.Option("--emissions", help="Verified emissions, whole t CO2e.")],
    command_id: CommandId,
    report_sha256: Annotated[str | None, typer.Option("--report-sha256")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """in_progress → submitted with the verified emissions."""
    _emit_outcome(
        _verification(db).submit(LOCAL_OPERATOR, command_id, verification_id, emissions, report_sha256),
        as_json,
    )


@verification_app.command("accept")
def accept(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """submitted → verified: the verified emissions become the compliance figure."""
    _emit_outcome(_verification(db).accept(LOCAL_OPERATOR, command_id, verification_id), as_json)


@verification_app.command("return")
def return_for_rework(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    reason: Reason,
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """submitted → in_progress: send the report back for rework."""
    _emit_outcome(
        _verification(db).return_for_rework(LOCAL_OPERATOR, command_id, verification_id, reason), as_json
    )


@verification_app.command("cancel")
def cancel(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    reason: Reason,
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Cancel an unfinished verification; the entity-year can be assigned again."""
    _emit_outcome(_verification(db).cancel(LOCAL_OPERATOR, command_id, verification_id, reason), as_json)


@verification_app.command("show")
def show(
    verification_id: Annotated[str, typer.Argument(help="The verification.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A verification with its nonconformities."""
    _query(lambda: _verification(db).verification(verification_id), as_json)


@verification_app.command("list")
def list_(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    year: Annotated[int | None, typer.Option("--year")] = None,
    body_id: Annotated[str | None, typer.Option("--body")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Verifications by entity, year, body or status."""
    _query(
        lambda: {"verifications": _verification(db).verifications(entity, year, body_id, status, limit)},
        as_json,
        "verifications",
    )


@verification_app.command("verified")
def verified(
    entity: Annotated[str, typer.Argument(help="The entity.")],
    year: Annotated[int, typer.Argument(help="The reporting year.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The compliance figure: the accepted verified emissions of an entity-year (null if none yet)."""
    _query(
        lambda: {
            "entity_id": entity,
            "year": year,
            "verified_emissions_tco2e": _verification(db).verified_emissions(entity, year),
        },
        as_json,
    )


@verification_app.command("eligibility")
def eligibility(
    entity: Annotated[str, typer.Argument(help="The entity.")],
    year: Annotated[int, typer.Argument(help="The reporting year to verify.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Whether the entity's year may be verified the streamlined way, and why."""
    _query(lambda: _verification(db).eligibility(entity, year), as_json)


# --- the evaluation ---------------------------------------------------------------------------------


@evaluation_app.command("preview")
def evaluation_preview(
    year: Annotated[int, typer.Argument(help="The reporting year.")], db: Db = None, as_json: Json = False
) -> None:
    """Each body's score for a year as it stands now (not published)."""
    _query(lambda: _verification(db).evaluation_preview(LOCAL_OPERATOR, year), as_json, "bodies")


@evaluation_app.command("publish")
def evaluation_publish(
    year: Annotated[int, typer.Argument(help="The reporting year.")], db: Db = None, as_json: Json = False
) -> None:
    """Publish a year's evaluation; published figures never change."""
    _emit_outcome(_verification(db).publish_evaluation(LOCAL_OPERATOR, year), as_json)


@evaluation_app.command("show")
def evaluation_show(
    year: Annotated[int | None, typer.Argument(help="The reporting year (default: the newest).")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A published evaluation, with its formula."""
    _query(lambda: _verification(db).evaluations(year), as_json, "bodies")
