"""Use cases of the voluntary market: VVBs, projects, monitoring reports, issuance, cancellation,
methodology proposals, GEC claims, Article 6 authorisations, monitoring API keys and readings.

Each write is one command (`run_command`: idempotent by client id, one transaction, one audit row).
Who acts (Measures 2023, DOMAIN.md §6): a project owner (role `project_owner` with the initiate
right on `<owner>-H`) for its own projects and reports; a VVB user (role `vvb`, attached to one
body) for validations and verifications; the regulator for bodies, accreditation, registration
decisions, issuance and authorisations. The local operator at the CLI may do everything.
Units move only through `registry.postings`, inside the command's transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, Row

from carbonmarket.core.actors import Actor, Permission, Role, require_role
from carbonmarket.core.calendar import CHINA_STANDARD_TIME, CalendarNotCovered, MarketCalendar
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.instruments import InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Done, Outcome, Refused
from carbonmarket.db.command import run_command, run_read
from carbonmarket.registry import postings
from carbonmarket.registry.model import RETIREMENT_TYPES, AccountType
from carbonmarket.registry.postings import holding_account
from carbonmarket.voluntary import methodologies, store
from carbonmarket.voluntary.facts import credit_facts
from carbonmarket.voluntary.methodologies import Methodology, Period
from carbonmarket.voluntary.model import (
    NEXT_STEP,
    PROJECT_STEPS,
    PROPOSAL_STEPS,
    REPORT_NEXT_STEP,
    REPORT_STEPS,
    Accreditation,
    CancellationKind,
    Claim,
    ProjectDates,
    ProjectStatus,
    ProposalStatus,
    ReportStatus,
    Rules,
    Span,
    check_accredited,
    check_different_body,
    check_issuance,
    check_no_overlap,
    check_project_dates,
    check_project_id,
    check_report_period,
    check_sector,
    check_serials_disjoint,
    check_text,
    check_verified,
    check_window_open,
    check_window_over,
    next_status,
    parse_date,
    parse_serial,
    rules,
    serial_text,
    today_in_china,
)
from carbonmarket.voluntary.sectors import Sectors, sectors

REGULATORS = {Role.REGULATOR}
OWNERS = {Role.PROJECT_OWNER}
VVBS = {Role.VVB}
ISSUANCE_ACCOUNT = "CN-ISSUANCE"
CANCELLATION_ACCOUNT = "CN-CANCELLATION"
_SHA256_HEX = 64
_MICRO = Decimal(1_000_000)
_KEY_PREFIX = "ccer"


def trading_account(owner_id: str) -> str:
    """A participant's exchange trading account."""
    return f"{owner_id}-T"


class Voluntary:
    """The voluntary market over one database, with an injectable clock and market calendar."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
        rules_: Rules | None = None,
        sectors_: Sectors | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.calendar = calendar or MarketCalendar.load()
        self.rules = rules_ or rules()
        self.sectors = sectors_ or sectors()

    # --- helpers ----------------------------------------------------------------------------------

    def _today(self) -> date:
        return today_in_china(self.clock.now())

    def _working_days(self, start: date, n: int) -> date:
        try:
            return self.calendar.add_working_days(start, n)
        except CalendarNotCovered as error:
            raise Refused(Code.CCER_INVALID_DATE, str(error)) from None

    def _disclosure_window(self, working_days: int) -> dict[str, str]:
        """A public disclosure from today for `working_days` working days (V Art. 12, 19)."""
        start = self._today()
        end = self._working_days(start, working_days)
        return {"disclosure_start": start.isoformat(), "disclosure_end": end.isoformat()}

    def _command(
        self,
        actor: Actor,
        kind: str,
        command_id: str,
        body: dict[str, Any],
        work: Callable[[Connection, str], dict[str, Any]],
    ) -> Outcome:
        return run_command(self.engine, self.clock, actor, f"ccer.{kind}", command_id, body, work)

    # --- VVBs -------------------------------------------------------------------------------------

    def add_vvb(self, actor: Actor, vvb_id: str, name: str) -> Outcome:
        """Register a validation/verification body (SAMR-approved, Progress Report §6 [seed])."""
        body = {"vvb_id": vvb_id, "name": name}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "registering a VVB")
            check_id(vvb_id, what="VVB id")
            checked = check_text(name, "VVB name", self.rules.name_length_max)
            if store.get_vvb(connection, vvb_id) is not None:
                raise Refused(Code.CCER_VVB_EXISTS, f"VVB {vvb_id!r} is already registered")
            store.insert_vvb(connection, vvb_id, checked, at)
            store.add_event(connection, "vvb", vvb_id, None, "registered", actor.username, at)
            return {"vvb": vvb_id, "name": checked}

        return self._command(actor, "vvb_add", vvb_id, body, work)

    def accredit(
        self, actor: Actor, command_id: str, vvb_id: str, field: str, status: str = "accredited"
    ) -> Outcome:
        """Set a body's accreditation in one field (sectoral scope): accredited, suspended or withdrawn."""
        body = {"vvb_id": vvb_id, "field": field, "status": status}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "accrediting a VVB")
            _require_vvb(connection, vvb_id)
            if field not in methodologies.FIELDS:
                raise Refused(
                    Code.CCER_INVALID_FIELD,
                    f"field {field!r} is not one of: {', '.join(methodologies.FIELDS)}",
                )
            try:
                parsed = Accreditation(status)
            except ValueError:
                allowed = ", ".join(a.value for a in Accreditation)
                raise Refused(
                    Code.CCER_INVALID_FIELD, f"status {status!r} is not one of: {allowed}"
                ) from None
            before = store.accreditation(connection, vvb_id, field)
            store.set_accreditation(connection, vvb_id, field, parsed.value, actor.username, at)
            store.add_event(connection, "vvb", vvb_id, before, parsed.value, actor.username, at, note=field)
            return {"vvb": vvb_id, "field": field, "status": parsed.value, "was": before}

        return self._command(actor, "vvb_accredit", command_id, body, work)

    def add_vvb_staff(self, actor: Actor, command_id: str, username: str, vvb_id: str) -> Outcome:
        """Attach a user (role vvb) to the body it validates and verifies for."""
        body = {"username": username, "vvb_id": vvb_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "attaching VVB staff")
            _require_vvb(connection, vvb_id)
            check_id(username, what="username")
            store.set_staff(connection, username, vvb_id, actor.username, at)
            return {"username": username, "vvb": vvb_id}

        return self._command(actor, "vvb_staff", command_id, body, work)

    def open_owner(self, actor: Actor, owner_id: str, name: str) -> Outcome:
        """Open a project owner's holder with its `-H` holding and `-T` trading accounts."""
        body = {"owner_id": owner_id, "name": name}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "opening a project owner's accounts")
            created = postings.ensure_holder(connection, actor, owner_id, name, "project_owner", at)
            postings.ensure_account(connection, actor, holding_account(owner_id), owner_id, "holding", at)
            postings.ensure_account(connection, actor, trading_account(owner_id), owner_id, "trading", at)
            return {
                "owner": owner_id,
                "holding": holding_account(owner_id),
                "trading": trading_account(owner_id),
                "created": created,
            }

        return self._command(actor, "owner_open", owner_id, body, work)

    # --- projects ---------------------------------------------------------------------------------

    def submit_project(
        self,
        actor: Actor,
        project_id: str,
        *,
        name: str,
        owner_id: str,
        methodology: str,
        sector: str,
        province: str,
        construction_start: str,
        operation_start: str,
        crediting_start: str,
        crediting_end: str,
        parameters: Mapping[str, object],
        document_sha256: str,
        expected_annual_t: int,
    ) -> Outcome:
        """Submit a project design document (draft): the eligibility checks of the Measures 2023 and the
        methodology's applicability conditions; the project id is the command id."""
        body = {
            "project_id": project_id,
            "name": name,
            "owner_id": owner_id,
            "methodology": methodology,
            "sector": sector,
            "province": province,
            "construction_start": construction_start,
            "operation_start": operation_start,
            "crediting_start": crediting_start,
            "crediting_end": crediting_end,
            "parameters": dict(parameters) if isinstance(parameters, Mapping) else parameters,
            "document_sha256": document_sha256,
            "expected_annual_t": expected_annual_t,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_project_id(project_id)
            _require_owner_of(actor, owner_id)
            if not postings.accounts(connection, [holding_account(owner_id)]):
                raise Refused(
                    Code.UNKNOWN_ACCOUNT,
                    f"owner {owner_id!r} has no holding account {holding_account(owner_id)!r}; "
                    "the registry opens it first (ccer owner open)",
                )
            if store.get_project(connection, project_id) is not None:
                raise Refused(Code.CCER_PROJECT_EXISTS, f"project {project_id!r} already exists")
            method = methodologies.get(methodology)
            project_params = method.read_project(parameters)
            unmet = method.conditions(project_params)
            if unmet:
                raise Refused(Code.CCER_METHODOLOGY_CONDITION_NOT_MET, "; ".join(unmet))
            today = self._today()
            check_sector(sector, self.sectors.known, self.sectors.is_covered(sector, today.year))
            dates = ProjectDates(
                parse_date(construction_start, "construction_start"),
                parse_date(operation_start, "operation_start"),
                parse_date(crediting_start, "crediting_start"),
                parse_date(crediting_end, "crediting_end"),
            )
            check_project_dates(dates, method.data.crediting_years_max, today, self.rules)
            expected = _whole_tonnes(expected_annual_t, "expected_annual_t", allow_zero=True)
            row = {
                "id": project_id,
                "name": check_text(name, "project name", self.rules.name_length_max),
                "owner_id": owner_id,
                "methodology": method.code,
                "field": method.data.field,
                "sector": sector,
                "province": check_text(province, "province", 64),
                "construction_start": dates.construction_start.isoformat(),
                "operation_start": dates.operation_start.isoformat(),
                "crediting_start": dates.crediting_start.isoformat(),
                "crediting_end": dates.crediting_end.isoformat(),
                "parameters": json.dumps(_jsonable(project_params), sort_keys=True),
                "document_sha256": _sha256(document_sha256, "document_sha256"),
                "expected_annual_t": expected,
                "status": ProjectStatus.DRAFT.value,
                "article6_authorised": False,
                "legacy": False,
                "created_at": at,
                "updated_at": at,
            }
            store.insert_project(connection, row)
            store.add_event(connection, "project", project_id, None, ProjectStatus.DRAFT, actor.username, at)
            return {"project": project_id, "status": ProjectStatus.DRAFT.value, "methodology": method.code}

        return self._command(actor, "project_submit", project_id, body, work)

    def validate(
        self,
        actor: Actor,
        command_id: str,
        project_id: str,
        *,
        report_sha256: str,
        opinion: str,
        owner_commitment: str,
        vvb_commitment: str,
        vvb_id: str | None = None,
    ) -> Outcome:
        """A VVB accredited in the methodology's field validates the design document and records the
        dual commitment of owner and body (V Art. 13; Progress Report §6 [seed])."""
        body = {
            "project_id": project_id,
            "report_sha256": report_sha256,
            "opinion": opinion,
            "owner_commitment": owner_commitment,
            "vvb_commitment": vvb_commitment,
            "vvb_id": vvb_id,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            body_id = self._acting_body(connection, actor, vvb_id)
            project = _require_project(connection, project_id, lock=True)
            target = next_status(PROJECT_STEPS, f"project {project_id}", project.status, "validate")
            check_accredited(store.accreditation(connection, body_id, project.field), body_id, project.field)
            limit = self.rules.text_length_max
            store.insert_validation(
                connection,
                {
                    "project_id": project_id,
                    "vvb_id": body_id,
                    "report_sha256": _sha256(report_sha256, "report_sha256"),
                    "opinion": check_text(opinion, "opinion", limit),
                    "owner_commitment": check_text(owner_commitment, "owner's commitment", limit),
                    "vvb_commitment": check_text(vvb_commitment, "VVB's commitment", limit),
                    "validated_by": actor.username,
                    "at": at,
                },
            )
            self._move_project(connection, project, target, actor, at, validation_vvb=body_id)
            return {"project": project_id, "status": target, "vvb": body_id}

        return self._command(actor, "project_validate", command_id, body, work)

    def disclose_project(self, actor: Actor, command_id: str, project_id: str) -> Outcome:
        """Publish the validated design document for 20 working days of public comment (V Art. 12)."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            project = _require_project(connection, project_id, lock=True)
            _require_owner_of(actor, project.owner_id)
            target = next_status(PROJECT_STEPS, f"project {project_id}", project.status, "disclose")
            window = self._disclosure_window(self.rules.design_working_days)
            self._move_project(connection, project, target, actor, at, **window)
            return {"project": project_id, "status": target, **window}

        return self._command(actor, "project_disclose", command_id, {"project_id": project_id}, work)

    def apply_registration(self, actor: Actor, command_id: str, project_id: str) -> Outcome:
        """Apply for registration after the disclosure; decision due in 15 working days (V Art. 15)."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            project = _require_project(connection, project_id, lock=True)
            _require_owner_of(actor, project.owner_id)
            target = next_status(PROJECT_STEPS, f"project {project_id}", project.status, "apply")
            today = self._today()
            check_window_over(_date(project.disclosure_end), today, "design document disclosure")
            due = self._working_days(today, self.rules.decision_working_days)
            self._move_project(connection, project, target, actor, at, decision_due=due.isoformat())
            return {"project": project_id, "status": target, "decision_due": due.isoformat()}

        return self._command(actor, "project_apply", command_id, {"project_id": project_id}, work)

    def decide_registration(
        self, actor: Actor, command_id: str, project_id: str, *, approve: bool, reason: str
    ) -> Outcome:
        """The registry's decision on a project: registered (with today's date) or rejected (V Art. 15)."""
        body = {"project_id": project_id, "approve": approve, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "deciding a project's registration")
            project = _require_project(connection, project_id, lock=True)
            action = "register" if approve else "reject"
            target = next_status(PROJECT_STEPS, f"project {project_id}", project.status, action)
            note = check_text(reason, "reason", self.rules.text_length_max)
            today = self._today()
            extra = {"registered_on": today.isoformat()} if approve else {}
            self._move_project(connection, project, target, actor, at, note=note, **extra)
            late = project.decision_due is not None and today > date.fromisoformat(project.decision_due)
            return {
                "project": project_id,
                "status": target,
                "registered_on": extra.get("registered_on"),
                "late": late,
            }

        return self._command(actor, "project_decide", command_id, body, work)

    def withdraw_project(self, actor: Actor, command_id: str, project_id: str, reason: str) -> Outcome:
        """The owner withdraws a project before its registration is applied for."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            project = _require_project(connection, project_id, lock=True)
            _require_owner_of(actor, project.owner_id)
            target = next_status(PROJECT_STEPS, f"project {project_id}", project.status, "withdraw")
            note = check_text(reason, "reason", self.rules.text_length_max)
            self._move_project(connection, project, target, actor, at, note=note)
            return {"project": project_id, "status": target}

        return self._command(
            actor, "project_withdraw", command_id, {"project_id": project_id, "reason": reason}, work
        )

    def record_legacy_project(
        self,
        actor: Actor,
        project_id: str,
        *,
        name: str,
        owner_id: str,
        methodology: str,
        sector: str,
        province: str,
        registered_on: str,
        crediting_start: str,
        crediting_end: str,
    ) -> Outcome:
        """Record a project registered in the old voluntary registry (before 2017-03-14, V Art. 49) with its
        original registration date, so its credits carry the facts compliance decides on. Regulator only."""
        body = {
            "project_id": project_id,
            "name": name,
            "owner_id": owner_id,
            "methodology": methodology,
            "sector": sector,
            "province": province,
            "registered_on": registered_on,
            "crediting_start": crediting_start,
            "crediting_end": crediting_end,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "recording a legacy project")
            check_project_id(project_id)
            if store.get_project(connection, project_id) is not None:
                raise Refused(Code.CCER_PROJECT_EXISTS, f"project {project_id!r} already exists")
            if sector not in self.sectors.known:
                raise Refused(Code.CCER_INVALID_SECTOR, f"sector {sector!r} is not known")
            registered = parse_date(registered_on, "registered_on")
            start, end = (
                parse_date(crediting_start, "crediting_start"),
                parse_date(crediting_end, "crediting_end"),
            )
            if end < start:
                raise Refused(Code.CCER_INVALID_DATE, "the crediting period ends before it starts")
            store.insert_project(
                connection,
                {
                    "id": project_id,
                    "name": check_text(name, "project name", self.rules.name_length_max),
                    "owner_id": owner_id,
                    "methodology": check_text(methodology, "methodology", 32),
                    "field": "legacy",
                    "sector": sector,
                    "province": check_text(province, "province", 64),
                    "construction_start": start.isoformat(),
                    "operation_start": start.isoformat(),
                    "crediting_start": start.isoformat(),
                    "crediting_end": end.isoformat(),
                    "parameters": "{}",
                    "document_sha256": "0" * _SHA256_HEX,
                    "expected_annual_t": 0,
                    "status": ProjectStatus.REGISTERED.value,
                    "registered_on": registered.isoformat(),
                    "article6_authorised": False,
                    "legacy": True,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            store.add_event(
                connection, "project", project_id, None, "registered", actor.username, at, note="legacy"
            )
            return {
                "project": project_id,
                "status": "registered",
                "registered_on": registered.isoformat(),
                "legacy": True,
            }

        return self._command(actor, "project_legacy", project_id, body, work)

    # --- monitoring reports -----------------------------------------------------------------------

    def submit_report(
        self,
        actor: Actor,
        report_id: str,
        project_id: str,
        *,
        period_start: str,
        period_end: str,
        inputs: Mapping[str, object],
        from_readings: Mapping[str, str] | None = None,
    ) -> Outcome:
        """Submit a monitoring report for one period: eligibility of the period (crediting period, after
        2020-09-22, within 5 years, no overlap, no GEC for the same output) and the methodology's
        calculation; monitored inputs may be summed from ingested meter readings."""
        body = {
            "project_id": project_id,
            "period_start": period_start,
            "period_end": period_end,
            "inputs": dict(inputs) if isinstance(inputs, Mapping) else inputs,
            "from_readings": dict(from_readings or {}),
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(report_id, what="report id")
            project = _require_project(connection, project_id, lock=True)
            _require_owner_of(actor, project.owner_id)
            if project.status != ProjectStatus.REGISTERED or project.legacy:
                raise Refused(
                    Code.CCER_PROJECT_WRONG_STATE,
                    f"project {project_id} is {project.status}: monitoring reports follow registration",
                )
            if store.get_report(connection, report_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"report {report_id!r} already exists")
            period = Span(parse_date(period_start, "period_start"), parse_date(period_end, "period_end"))
            crediting = Span(
                date.fromisoformat(project.crediting_start), date.fromisoformat(project.crediting_end)
            )
            check_report_period(period, crediting, self._today(), self.rules)
            others = [
                (r.id, Span(date.fromisoformat(r.period_start), date.fromisoformat(r.period_end)))
                for r in store.live_report_periods(connection, project_id)
            ]
            check_no_overlap(period, others, Code.CCER_PERIOD_OVERLAPS, "monitoring report")
            check_no_overlap(
                period,
                _gec_spans(connection, project_id),
                Code.CCER_GEC_DOUBLE_COUNTING,
                "green certificate claim",
            )
            method = methodologies.get(project.methodology)
            raw = dict(inputs) if isinstance(inputs, Mapping) else {}
            aggregated = self._aggregate(connection, project_id, period, from_readings or {}, method)
            raw.update(aggregated)
            monitored = method.read_monitored(raw)
            calculation = method.calculate(
                _project_values(method, project), monitored, Period(period.start, period.end)
            )
            claimed = calculation.reduction_t
            store.insert_report(
                connection,
                {
                    "id": report_id,
                    "project_id": project_id,
                    "period_start": period.start.isoformat(),
                    "period_end": period.end.isoformat(),
                    "vintage": period.start.year,
                    "inputs": json.dumps(_jsonable(monitored), sort_keys=True),
                    "calculation": json.dumps(
                        calculation.as_json() | {"from_readings": aggregated_info(aggregated)}, sort_keys=True
                    ),
                    "claimed_t": claimed,
                    "status": ReportStatus.SUBMITTED.value,
                    "live_key": f"{project_id}:{period.start.isoformat()}",
                    "submitted_by": actor.username,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            store.add_event(connection, "report", report_id, None, ReportStatus.SUBMITTED, actor.username, at)
            return {
                "report": report_id,
                "project": project_id,
                "status": ReportStatus.SUBMITTED.value,
                "claimed_t": claimed,
                "calculation": calculation.as_json(),
            }

        return self._command(actor, "report_submit", report_id, body, work)

    def _aggregate(
        self,
        connection: Connection,
        project_id: str,
        period: Span,
        mapping: Mapping[str, str],
        method: Methodology,
    ) -> dict[str, str]:
        """Monitored parameters summed from a meter's readings over the period (networked metering)."""
        names = {spec.name for spec in method.data.monitored_inputs}
        values: dict[str, str] = {}
        for parameter, meter in mapping.items():
            if parameter not in names:
                raise Refused(
                    Code.CCER_METHODOLOGY_INPUT_INVALID,
                    f"{parameter!r} is not a monitored parameter of {method.code}",
                )
            start_ts, end_ts = _period_bounds(period)
            total, count, _first, _last = store.aggregate_readings(
                connection, project_id, str(meter), start_ts, end_ts
            )
            if count == 0:
                raise Refused(
                    Code.CCER_NO_READINGS,
                    f"meter {meter!r} has no readings in {period.start} to {period.end}",
                )
            values[parameter] = str(Decimal(total) / _MICRO)
        return values

    def verify_report(
        self,
        actor: Actor,
        command_id: str,
        report_id: str,
        *,
        verified_t: int,
        report_sha256: str,
        vvb_id: str | None = None,
    ) -> Outcome:
        """A VVB accredited in the field, other than the validator, verifies the reductions (V Art. 18);
        it may lower the claim, never raise it."""
        body = {
            "report_id": report_id,
            "verified_t": verified_t,
            "report_sha256": report_sha256,
            "vvb_id": vvb_id,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            body_id = self._acting_body(connection, actor, vvb_id)
            report = _require_report(connection, report_id, lock=True)
            project = _require_project(connection, report.project_id)
            target = next_status(REPORT_STEPS, f"report {report_id}", report.status, "verify")
            check_accredited(store.accreditation(connection, body_id, project.field), body_id, project.field)
            check_different_body(project.validation_vvb, body_id)
            amount = _whole_tonnes(verified_t, "verified_t", allow_zero=True)
            check_verified(amount, int(report.claimed_t))
            self._move_report(
                connection,
                report,
                target,
                actor,
                at,
                verified_t=amount,
                verification_vvb=body_id,
                verification_sha256=_sha256(report_sha256, "report_sha256"),
            )
            return {"report": report_id, "status": target, "verified_t": amount, "vvb": body_id}

        return self._command(actor, "report_verify", command_id, body, work)

    def disclose_report(self, actor: Actor, command_id: str, report_id: str) -> Outcome:
        """Publish the verified reduction report for 20 working days (V Art. 19)."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            report = _require_report(connection, report_id, lock=True)
            project = _require_project(connection, report.project_id)
            _require_owner_of(actor, project.owner_id)
            target = next_status(REPORT_STEPS, f"report {report_id}", report.status, "disclose")
            window = self._disclosure_window(self.rules.reduction_working_days)
            self._move_report(connection, report, target, actor, at, **window)
            return {"report": report_id, "status": target, **window}

        return self._command(actor, "report_disclose", command_id, {"report_id": report_id}, work)

    def apply_report_registration(self, actor: Actor, command_id: str, report_id: str) -> Outcome:
        """Apply to register the reductions after the disclosure; decision in 15 working days (V Art. 22)."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            report = _require_report(connection, report_id, lock=True)
            project = _require_project(connection, report.project_id)
            _require_owner_of(actor, project.owner_id)
            target = next_status(REPORT_STEPS, f"report {report_id}", report.status, "apply")
            today = self._today()
            check_window_over(_date(report.disclosure_end), today, "reduction report disclosure")
            due = self._working_days(today, self.rules.decision_working_days)
            self._move_report(connection, report, target, actor, at, decision_due=due.isoformat())
            return {"report": report_id, "status": target, "decision_due": due.isoformat()}

        return self._command(actor, "report_apply", command_id, {"report_id": report_id}, work)

    def decide_report(
        self, actor: Actor, command_id: str, report_id: str, *, approve: bool, reason: str
    ) -> Outcome:
        """The registry registers (or rejects) the verified reductions (V Art. 22)."""
        body = {"report_id": report_id, "approve": approve, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "deciding a reduction registration")
            report = _require_report(connection, report_id, lock=True)
            action = "register" if approve else "reject"
            target = next_status(REPORT_STEPS, f"report {report_id}", report.status, action)
            note = check_text(reason, "reason", self.rules.text_length_max)
            extra: dict[str, Any] = (
                {"registered_on": self._today().isoformat()} if approve else {"live_key": None}
            )
            self._move_report(connection, report, target, actor, at, note=note, **extra)
            return {"report": report_id, "status": target, "verified_t": report.verified_t}

        return self._command(actor, "report_decide", command_id, body, work)

    # --- issuance ---------------------------------------------------------------------------------

    def issue(self, actor: Actor, command_id: str, report_id: str, quantity: int | None = None) -> Outcome:
        """Issue a registered report's CCERs as one serial block (project, vintage, monitoring period) into
        CN-ISSUANCE and deliver them to the owner's `-H` account, in one transaction (DOMAIN.md §6)."""
        body = {"report_id": report_id, "quantity": quantity}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "issuing CCERs")
            report = _require_report(connection, report_id, lock=True)
            if (
                store.issuance_for_report(connection, report_id) is not None
                or report.status == ReportStatus.ISSUED
            ):
                raise Refused(
                    Code.CCER_ALREADY_ISSUED, f"the CCERs of report {report_id} were already issued"
                )
            target = next_status(REPORT_STEPS, f"report {report_id}", report.status, "issue")
            project = _require_project(connection, report.project_id)
            verified = int(report.verified_t or 0)
            amount = verified if quantity is None else _whole_tonnes(quantity, "quantity")
            check_issuance(amount, verified)
            instrument = parse_instrument(f"CCER-{project.id}-{report.vintage}").text
            postings.ensure_instrument(
                connection,
                actor,
                instrument,
                at,
                source=f"CCER project {project.id} ({project.methodology}), vintage {report.vintage}",
            )
            issue_tx = "@" + derived_id("ccer-iss", report_id)
            issued = postings.issue(connection, actor, issue_tx, instrument, amount, ISSUANCE_ACCOUNT, at)
            blocks = [tuple(block) for block in issued["serials"] or []]
            assert len(blocks) == 1, "an issuance creates one serial block"
            first, last = int(blocks[0][0]), int(blocks[0][1])
            check_serials_disjoint(first, last, store.issued_blocks(connection, instrument), instrument)
            to_account = holding_account(project.owner_id)
            deliver_tx = "@" + derived_id("ccer-dlv", report_id)
            postings.move(
                connection,
                actor,
                deliver_tx,
                "ccer_issuance",
                [postings.Move(ISSUANCE_ACCOUNT, to_account, instrument, amount)],
                at,
            )
            issuance_id = derived_id("ccer", report_id)
            store.insert_issuance(
                connection,
                {
                    "id": issuance_id,
                    "report_id": report_id,
                    "project_id": project.id,
                    "instrument_id": instrument,
                    "vintage": report.vintage,
                    "period_start": report.period_start,
                    "period_end": report.period_end,
                    "quantity": amount,
                    "first_serial": first,
                    "last_serial": last,
                    "to_account": to_account,
                    "transaction_id": deliver_tx,
                    "issued_by": actor.username,
                    "at": at,
                },
            )
            self._move_report(connection, report, target, actor, at)
            return {
                "report": report_id,
                "instrument": instrument,
                "quantity": amount,
                "to": to_account,
                "serials": [serial_text(instrument, first), serial_text(instrument, last)],
                "first_serial": first,
                "last_serial": last,
                "transaction": deliver_tx,
            }

        return self._command(actor, "issue", command_id, body, work)

    def issue_legacy(
        self, actor: Actor, command_id: str, project_id: str, vintage: int, quantity: int
    ) -> Outcome:
        """Issue a legacy project's CCERs (old registry holdings carried over) into the owner's `-H`."""
        body = {"project_id": project_id, "vintage": vintage, "quantity": quantity}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "issuing legacy CCERs")
            project = _require_project(connection, project_id, lock=True)
            if not project.legacy:
                raise Refused(Code.CCER_PROJECT_WRONG_STATE, f"project {project_id} is not a legacy project")
            amount = _whole_tonnes(quantity, "quantity")
            instrument = parse_instrument(f"CCER-{project.id}-{vintage}").text
            postings.ensure_instrument(
                connection, actor, instrument, at, source=f"legacy CCER project {project.id}"
            )
            issue_tx = "@" + derived_id("ccer-liss", command_id)
            issued = postings.issue(connection, actor, issue_tx, instrument, amount, ISSUANCE_ACCOUNT, at)
            first, last = (int(v) for v in issued["serials"][0])
            check_serials_disjoint(first, last, store.issued_blocks(connection, instrument), instrument)
            deliver_tx = "@" + derived_id("ccer-ldlv", command_id)
            to_account = holding_account(project.owner_id)
            postings.move(
                connection,
                actor,
                deliver_tx,
                "ccer_issuance",
                [postings.Move(ISSUANCE_ACCOUNT, to_account, instrument, amount)],
                at,
            )
            report_id = derived_id("legacy", command_id)
            store.insert_report(
                connection,
                {
                    "id": report_id,
                    "project_id": project.id,
                    "period_start": f"{vintage}-01-01",
                    "period_end": f"{vintage}-12-31",
                    "vintage": vintage,
                    "inputs": "{}",
                    "calculation": "{}",
                    "claimed_t": amount,
                    "verified_t": amount,
                    "status": ReportStatus.ISSUED.value,
                    "live_key": None,
                    "registered_on": project.registered_on,
                    "submitted_by": actor.username,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            store.insert_issuance(
                connection,
                {
                    "id": derived_id("ccer-l", command_id),
                    "report_id": report_id,
                    "project_id": project.id,
                    "instrument_id": instrument,
                    "vintage": vintage,
                    "period_start": f"{vintage}-01-01",
                    "period_end": f"{vintage}-12-31",
                    "quantity": amount,
                    "first_serial": first,
                    "last_serial": last,
                    "to_account": to_account,
                    "transaction_id": deliver_tx,
                    "issued_by": actor.username,
                    "at": at,
                },
            )
            return {
                "instrument": instrument,
                "quantity": amount,
                "to": to_account,
                "first_serial": first,
                "last_serial": last,
            }

        return self._command(actor, "issue_legacy", command_id, body, work)

    # --- cancellation and Article 6 ---------------------------------------------------------------

    def authorise_article6(
        self, actor: Actor, authorisation_id: str, project_id: str, *, uses: str, reference: str
    ) -> Outcome:
        """Record the host's Article 6 authorisation of a project's mitigation outcomes (DOMAIN.md §7)."""
        body = {"project_id": project_id, "uses": uses, "reference": reference}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "authorising Article 6 transfers")
            check_id(authorisation_id, what="authorisation id")
            project = _require_project(connection, project_id, lock=True)
            if project.status != ProjectStatus.REGISTERED:
                raise Refused(
                    Code.CCER_PROJECT_WRONG_STATE, f"project {project_id} is {project.status}, not registered"
                )
            if uses not in ("NDC", "OIMP", "NDC+OIMP"):
                raise Refused(
                    Code.INVALID_TEXT,
                    "uses must be NDC, OIMP (other international mitigation purposes) or NDC+OIMP",
                )
            store.insert_authorisation(
                connection,
                {
                    "id": authorisation_id,
                    "project_id": project_id,
                    "uses": uses,
                    "reference": check_text(reference, "reference", self.rules.name_length_max),
                    "authorised_by": actor.username,
                    "at": at,
                },
            )
            store.update_project(connection, project_id, article6_authorised=True, updated_at=at)
            store.add_event(
                connection,
                "project",
                project_id,
                project.status,
                project.status,
                actor.username,
                at,
                note=f"article6:{authorisation_id}",
            )
            return {"authorisation": authorisation_id, "project": project_id, "uses": uses}

        return self._command(actor, "article6_authorise", authorisation_id, body, work)

    def cancel(
        self,
        actor: Actor,
        command_id: str,
        *,
        account_id: str,
        instrument_id: str,
        quantity: int,
        kind: str,
        beneficiary: str,
        purpose: str,
        claim: str | None = None,
        authorisation_id: str | None = None,
        acquiring_party: str | None = None,
    ) -> Outcome:
        """Cancel CCERs for a voluntary claim (event, product, organisation) or an international transfer
        (Article 6: authorisation, first transfer, corresponding adjustment), with a public certificate.
        ETS compliance offsets are compliance's surrender, not this."""
        body = {
            "account_id": account_id,
            "instrument_id": instrument_id,
            "quantity": quantity,
            "kind": kind,
            "claim": claim,
            "beneficiary": beneficiary,
            "purpose": purpose,
            "authorisation_id": authorisation_id,
            "acquiring_party": acquiring_party,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            parsed_kind = _cancellation_kind(kind)
            instrument = parse_instrument(instrument_id)
            if instrument.kind is not InstrumentKind.CCER:
                raise Refused(Code.CCER_NOT_A_CCER, f"{instrument_id!r} is not a CCER instrument")
            facts = credit_facts(connection, instrument.text)
            if facts is None:
                raise Refused(
                    Code.UNKNOWN_INSTRUMENT, f"{instrument.text} was not issued by the voluntary registry"
                )
            extra = self._cancellation_extra(
                connection, parsed_kind, claim, facts.project_id, authorisation_id, acquiring_party
            )
            transaction_id = "@" + derived_id("ccer-cxl", actor.username, command_id)
            retired = postings.retire(
                connection,
                actor,
                transaction_id,
                "ccer_cancellation",
                postings.Move(account_id, CANCELLATION_ACCOUNT, instrument.text, quantity),
                at,
                beneficiary=beneficiary,
                purpose=purpose,
            )
            serials = [[int(a), int(b)] for a, b in retired["serials"].get(0) or []]
            cancellation_id = derived_id("ccer-c", actor.username, command_id)
            store.insert_cancellation(
                connection,
                {
                    "id": cancellation_id,
                    "certificate_id": retired["certificate"],
                    "transaction_id": transaction_id,
                    "kind": parsed_kind.value,
                    "account_id": account_id,
                    "project_id": facts.project_id,
                    "instrument_id": instrument.text,
                    "quantity": retired["quantity"],
                    "serials": json.dumps(serials),
                    "beneficiary": beneficiary.strip(),
                    "purpose": purpose.strip(),
                    "cancelled_by": actor.username,
                    "at": at,
                    **extra,
                },
            )
            return {
                "certificate": retired["certificate"],
                "transaction": transaction_id,
                "kind": parsed_kind.value,
                "instrument": instrument.text,
                "quantity": retired["quantity"],
                "serials": [
                    [serial_text(instrument.text, a), serial_text(instrument.text, b)] for a, b in serials
                ],
                **{k: v for k, v in extra.items() if v is not None},
            }

        return self._command(actor, "cancel", command_id, body, work)

    def _cancellation_extra(
        self,
        connection: Connection,
        kind: CancellationKind,
        claim: str | None,
        project_id: str,
        authorisation_id: str | None,
        acquiring_party: str | None,
    ) -> dict[str, Any]:
        """The claim of a voluntary cancellation, or the Article 6 record of an international one."""
        if kind is CancellationKind.VOLUNTARY:
            try:
                parsed = Claim(claim or "")
            except ValueError:
                allowed = ", ".join(c.value for c in Claim)
                raise Refused(
                    Code.CCER_INVALID_CANCELLATION, f"a voluntary cancellation names its claim: {allowed}"
                ) from None
            if authorisation_id or acquiring_party:
                raise Refused(
                    Code.CCER_INVALID_CANCELLATION,
                    "authorisation and acquiring party belong to international transfers",
                )
            return {"claim": parsed.value, "first_transfer": False, "corresponding_adjustment": False}
        if not authorisation_id or not acquiring_party:
            raise Refused(
                Code.CCER_INVALID_CANCELLATION,
                "an international transfer names its Article 6 authorisation and the acquiring party",
            )
        authorisation = store.get_authorisation(connection, authorisation_id)
        if authorisation is None:
            raise Refused(
                Code.CCER_AUTHORISATION_NOT_FOUND, f"authorisation {authorisation_id!r} does not exist"
            )
        if authorisation.project_id != project_id:
            raise Refused(
                Code.CCER_NOT_AUTHORISED_ARTICLE6,
                f"authorisation {authorisation_id} covers project {authorisation.project_id}, "
                f"not {project_id}",
            )
        return {
            "claim": None,
            "authorisation_id": authorisation_id,
            "acquiring_party": check_text(acquiring_party, "acquiring party", 64),
            # Leaving the national registry for another party is the units' first transfer, at which the
            # host applies the corresponding adjustment (Article 6.2, DOMAIN.md §7 [reg]).
            "first_transfer": True,
            "corresponding_adjustment": True,
        }

    # --- green electricity certificates -----------------------------------------------------------

    def record_gec_claim(
        self,
        actor: Actor,
        claim_id: str,
        project_id: str,
        *,
        period_start: str,
        period_end: str,
        mwh: int,
        reference: str,
    ) -> Outcome:
        """Record green electricity certificates issued for a project's output: the same electricity may
        not also earn CCERs, so a claim overlapping a live monitoring report is refused (and vice versa)."""
        body = {
            "project_id": project_id,
            "period_start": period_start,
            "period_end": period_end,
            "mwh": mwh,
            "reference": reference,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(claim_id, what="claim id")
            project = _require_project(connection, project_id, lock=True)
            if not (actor.superuser or actor.role is Role.REGULATOR):
                _require_owner_of(actor, project.owner_id)
            period = Span(parse_date(period_start, "period_start"), parse_date(period_end, "period_end"))
            if period.end < period.start:
                raise Refused(Code.CCER_INVALID_DATE, "the claim's period ends before it starts")
            reports = [
                (r.id, Span(date.fromisoformat(r.period_start), date.fromisoformat(r.period_end)))
                for r in store.live_report_periods(connection, project_id)
            ]
            check_no_overlap(period, reports, Code.CCER_GEC_DOUBLE_COUNTING, "monitoring report")
            store.insert_gec_claim(
                connection,
                {
                    "id": claim_id,
                    "project_id": project_id,
                    "period_start": period.start.isoformat(),
                    "period_end": period.end.isoformat(),
                    "mwh": _whole_tonnes(mwh, "mwh"),
                    "reference": check_text(reference, "reference", self.rules.name_length_max),
                    "recorded_by": actor.username,
                    "at": at,
                },
            )
            return {
                "claim": claim_id,
                "project": project_id,
                "period": [period.start.isoformat(), period.end.isoformat()],
            }

        return self._command(actor, "gec_claim", claim_id, body, work)

    # --- comments ---------------------------------------------------------------------------------

    def comment(
        self, actor: Actor, command_id: str, kind: str, subject_id: str, author: str, text_: str
    ) -> Outcome:
        """A public comment on a project or report in disclosure or a proposal in consultation (V Art. 12)."""
        body = {"kind": kind, "subject": subject_id, "author": author, "text": text_}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            today = self._today()
            start, end = self._window(connection, kind, subject_id)
            check_window_open(start, end, today, f"{kind} {subject_id}")
            name = check_text(author, "author", self.rules.name_length_max)
            words = check_text(text_, "comment", self.rules.comment_length_max)
            comment_id = store.add_comment(connection, kind, subject_id, name, words, at)
            return {"comment": comment_id, "subject": subject_id, "kind": kind}

        return self._command(actor, "comment", command_id, body, work)

    def _window(self, connection: Connection, kind: str, subject_id: str) -> tuple[date | None, date | None]:
        if kind == "project":
            project = _require_project(connection, subject_id)
            open_ = project.status == ProjectStatus.IN_DISCLOSURE
            return (_date(project.disclosure_start), _date(project.disclosure_end)) if open_ else (None, None)
        if kind == "report":
            report = _require_report(connection, subject_id)
            open_ = report.status == ReportStatus.IN_DISCLOSURE
            return (_date(report.disclosure_start), _date(report.disclosure_end)) if open_ else (None, None)
        if kind == "proposal":
            proposal = _require_proposal(connection, subject_id)
            open_ = proposal.status == ProposalStatus.IN_CONSULTATION
            return (
                (_date(proposal.consultation_start), _date(proposal.consultation_end))
                if open_
                else (None, None)
            )
        raise Refused(Code.INVALID_REQUEST, f"comments are on a project, report or proposal, not {kind!r}")

    # --- methodology proposals --------------------------------------------------------------------

    def propose_methodology(
        self,
        actor: Actor,
        proposal_id: str,
        *,
        code: str,
        title: str,
        field: str,
        summary: str,
        document_sha256: str,
    ) -> Outcome:
        """Submit a methodology proposal (Progress Report §6 Column 3 [seed]: owners, associations,
        institutes and universities may propose); the id is the command id."""
        body = {
            "code": code,
            "title": title,
            "field": field,
            "summary": summary,
            "document_sha256": document_sha256,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(proposal_id, what="proposal id")
            if actor.role is Role.PUBLIC and not actor.superuser:
                raise Refused(Code.FORBIDDEN, "sign in to submit a methodology proposal")
            if store.get_proposal(connection, proposal_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"proposal {proposal_id!r} already exists")
            code_ = check_text(code, "code", 32).upper()
            published = {m.code for m in methodologies.published()}
            if code_ in published or store.proposal_with_code(connection, code_) is not None:
                raise Refused(Code.CCER_PROPOSAL_CODE_TAKEN, f"methodology code {code_} is already used")
            store.insert_proposal(
                connection,
                {
                    "id": proposal_id,
                    "code": code_,
                    "title": check_text(title, "title", self.rules.name_length_max),
                    "field": check_text(field, "field", 32),
                    "summary": check_text(summary, "summary", self.rules.text_length_max),
                    "document_sha256": _sha256(document_sha256, "document_sha256"),
                    "status": ProposalStatus.SUBMITTED.value,
                    "submitted_by": actor.username,
                    "submitted_at": at,
                },
            )
            store.add_event(
                connection, "proposal", proposal_id, None, ProposalStatus.SUBMITTED, actor.username, at
            )
            return {"proposal": proposal_id, "code": code_, "status": ProposalStatus.SUBMITTED.value}

        return self._command(actor, "proposal_submit", proposal_id, body, work)

    def open_consultation(self, actor: Actor, command_id: str, proposal_id: str) -> Outcome:
        """Put a proposal to public consultation for the comment period of data/rules.toml ([?] 30 days)."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "opening a consultation")
            proposal = _require_proposal(connection, proposal_id)
            target = next_status(PROPOSAL_STEPS, f"proposal {proposal_id}", proposal.status, "open")
            start = self._today()
            end = start + timedelta(days=self.rules.consultation_days - 1)
            store.update_proposal(
                connection,
                proposal_id,
                status=target,
                consultation_start=start.isoformat(),
                consultation_end=end.isoformat(),
            )
            store.add_event(connection, "proposal", proposal_id, proposal.status, target, actor.username, at)
            return {"proposal": proposal_id, "status": target, "consultation_end": end.isoformat()}

        return self._command(actor, "proposal_open", command_id, {"proposal_id": proposal_id}, work)

    def decide_proposal(
        self, actor: Actor, command_id: str, proposal_id: str, *, adopt: bool, reason: str
    ) -> Outcome:
        """Adopt (after the comment period) or reject a proposal."""
        body = {"proposal_id": proposal_id, "adopt": adopt, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "deciding a methodology proposal")
            proposal = _require_proposal(connection, proposal_id)
            action = "adopt" if adopt else "reject"
            target = next_status(PROPOSAL_STEPS, f"proposal {proposal_id}", proposal.status, action)
            if adopt:
                check_window_over(_date(proposal.consultation_end), self._today(), "consultation")
            note = check_text(reason, "reason", self.rules.text_length_max)
            store.update_proposal(
                connection, proposal_id, status=target, decided_by=actor.username, decided_at=at, reason=note
            )
            store.add_event(
                connection, "proposal", proposal_id, proposal.status, target, actor.username, at, note=note
            )
            return {"proposal": proposal_id, "status": target}

        return self._command(actor, "proposal_decide", command_id, body, work)

    # --- monitoring API keys and readings ---------------------------------------------------------

    def issue_api_key(self, actor: Actor, command_id: str, project_id: str, label: str) -> Outcome:
        """A new API key for a project's monitoring devices: shown once, in this answer only; the
        database, the command log and the audit log keep its sha256, never the key."""
        key_id = secrets.token_hex(6)
        key = f"{_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        digest = hashlib.sha256(key.encode()).hexdigest()

        def work(connection: Connection, at: str) -> dict[str, Any]:
            project = _require_project(connection, project_id)
            _require_owner_of(actor, project.owner_id)
            if len(store.live_api_keys(connection, project_id)) >= self.rules.api_keys_per_project_max:
                raise Refused(
                    Code.QUANTITY_TOO_LARGE,
                    f"a project has at most {self.rules.api_keys_per_project_max} live keys",
                )
            store.insert_api_key(
                connection,
                {
                    "id": key_id,
                    "project_id": project_id,
                    "key_sha256": digest,
                    "label": check_text(label, "label", 100),
                    "created_by": actor.username,
                    "created_at": at,
                },
            )
            return {"key_id": key_id, "project": project_id}

        body = {"project_id": project_id, "label": label}
        outcome = self._command(actor, "apikey_issue", command_id, body, work)
        if isinstance(outcome, Done) and outcome.result == "created":
            return Done("created", {**outcome.data, "key": key})
        return outcome

    def revoke_api_key(self, actor: Actor, command_id: str, key_id: str) -> Outcome:
        """Revoke a key: its device's next upload is refused."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            key = store.get_api_key(connection, key_id)
            if key is None:
                raise Refused(Code.CCER_API_KEY_NOT_FOUND, f"API key {key_id!r} does not exist")
            project = _require_project(connection, key.project_id)
            _require_owner_of(actor, project.owner_id)
            if key.revoked_at is None:
                store.revoke_api_key(connection, key_id, at)
            return {"key_id": key_id, "revoked": True}

        return self._command(actor, "apikey_revoke", command_id, {"key_id": key_id}, work)

    def key_actor(self, key: str, project_id: str) -> Actor:
        """The device identity of a valid, unrevoked key of this project, else `ccer_api_key_invalid`."""
        digest = hashlib.sha256(key.encode()).hexdigest() if isinstance(key, str) else ""

        def read(connection: Connection) -> Row[Any] | None:
            return store.api_key_by_hash(connection, digest)

        found = run_read(self.engine, read)
        if found is None or found.revoked_at is not None or found.project_id != project_id:
            raise Refused(
                Code.CCER_API_KEY_INVALID, "the API key is unknown, revoked or not for this project"
            )
        return Actor(f"apikey:{found.id}", Role.PROJECT_OWNER)

    def ingest(
        self, device: Actor, project_id: str, batch_id: str, readings: Sequence[Mapping[str, object]]
    ) -> Outcome:
        """Store a batch of networked-metering readings (CCER-10-001-V01 uploads every second): duplicates
        are ignored, out-of-order, future and conflicting readings are refused one by one."""
        limit = self.rules.readings_per_batch_max
        if not isinstance(readings, Sequence) or len(readings) > limit:
            count = len(readings) if isinstance(readings, Sequence) else "?"
            refusal = Refused(
                Code.CCER_READINGS_TOO_MANY, f"a batch carries at most {limit} readings, not {count}"
            )
            return refusal.refusal
        body = {"project_id": project_id, "readings": [dict(r) for r in readings]}
        key_id = device.username.split(":", 1)[-1]

        def work(connection: Connection, at: str) -> dict[str, Any]:
            _require_project(connection, project_id)
            now = self.clock.now()
            parsed, refused = _parse_readings(readings, now, self.rules)
            known = store.lock_meters(connection, project_id, {meter for _, meter, _, _ in parsed})
            existing = store.existing_readings(connection, project_id, [(m, ts) for _, m, ts, _ in parsed])
            latest = dict(known)
            accepted: list[dict[str, Any]] = []
            duplicates = 0
            seen: dict[tuple[str, str], int] = {}
            for index, meter, ts, micro in parsed:
                previous = existing.get((meter, ts), seen.get((meter, ts)))
                if previous is not None:
                    if previous == micro:
                        duplicates += 1
                    else:
                        refused.append(
                            _refused_reading(
                                index,
                                Code.CCER_READING_CONFLICT,
                                f"{meter} at {ts} was already received with another value",
                            )
                        )
                    continue
                last_ts, count = latest.get(meter, ("", 0))
                if ts < last_ts:
                    refused.append(
                        _refused_reading(
                            index,
                            Code.CCER_READING_OUT_OF_ORDER,
                            f"{meter} at {ts} is older than its newest reading {last_ts}",
                        )
                    )
                    continue
                accepted.append(
                    {
                        "project_id": project_id,
                        "meter": meter,
                        "ts": ts,
                        "value_micro": micro,
                        "key_id": key_id,
                        "received_at": at,
                    }
                )
                seen[(meter, ts)] = micro
                latest[meter] = (ts, count + 1)
            store.insert_readings(connection, accepted)
            store.save_meters(
                connection, project_id, {m: v for m, v in latest.items() if v != known.get(m)}, set(known)
            )
            return {
                "project": project_id,
                "accepted": len(accepted),
                "duplicates": duplicates,
                "refused": sorted(refused, key=lambda r: int(r["index"])),
            }

        return run_command(self.engine, self.clock, device, "ccer.readings", batch_id, body, work)

    # --- reads ------------------------------------------------------------------------------------

    def project(self, project_id: str) -> dict[str, Any]:
        """A project with its validation, reports, issuances, comments, GEC claims and history."""

        def read(connection: Connection) -> dict[str, Any]:
            project = _require_project(connection, project_id)
            validation = store.get_validation(connection, project_id)
            return {
                **_project_json(project),
                "validation": None if validation is None else _row(validation),
                "reports": [_report_json(r) for r in store.reports(connection, project_id)],
                "issuances": [_row(i) for i in store.issuances(connection, project_id)],
                "comments": [_row(c) for c in store.comments(connection, "project", project_id)],
                "gec_claims": [_row(g) for g in store.gec_claims(connection, project_id)],
                "meters": [_row(m) for m in store.meters(connection, project_id)],
                "history": [_row(e) for e in store.events(connection, "project", project_id)],
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def report(self, report_id: str) -> dict[str, Any]:
        """A monitoring report with its calculation, comments and history."""

        def read(connection: Connection) -> dict[str, Any]:
            report = _require_report(connection, report_id)
            return {
                **_report_json(report),
                "inputs": json.loads(report.inputs),
                "calculation": json.loads(report.calculation),
                "comments": [_row(c) for c in store.comments(connection, "report", report_id)],
                "history": [_row(e) for e in store.events(connection, "report", report_id)],
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def projects(
        self, statuses: Sequence[str] | None = None, owner: str | None = None
    ) -> list[dict[str, Any]]:
        """Projects (newest first), each with its next step."""

        def read(connection: Connection) -> list[dict[str, Any]]:
            return [
                _project_json(p)
                for p in store.projects(connection, statuses, owner, self.rules.page_size_max)
            ]

        result: list[dict[str, Any]] = run_read(self.engine, read)
        return result

    def owner_console(self, owner_id: str) -> dict[str, Any]:
        """A project owner's projects and reports with their states and next steps."""

        def read(connection: Connection) -> dict[str, Any]:
            rows = store.projects(connection, None, owner_id, self.rules.page_size_max)
            return {
                "owner": owner_id,
                "projects": [
                    {
                        **_project_json(p),
                        "reports": [_report_json(r) for r in store.reports(connection, p.id)],
                    }
                    for p in rows
                ],
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def public_overview(self) -> dict[str, Any]:
        """What the public portal shows: projects and reports in disclosure, registered projects,
        issuances and cancellations with certificates (Progress Report §6 [seed])."""

        def read(connection: Connection) -> dict[str, Any]:
            limit = self.rules.page_size_max
            return {
                "in_disclosure": [
                    _project_json(p)
                    for p in store.projects(connection, [ProjectStatus.IN_DISCLOSURE], None, limit)
                ],
                "reports_in_disclosure": [
                    _report_json(r)
                    for r in store.reports(connection, None, [ReportStatus.IN_DISCLOSURE], limit)
                ],
                "registered": [
                    _project_json(p)
                    for p in store.projects(connection, [ProjectStatus.REGISTERED], None, limit)
                ],
                "issuances": [_issuance_json(i) for i in store.issuances(connection, None, limit)],
                "cancellations": [_cancellation_json(c) for c in store.cancellations(connection, limit)],
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def search_serial(self, serial: str) -> dict[str, Any]:
        """Which project, vintage and monitoring period a serial number belongs to, the type of account
        holding it now, and whether it was retired (with its certificate)."""
        instrument, number = parse_serial(serial)

        def read(connection: Connection) -> dict[str, Any]:
            issuance = store.issuance_of_serial(connection, instrument, number)
            if issuance is None:
                raise Refused(
                    Code.CCER_SERIAL_NOT_FOUND, f"serial {serial_text(instrument, number)} was never issued"
                )
            project = _require_project(connection, issuance.project_id)
            holder = postings.serial_holder(connection, instrument, number)
            assert holder is not None, "an issued serial is always in some account's block"
            account_type = str(holder.type)
            retired = AccountType(account_type) in RETIREMENT_TYPES
            cancellation = store.cancellation_of_serial(connection, instrument, number) if retired else None
            return {
                "serial": serial_text(instrument, number),
                "instrument": instrument,
                "project": project.id,
                "project_name": project.name,
                "methodology": project.methodology,
                "vintage": int(issuance.vintage),
                "monitoring_period": [issuance.period_start, issuance.period_end],
                "issued_at": issuance.at,
                "issued_block": [
                    serial_text(instrument, issuance.first_serial),
                    serial_text(instrument, issuance.last_serial),
                ],
                "holder_account_type": account_type,
                "retired": retired,
                "status": {
                    "cancellation": "cancelled",
                    "surrender": "surrendered",
                    "deletion": "deleted",
                }.get(account_type, "held"),
                "certificate": None if cancellation is None else _cancellation_json(cancellation),
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def certificate(self, certificate_id: str) -> dict[str, Any]:
        """A public cancellation certificate: beneficiary, purpose, claim or Article 6 record, serials."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.get_certificate(connection, certificate_id)
            if row is None:
                raise Refused(Code.CERTIFICATE_NOT_FOUND, f"certificate {certificate_id!r} does not exist")
            return _cancellation_json(row)

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def vvbs(self) -> list[dict[str, Any]]:
        """The register of bodies and their accreditation per field."""
        result: list[dict[str, Any]] = run_read(self.engine, store.vvbs)
        return result

    def proposals(self) -> list[dict[str, Any]]:
        """Methodology proposals, newest first."""
        result: list[dict[str, Any]] = run_read(self.engine, lambda c: [_row(p) for p in store.proposals(c)])
        return result

    def api_keys(self, project_id: str) -> list[dict[str, Any]]:
        """A project's live API keys (ids and labels, never the keys)."""
        result: list[dict[str, Any]] = run_read(
            self.engine, lambda c: [_row(k) for k in store.live_api_keys(c, project_id)]
        )
        return result

    def aggregate(self, project_id: str, meter: str, start: str, end: str) -> dict[str, Any]:
        """The sum and count of a meter's readings over a date range (both days included)."""
        period = Span(parse_date(start, "start"), parse_date(end, "end"))
        start_ts, end_ts = _period_bounds(period)

        def read(connection: Connection) -> dict[str, Any]:
            _require_project(connection, project_id)
            total, count, first, last = store.aggregate_readings(
                connection, project_id, meter, start_ts, end_ts
            )
            return {
                "project": project_id,
                "meter": meter,
                "sum": str(Decimal(total) / _MICRO),
                "count": count,
                "first": first,
                "last": last,
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def owner_of_project(self, project_id: str) -> str:
        """The owner id of a project (for the API's rights checks)."""
        return str(run_read(self.engine, lambda c: _require_project(c, project_id).owner_id))

    # --- state changes ----------------------------------------------------------------------------

    def _acting_body(self, connection: Connection, actor: Actor, vvb_id: str | None) -> str:
        """The VVB the actor acts for: its staff body, or (local operator) the one named."""
        if actor.superuser:
            if not vvb_id:
                raise Refused(Code.CCER_VVB_NOT_FOUND, "name the VVB that acts (--vvb)")
            _require_vvb(connection, vvb_id)
            return vvb_id
        require_role(actor, VVBS, "validating or verifying")
        body_id = store.staff_body(connection, actor.username)
        if body_id is None:
            raise Refused(Code.CCER_VVB_NOT_STAFF, f"{actor.username!r} is not attached to any VVB")
        if vvb_id is not None and vvb_id != body_id:
            raise Refused(Code.FORBIDDEN, f"{actor.username!r} acts for VVB {body_id!r}, not {vvb_id!r}")
        return body_id

    def _move_project(
        self,
        connection: Connection,
        project: Row[Any],
        target: str,
        actor: Actor,
        at: str,
        note: str | None = None,
        **values: Any,
    ) -> None:
        store.update_project(connection, project.id, status=target, updated_at=at, **values)
        store.add_event(
            connection, "project", project.id, project.status, target, actor.username, at, note=note
        )

    def _move_report(
        self,
        connection: Connection,
        report: Row[Any],
        target: str,
        actor: Actor,
        at: str,
        note: str | None = None,
        **values: Any,
    ) -> None:
        store.update_report(connection, report.id, status=target, updated_at=at, **values)
        store.add_event(connection, "report", report.id, report.status, target, actor.username, at, note=note)


# --- module helpers ---------------------------------------------------------------------------------


def _require_owner_of(actor: Actor, owner_id: str) -> None:
    """A project owner acts for the owner whose holding account it holds the initiate right on."""
    if actor.superuser:
        return
    require_role(actor, OWNERS, "acting for a project owner")
    if not actor.has_right(holding_account(owner_id), Permission.INITIATE):
        raise Refused(
            Code.FORBIDDEN,
            f"{actor.username!r} does not act for owner {owner_id!r} "
            f"(no initiate right on {holding_account(owner_id)})",
        )


def _require_vvb(connection: Connection, vvb_id: str) -> Row[Any]:
    found = store.get_vvb(connection, vvb_id)
    if found is None:
        raise Refused(Code.CCER_VVB_NOT_FOUND, f"VVB {vvb_id!r} is not registered")
    return found


def _require_project(connection: Connection, project_id: str, lock: bool = False) -> Row[Any]:
    found = store.get_project(connection, project_id, lock) if isinstance(project_id, str) else None
    if found is None:
        raise Refused(Code.CCER_PROJECT_NOT_FOUND, f"project {project_id!r} does not exist")
    return found


def _require_report(connection: Connection, report_id: str, lock: bool = False) -> Row[Any]:
    found = store.get_report(connection, report_id, lock) if isinstance(report_id, str) else None
    if found is None:
        raise Refused(Code.CCER_REPORT_NOT_FOUND, f"monitoring report {report_id!r} does not exist")
    return found


def _require_proposal(connection: Connection, proposal_id: str) -> Row[Any]:
    found = store.get_proposal(connection, proposal_id)
    if found is None:
        raise Refused(Code.CCER_PROPOSAL_NOT_FOUND, f"methodology proposal {proposal_id!r} does not exist")
    return found


def _project_values(method: Methodology, project: Row[Any]) -> dict[str, Any]:
    """Project parameters as the methodology reads them (decimals back from JSON text)."""
    stored = json.loads(project.parameters)
    return method.read_project(stored)


def _gec_spans(connection: Connection, project_id: str) -> list[tuple[str, Span]]:
    return [
        (g.id, Span(date.fromisoformat(g.period_start), date.fromisoformat(g.period_end)))
        for g in store.gec_claims(connection, project_id)
    ]


def _period_bounds(period: Span) -> tuple[str, str]:
    """The UTC timestamps of [start 00:00 CST, day after end 00:00 CST): readings are stamped in UTC."""
    start = datetime.combine(period.start, time(0), CHINA_STANDARD_TIME).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(0), CHINA_STANDARD_TIME).astimezone(UTC)
    return start.isoformat(timespec="microseconds"), end.isoformat(timespec="microseconds")


def aggregated_info(values: Mapping[str, str]) -> dict[str, str]:
    """Which monitored parameters came from meter readings (kept with the calculation)."""
    return dict(values)


def _parse_readings(
    readings: Sequence[Mapping[str, object]], now: datetime, r: Rules
) -> tuple[list[tuple[int, str, str, int]], list[dict[str, Any]]]:
    """Each reading's (index, meter, UTC timestamp, value in millionths), or its refusal."""
    parsed: list[tuple[int, str, str, int]] = []
    refused: list[dict[str, Any]] = []
    newest = now + timedelta(seconds=r.reading_clock_skew_s_max)
    oldest = now - timedelta(days=r.reading_age_days_max)
    for index, reading in enumerate(readings):
        try:
            meter, moment, micro = _one_reading(reading, r)
        except Refused as problem:
            refused.append(_refused_reading(index, problem.refusal.code, problem.refusal.message))
            continue
        if moment > newest:
            refused.append(
                _refused_reading(index, Code.CCER_READING_IN_FUTURE, f"{moment.isoformat()} is in the future")
            )
            continue
        if moment < oldest:
            refused.append(
                _refused_reading(
                    index,
                    Code.CCER_READING_OUT_OF_ORDER,
                    f"{moment.isoformat()} is older than {r.reading_age_days_max} days",
                )
            )
            continue
        parsed.append((index, meter, moment.isoformat(timespec="microseconds"), micro))
    return parsed, refused


def _one_reading(reading: Mapping[str, object], r: Rules) -> tuple[str, datetime, int]:
    if not isinstance(reading, Mapping) or set(reading) != {"timestamp", "meter", "value"}:
        raise Refused(Code.CCER_READING_INVALID, "a reading has exactly timestamp, meter and value")
    meter = reading["meter"]
    if not isinstance(meter, str):
        raise Refused(Code.CCER_READING_INVALID, "meter must be text")
    check_id(meter, what="meter")
    raw_ts = reading["timestamp"]
    try:
        moment = datetime.fromisoformat(str(raw_ts))
    except ValueError:
        raise Refused(Code.CCER_READING_INVALID, f"timestamp {raw_ts!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        raise Refused(Code.CCER_READING_INVALID, f"timestamp {raw_ts!r} needs a time zone (e.g. +08:00 or Z)")
    raw_value = reading["value"]
    if isinstance(raw_value, bool) or not isinstance(raw_value, (int, float, str)):
        raise Refused(Code.CCER_READING_INVALID, f"value {raw_value!r} is not a number")
    try:
        value = Decimal(str(raw_value))
    except InvalidOperation:
        raise Refused(Code.CCER_READING_INVALID, f"value {raw_value!r} is not a number") from None
    if not value.is_finite() or abs(value) > r.reading_value_abs_max:
        raise Refused(Code.CCER_READING_INVALID, f"value {raw_value!r} is outside ±{r.reading_value_abs_max}")
    micro = value * _MICRO
    if micro != micro.to_integral_value():
        raise Refused(Code.CCER_READING_INVALID, f"value {raw_value!r} has more than 6 decimals")
    return meter, moment.astimezone(UTC), int(micro)


def _refused_reading(index: int, code: Code, message: str) -> dict[str, Any]:
    return {"index": index, "code": code.value, "message": message}


def _cancellation_kind(kind: str) -> CancellationKind:
    try:
        return CancellationKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in CancellationKind)
        raise Refused(
            Code.CCER_INVALID_CANCELLATION,
            f"kind {kind!r} is not one of: {allowed} "
            "(ETS compliance offsets are surrendered through compliance)",
        ) from None


def _whole_tonnes(value: object, what: str, allow_zero: bool = False) -> int:
    from carbonmarket.core.units import quantity_max_t

    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(Code.QUANTITY_NOT_INTEGER, f"{what} must be a whole number, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise Refused(Code.QUANTITY_NOT_POSITIVE, f"{what} must be positive, not {value}")
    if value > quantity_max_t:
        raise Refused(Code.QUANTITY_TOO_LARGE, f"{what} {value} is above the limit {quantity_max_t}")
    return value


def _sha256(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) != _SHA256_HEX
        or any(c not in "0123456789abcdef" for c in value.lower())
    ):
        raise Refused(Code.INVALID_TEXT, f"{what} must be 64 hexadecimal characters (a sha256)")
    return value.lower()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _row(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


def _project_json(project: Row[Any]) -> dict[str, Any]:
    data = _row(project)
    data["parameters"] = json.loads(project.parameters)
    data["article6_authorised"] = bool(project.article6_authorised)
    data["legacy"] = bool(project.legacy)
    data["next_step"] = NEXT_STEP.get(ProjectStatus(project.status), "")
    return data


def _report_json(report: Row[Any]) -> dict[str, Any]:
    keys = (
        "id",
        "project_id",
        "period_start",
        "period_end",
        "vintage",
        "claimed_t",
        "verified_t",
        "status",
        "verification_vvb",
        "disclosure_start",
        "disclosure_end",
        "decision_due",
        "registered_on",
        "created_at",
    )
    data = {key: getattr(report, key) for key in keys}
    data["next_step"] = REPORT_NEXT_STEP.get(ReportStatus(report.status), "")
    return data


def _issuance_json(issuance: Row[Any]) -> dict[str, Any]:
    data = _row(issuance)
    data["serials"] = [
        serial_text(issuance.instrument_id, issuance.first_serial),
        serial_text(issuance.instrument_id, issuance.last_serial),
    ]
    return data


def _cancellation_json(row: Row[Any]) -> dict[str, Any]:
    """A certificate as the public sees it: who benefits and why, not which account or user cancelled."""
    data = {k: v for k, v in _row(row).items() if k not in ("account_id", "cancelled_by")}
    ranges = json.loads(row.serials)
    data["serials"] = [
        [serial_text(row.instrument_id, a), serial_text(row.instrument_id, b)] for a, b in ranges
    ]
    data["first_transfer"] = bool(row.first_transfer)
    data["corresponding_adjustment"] = bool(row.corresponding_adjustment)
    return data
