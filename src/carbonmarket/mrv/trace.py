"""Parameter tracing: for one entity's year, the chain from each monthly parameter and rule result
to the annual report, the verification and the figures later built on it.

The national platform "established a data-logic correlation chain among data from emissions,
verification, trading, and compliance processes, supporting precise identification of anomalous
data through parameter tracing" (Progress Report §8(2) [seed]; DOMAIN.md §2). `trace()` returns
that chain as plain data:

- `parameters`: one line per facility, month and parameter — the current value and every
  version of the record that carried it (records are versioned, never overwritten), with the
  alerts raised on those versions and the review cases that covered the alerts;
- `alerts` and `cases`: the validation model's results and the three-tier review of them;
- `report`: the annual report computed from the monthly records;
- `verification`: every verification of the year and the compliance figure (verified emissions);
- `allocation` and `compliance`: the figures that used the verified emissions. Empty until issue 4
  registers its consumers with `register_consumer` (the documented hook below);
- `edges`: the chain as links between node ids (`record:…`, `alert:…`, `case:…`, `report:E/Y`,
  `verification:…`, `allocation:…`, `compliance:…`), for a reader or a graph view;
- `gaps`: what could not be traced, and why (a part not installed, a report not yet computable).

Each neighbour is read through its public service in its own connection, one after another: no
connection is held open while another is opened (SQLite takes its write lock at BEGIN).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role, require_role
from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Refused
from carbonmarket.db.command import run_read
from carbonmarket.mrv.review.service import AlertView, Review, RosterDirectory, RulesAlerts, optional_module
from carbonmarket.mrv.verification import store as verification_store
from carbonmarket.mrv.verification.model import check_year
from carbonmarket.mrv.verification.service import Verification

# --- the hook for figures built on verified emissions -----------------------------------------------

# A consumer returns the figures of one stage that used an entity-year's verified emissions, each a
# dict with at least `id` (unique within the stage) and `figure` (the number it produced), and
# optionally `uses` (the node it used, default the accepted verification) and any detail it likes.
# Issue 4 registers, e.g.: `register_consumer("allocation", "true-up", allocation_figures)`.
Consumer = Callable[[Engine, str, int], list[dict[str, Any]]]
STAGES = ("allocation", "compliance")
_consumers: dict[str, dict[str, Consumer]] = {stage: {} for stage in STAGES}


def register_consumer(stage: str, name: str, consumer: Consumer) -> None:
    """Add a source of `allocation` or `compliance` figures to the trace; the same name replaces."""
    if stage not in _consumers:
        raise ValueError(f"trace stage must be one of {STAGES}, not {stage!r}")
    _consumers[stage][name] = consumer


def unregister_consumer(stage: str, name: str) -> None:
    """Remove a consumer (tests, or a context being unloaded)."""
    _consumers.get(stage, {}).pop(name, None)


# --- the trace ----------------------------------------------------------------------------------------


def check_request(entity_id: str, year: int) -> None:
    """Refuse an entity id that is not an id, or a year outside the platform's reporting years."""
    check_id(entity_id, what="entity id")
    check_year(year)


def trace(engine: Engine, entity_id: str, year: int, actor: Actor = LOCAL_OPERATOR) -> dict[str, Any]:
    """The whole chain of one entity-year, from monthly parameters to the figures built on them.

    The caller authorises (`authorise`); `actor` is passed on to neighbours that check who reads.
    A malformed id or an absurd year is refused (`check_request`) rather than traced to nothing.
    """
    check_request(entity_id, year)
    gaps: list[str] = []
    entity = _entity(engine, entity_id, gaps)
    versions = _record_versions(engine, actor, entity_id, year, gaps)
    report = _report(engine, entity_id, year, gaps)
    alerts: list[AlertView] = run_read(engine, lambda c: RulesAlerts().of_entity_year(c, entity_id, year))
    if optional_module("carbonmarket.mrv.rules.store") is None:
        gaps.append("the validation part (mrv/rules) is not installed: no alerts to show")
    cases = Review(engine).cases_for(entity_id, year)
    verification = Verification(engine)
    verifications = verification.for_entity_year(entity_id, year)
    verified = verification.verified_emissions(entity_id, year)
    current = next((v for v in verifications if v["status"] == "verified"), None)

    case_of_alert = {alert_id: case["case"] for case in cases for alert_id in case["alerts"]}
    alerts_by_record: dict[str, list[AlertView]] = defaultdict(list)
    for alert in alerts:
        if alert.record_id is not None:
            alerts_by_record[alert.record_id].append(alert)

    parameters = _parameter_lines(versions, alerts_by_record, case_of_alert)
    report_node = f"report:{entity_id}/{year}"
    edges: list[dict[str, str]] = []
    for version in versions:
        node = f"record:{version['record_id']}"
        if version.get("supersedes"):
            edges.append({"from": f"record:{version['supersedes']}", "to": node, "kind": "corrected_by"})
        if version.get("current", True):
            edges.append({"from": node, "to": report_node, "kind": "summed_into"})
    for alert in alerts:
        if alert.record_id is not None:
            edges.append({"from": f"record:{alert.record_id}", "to": f"alert:{alert.id}", "kind": "raised"})
        if alert.id in case_of_alert:
            edges.append(
                {"from": f"alert:{alert.id}", "to": f"case:{case_of_alert[alert.id]}", "kind": "reviewed_in"}
            )
    for v in verifications:
        edges.append({"from": report_node, "to": f"verification:{v['verification']}", "kind": "verified_by"})

    downstream = {stage: _downstream(engine, stage, entity_id, year, gaps) for stage in STAGES}
    for stage, figures in downstream.items():
        for figure in figures:
            source = figure.get("uses") or (
                f"verification:{current['verification']}" if current else report_node
            )
            edges.append({"from": str(source), "to": f"{stage}:{figure.get('id')}", "kind": "used_by"})

    open_alerts = sum(1 for a in alerts if a.status == "open")
    return {
        "entity_id": entity_id,
        "year": year,
        "entity": entity,
        "chain": [
            {"stage": "parameters", "lines": len(parameters), "record_versions": len(versions)},
            {
                "stage": "rules",
                "alerts": len(alerts),
                "open_alerts": open_alerts,
                "cases": len(cases),
                "open_cases": sum(1 for c in cases if c["status"] != "closed"),
            },
            {"stage": "report", "emissions_tco2e": None if report is None else report.get("emissions_tco2e")},
            {
                "stage": "verification",
                "status": None if not verifications else verifications[-1]["status"],
                "verified_emissions_tco2e": verified,
            },
            *({"stage": stage, "figures": len(figures)} for stage, figures in downstream.items()),
        ],
        "parameters": parameters,
        "alerts": [{**a.as_json(), "case": case_of_alert.get(a.id)} for a in alerts],
        "cases": cases,
        "report": report,
        "verification": {
            "verified_emissions_tco2e": verified,
            "current": None if current is None else current["verification"],
            "verifications": verifications,
        },
        **downstream,
        "edges": edges,
        "gaps": gaps,
    }


def _entity(engine: Engine, entity_id: str, gaps: list[str]) -> dict[str, Any] | None:
    """The roster's entry, or None (with the reason in `gaps`)."""
    module = optional_module("carbonmarket.mrv.roster.service")
    if module is None:
        gaps.append("the roster part (mrv/roster) is not installed: entity details unknown")
        return None
    try:
        found: dict[str, Any] = module.Roster(engine).entity(entity_id)
    except Refused as refused:
        gaps.append(f"roster: {refused.refusal.message}")
        return None
    return found


def _records(engine: Engine) -> Any:
    module = optional_module("carbonmarket.mrv.records.service")
    return None if module is None else module.Records(engine)


def _record_versions(
    engine: Engine, actor: Actor, entity_id: str, year: int, gaps: list[str]
) -> list[dict[str, Any]]:
    """Every version of every monthly record of the entity-year (records part's history)."""
    records = _records(engine)
    if records is None:
        gaps.append("the records part (mrv/records) is not installed: no monthly parameters to show")
        return []
    try:
        history = records.history(actor, entity_id, year)
    except Refused as refused:
        gaps.append(f"records: {refused.refusal.message}")
        return []
    if isinstance(history, dict):
        for key in ("versions", "records", "history"):
            if isinstance(history.get(key), list):
                history = history[key]
                break
        else:
            gaps.append("records: history has no list of versions")
            return []
    return [dict(v) for v in history]


def _report(engine: Engine, entity_id: str, year: int, gaps: list[str]) -> dict[str, Any] | None:
    """The annual report, or None (with the refusal in `gaps`, e.g. months missing)."""
    records = _records(engine)
    if records is None:
        return None
    try:
        report: dict[str, Any] = records.annual_report(entity_id, year)
    except Refused as refused:
        gaps.append(f"annual report: [{refused.refusal.code.value}] {refused.refusal.message}")
        return None
    return report


def _parameter_lines(
    versions: list[dict[str, Any]],
    alerts_by_record: dict[str, list[AlertView]],
    case_of_alert: dict[str, str],
) -> list[dict[str, Any]]:
    """One line per facility, month and parameter, with its versions, alerts and cases.

    An alert that names no parameter (a logic check across several) concerns every parameter of
    its record, so it appears on each of them.
    """
    lines: dict[tuple[str, int, str], dict[str, Any]] = {}
    ordered = sorted(
        versions, key=lambda v: (str(v.get("facility_id")), int(v.get("month", 0)), int(v.get("version", 0)))
    )
    for version in ordered:
        record_id = str(version.get("record_id"))
        evidence = version.get("evidence") or {}
        for name, value in sorted((version.get("values") or {}).items()):
            key = (str(version.get("facility_id")), int(version.get("month", 0)), name)
            line = lines.setdefault(
                key,
                {
                    "facility_id": key[0],
                    "month": key[1],
                    "parameter": name,
                    "value": None,
                    "record_id": None,
                    "versions": [],
                    "alerts": [],
                    "cases": [],
                },
            )
            line["versions"].append(
                {
                    "record_id": record_id,
                    "version": version.get("version"),
                    "value": value,
                    "evidence": evidence.get(name),
                    "submitted_by": version.get("submitted_by"),
                    "at": version.get("at"),
                    "reason": version.get("reason"),
                }
            )
            if version.get("current", True):
                line["value"], line["record_id"] = value, record_id
            for alert in alerts_by_record.get(record_id, []):
                if alert.parameter in (None, name) and alert.id not in line["alerts"]:
                    line["alerts"].append(alert.id)
                    if alert.id in case_of_alert and case_of_alert[alert.id] not in line["cases"]:
                        line["cases"].append(case_of_alert[alert.id])
    return list(lines.values())


def _downstream(
    engine: Engine, stage: str, entity_id: str, year: int, gaps: list[str]
) -> list[dict[str, Any]]:
    """The figures of one stage registered consumers report for the entity-year."""
    figures: list[dict[str, Any]] = []
    for name, consumer in sorted(_consumers[stage].items()):
        try:
            figures.extend(consumer(engine, entity_id, year))
        except Refused as refused:
            gaps.append(f"{stage} ({name}): {refused.refusal.message}")
    return figures


# --- who may trace ----------------------------------------------------------------------------------


def authorise(engine: Engine, actor: Actor, entity_id: str, year: int) -> None:
    """Regulators trace anything, reviewers their region's entities, verifiers what their body verifies."""
    if actor.superuser or actor.role is Role.REGULATOR:
        return
    require_role(actor, {Role.REGULATOR, Role.REVIEWER, Role.VERIFIER}, "tracing an entity's data")
    if actor.role is Role.REVIEWER:
        scope = Review(engine).scope(actor)
        place = RosterDirectory(engine).locate(entity_id)
        if scope is None or (place is not None and scope.covers(place.province, place.city)):
            return
        if scope.province is None:  # a national reviewer covers every entity, even one off the roster
            return
        raise Refused(
            Code.FORBIDDEN, f"entity {entity_id!r} is outside the review region of {actor.username!r}"
        )

    def verifies(connection: Any) -> bool:
        own = verification_store.body_of_verifier(connection, actor.username)
        return own is not None and any(
            v.body_id == own for v in verification_store.verifications_of(connection, entity_id, year)
        )

    if not run_read(engine, verifies):
        raise Refused(
            Code.FORBIDDEN,
            f"{actor.username!r}'s body has no verification of {entity_id} for {year} to trace",
        )


# --- the command line -------------------------------------------------------------------------------

Db = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://...).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def trace_command(
    entity: Annotated[str, typer.Argument(help="The entity id on the roster.")],
    year: Annotated[int, typer.Argument(help="The reporting year.")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Trace an entity's year: parameters, rule results → report → verification → allocation, compliance."""
    from carbonmarket.cli import console, database_url, emit, refuse
    from carbonmarket.db.engine import cached_engine

    try:
        data = trace(cached_engine(database_url(db)), entity, year)
    except Refused as refused:
        refuse(refused, as_json)

    def human() -> None:
        console.print(f"[bold]trace {entity} {year}[/]")
        for step in data["chain"]:
            detail = ", ".join(f"{k}={v}" for k, v in step.items() if k != "stage")
            console.print(f"  {step['stage']:<13} {detail}")
        for line in data["parameters"][:200]:
            flags = f"  alerts {','.join(line['alerts'])}" if line["alerts"] else ""
            console.print(
                f"  {line['facility_id']} {year}-{line['month']:02d} {line['parameter']} = {line['value']} "
                f"({len(line['versions'])} version{'s' if len(line['versions']) > 1 else ''}){flags}"
            )
        for gap in data["gaps"]:
            console.print(f"  [yellow]gap[/] {gap}")

    emit({"ok": True, **data}, as_json, human=human)
