"""Verification use cases: qualification of bodies, assignment, the verification's life,
nonconformities, the compliance figure, streamlined verification and the published evaluation.

Each write is one command: checked, applied in one transaction, audited (`run_command`). Who acts:
regulators manage bodies, assign verifications and accept or return reports; a verifier (role
`verifier`, attached to one body) starts, raises and closes nonconformities and submits — only for
their own body's verifications. The local operator at the CLI may do everything.

The annual report's emissions (records part, `Records(engine).annual_report`) are read before the
submission's transaction opens and kept beside the verified figure, so a reader sees both.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.core.units import quantity_max_t
from carbonmarket.db.command import run_command, run_read
from carbonmarket.identity import store as identity_store
from carbonmarket.mrv.review import store as review_store
from carbonmarket.mrv.review.service import EntityDirectory, RosterDirectory, optional_module
from carbonmarket.mrv.verification import store
from carbonmarket.mrv.verification.model import (
    BodyStatus,
    BodyYear,
    Eligibility,
    Mode,
    NonconformityStatus,
    Rules,
    VerificationStatus,
    YearRecord,
    check_accept,
    check_body_may_work,
    check_cancel,
    check_close_nonconformity,
    check_conflict_of_interest,
    check_in_progress,
    check_qualify,
    check_reinstate,
    check_return,
    check_start,
    check_submit,
    check_suspend,
    check_text,
    check_withdraw,
    check_year,
    evaluate,
    name_length_max,
    on_time,
    rules,
    streamlined_eligibility,
)

REGULATORS = {Role.REGULATOR}
VERIFIERS = {Role.VERIFIER}
# The records part's refusal for an entity-year without monthly records (compared by value, so this
# part does not need that part installed).
NO_RECORDS = "record_not_found"
page_size_max = 500
# The evaluation covers every body at once; the market had 139 verification institutions in
# 2022-2024 (Progress Report §10 [seed]), so this bound is far above any real register.
bodies_evaluated_max = 10_000


class ReportSource(Protocol):
    """An entity's annual reported emissions (the records part)."""

    def reported_emissions(self, entity_id: str, year: int) -> int | None:
        """Whole tonnes CO2e of the annual report, or None when there is no records part yet."""
        ...


class RecordsReports:
    """Annual reports from `mrv.records` when it exists."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reported_emissions(self, entity_id: str, year: int) -> int | None:
        """`Records(engine).annual_report(entity_id, year)["emissions_tco2e"]`, None without records.

        A year with no monthly records on the platform (one verified before it existed, whose
        verified figure is entered for the allocation that needs it) has no reported figure to keep;
        any other refusal of the report passes through.
        """
        module = optional_module("carbonmarket.mrv.records.service")
        if module is None:
            return None
        try:
            report = module.Records(self.engine).annual_report(entity_id, year)
        except Refused as refused:
            if refused.refusal.code.value == NO_RECORDS:
                return None
            raise
        value = report.get("emissions_tco2e") if report else None
        return None if value is None else int(value)


class Verification:
    """Third-party verification over one database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        directory: EntityDirectory | None = None,
        reports: ReportSource | None = None,
        rules_: Rules | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.directory = directory or RosterDirectory(engine)
        self.reports = reports or RecordsReports(engine)
        self.rules = rules_ or rules()

    # --- bodies: entry, conduct, exit -------------------------------------------------------------

    def apply_body(
        self, actor: Actor, body_id: str, name: str, province: str | None = None, note: str | None = None
    ) -> Outcome:
        """Record a body's application for qualification (entry); the body id is the command id."""
        body = {"body_id": body_id, "name": name, "province": province, "note": note}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "recording a verification body's application")
            checked = check_text(name, "body name", name_length_max)
            if store.get_body(connection, body_id) is not None:
                raise Refused(
                    Code.EXISTS_WITH_DIFFERENT_FIELDS, f"verification body {body_id!r} already exists"
                )
            store.insert_body(
                connection,
                id=body_id,
                name=checked,
                province=province.strip() if province else None,
                status=BodyStatus.APPLIED.value,
                applied_at=at,
                updated_at=at,
            )
            store.insert_body_event(
                connection,
                body_id,
                None,
                BodyStatus.APPLIED,
                note or "application received",
                actor.username,
                at,
            )
            return {"body": body_id, "name": checked, "status": BodyStatus.APPLIED.value}

        return run_command(self.engine, self.clock, actor, "verification.body.apply", body_id, body, work)

    def qualify(self, actor: Actor, command_id: str, body_id: str, reason: str) -> Outcome:
        """applied → qualified: the body meets the entry requirements (the Opinions (13) [seed])."""
        return self._body_step(actor, command_id, body_id, reason, "qualify", check_qualify)

    def suspend(self, actor: Actor, command_id: str, body_id: str, reason: str) -> Outcome:
        """qualified → suspended: a breach of the code of conduct stops new work."""
        return self._body_step(actor, command_id, body_id, reason, "suspend", check_suspend)

    def reinstate(self, actor: Actor, command_id: str, body_id: str, reason: str) -> Outcome:
        """suspended → qualified: the breach is remedied."""
        return self._body_step(actor, command_id, body_id, reason, "reinstate", check_reinstate)

    def withdraw(self, actor: Actor, command_id: str, body_id: str, reason: str) -> Outcome:
        """→ withdrawn (exit), for good: qualification revoked or given up."""
        return self._body_step(actor, command_id, body_id, reason, "withdraw", check_withdraw)

    def _body_step(
        self,
        actor: Actor,
        command_id: str,
        body_id: str,
        reason: str,
        step: str,
        check: Callable[[str, BodyStatus], BodyStatus],
    ) -> Outcome:
        """One qualification step: the regulator moves the body as `check` allows, with the reason kept."""
        body = {"body_id": body_id, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, f"to {step} a verification body")
            row = _body(connection, body_id, lock=True)
            current = BodyStatus(row.status)
            new_status = check(body_id, current)
            text = check_text(reason, "reason")
            values: dict[str, Any] = {"status": new_status.value, "updated_at": at}
            if new_status is BodyStatus.QUALIFIED and row.qualified_at is None:
                values["qualified_at"] = at
            store.update_body(connection, body_id, **values)
            store.insert_body_event(connection, body_id, current, new_status, text, actor.username, at)
            return {"body": body_id, "status": new_status.value, "previous": current.value}

        return run_command(
            self.engine, self.clock, actor, f"verification.body.{step}", command_id, body, work
        )

    def add_verifier(self, actor: Actor, command_id: str, username: str, body_id: str) -> Outcome:
        """Attach a user with the verifier role to a body; they act for it alone."""
        body = {"username": username, "body_id": body_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "attaching a verifier to a body")
            _body(connection, body_id)
            user = identity_store.get_user(connection, username)
            if user is None:
                raise Refused(Code.UNKNOWN_USER, f"user {username!r} does not exist")
            if user.role != Role.VERIFIER.value:
                raise Refused(Code.FORBIDDEN, f"user {username!r} is {user.role}, not a verifier")
            previous = store.set_verifier(connection, username, body_id, actor.username, at)
            return {"username": username, "body": body_id, "previous": previous}

        return run_command(self.engine, self.clock, actor, "verification.verifier", command_id, body, work)

    # --- a verification's life ------------------------------------------------------------------------

    def assign(
        self,
        actor: Actor,
        verification_id: str,
        entity_id: str,
        year: int,
        body_id: str,
        mode: str | None = None,
    ) -> Outcome:
        """Assign a qualified body to verify an entity's year; the id is the command id.

        Refused when the entity-year already has a live verification, when the body is not
        qualified, or when it verified this entity for the configured number of consecutive years
        before (conflict of interest, [?]). The mode is streamlined when the entity's record is
        clean for N years (the Opinions (11) [seed]; N [?]) unless `mode="full"` is asked.
        """
        body = {"entity_id": entity_id, "year": year, "body_id": body_id, "mode": mode}
        known: bool | None = None
        early: Refused | None = None
        try:
            check_id(entity_id, what="entity id")
            known = self._entity_known(entity_id)
        except Refused as refused:
            early = refused

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "assigning a verification")
            if early is not None:
                raise early
            checked_year = check_year(year)
            if known is False:
                raise Refused(
                    Code.VERIFICATION_ENTITY_NOT_FOUND, f"entity {entity_id!r} is not on the roster"
                )
            row = _body(connection, body_id, lock=True)
            check_body_may_work(body_id, BodyStatus(row.status))
            if store.get_verification(connection, verification_id) is not None:
                raise Refused(
                    Code.EXISTS_WITH_DIFFERENT_FIELDS, f"verification {verification_id!r} already exists"
                )
            live = store.live_verification(connection, entity_id, checked_year)
            if live is not None:
                raise Refused(
                    Code.VERIFICATION_ALREADY_ASSIGNED,
                    f"{entity_id}/{checked_year} is already verified or being verified ({live.id!r}, "
                    f"{live.status}); cancel that one first",
                    verification=live.id,
                )
            limit = self.rules.consecutive_years_max
            check_conflict_of_interest(
                body_id,
                entity_id,
                checked_year,
                store.years_verified_by(
                    connection, body_id, entity_id, range(checked_year - limit, checked_year)
                ),
                limit,
            )
            eligibility = self._eligibility(connection, entity_id, checked_year)
            chosen = _choose_mode(mode, eligibility)
            store.insert_verification(
                connection,
                id=verification_id,
                entity_id=entity_id,
                year=checked_year,
                body_id=body_id,
                status=VerificationStatus.ASSIGNED.value,
                mode=chosen.value,
                live_key=store.live_key(entity_id, checked_year),
                assigned_by=actor.username,
                assigned_at=at,
                returns=0,
            )
            return {
                "verification": verification_id,
                "entity_id": entity_id,
                "year": checked_year,
                "body": body_id,
                "status": VerificationStatus.ASSIGNED.value,
                "mode": chosen.value,
                "streamlined_eligibility": eligibility.as_json(),
                "deadline": self.rules.deadline(checked_year).isoformat(),
            }

        return run_command(self.engine, self.clock, actor, "verification.assign", verification_id, body, work)

    def start(self, actor: Actor, command_id: str, verification_id: str) -> Outcome:
        """assigned → in_progress: the body's verifier begins."""
        body = {"verification": verification_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            row = self._as_verifier(connection, actor, verification_id, "start")
            status = check_start(store.state_of(row))
            check_body_may_work(row.body_id, BodyStatus(_body(connection, row.body_id).status))
            store.update_verification(connection, verification_id, status=status.value, started_at=at)
            return {"verification": verification_id, "status": status.value}

        return run_command(self.engine, self.clock, actor, "verification.start", command_id, body, work)

    def raise_nonconformity(
        self,
        actor: Actor,
        nonconformity_id: str,
        verification_id: str,
        description: str,
        parameter: str | None = None,
        month: int | None = None,
    ) -> Outcome:
        """Record a nonconformity found in the entity's data; the id is the command id."""
        body = {
            "verification": verification_id,
            "description": description,
            "parameter": parameter,
            "month": month,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            row = self._as_verifier(connection, actor, verification_id, "raise a nonconformity on")
            check_in_progress(store.state_of(row), "given nonconformities")
            text = check_text(description, "description")
            if month is not None and (isinstance(month, bool) or not 1 <= month <= 12):
                raise Refused(Code.INVALID_REQUEST, "month must be 1-12")
            if parameter is not None:
                check_id(parameter, what="parameter")
            if store.get_nonconformity(connection, nonconformity_id) is not None:
                raise Refused(
                    Code.EXISTS_WITH_DIFFERENT_FIELDS, f"nonconformity {nonconformity_id!r} already exists"
                )
            store.insert_nonconformity(
                connection,
                id=nonconformity_id,
                verification_id=verification_id,
                description=text,
                parameter=parameter,
                month=month,
                status=NonconformityStatus.OPEN.value,
                raised_by=actor.username,
                raised_at=at,
            )
            return {
                "nonconformity": nonconformity_id,
                "verification": verification_id,
                "status": NonconformityStatus.OPEN.value,
            }

        return run_command(
            self.engine, self.clock, actor, "verification.nonconformity", nonconformity_id, body, work
        )

    def close_nonconformity(
        self, actor: Actor, command_id: str, nonconformity_id: str, closure: str
    ) -> Outcome:
        """open → closed, naming the corrective action the entity took."""
        body = {"nonconformity": nonconformity_id, "closure": closure}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            found = store.get_nonconformity(connection, nonconformity_id, lock=True)
            if found is None:
                raise Refused(Code.NONCONFORMITY_NOT_FOUND, f"no nonconformity {nonconformity_id!r}")
            row = self._as_verifier(connection, actor, found.verification_id, "close a nonconformity of")
            check_in_progress(store.state_of(row), "closing nonconformities")
            status = check_close_nonconformity(nonconformity_id, NonconformityStatus(found.status))
            text = check_text(closure, "closure")
            store.close_nonconformity(connection, nonconformity_id, text, actor.username, at)
            return {"nonconformity": nonconformity_id, "status": status.value}

        return run_command(self.engine, self.clock, actor, "verification.nc.close", command_id, body, work)

    def submit(
        self,
        actor: Actor,
        command_id: str,
        verification_id: str,
        verified_emissions: object,
        report_sha256: str | None = None,
    ) -> Outcome:
        """in_progress → submitted with the verified emissions (whole t CO2e), every nonconformity closed."""
        body = {
            "verification": verification_id,
            "verified_emissions": verified_emissions
            if isinstance(verified_emissions, int | str)
            else repr(verified_emissions),
            "report_sha256": report_sha256,
        }
        reported: int | None = None
        early: Refused | None = None
        try:
            subject = run_read(self.engine, lambda c: store.get_verification(c, verification_id))
            if subject is not None:
                reported = self.reports.reported_emissions(subject.entity_id, subject.year)
        except Refused as refused:
            early = refused

        def work(connection: Connection, at: str) -> dict[str, Any]:
            row = self._as_verifier(connection, actor, verification_id, "submit")
            if early is not None:
                raise early
            status = check_submit(
                store.state_of(row), store.open_nonconformities(connection, verification_id)
            )
            check_body_may_work(row.body_id, BodyStatus(_body(connection, row.body_id).status))
            figure = parse_emissions(verified_emissions)
            digest = _check_sha256(report_sha256)
            store.update_verification(
                connection,
                verification_id,
                status=status.value,
                submitted_at=at,
                verified_emissions_tco2e=figure,
                reported_emissions_tco2e=reported,
                report_sha256=digest,
            )
            return {
                "verification": verification_id,
                "status": status.value,
                "verified_emissions_tco2e": figure,
                "reported_emissions_tco2e": reported,
                "on_time": on_time(at, row.year, self.rules),
            }

        return run_command(self.engine, self.clock, actor, "verification.submit", command_id, body, work)

    def accept(self, actor: Actor, command_id: str, verification_id: str) -> Outcome:
        """submitted → verified: the verified emissions become the entity-year's compliance figure."""
        body = {"verification": verification_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "accepting a verification")
            row = _verification(connection, verification_id)
            status = check_accept(store.state_of(row))
            check_body_may_work(row.body_id, BodyStatus(_body(connection, row.body_id).status))
            store.update_verification(
                connection, verification_id, status=status.value, accepted_by=actor.username, accepted_at=at
            )
            return {
                "verification": verification_id,
                "status": status.value,
                "entity_id": row.entity_id,
                "year": row.year,
                "verified_emissions_tco2e": row.verified_emissions_tco2e,
            }

        return run_command(self.engine, self.clock, actor, "verification.accept", command_id, body, work)

    def return_for_rework(self, actor: Actor, command_id: str, verification_id: str, reason: str) -> Outcome:
        """submitted → in_progress: the regulator sends the report back; the return is counted."""
        body = {"verification": verification_id, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "returning a verification")
            row = _verification(connection, verification_id)
            status = check_return(store.state_of(row))
            text = check_text(reason, "reason")
            store.update_verification(
                connection, verification_id, status=status.value, returns=row.returns + 1, reason=text
            )
            return {"verification": verification_id, "status": status.value, "returns": row.returns + 1}

        return run_command(self.engine, self.clock, actor, "verification.return", command_id, body, work)

    def cancel(self, actor: Actor, command_id: str, verification_id: str, reason: str) -> Outcome:
        """Cancel an unfinished verification (e.g. its body was suspended); the entity-year is free again."""
        body = {"verification": verification_id, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "cancelling a verification")
            row = _verification(connection, verification_id)
            status = check_cancel(store.state_of(row))
            text = check_text(reason, "reason")
            store.update_verification(
                connection, verification_id, status=status.value, live_key=None, cancelled_at=at, reason=text
            )
            return {"verification": verification_id, "status": status.value}

        return run_command(self.engine, self.clock, actor, "verification.cancel", command_id, body, work)

    # --- the compliance figure and queries ----------------------------------------------------------

    def verified_emissions(self, entity_id: str, year: int) -> int | None:
        """The compliance figure: the accepted verification's emissions (whole t CO2e), or None yet."""

        def read(connection: Connection) -> int | None:
            row = store.live_verification(connection, entity_id, year)
            if row is None or row.status != VerificationStatus.VERIFIED.value:
                return None
            return int(row.verified_emissions_tco2e)

        result: int | None = run_read(self.engine, read)
        return result

    def verified_of_year(self, year: int) -> dict[str, int]:
        """Every entity's compliance figure for a year at once: {entity_id: whole t CO2e} (allocation)."""
        result: dict[str, int] = run_read(
            self.engine, lambda connection: store.verified_of_year(connection, year)
        )
        return result

    def verification(self, verification_id: str) -> dict[str, Any]:
        """A verification with its nonconformities."""

        def read(connection: Connection) -> dict[str, Any]:
            row = _verification(connection, verification_id)
            return {
                **verification_json(row, self.rules),
                "nonconformities": [
                    nonconformity_json(n) for n in store.nonconformities_of(connection, [row.id])
                ],
            }

        return dict(run_read(self.engine, read))

    def verifications(
        self,
        entity_id: str | None = None,
        year: int | None = None,
        body_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Verifications by entity, year, body or status."""
        rows = run_read(
            self.engine,
            lambda c: store.list_verifications(
                c,
                entity_id=entity_id,
                year=year,
                body_id=body_id,
                status=status,
                limit=max(1, min(limit, page_size_max)),
            ),
        )
        return [verification_json(r, self.rules) for r in rows]

    def for_entity_year(self, entity_id: str, year: int) -> list[dict[str, Any]]:
        """Every verification of an entity-year (cancelled ones too) with nonconformities, for tracing."""

        def read(connection: Connection) -> list[dict[str, Any]]:
            rows = store.verifications_of(connection, entity_id, year)
            ncs: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for n in store.nonconformities_of(connection, [r.id for r in rows]):
                ncs[n.verification_id].append(nonconformity_json(n))
            return [{**verification_json(r, self.rules), "nonconformities": ncs[r.id]} for r in rows]

        return list(run_read(self.engine, read))

    def bodies(self, status: str | None = None, limit: int = page_size_max) -> list[dict[str, Any]]:
        """Verification bodies with their qualification status (public: the register of bodies)."""
        rows = run_read(
            self.engine, lambda c: store.list_bodies(c, status, max(1, min(limit, page_size_max)))
        )
        return [body_json(r) for r in rows]

    def body(self, body_id: str) -> dict[str, Any]:
        """A body with its qualification history and verifiers."""

        def read(connection: Connection) -> dict[str, Any]:
            row = _body(connection, body_id)
            return {
                **body_json(row),
                "history": store.body_events(connection, body_id),
                "verifiers": store.verifiers_of(connection, body_id),
            }

        return dict(run_read(self.engine, read))

    def eligibility(self, entity_id: str, year: int) -> dict[str, Any]:
        """Whether the entity's year may be verified the streamlined way, and why."""
        check_year(year)
        result = run_read(self.engine, lambda c: self._eligibility(c, entity_id, year))
        return {
            "entity_id": entity_id,
            "year": year,
            **result.as_json(),
            "source": self.rules.sources["streamlined"],
        }

    def _eligibility(self, connection: Connection, entity_id: str, year: int) -> Eligibility:
        """The clean-record test over the N years before `year`."""
        years = list(range(year - self.rules.clean_years_required, year))
        verified = store.verified_in(connection, entity_id, years)
        counts = store.nonconformity_counts(connection, [r.id for r in verified.values()])
        errors = review_store.confirmed_errors(connection, [entity_id], years)
        history = [
            YearRecord(
                year=y,
                verified=y in verified,
                nonconformities=counts.get(verified[y].id, 0) if y in verified else 0,
                confirmed_errors=errors.get((entity_id, y), 0),
            )
            for y in years
        ]
        return streamlined_eligibility(year, history, self.rules)

    # --- the evaluation -----------------------------------------------------------------------------

    def evaluation_preview(self, actor: Actor, year: int) -> dict[str, Any]:
        """Each body's evaluation for a reporting year as it stands now (regulators), not yet published."""
        require_role(actor, REGULATORS, "previewing the evaluation of verification bodies")
        check_year(year)
        rows = run_read(self.engine, lambda c: self._evaluate(c, year))
        return {"year": year, "published": False, "formula": self.rules.formula(), "bodies": rows}

    def publish_evaluation(self, actor: Actor, year: int) -> Outcome:
        """Publish a year's evaluation (command id `evaluation-<year>`); published figures never change."""
        body = {"year": year, "formula_version": self.rules.formula_version}
        command_id = f"evaluation-{year}"

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "publishing the evaluation of verification bodies")
            check_year(year)
            if store.get_publication(connection, year) is not None:
                raise Refused(
                    Code.EVALUATION_ALREADY_PUBLISHED, f"the evaluation of {year} is already published"
                )
            results = self._evaluate(connection, year)
            store.insert_publication(
                connection,
                year,
                self.rules.formula_version,
                json.dumps(self.rules.formula(), ensure_ascii=False, sort_keys=True),
                actor.username,
                at,
                [
                    {
                        "body_id": r["body_id"],
                        "rated": r["rated"],
                        "score": r["score"],
                        "grade": r["grade"],
                        "detail": json.dumps(
                            {"components": r["components"], "facts": r["facts"]}, sort_keys=True
                        ),
                    }
                    for r in results
                ],
            )
            return {
                "year": year,
                "published_at": at,
                "bodies": len(results),
                "rated": sum(1 for r in results if r["rated"]),
            }

        return run_command(self.engine, self.clock, actor, "verification.evaluation", command_id, body, work)

    def evaluations(self, year: int | None = None) -> dict[str, Any]:
        """A published year's evaluation (the newest when no year is given); public."""

        def read(connection: Connection) -> dict[str, Any]:
            wanted = year
            if wanted is None:
                years = store.published_years(connection)
                if not years:
                    raise Refused(
                        Code.EVALUATION_NOT_FOUND, "no evaluation of verification bodies is published yet"
                    )
                wanted = years[0]
            publication = store.get_publication(connection, wanted)
            if publication is None:
                raise Refused(Code.EVALUATION_NOT_FOUND, f"the evaluation of {wanted} is not published")
            return {
                "year": wanted,
                "published": True,
                "published_at": publication.published_at,
                "formula": json.loads(publication.formula),
                "bodies": [
                    {
                        "body_id": r.body_id,
                        "name": r.name,
                        "rated": r.rated,
                        "score": r.score,
                        "grade": r.grade,
                        **json.loads(r.detail),
                    }
                    for r in store.published_evaluations(connection, wanted)
                ],
            }

        return dict(run_read(self.engine, read))

    def _evaluate(self, connection: Connection, year: int) -> list[dict[str, Any]]:
        """Every body that ever qualified, scored on its accepted verifications of `year`."""
        accepted = store.accepted_of_year(connection, year)
        entity_ids = sorted({r.entity_id for r in accepted})
        # When reviewers confirmed each error in these entity-years, to count those after acceptance.
        resolved: dict[str, list[str]] = {
            e: review_store.confirmed_errors_resolved(connection, e, year) for e in entity_ids
        }
        facts: dict[str, dict[str, int]] = defaultdict(
            lambda: {"verifications": 0, "on_time": 0, "first_pass": 0, "clean_after": 0, "later_findings": 0}
        )
        for r in accepted:
            later = sum(1 for t in resolved[r.entity_id] if t is not None and t > r.accepted_at)
            f = facts[r.body_id]
            f["verifications"] += 1
            f["on_time"] += on_time(r.submitted_at, year, self.rules)
            f["first_pass"] += r.returns == 0
            f["clean_after"] += later == 0
            f["later_findings"] += later
        results = []
        for body in store.list_bodies(connection, None, bodies_evaluated_max):
            if body.status == BodyStatus.APPLIED.value and body.id not in facts:
                continue  # never admitted: nothing to evaluate
            evaluation = evaluate(BodyYear(body.id, year, **facts[body.id]), self.rules)
            results.append({**evaluation.as_json(), "name": body.name, "status": body.status})
        return sorted(results, key=lambda r: (not r["rated"], -(r["score"] or 0), r["body_id"]))

    def visible_body(self, actor: Actor) -> str | None:
        """Which body's verifications the actor may read: None for all (regulators, reviewers), or
        their own body for a verifier; anyone else is refused."""
        if actor.superuser or actor.role in (Role.REGULATOR, Role.REVIEWER):
            return None
        require_role(actor, {Role.REGULATOR, Role.REVIEWER, Role.VERIFIER}, "reading verifications")
        own: str | None = run_read(self.engine, lambda c: store.body_of_verifier(c, actor.username))
        if own is None:
            raise Refused(
                Code.VERIFICATION_NOT_OF_BODY, f"verifier {actor.username!r} is not attached to any body yet"
            )
        return own

    # --- helpers ------------------------------------------------------------------------------------

    def _as_verifier(self, connection: Connection, actor: Actor, verification_id: str, action: str) -> Any:
        """Load and lock a verification; only a verifier of its body may `action` it."""
        if not actor.superuser:
            require_role(actor, VERIFIERS, f"to {action} a verification")
        row = _verification(connection, verification_id)
        if not actor.superuser:
            own = store.body_of_verifier(connection, actor.username)
            if own != row.body_id:
                raise Refused(
                    Code.VERIFICATION_NOT_OF_BODY,
                    f"verification {verification_id!r} belongs to body {row.body_id!r}; "
                    f"{actor.username!r} verifies for {own or 'no body'}",
                )
        return row

    def _entity_known(self, entity_id: str) -> bool | None:
        """Whether the roster knows the entity; None when there is no roster to ask yet."""
        if optional_module("carbonmarket.mrv.roster.service") is None and isinstance(
            self.directory, RosterDirectory
        ):
            return None
        return self.directory.locate(entity_id) is not None


def _choose_mode(requested: str | None, eligibility: Eligibility) -> Mode:
    """Streamlined when eligible, unless full is asked; streamlined asked without eligibility is refused."""
    if requested is None:
        return Mode.STREAMLINED if eligibility.eligible else Mode.FULL
    try:
        mode = Mode(requested)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise Refused(
            Code.VERIFICATION_INVALID_MODE, f"mode {requested!r} is not one of: {allowed}"
        ) from None
    if mode is Mode.STREAMLINED and not eligibility.eligible:
        raise Refused(
            Code.VERIFICATION_STREAMLINED_NOT_ELIGIBLE,
            "streamlined verification needs a clean record: " + "; ".join(eligibility.reasons),
            reasons=list(eligibility.reasons),
        )
    return mode


def parse_emissions(value: object) -> int:
    """Verified emissions: a whole number of tonnes CO2e, zero allowed (a plant idle all year)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 0 <= number <= quantity_max_t:
        raise Refused(
            Code.VERIFICATION_EMISSIONS_INVALID,
            f"verified emissions must be a whole number of tonnes from 0 to {quantity_max_t}, not {value!r}",
        )
    return number


def _check_sha256(value: str | None) -> str | None:
    """The verification report's SHA-256, when given: 64 lowercase hex digits."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
        raise Refused(Code.INVALID_REQUEST, "report_sha256 must be 64 lowercase hex digits")
    return value


def _body(connection: Connection, body_id: str, lock: bool = False) -> Any:
    row = store.get_body(connection, body_id, lock=lock)
    if row is None:
        raise Refused(Code.VERIFICATION_BODY_NOT_FOUND, f"no verification body {body_id!r}")
    return row


def _verification(connection: Connection, verification_id: str) -> Any:
    row = store.get_verification(connection, verification_id, lock=True)
    if row is None:
        raise Refused(Code.VERIFICATION_NOT_FOUND, f"no verification {verification_id!r}")
    return row


def body_json(row: Any) -> dict[str, Any]:
    """A body row for the CLI, the API and the public register."""
    return {
        "body": row.id,
        "name": row.name,
        "province": row.province,
        "status": row.status,
        "applied_at": row.applied_at,
        "qualified_at": row.qualified_at,
        "updated_at": row.updated_at,
    }


def verification_json(row: Any, rules_: Rules) -> dict[str, Any]:
    """A verification row for the CLI, the API and tracing."""
    return {
        "verification": row.id,
        "entity_id": row.entity_id,
        "year": row.year,
        "body": row.body_id,
        "status": row.status,
        "mode": row.mode,
        "assigned_at": row.assigned_at,
        "started_at": row.started_at,
        "submitted_at": row.submitted_at,
        "deadline": rules_.deadline(row.year).isoformat(),
        "on_time": None if row.submitted_at is None else on_time(row.submitted_at, row.year, rules_),
        "returns": row.returns,
        "verified_emissions_tco2e": row.verified_emissions_tco2e,
        "reported_emissions_tco2e": row.reported_emissions_tco2e,
        "report_sha256": row.report_sha256,
        "accepted_by": row.accepted_by,
        "accepted_at": row.accepted_at,
        "cancelled_at": row.cancelled_at,
        "reason": row.reason,
    }


def nonconformity_json(row: Any) -> dict[str, Any]:
    """A nonconformity row."""
    return {
        "nonconformity": row.id,
        "verification": row.verification_id,
        "description": row.description,
        "parameter": row.parameter,
        "month": row.month,
        "status": row.status,
        "raised_by": row.raised_by,
        "raised_at": row.raised_at,
        "closure": row.closure,
        "closed_by": row.closed_by,
        "closed_at": row.closed_at,
    }
