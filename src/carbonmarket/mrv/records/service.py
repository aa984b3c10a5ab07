"""MRV monthly records: submission, correction, import, history, monitoring plans, the annual report.

Every write is one command through `run_command` (idempotent by the client's id, one transaction, an
audit row). A submission is checked in this order, stopping at the first refusal: who may submit, the
record itself (every problem listed), the facility's identity (a facility stays with its entity and
sector), the version (a month is submitted once; a change is a correction with a reason), then the
validation model. The model's findings come back in the result so the entry page shows them at once,
and are saved as alerts in the same transaction; a finding of severity `error` refuses the record
(`Severity.ERROR` blocks acceptance, docs/mrv-contract.md), a warning goes to review.

The validation model (`carbonmarket.mrv.rules`) is another part of issue 3: it is imported lazily, and
while it is missing a record simply has no findings.

The roster (`carbonmarket.mrv.roster`) is not consulted yet: records name their entity and facility
by id, and the only check is that a facility keeps the entity and sector it first reported under.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.db.command import record_refusal, run_command, run_read
from carbonmarket.mrv.model import Finding, MonthlyRecord, Severity
from carbonmarket.mrv.records import store
from carbonmarket.mrv.records.importer import ParsedFile, ParsedRow, read_monthly_file
from carbonmarket.mrv.records.model import (
    MonitoringPlan,
    Problem,
    RawRecord,
    StoredRecord,
    build_record,
    check_reason,
    next_version,
    parse_plan,
    plan_as_json,
    plan_deviations,
    problems_of,
    record_body,
    record_id,
    refuse_problems,
    same_content,
)
from carbonmarket.mrv.sectors import INTENSITY_BASIS, account
from carbonmarket.mrv.sectors.common import (
    Origin,
    SectorResult,
    decimal_text,
    gwp_tables,
    round_once,
)

SUBMITTERS = {Role.ENTITY_REPRESENTATIVE, Role.REGULATOR, Role.REGISTRY_OPERATOR}
# A reviewer imports the monthly data of the entities in their region (issue 3: "a reviewer can import
# a province's monthly data"); rows of entities elsewhere are rejected one by one.
IMPORTERS = SUBMITTERS | {Role.REVIEWER}
IMPORT = "mrv.record.import"
BATCH = "mrv.record.batch"
# A finding of this severity refuses the record (docs/mrv-contract.md: an error blocks acceptance).
BLOCKING = Severity.ERROR
history_rows_max = 5_000
# How far back the validation model sees a facility's history: this year and the one before, enough
# for month-on-month and same-month-last-year comparisons.
previous_years_seen = 1

ROUNDING = (
    "Exact arithmetic on the reported decimals (no intermediate rounding); the entity's annual sum of "
    "every line is rounded once to whole tonnes, half away from zero (ST table C.5 note *1: "
    "四舍五入保留整数). Line and month figures are shown to 6 decimals for reading only."
)


def finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as results, alerts and the entry page show it."""
    return {
        "rule_id": finding.rule_id,
        "category": finding.category.value,
        "severity": finding.severity.value,
        "parameter": finding.parameter,
        "message": finding.message,
    }


def _rules_module(name: str) -> ModuleType | None:
    """A module of the validation model, or None while that part is not written yet."""
    qualified = f"carbonmarket.mrv.rules.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as missing:
        if missing.name in ("carbonmarket.mrv.rules", qualified):
            return None
        raise


def refuse_blocking(where: str, findings: list[Finding]) -> None:
    """Refuse a record the validation rules block, naming the first error and how many more."""
    blocking = [f for f in findings if f.severity is BLOCKING]
    if blocking:
        raise Refused(
            Code.RECORD_REJECTED_BY_RULES,
            f"{where}: {blocking[0].message}"
            + (f" (and {len(blocking) - 1} more errors)" if len(blocking) > 1 else ""),
            findings=[finding_json(f) for f in findings],
        )


def evaluate_rules(record: MonthlyRecord, previous: Sequence[MonthlyRecord]) -> list[Finding]:
    """The validation model's findings on a record (none while the model is missing)."""
    engine = _rules_module("engine")
    if engine is None:
        return []
    return list(engine.evaluate(record, previous))


def save_alerts(
    connection: Connection, record_id: str, record: MonthlyRecord, findings: list[Finding], clock: Clock
) -> None:
    """Hand the findings to the review queue in the caller's transaction (nothing while rules are missing)."""
    if not findings:
        return
    rules_store = _rules_module("store")
    if rules_store is not None:
        rules_store.save_alerts(
            connection,
            record_id,
            record.entity_id,
            record.year,
            record.month,
            findings,
            facility_id=record.facility_id,
            clock=clock,
        )


class Records:
    """Monthly records, monitoring plans and annual reports over one database."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # --- submission -----------------------------------------------------------------------------

    def submit(
        self, actor: Actor, command_id: str, record: MonthlyRecord, *, correct: bool = False, reason: str = ""
    ) -> Outcome:
        """Submit a facility's month (or, with `correct`, a new version of it with a reason).

        Done data: `record_id`, `version`, `supersedes`, `findings`, `plan_deviations` and
        `estimate_tco2e` (this month alone, before the annual gap filling of the power engine).
        """
        body = {**record_body(record), "correct": correct, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, SUBMITTERS, "submitting monthly data")
            refuse_problems(problems_of(record))
            return self._accept(connection, at, actor, command_id, record, correct, reason)

        return run_command(self.engine, self.clock, actor, "mrv.record.submit", command_id, body, work)

    def submit_raw(
        self, actor: Actor, command_id: str, raw: RawRecord, *, correct: bool = False, reason: str = ""
    ) -> Outcome:
        """Submit a record as it came from a form, the CLI or JSON: parsed and checked inside the command."""
        body = {**raw.as_body(), "correct": correct, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, SUBMITTERS, "submitting monthly data")
            record, problems = build_record(raw)
            refuse_problems(problems)
            assert record is not None
            return self._accept(connection, at, actor, command_id, record, correct, reason)

        return run_command(self.engine, self.clock, actor, "mrv.record.submit", command_id, body, work)

    def _accept(
        self,
        connection: Connection,
        at: str,
        actor: Actor,
        command_id: str,
        record: MonthlyRecord,
        correct: bool,
        reason: str,
        *,
        upsert: bool = False,
    ) -> dict[str, Any]:
        """Check a parsed record against the stored ones and the rules, then store it; refusals raise.

        With `upsert` (an import with `correct`) a month already submitted is corrected and a new one
        is submitted, so one file can carry both.
        """
        _check_identity(connection, record)
        where = f"{record.facility_id} {record.year}-{record.month:02d}"
        existing = store.latest(connection, record.facility_id, record.year, record.month)
        if upsert:
            correct = existing is not None
        version = next_version(existing.version if existing else None, correct, reason, where)
        if existing is not None and same_content(existing.record, record):
            raise Refused(
                Code.RECORD_CORRECTION_UNCHANGED,
                f"the correction of {where} repeats version {existing.version} unchanged",
            )
        findings = evaluate_rules(record, _previous(connection, record))
        refuse_blocking(where, findings)
        new_id = record_id(record.facility_id, record.year, record.month, version)
        store.insert_record(
            connection,
            record_id=new_id,
            record=record,
            version=version,
            supersedes=existing.record_id if existing else None,
            reason=check_reason(reason) if existing else None,
            command_id=command_id,
            actor=actor.username,
            at=at,
        )
        save_alerts(connection, new_id, record, findings, self.clock)
        plan = store.plan_in_force(connection, record.facility_id, record.year, record.month)
        return {
            "record_id": new_id,
            "version": version,
            "supersedes": existing.record_id if existing else None,
            "entity_id": record.entity_id,
            "facility_id": record.facility_id,
            "sector": record.sector.value,
            "year": record.year,
            "month": record.month,
            "findings": [finding_json(f) for f in findings],
            "plan_deviations": plan_deviations(plan[1] if plan else None, record),
            "estimate_tco2e": decimal_text(account(record.sector, [record]).total, 2),
        }

    def check(self, actor: Actor, raw: RawRecord) -> dict[str, Any]:
        """A dry run of a submission: problems, the rules' findings, the month's estimate; saves nothing."""
        require_role(actor, SUBMITTERS, "checking monthly data")
        record, problems = build_record(raw)
        if record is None:
            return _check_answer(problems, [], None, None, None)
        checked = record

        def read(connection: Connection) -> dict[str, Any]:
            existing = store.latest(connection, checked.facility_id, checked.year, checked.month)
            try:
                _check_identity(connection, checked)
            except Refused as refused:
                problem = Problem(refused.refusal.code, None, refused.refusal.message)
                return _check_answer([problem], [], None, existing, None)
            findings = evaluate_rules(checked, _previous(connection, checked))
            plan = store.plan_in_force(connection, checked.facility_id, checked.year, checked.month)
            estimate = decimal_text(account(checked.sector, [checked]).total, 2)
            answer = _check_answer([], findings, estimate, existing, plan[1] if plan else None)
            answer["plan_deviations"] = plan_deviations(plan[1] if plan else None, checked)
            return answer

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    # --- import -----------------------------------------------------------------------------------

    def import_file(
        self,
        actor: Actor,
        data: bytes,
        file_name: str | None = None,
        command_id: str | None = None,
        *,
        correct: bool = False,
        reason: str = "",
    ) -> Outcome:
        """Read a monthly-data file (CSV in UTF-8 or GBK, or .xlsx) and import it (`import_records`).

        A file that cannot be read as a whole (no id columns, not text, too large) is refused and
        leaves nothing; the refusal is audited like any other. Without a `command_id` the command is
        the user's file: the same bytes with the same options from the same user answer `exists`
        with the first result.
        """
        digest = hashlib.sha256(data).hexdigest()
        chosen = command_id or import_id(actor.username, digest, correct, reason)
        try:
            require_role(actor, IMPORTERS, "importing monthly data")
            parsed = read_monthly_file(data, file_name)
        except Refused as refused:
            body = {"file_sha256": digest, "correct": correct, "reason": reason}
            record_refusal(self.engine, self.clock, actor, IMPORT, chosen, body, refused)
            return refused.refusal
        return self.import_records(actor, chosen, parsed, correct=correct, reason=reason)

    def import_records(
        self,
        actor: Actor,
        command_id: str,
        parsed: ParsedFile,
        *,
        correct: bool = False,
        reason: str = "",
    ) -> Outcome:
        """Store the valid rows of a parsed monthly-data file in one transaction; report every other row.

        `parsed` comes from `importer.read_monthly_file`. A row is rejected with its reason when the
        file reader found it malformed, when its month was already submitted (without `correct`), when its
        facility belongs to another entity or sector, or when the validation model finds an error.
        All accepted rows are written together or not at all.
        """
        body = {
            "file_sha256": parsed.file_sha256,
            "rows": parsed.rows_total,
            "correct": correct,
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, IMPORTERS, "importing monthly data")
            if correct:
                check_reason(reason)
            rejected = [error.as_json() for error in parsed.errors]
            accepted: list[dict[str, Any]] = []
            warnings = 0
            outside = _outside_region(connection, actor, parsed.rows)
            for row in parsed.rows:
                if row.row in outside:
                    rejected.append(row.rejection(*outside[row.row]))
                    continue
                try:
                    done = self._accept(
                        connection, at, actor, command_id, row.record, correct, reason, upsert=correct
                    )
                except Refused as refused:
                    rejected.append(row.rejection(refused.refusal.code.value, refused.refusal.message))
                    continue
                warnings += len(done["findings"])
                accepted.append(
                    {"row": row.row, "record_id": done["record_id"], "findings": done["findings"]}
                )
            rejected.sort(key=lambda r: (r["row"], r["code"]))
            return {
                "file_sha256": parsed.file_sha256,
                "format": parsed.format,
                "encoding": parsed.encoding,
                "rows": parsed.rows_total,
                "accepted": len(accepted),
                "rejected": rejected,
                "records": accepted,
                "warnings": warnings,
            }

        return run_command(self.engine, self.clock, actor, IMPORT, command_id, body, work)

    def submit_batch(self, actor: Actor, command_id: str, records: Sequence[MonthlyRecord]) -> Outcome:
        """Submit many new facility-months in one command and one transaction (a bulk load).

        Each record is checked as `submit` checks a first submission: the record itself
        (`problems_of`), the facility's identity, that its month was not submitted before (a batch
        carries first versions only; a change is a correction through `submit`), then the
        validation model with the facility's history — its stored records of this and the previous
        year and the batch's records before it. A record refused by any check is listed in
        `rejected` (index in `records`, code, reason) and the others are stored, with their findings
        saved as alerts, as `import_records` does; the prefetching (a few IN queries for the whole
        batch instead of several queries per record) is what makes it fast.

        Done data: `records` (how many were given), `accepted`, `rejected`, `warnings` (findings kept
        on stored records) and `with_findings` (record id and findings of each record that has any).
        """
        bodies = [record_body(r) for r in records]
        digest = hashlib.sha256(json.dumps(bodies, sort_keys=True, default=str).encode()).hexdigest()
        body = {"records_sha256": digest, "records": len(records)}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, SUBMITTERS, "submitting monthly data")
            return self._accept_batch(connection, at, actor, command_id, records)

        return run_command(self.engine, self.clock, actor, BATCH, command_id, body, work)

    def _accept_batch(
        self, connection: Connection, at: str, actor: Actor, command_id: str, records: Sequence[MonthlyRecord]
    ) -> dict[str, Any]:
        """The checks of `_accept` for a first submission, over prefetched state; refusals are listed."""
        facilities = {r.facility_id for r in records}
        identities = store.facility_identities(connection, facilities)
        submitted = store.existing_months(connection, {(r.facility_id, r.year, r.month) for r in records})
        years = sorted({y for r in records for y in range(r.year - previous_years_seen, r.year + 1)})
        history: dict[str, dict[tuple[int, int], MonthlyRecord]] = defaultdict(dict)
        for s in store.current_records_of_facilities(connection, facilities, years):
            history[s.record.facility_id][(s.record.year, s.record.month)] = s.record
        rows: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        with_findings: list[dict[str, Any]] = []
        alerts: list[tuple[str, MonthlyRecord, list[Finding]]] = []
        warnings = 0
        for index, record in enumerate(records):
            where = f"{record.facility_id} {record.year}-{record.month:02d}"
            try:
                refuse_problems(problems_of(record))
                identity = identities.get(record.facility_id)
                if identity is not None and identity != (record.entity_id, record.sector.value):
                    raise Refused(
                        Code.RECORD_FACILITY_MISMATCH, _mismatch(record.facility_id, identity, record)
                    )
                version = next_version(
                    submitted.get((record.facility_id, record.year, record.month)), False, "", where
                )
                seen = history[record.facility_id]
                window = range(record.year - previous_years_seen, record.year + 1)
                previous = [
                    seen[k] for k in sorted(seen) if k != (record.year, record.month) and k[0] in window
                ]
                findings = evaluate_rules(record, previous)
                refuse_blocking(where, findings)
            except Refused as refused:
                rejected.append(
                    {
                        "index": index,
                        "facility_id": record.facility_id,
                        "year": record.year,
                        "month": record.month,
                        "code": refused.refusal.code.value,
                        "reason": refused.refusal.message,
                    }
                )
                continue
            new_id = record_id(record.facility_id, record.year, record.month, version)
            rows.append(
                {
                    "record_id": new_id,
                    "record": record,
                    "version": version,
                    "supersedes": None,
                    "reason": None,
                    "command_id": command_id,
                    "actor": actor.username,
                    "at": at,
                }
            )
            identities.setdefault(record.facility_id, (record.entity_id, record.sector.value))
            submitted[(record.facility_id, record.year, record.month)] = version
            seen[(record.year, record.month)] = record
            if findings:
                warnings += len(findings)
                alerts.append((new_id, record, findings))
                with_findings.append({"record_id": new_id, "findings": [finding_json(f) for f in findings]})
        store.insert_records(connection, rows)
        for new_id, record, findings in alerts:
            save_alerts(connection, new_id, record, findings, self.clock)
        return {
            "records": len(records),
            "accepted": len(rows),
            "rejected": rejected,
            "warnings": warnings,
            "with_findings": with_findings,
        }

    # --- monitoring plans -------------------------------------------------------------------------

    def set_plan(
        self,
        actor: Actor,
        command_id: str,
        entity_id: str,
        facility_id: str,
        sector: str,
        valid_from_year: object,
        valid_from_month: object,
        parameters: dict[str, dict[str, Any]],
        reason: str = "",
    ) -> Outcome:
        """Record a facility's monitoring plan (a new version; a revision needs a reason, ST §9.3)."""
        body = {
            "entity_id": entity_id,
            "facility_id": facility_id,
            "sector": sector,
            "valid_from": [str(valid_from_year), str(valid_from_month)],
            "parameters": parameters,
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, SUBMITTERS, "setting a monitoring plan")
            plan = parse_plan(entity_id, facility_id, sector, valid_from_year, valid_from_month, parameters)
            identity = store.facility_identity(connection, facility_id)
            if identity is not None and identity != (plan.entity_id, plan.sector.value):
                raise Refused(Code.RECORD_FACILITY_MISMATCH, _mismatch(facility_id, identity, plan))
            latest = store.latest_plan_version(connection, facility_id)
            version = 1 if latest is None else latest + 1
            why = check_reason(reason) if latest is not None else (reason.strip() or None)
            plan_id = f"{facility_id}/plan/v{version}"
            store.insert_plan(
                connection,
                plan_id=plan_id,
                plan=plan,
                version=version,
                reason=why,
                command_id=command_id,
                actor=actor.username,
                at=at,
            )
            return {"plan_id": plan_id, "version": version, **plan_as_json(plan)}

        return run_command(self.engine, self.clock, actor, "mrv.plan.set", command_id, body, work)

    def plans(self, actor: Actor, facility_id: str) -> dict[str, Any]:
        """Every version of a facility's monitoring plan, oldest first."""
        require_reader(actor)
        check_id(facility_id, what="facility id")
        versions: list[dict[str, Any]] = run_read(self.engine, lambda c: store.plan_versions(c, facility_id))
        if not versions:
            raise Refused(Code.RECORD_PLAN_NOT_FOUND, f"facility {facility_id!r} has no monitoring plan")
        return {"facility_id": facility_id, "versions": versions}

    # --- reading ----------------------------------------------------------------------------------

    def history(self, actor: Actor, entity_id: str, year: int) -> dict[str, Any]:
        """Every version of an entity's records of a year, each marked current or superseded."""
        require_reader(actor)
        check_id(entity_id, what="entity id")

        def read(connection: Connection) -> list[StoredRecord]:
            return store.all_versions(connection, entity_id, year, history_rows_max + 1)

        stored: list[StoredRecord] = run_read(self.engine, read)
        truncated = len(stored) > history_rows_max
        stored = stored[:history_rows_max]
        newest: dict[tuple[str, int], int] = {}
        for s in stored:
            key = (s.record.facility_id, s.record.month)
            newest[key] = max(newest.get(key, 0), s.version)
        return {
            "entity_id": entity_id,
            "year": year,
            "records": [
                s.as_json(current=s.version == newest[(s.record.facility_id, s.record.month)]) for s in stored
            ],
            "truncated": truncated,
        }

    def annual_report(self, entity_id: str, year: int, *, gwp_version: str | None = None) -> dict[str, Any]:
        """The entity's annual emissions from the current version of every monthly record, traceable.

        `emissions_tco2e` is the one rounded figure (see ROUNDING); everything it came from is listed:
        per-source lines with their formulas and inputs, per-month sums, the parameters and record
        versions used, every default with its source and tag, and what is reported beside the total.
        """
        check_id(entity_id, what="entity id")
        _default, tables = gwp_tables()
        if gwp_version is not None and gwp_version not in tables:
            raise Refused(
                Code.RECORD_UNKNOWN_GWP_VERSION,
                f"GWP version {gwp_version!r} is not one of: {', '.join(sorted(tables))}",
            )

        def read(connection: Connection) -> tuple[list[StoredRecord], dict[str, tuple[int, MonitoringPlan]]]:
            stored = store.current_records(connection, years=[year], entity_id=entity_id)
            plans = {}
            for facility in sorted({s.record.facility_id for s in stored}):
                found = store.plan_in_force(connection, facility, year, 12)
                if found is not None:
                    plans[facility] = found
            return stored, plans

        stored, plans = run_read(self.engine, read)
        if not stored:
            raise Refused(Code.RECORD_NOT_FOUND, f"entity {entity_id!r} has no monthly records for {year}")
        return build_report(entity_id, year, stored, plans, gwp_version)

    def annual_emissions(self, year: int) -> dict[str, int]:
        """Every entity's `annual_report(entity, year)["emissions_tco2e"]` at once (whole t CO2e).

        One read of the year's current records and the same accounting and rounding as the report,
        without building each report's trace: for verification and allocation of a whole market.
        Entities without records for the year are absent.
        """
        stored: list[StoredRecord] = run_read(self.engine, lambda c: store.current_records_of_year(c, year))
        by_entity: dict[str, list[StoredRecord]] = defaultdict(list)
        for s in stored:
            by_entity[s.record.entity_id].append(s)
        return {entity: emissions_of(group) for entity, group in sorted(by_entity.items())}

    def year_by_facility(self, year: int) -> dict[str, dict[str, Any]]:
        """Every entity's monthly parameters (`parameters_used` as in its annual report: facility_id,
        month, values) and each facility's exact emissions (t CO2e, a Fraction), in one read.

        For a regulator's whole-market work — allocation's activity data, a verified figure split over
        units in proportion to their emissions — without building each entity's report."""
        stored: list[StoredRecord] = run_read(self.engine, lambda c: store.current_records_of_year(c, year))
        by_facility: dict[tuple[str, str], list[StoredRecord]] = defaultdict(list)
        for s in stored:
            by_facility[(s.record.entity_id, s.record.facility_id)].append(s)
        found: dict[str, dict[str, Any]] = {}
        for (entity, facility), group in sorted(by_facility.items()):
            group.sort(key=lambda s: s.record.month)
            entry = found.setdefault(entity, {"parameters_used": [], "facility_emissions": {}})
            entry["parameters_used"] += [
                {"facility_id": facility, "month": s.record.month, "values": record_body(s.record)["values"]}
                for s in group
            ]
            result = account(group[0].record.sector, [s.record for s in group])
            entry["facility_emissions"][facility] = result.total
        return found


def emissions_of(stored: Sequence[StoredRecord], gwp_version: str | None = None) -> int:
    """The whole tonnes `build_report` gives as `emissions_tco2e` for these records (pure)."""
    by_facility: dict[str, list[MonthlyRecord]] = defaultdict(list)
    for s in stored:
        by_facility[s.record.facility_id].append(s.record)
    results = [
        account(group[0].sector, group, gwp_version=gwp_version)
        for _facility, group in sorted(by_facility.items())
    ]
    return round_once(sum((r.total for r in results), Fraction(0)))


def build_report(
    entity_id: str,
    year: int,
    stored: list[StoredRecord],
    plans: dict[str, tuple[int, MonitoringPlan]],
    gwp_version: str | None,
) -> dict[str, Any]:
    """The annual report of `Records.annual_report` from the current records (pure)."""
    by_facility: dict[str, list[StoredRecord]] = defaultdict(list)
    for s in stored:
        by_facility[s.record.facility_id].append(s)
    by_key = {(s.record.facility_id, s.record.month): s for s in stored}
    results: list[SectorResult] = [
        account(group[0].record.sector, [s.record for s in group], gwp_version=gwp_version)
        for _facility, group in sorted(by_facility.items())
    ]
    total = sum((r.total for r in results), Fraction(0))
    beside = sum((r.reported_beside for r in results), Fraction(0))
    lines = [line for r in results for line in r.lines]

    line_json = []
    month_totals: dict[int, Fraction] = defaultdict(Fraction)
    gases: dict[str, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    defaults: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line in lines:
        source = by_key[(line.facility_id, line.month)]
        line_json.append({**line.as_json(), "record_id": source.record_id, "version": source.version})
        if line.in_total:
            month_totals[line.month] += line.tonnes
            gases[line.gas][0] += line.tonnes
            if line.gas_kg is not None:
                gases[line.gas][1] += line.gas_kg
        for used in line.inputs:
            if used.origin in (Origin.DEFAULT, Origin.FILLED):
                key = (used.name, used.shown, used.origin.value)
                entry = defaults.setdefault(key, {**used.as_json(), "used_in": []})
                entry["used_in"].append(f"{line.facility_id} {year}-{line.month:02d} {line.source}")

    facilities = []
    for result in results:
        group = by_facility[result.facility_id]
        reported = sorted(s.record.month for s in group)
        basis_name, basis_unit = INTENSITY_BASIS[result.sector]
        basis = sum((Fraction(s.record.values.get(basis_name, 0)) for s in group), Fraction(0))
        plan = plans.get(result.facility_id)
        facilities.append(
            {
                "facility_id": result.facility_id,
                "sector": result.sector.value,
                "months_reported": reported,
                "months_missing": [m for m in range(1, 13) if m not in reported],
                "tco2e": decimal_text(result.total),
                "reported_beside_tco2e": decimal_text(result.reported_beside),
                "intensity": {
                    "value": decimal_text(result.total / basis, 4) if basis else None,
                    "unit": basis_unit,
                    "basis": basis_name,
                    "basis_total": decimal_text(basis),
                },
                "factor_version": result.factor_version,
                "monitoring_plan_version": plan[0] if plan else None,
                "notes": list(result.notes),
            }
        )
    months = [{"month": m, "tco2e": decimal_text(t)} for m, t in sorted(month_totals.items())]
    default_version, _tables = gwp_tables()
    return {
        "entity_id": entity_id,
        "year": year,
        "emissions_tco2e": round_once(total),
        "emissions_exact_tco2e": decimal_text(total),
        "rounding": ROUNDING,
        "reported_beside_total_tco2e": decimal_text(beside),
        "gwp_version": gwp_version or default_version,
        "gases": {
            gas: {"tco2e": decimal_text(t), **({"kg": decimal_text(kg)} if kg else {})}
            for gas, (t, kg) in sorted(gases.items())
        },
        "facilities": facilities,
        "months": months,
        "lines": line_json,
        "parameters_used": [
            {
                "record_id": s.record_id,
                "facility_id": s.record.facility_id,
                "month": s.record.month,
                "version": s.version,
                "values": record_body(s.record)["values"],
                "evidence": dict(s.record.evidence),
            }
            for s in sorted(stored, key=lambda s: (s.record.facility_id, s.record.month))
        ],
        "defaults_used": list(defaults.values()),
        "record_versions": [
            {
                "record_id": s.record_id,
                "facility_id": s.record.facility_id,
                "month": s.record.month,
                "version": s.version,
                "supersedes": s.supersedes,
                "reason": s.reason,
            }
            for s in sorted(stored, key=lambda s: (s.record.facility_id, s.record.month))
        ],
    }


def _check_identity(connection: Connection, record: MonthlyRecord) -> None:
    """A facility stays with the entity and sector it first reported under (until the roster says more)."""
    identity = store.facility_identity(connection, record.facility_id)
    if identity is not None and identity != (record.entity_id, record.sector.value):
        raise Refused(Code.RECORD_FACILITY_MISMATCH, _mismatch(record.facility_id, identity, record))


def _mismatch(facility_id: str, identity: tuple[str, str], given: MonthlyRecord | MonitoringPlan) -> str:
    """Words for a facility reported under another entity or sector."""
    return (
        f"facility {facility_id!r} reports for entity {identity[0]!r} in sector {identity[1]}, "
        f"not for {given.entity_id!r} in {given.sector.value}"
    )


def _previous(connection: Connection, record: MonthlyRecord) -> list[MonthlyRecord]:
    """The facility's other current records of this and the previous year, oldest first (for the rules)."""
    years = list(range(record.year - previous_years_seen, record.year + 1))
    stored = store.current_records(connection, years=years, facility_id=record.facility_id)
    return [
        s.record
        for s in sorted(stored, key=lambda s: (s.record.year, s.record.month))
        if (s.record.year, s.record.month) != (record.year, record.month)
    ]


def import_id(username: str, file_sha256: str, correct: bool, reason: str) -> str:
    """The default command id of an import: who sends which file with which options.

    The same person sending the same file again gets the first result (`exists`). The user is part
    of the id because a command's id belongs to whoever first used it: without it, a second person
    uploading the same file would be refused for reusing someone else's id.
    """
    return derived_id("mrv-import", username, file_sha256, correct, reason)


def _outside_region(
    connection: Connection, actor: Actor, rows: Sequence[ParsedRow]
) -> dict[int, tuple[str, str]]:
    """The rows a reviewer may not import, by row number, with the refusal's code and words.

    Only reviewers are bounded by region: their scope (mrv/review) must cover the entity's place on
    the roster (mrv/roster). A national reviewer covers every entity, even one the roster lacks; a
    provincial or municipal one cannot place an entity the roster lacks, so that row is rejected.
    """
    if actor.superuser or actor.role is not Role.REVIEWER:
        return {}
    review_store = _optional("carbonmarket.mrv.review.store")
    roster_store = _optional("carbonmarket.mrv.roster.store")
    scope = None if review_store is None else review_store.get_reviewer(connection, actor.username)
    if scope is None:
        raise Refused(
            Code.REVIEW_REVIEWER_NOT_ASSIGNED,
            f"reviewer {actor.username!r} has no tier or region yet, so no entity is theirs to import; "
            "a regulator assigns one",
        )
    if scope.province is None:
        return {}
    places: dict[str, tuple[str, str | None] | None] = {}
    outside: dict[int, tuple[str, str]] = {}
    for row in rows:
        entity_id = row.record.entity_id
        if entity_id not in places:
            found = None if roster_store is None else roster_store.get_entity(connection, entity_id)
            places[entity_id] = None if found is None else (found[0].province, found[0].city)
        place = places[entity_id]
        if place is None:
            outside[row.row] = (
                Code.REVIEW_ENTITY_NOT_FOUND.value,
                f"entity {entity_id!r} is not on the roster, so it cannot be placed in "
                f"{scope.describe()}: add it to the roster first",
            )
        elif not scope.covers(*place):
            where = "/".join(p for p in place if p)
            outside[row.row] = (
                Code.REVIEW_OUT_OF_SCOPE.value,
                f"entity {entity_id!r} is in {where}, outside the region of {actor.username!r}: "
                f"{scope.describe()}",
            )
    return outside


def _optional(name: str) -> ModuleType | None:
    """Another MRV part's module, or None while that part is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name is not None and name.startswith(missing.name):
            return None
        raise


def require_reader(actor: Actor) -> None:
    """Monthly data is not public: any signed-in role but the public one may read it."""
    if actor.role is Role.PUBLIC and not actor.superuser:
        raise Refused(Code.FORBIDDEN, f"monthly data is not public; {actor.username!r} is {actor.role.value}")


def _check_answer(
    problems: list[Problem],
    findings: list[Finding],
    estimate: str | None,
    existing: StoredRecord | None,
    plan: MonitoringPlan | None,
) -> dict[str, Any]:
    """The answer of a dry run, in the shape the entry page reads."""
    blocking = any(f.severity is BLOCKING for f in findings)
    return {
        "ok": True,
        "valid": not problems and not blocking,
        "problems": [p.as_json() for p in problems],
        "findings": [finding_json(f) for f in findings],
        "estimate_tco2e": estimate,
        "submitted_version": existing.version if existing else None,
        "monitoring_plan": plan_as_json(plan) if plan else None,
    }
