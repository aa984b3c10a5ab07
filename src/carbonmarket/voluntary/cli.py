"""The `ccer` commands of the CLI; `carbonmarket.cli` mounts `ccer_app`.

`carbonmarket ccer methodology|vvb|owner|project|monitoring|verify|issue|cancel|search|certificate|apikey`.
Like every command of `carbonmarket`, each takes `--db URL` and `--json`, prints one JSON object
with `--json`, and exits 1 on a refusal. The CLI acts as the local operator, who holds the
database; `carbonmarket ccer --at 2025-03-03T10:00+08:00 ...` runs a command at a given moment
(the injectable clock: rehearsing a lifecycle whose disclosure windows last weeks).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Outcome, Refused

ccer_app = typer.Typer(
    help="The voluntary market: CCER methodologies, projects, VVBs, issuance, cancellation.",
    no_args_is_help=True,
)
methodology_app = typer.Typer(help="Published methodologies and proposals.", no_args_is_help=True)
vvb_app = typer.Typer(help="Validation/verification bodies and their accreditation.", no_args_is_help=True)
owner_app = typer.Typer(help="Project owners' registry accounts.", no_args_is_help=True)
project_app = typer.Typer(help="Projects: design document to registration.", no_args_is_help=True)
monitoring_app = typer.Typer(help="Monitoring reports and metered readings.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of monitoring devices.", no_args_is_help=True)
ccer_app.add_typer(methodology_app, name="methodology")
ccer_app.add_typer(vvb_app, name="vvb")
ccer_app.add_typer(owner_app, name="owner")
ccer_app.add_typer(project_app, name="project")
ccer_app.add_typer(monitoring_app, name="monitoring")
ccer_app.add_typer(apikey_app, name="apikey")

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CommandId = Annotated[str, typer.Option("--id", help="Your id for this command; reusing it is safe.")]
Reason = Annotated[str, typer.Option("--reason")]
Vvb = Annotated[str | None, typer.Option("--vvb", help="The VVB that acts (the CLI acts for any).")]
Sha = Annotated[str, typer.Option("--sha256", help="sha256 of the document, 64 hex characters.")]

_state: dict[str, datetime | None] = {"at": None}


@ccer_app.callback()
def _options(
    at: Annotated[
        str | None,
        typer.Option("--at", help="Run the command at this ISO-8601 moment (rehearsals, replays)."),
    ] = None,
) -> None:
    """The voluntary market: CCER methodologies, projects, VVBs, issuance, cancellation."""
    if at is None:
        _state["at"] = None
        return
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"--at {at!r} is not an ISO-8601 moment") from None
    if moment.tzinfo is None:
        raise typer.BadParameter("--at needs a time zone, e.g. 2025-03-03T10:00+08:00")
    _state["at"] = moment


def _ccer(db: str | None) -> Any:
    from carbonmarket.cli import database_url
    from carbonmarket.core.clock import FixedClock, SystemClock
    from carbonmarket.db.engine import cached_engine
    from carbonmarket.voluntary.service import Voluntary

    at = _state["at"]
    clock = FixedClock(at) if at is not None else SystemClock()
    return Voluntary(cached_engine(database_url(db)), clock=clock)


def _out(outcome: Outcome, as_json: bool) -> None:
    from carbonmarket.cli import emit_outcome

    emit_outcome(outcome, as_json)


def _query(call: Callable[[], Any], as_json: bool, key: str | None = None) -> None:
    """Run a query through `emit_query`; with `key`, the call's list is printed under that key."""
    from carbonmarket.cli import emit_query

    emit_query((lambda: {key: call()}) if key else call, as_json)


def _json_arg(text: str, what: str, as_json: bool) -> Any:
    """A JSON object given inline or as @file; a bad one is refused in the form the user asked for."""
    from carbonmarket.cli import refuse

    try:
        raw = Path(text[1:]).read_text("utf-8") if text.startswith("@") else text
        return json.loads(raw)
    except (OSError, ValueError) as error:
        refuse(Refused(Code.INVALID_REQUEST, f"{what}: not a JSON object ({error})"), as_json)


# --- methodologies ----------------------------------------------------------------------------------


@methodology_app.command("list")
def methodology_list(db: Db = None, as_json: Json = False) -> None:
    """The six published methodologies with their fields and crediting periods."""
    from carbonmarket.voluntary import methodologies

    _query(lambda: [m.describe() for m in methodologies.published()], as_json, "methodologies")


@methodology_app.command("show")
def methodology_show(code: str, db: Db = None, as_json: Json = False) -> None:
    """One methodology: inputs, constants with their sources and tags."""
    from carbonmarket.voluntary import methodologies

    _query(lambda: methodologies.get(code).describe(), as_json)


@methodology_app.command("calculate")
def methodology_calculate(
    code: str,
    parameters: Annotated[str, typer.Option("--parameters", help="Design parameters, JSON or @file.")],
    monitored: Annotated[str, typer.Option("--monitored", help="Monitored parameters, JSON or @file.")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A period's reductions (ER = BE − PE − LE, floored once), stored nowhere."""
    from carbonmarket.voluntary import methodologies
    from carbonmarket.voluntary.methodologies import Period
    from carbonmarket.voluntary.model import parse_date

    def run() -> dict[str, Any]:
        method = methodologies.get(code)
        project = method.read_project(_json_arg(parameters, "--parameters", as_json))
        values = method.read_monitored(_json_arg(monitored, "--monitored", as_json))
        period = Period(parse_date(start, "--start"), parse_date(end, "--end"))
        return {
            "methodology": method.code,
            "unmet_conditions": method.conditions(project),
            **method.calculate(project, values, period).as_json(),
        }

    _query(run, as_json)


@methodology_app.command("propose")
def methodology_propose(
    proposal_id: Annotated[str, typer.Option("--id", help="Proposal id (also the command id).")],
    code: Annotated[str, typer.Option("--code")],
    title: Annotated[str, typer.Option("--title")],
    field: Annotated[str, typer.Option("--field")],
    summary: Annotated[str, typer.Option("--summary")],
    sha256: Sha,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Submit a methodology proposal."""
    _out(
        _ccer(db).propose_methodology(
            LOCAL_OPERATOR,
            proposal_id,
            code=code,
            title=title,
            field=field,
            summary=summary,
            document_sha256=sha256,
        ),
        as_json,
    )


@methodology_app.command("consult")
def methodology_consult(proposal: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Open a proposal's public consultation."""
    _out(_ccer(db).open_consultation(LOCAL_OPERATOR, command_id, proposal), as_json)


@methodology_app.command("decide")
def methodology_decide(
    proposal: str,
    command_id: CommandId,
    reason: Reason,
    adopt: Annotated[bool, typer.Option("--adopt/--reject")] = True,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Adopt (after the consultation) or reject a proposal."""
    _out(_ccer(db).decide_proposal(LOCAL_OPERATOR, command_id, proposal, adopt=adopt, reason=reason), as_json)


@methodology_app.command("proposals")
def methodology_proposals(db: Db = None, as_json: Json = False) -> None:
    """Methodology proposals and their consultation."""
    _query(lambda: _ccer(db).proposals(), as_json, "proposals")


# --- VVBs and owners --------------------------------------------------------------------------------


@vvb_app.command("add")
def vvb_add(
    vvb_id: Annotated[str, typer.Option("--id", help="The body's id (also the command id).")],
    name: Annotated[str, typer.Option("--name")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Register a validation/verification body."""
    _out(_ccer(db).add_vvb(LOCAL_OPERATOR, vvb_id, name), as_json)


@vvb_app.command("accredit")
def vvb_accredit(
    vvb: str,
    field: Annotated[
        str, typer.Option("--field", help="energy_industries, forestry, fugitive_emissions, transport")
    ],
    command_id: CommandId,
    status: Annotated[
        str, typer.Option("--status", help="accredited | suspended | withdrawn")
    ] = "accredited",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Set a body's accreditation in one field."""
    _out(_ccer(db).accredit(LOCAL_OPERATOR, command_id, vvb, field, status), as_json)


@vvb_app.command("staff")
def vvb_staff(
    username: str,
    vvb: Annotated[str, typer.Option("--vvb")],
    command_id: CommandId,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Attach a user (role vvb) to a body."""
    _out(_ccer(db).add_vvb_staff(LOCAL_OPERATOR, command_id, username, vvb), as_json)


@vvb_app.command("list")
def vvb_list(db: Db = None, as_json: Json = False) -> None:
    """The register of bodies and their fields."""
    _query(lambda: _ccer(db).vvbs(), as_json, "vvbs")


@owner_app.command("open")
def owner_open(
    owner_id: Annotated[str, typer.Option("--id", help="The owner's holder id (also the command id).")],
    name: Annotated[str, typer.Option("--name")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Open a project owner's holder with `<id>-H` and `<id>-T` accounts."""
    _out(_ccer(db).open_owner(LOCAL_OPERATOR, owner_id, name), as_json)


@owner_app.command("console")
def owner_console(owner_id: str, db: Db = None, as_json: Json = False) -> None:
    """An owner's projects, their states and next steps."""
    _query(lambda: _ccer(db).owner_console(owner_id), as_json)


# --- projects -----------------------------------------------------------------------------------------


@project_app.command("submit")
def project_submit(
    project_id: Annotated[str, typer.Option("--id", help="Project id [A-Z0-9]{1,24} (also the command id).")],
    name: Annotated[str, typer.Option("--name")],
    owner: Annotated[str, typer.Option("--owner")],
    methodology: Annotated[str, typer.Option("--methodology")],
    sector: Annotated[str, typer.Option("--sector")],
    province: Annotated[str, typer.Option("--province")],
    construction_start: Annotated[str, typer.Option("--construction-start")],
    operation_start: Annotated[str, typer.Option("--operation-start")],
    crediting_start: Annotated[str, typer.Option("--crediting-start")],
    crediting_end: Annotated[str, typer.Option("--crediting-end")],
    parameters: Annotated[str, typer.Option("--parameters", help="Design parameters, JSON or @file.")],
    sha256: Sha,
    expected: Annotated[int, typer.Option("--expected-annual-t")] = 0,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Submit a project design document."""
    _out(
        _ccer(db).submit_project(
            LOCAL_OPERATOR,
            project_id,
            name=name,
            owner_id=owner,
            methodology=methodology,
            sector=sector,
            province=province,
            construction_start=construction_start,
            operation_start=operation_start,
            crediting_start=crediting_start,
            crediting_end=crediting_end,
            parameters=_json_arg(parameters, "--parameters", as_json),
            document_sha256=sha256,
            expected_annual_t=expected,
        ),
        as_json,
    )


@project_app.command("validate")
def project_validate(
    project: str,
    command_id: CommandId,
    vvb: Vvb,
    sha256: Sha,
    opinion: Annotated[str, typer.Option("--opinion")],
    owner_commitment: Annotated[str, typer.Option("--owner-commitment")],
    vvb_commitment: Annotated[str, typer.Option("--vvb-commitment")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Validation by an accredited VVB, with the dual commitment."""
    _out(
        _ccer(db).validate(
            LOCAL_OPERATOR,
            command_id,
            project,
            report_sha256=sha256,
            opinion=opinion,
            owner_commitment=owner_commitment,
            vvb_commitment=vvb_commitment,
            vvb_id=vvb,
        ),
        as_json,
    )


@project_app.command("disclose")
def project_disclose(project: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Publish the design document for 20 working days."""
    _out(_ccer(db).disclose_project(LOCAL_OPERATOR, command_id, project), as_json)


@project_app.command("apply")
def project_apply(project: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Apply for registration after the disclosure."""
    _out(_ccer(db).apply_registration(LOCAL_OPERATOR, command_id, project), as_json)


@project_app.command("decide")
def project_decide(
    project: str,
    command_id: CommandId,
    reason: Reason,
    approve: Annotated[bool, typer.Option("--register/--reject")] = True,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The registry's decision: register or reject."""
    _out(
        _ccer(db).decide_registration(LOCAL_OPERATOR, command_id, project, approve=approve, reason=reason),
        as_json,
    )


@project_app.command("withdraw")
def project_withdraw(
    project: str, command_id: CommandId, reason: Reason, db: Db = None, as_json: Json = False
) -> None:
    """Withdraw a project before its registration is applied for."""
    _out(_ccer(db).withdraw_project(LOCAL_OPERATOR, command_id, project, reason), as_json)


@project_app.command("show")
def project_show(project: str, db: Db = None, as_json: Json = False) -> None:
    """A project with its validation, reports, issuances, comments and history."""
    _query(lambda: _ccer(db).project(project), as_json)


@project_app.command("list")
def project_list(
    status: Annotated[list[str] | None, typer.Option("--status")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Projects, optionally of some states or one owner."""
    _query(lambda: _ccer(db).projects(status or None, owner), as_json, "projects")


@project_app.command("comment")
def project_comment(
    subject: str,
    command_id: CommandId,
    author: Annotated[str, typer.Option("--author")],
    text: Annotated[str, typer.Option("--text")],
    kind: Annotated[str, typer.Option("--kind", help="project | report | proposal")] = "project",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A public comment during a disclosure or consultation."""
    _out(_ccer(db).comment(LOCAL_OPERATOR, command_id, kind, subject, author, text), as_json)


@project_app.command("gec")
def project_gec(
    project: str,
    claim_id: Annotated[str, typer.Option("--id", help="Claim id (also the command id).")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    mwh: Annotated[int, typer.Option("--mwh")],
    reference: Annotated[str, typer.Option("--reference")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record green electricity certificates issued for the project's output over a period."""
    _out(
        _ccer(db).record_gec_claim(
            LOCAL_OPERATOR,
            claim_id,
            project,
            period_start=start,
            period_end=end,
            mwh=mwh,
            reference=reference,
        ),
        as_json,
    )


@project_app.command("authorise")
def project_authorise(
    project: str,
    authorisation_id: Annotated[str, typer.Option("--id", help="Authorisation id (also the command id).")],
    uses: Annotated[str, typer.Option("--uses", help="NDC | OIMP | NDC+OIMP")],
    reference: Annotated[str, typer.Option("--reference")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Record an Article 6 authorisation of the project's mitigation outcomes."""
    _out(
        _ccer(db).authorise_article6(
            LOCAL_OPERATOR, authorisation_id, project, uses=uses, reference=reference
        ),
        as_json,
    )


# --- monitoring ---------------------------------------------------------------------------------------


@monitoring_app.command("submit")
def monitoring_submit(
    report_id: Annotated[str, typer.Option("--id", help="Report id (also the command id).")],
    project: Annotated[str, typer.Option("--project")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    inputs: Annotated[str, typer.Option("--inputs", help="Monitored parameters, JSON or @file.")] = "{}",
    from_readings: Annotated[
        str,
        typer.Option("--from-readings", help='Parameters summed from meters, e.g. {"ch4_volume_m3": "FM1"}.'),
    ] = "{}",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Submit a monitoring report; its reductions are calculated by the project's methodology."""
    _out(
        _ccer(db).submit_report(
            LOCAL_OPERATOR,
            report_id,
            project,
            period_start=start,
            period_end=end,
            inputs=_json_arg(inputs, "--inputs", as_json),
            from_readings=_json_arg(from_readings, "--from-readings", as_json),
        ),
        as_json,
    )


@monitoring_app.command("disclose")
def monitoring_disclose(report: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Publish the verified reduction report for 20 working days."""
    _out(_ccer(db).disclose_report(LOCAL_OPERATOR, command_id, report), as_json)


@monitoring_app.command("apply")
def monitoring_apply(report: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Apply for registration of the reductions after the disclosure."""
    _out(_ccer(db).apply_report_registration(LOCAL_OPERATOR, command_id, report), as_json)


@monitoring_app.command("decide")
def monitoring_decide(
    report: str,
    command_id: CommandId,
    reason: Reason,
    approve: Annotated[bool, typer.Option("--register/--reject")] = True,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The registry registers or rejects the reductions."""
    _out(_ccer(db).decide_report(LOCAL_OPERATOR, command_id, report, approve=approve, reason=reason), as_json)


@monitoring_app.command("show")
def monitoring_show(report: str, db: Db = None, as_json: Json = False) -> None:
    """A monitoring report with its calculation and history."""
    _query(lambda: _ccer(db).report(report), as_json)


@monitoring_app.command("ingest")
def monitoring_ingest(
    project: str,
    key: Annotated[str, typer.Option("--key", help="The device's API key.")],
    file: Annotated[Path, typer.Option("--file", help="JSON list of {timestamp, meter, value}.")],
    batch_id: Annotated[str, typer.Option("--batch", help="Batch id (resending it is safe).")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Upload a batch of metered readings with a device's API key."""
    from carbonmarket.cli import refuse

    service = _ccer(db)
    try:
        device = service.key_actor(key, project)
        readings = json.loads(file.read_text("utf-8"))
    except Refused as refused:
        refuse(refused, as_json)
    except (OSError, ValueError) as error:
        refuse(Refused(Code.INVALID_REQUEST, f"{file}: {error}"), as_json)
    _out(service.ingest(device, project, batch_id, readings), as_json)


@monitoring_app.command("aggregate")
def monitoring_aggregate(
    project: str,
    meter: Annotated[str, typer.Option("--meter")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The sum and count of a meter's readings over a date range."""
    _query(lambda: _ccer(db).aggregate(project, meter, start, end), as_json)


# --- verification, issuance, cancellation, search -----------------------------------------------------


@ccer_app.command("verify")
def verify(
    report: str,
    command_id: CommandId,
    vvb: Vvb,
    verified: Annotated[int, typer.Option("--verified-t", help="Verified reductions, whole tonnes.")],
    sha256: Sha,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Verification of a monitoring report by a VVB other than the validator."""
    _out(
        _ccer(db).verify_report(
            LOCAL_OPERATOR, command_id, report, verified_t=verified, report_sha256=sha256, vvb_id=vvb
        ),
        as_json,
    )


@ccer_app.command("issue")
def issue(
    report: str,
    command_id: CommandId,
    quantity: Annotated[
        int | None, typer.Option("--quantity", help="Default: the verified reductions.")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Issue a registered report's CCERs into the owner's -H account as one serial block."""
    _out(_ccer(db).issue(LOCAL_OPERATOR, command_id, report, quantity), as_json)


@ccer_app.command("cancel")
def cancel(
    command_id: CommandId,
    account: Annotated[str, typer.Option("--account")],
    instrument: Annotated[str, typer.Option("--instrument")],
    quantity: Annotated[int, typer.Option("--quantity")],
    beneficiary: Annotated[str, typer.Option("--beneficiary")],
    purpose: Annotated[str, typer.Option("--purpose")],
    kind: Annotated[str, typer.Option("--kind", help="voluntary | international")] = "voluntary",
    claim: Annotated[str | None, typer.Option("--claim", help="event | product | organisation")] = None,
    authorisation: Annotated[str | None, typer.Option("--authorisation")] = None,
    acquiring_party: Annotated[str | None, typer.Option("--acquiring-party")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Cancel CCERs for a voluntary claim or an international (Article 6) transfer, with a certificate."""
    _out(
        _ccer(db).cancel(
            LOCAL_OPERATOR,
            command_id,
            account_id=account,
            instrument_id=instrument,
            quantity=quantity,
            kind=kind,
            beneficiary=beneficiary,
            purpose=purpose,
            claim=claim,
            authorisation_id=authorisation,
            acquiring_party=acquiring_party,
        ),
        as_json,
    )


@ccer_app.command("search")
def search(serial: str, db: Db = None, as_json: Json = False) -> None:
    """Which project, vintage and period a serial number belongs to, where it is, whether retired."""
    _query(lambda: _ccer(db).search_serial(serial), as_json)


@ccer_app.command("certificate")
def certificate(certificate_id: str, db: Db = None, as_json: Json = False) -> None:
    """A public cancellation certificate."""
    _query(lambda: _ccer(db).certificate(certificate_id), as_json)


@ccer_app.command("overview")
def overview(db: Db = None, as_json: Json = False) -> None:
    """What the public portal shows: disclosures, registered projects, issuances, cancellations."""
    _query(lambda: _ccer(db).public_overview(), as_json)


# --- API keys -----------------------------------------------------------------------------------------


@apikey_app.command("issue")
def apikey_issue(
    project: str,
    command_id: CommandId,
    label: Annotated[str, typer.Option("--label")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """A new API key for the project's monitoring devices (shown once; only its sha256 is stored)."""
    _out(_ccer(db).issue_api_key(LOCAL_OPERATOR, command_id, project, label), as_json)


@apikey_app.command("revoke")
def apikey_revoke(key_id: str, command_id: CommandId, db: Db = None, as_json: Json = False) -> None:
    """Revoke a key."""
    _out(_ccer(db).revoke_api_key(LOCAL_OPERATOR, command_id, key_id), as_json)


@apikey_app.command("list")
def apikey_list(project: str, db: Db = None, as_json: Json = False) -> None:
    """A project's live keys (ids and labels)."""
    _query(lambda: _ccer(db).api_keys(project), as_json, "keys")
