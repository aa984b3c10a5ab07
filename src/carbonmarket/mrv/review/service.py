"""Review use cases: reviewers' scopes, cases opened from alerts or by hand, their threads,
referral down the tiers and resolution. Each write is one command: checked, applied in one
transaction, audited (`run_command`).

Two neighbours are reached through small adapters, so this part works (and is tested) before and
after they land, and never holds a second database connection inside its own transaction (SQLite
takes its write lock at BEGIN, so a nested connection would wait on ourselves):

- the roster (`mrv/roster/`), for an entity's province and city: `Roster(engine).entity(id)`,
  called before the transaction opens;
- the validation model's alerts (`mrv/rules/`, table `mrv_alerts`): read and their status set
  through `rules.store` on this part's own connection, inside its transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.db.command import run_command, run_read
from carbonmarket.identity import store as identity_store
from carbonmarket.mrv.review import store
from carbonmarket.mrv.review.model import (
    ALERT_CORRECTED,
    ALERT_IN_REVIEW,
    ALERT_OPEN,
    ALERT_STATUS_ON_RESOLUTION,
    NATIONAL_SCOPE,
    CaseState,
    CaseStatus,
    MessageKind,
    Scope,
    Tier,
    alerts_per_case_max,
    check_comment,
    check_confirm_correction,
    check_may_act,
    check_may_open,
    check_refer,
    check_resolve,
    check_take,
    check_text,
    check_year,
    make_scope,
    message_length_max,
    parse_attachments,
    parse_outcome,
    parse_tier,
    title_length_max,
)

REVIEWERS = {Role.REGULATOR, Role.REVIEWER}
REGULATORS = {Role.REGULATOR}
page_size_max = 500
# A regional queue pages through the open alerts, oldest first, to find those of its region: at
# most this many are looked at per request (the validation part pages by at most 1,000).
alert_scan_max = 20_000
alert_page_size = 1000


# --- neighbours ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where an entity is, as the roster says."""

    province: str | None
    city: str | None


class EntityDirectory(Protocol):
    """Finds an entity's province and city (the roster)."""

    def locate(self, entity_id: str) -> Location | None:
        """The entity's location, or None when the roster does not know it."""
        ...


@dataclass(frozen=True)
class AlertView:
    """One alert of the validation model, as review needs it."""

    id: str
    entity_id: str
    year: int
    month: int | None
    status: str
    rule_id: str | None = None
    severity: str | None = None
    parameter: str | None = None
    message: str | None = None
    record_id: str | None = None
    facility_id: str | None = None
    seq: int = 0  # the validation part's queue order, to page on

    def as_json(self) -> dict[str, Any]:
        """For the CLI, the API and the queue page."""
        return {
            "alert_id": self.id,
            "entity_id": self.entity_id,
            "facility_id": self.facility_id,
            "year": self.year,
            "month": self.month,
            "status": self.status,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "parameter": self.parameter,
            "message": self.message,
            "record_id": self.record_id,
        }


class AlertSource(Protocol):
    """The validation model's alerts, read and updated on the caller's connection."""

    def get(self, connection: Connection, alert_ids: Sequence[str]) -> dict[str, AlertView]:
        """The alerts that exist among `alert_ids`."""
        ...

    def open(self, connection: Connection, limit: int, after: int = 0) -> list[AlertView]:
        """Open alerts, oldest first, after queue position `after` (an AlertView's `seq`)."""
        ...

    def of_entity_year(self, connection: Connection, entity_id: str, year: int) -> list[AlertView]:
        """Every alert of one entity's year, whatever its status."""
        ...

    def set_status(self, connection: Connection, alert_id: str, status: str) -> None:
        """Move an alert to a new status."""
        ...


def optional_module(name: str) -> Any:
    """A neighbour's module if it is installed yet, else None (the parts of issue 3 land separately)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name is not None and name.startswith(missing.name):
            return None
        raise


class RosterDirectory:
    """Entity locations from `mrv.roster` when it exists; knows nothing otherwise."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def locate(self, entity_id: str) -> Location | None:
        """Ask the roster; an unknown entity (None or a refusal) is None."""
        module = optional_module("carbonmarket.mrv.roster.service")
        if module is None:
            return None
        try:
            found = module.Roster(self.engine).entity(entity_id)
        except Refused:
            return None
        if not found:
            return None
        return Location(found.get("province"), found.get("city"))


class RulesAlerts:
    """Alerts from `mrv.rules.store` when it exists; none otherwise."""

    def _store(self) -> Any:
        return optional_module("carbonmarket.mrv.rules.store")

    def get(self, connection: Connection, alert_ids: Sequence[str]) -> dict[str, AlertView]:
        """The alerts that exist among `alert_ids`."""
        rules_store = self._store()
        if rules_store is None or not alert_ids:
            return {}
        rows = rules_store.get_alerts(connection, list(alert_ids))
        return {view.id: view for view in (alert_view(row) for row in rows)}

    def open(self, connection: Connection, limit: int, after: int = 0) -> list[AlertView]:
        """Open alerts, oldest first, after queue position `after`."""
        rules_store = self._store()
        if rules_store is None:
            return []
        rows = rules_store.open_alerts(connection, limit=limit, after_seq=after)
        return [alert_view(row) for row in rows]

    def of_entity_year(self, connection: Connection, entity_id: str, year: int) -> list[AlertView]:
        """Every alert of one entity's year."""
        rules_store = self._store()
        if rules_store is None:
            return []
        return [alert_view(row) for row in rules_store.alerts_of(connection, entity_id, year)]

    def set_status(self, connection: Connection, alert_id: str, status: str) -> None:
        """Move an alert to a new status through the validation part's store."""
        rules_store = self._store()
        if rules_store is not None:
            rules_store.set_alert_status(connection, alert_id, status)


def alert_view(row: Any) -> AlertView:
    """An `mrv_alerts` row (a SQLAlchemy row or a mapping) as review sees it."""
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return AlertView(
        id=str(data.get("id", data.get("alert_id"))),
        entity_id=str(data["entity_id"]),
        year=int(data["year"]),
        month=None if data.get("month") is None else int(data["month"]),
        status=str(data.get("status", ALERT_OPEN)),
        rule_id=data.get("rule_id"),
        severity=data.get("severity"),
        parameter=data.get("parameter"),
        message=data.get("message"),
        record_id=None if data.get("record_id") is None else str(data["record_id"]),
        facility_id=data.get("facility_id"),
        seq=int(data.get("seq") or 0),
    )


# --- the use cases ------------------------------------------------------------------------------------


class Review:
    """Three-tier review over one database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        directory: EntityDirectory | None = None,
        alerts: AlertSource | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.directory = directory or RosterDirectory(engine)
        self.alerts = alerts or RulesAlerts()

    # --- reviewers ----------------------------------------------------------------------------------

    def assign_reviewer(
        self,
        actor: Actor,
        command_id: str,
        username: str,
        tier: str,
        province: str | None = None,
        city: str | None = None,
    ) -> Outcome:
        """Give a user a tier and a region to review (regulators); replaces any earlier scope."""
        body = {"username": username, "tier": tier, "province": province, "city": city}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "assigning a reviewer")
            scope = make_scope(tier, province, city)
            user = identity_store.get_user(connection, username)
            if user is None:
                raise Refused(Code.UNKNOWN_USER, f"user {username!r} does not exist")
            if user.role not in (Role.REVIEWER.value, Role.REGULATOR.value):
                raise Refused(
                    Code.FORBIDDEN,
                    f"user {username!r} is {user.role}; only reviewers and regulators review",
                )
            previous = store.set_reviewer(connection, username, scope, actor.username, at)
            return {
                "username": username,
                **_scope_json(scope),
                "previous": None if previous is None else _scope_json(previous),
            }

        return run_command(self.engine, self.clock, actor, "review.reviewer", command_id, body, work)

    def reviewers(self, limit: int = page_size_max) -> list[dict[str, Any]]:
        """Every reviewer with their tier and region."""
        rows = run_read(self.engine, lambda c: store.list_reviewers(c, min(limit, page_size_max)))
        return [
            {"username": r.username, "tier": r.tier, "province": r.province, "city": r.city} for r in rows
        ]

    def scope(self, actor: Actor) -> Scope | None:
        """Where the actor reviews; None for the local operator, who may act at any tier."""
        scope: Scope | None = run_read(self.engine, lambda c: _scope_of(c, actor, "reviewing"))
        return scope

    # --- cases --------------------------------------------------------------------------------------

    def open_case(
        self,
        actor: Actor,
        case_id: str,
        *,
        alert_ids: Sequence[str] = (),
        entity_id: str | None = None,
        year: int | None = None,
        month: int | None = None,
        title: str | None = None,
        message: str | None = None,
        tier: str | None = None,
        province: str | None = None,
        city: str | None = None,
        attachments: list[dict[str, str]] | None = None,
    ) -> Outcome:
        """Open a case at the reviewer's tier, from alerts of one entity-year or by hand.

        The entity's province and city come from the roster; for an entity the roster does not
        know (one that should perhaps be on it), the reviewer gives them.
        """
        alert_list = sorted({str(a) for a in alert_ids})
        body = {
            "alerts": alert_list,
            "entity_id": entity_id,
            "year": year,
            "month": month,
            "title": title,
            "message": message,
            "tier": tier,
            "province": province,
            "city": city,
            "attachments": attachments or [],
        }
        # Outside the transaction: which entity the alerts name, then where the roster puts it.
        subject: tuple[str, int, int | None] | None = None
        location: Location | None = None
        early: Refused | None = None
        try:
            subject = self._subject(alert_list, entity_id, year, month)
            location = self.directory.locate(subject[0])
        except Refused as refused:
            early = refused

        def work(connection: Connection, at: str) -> dict[str, Any]:
            scope = _scope_of(connection, actor, "opening a review case")
            if early is not None:
                raise early  # only now, so a stranger learns nothing about alerts or entities
            check_id(case_id, what="case id")
            assert subject is not None, "_subject refuses when it cannot name the entity"
            entity, case_year, case_month = subject
            where = _location(entity, location, province, city)
            case_tier = parse_tier(tier) if tier is not None else (scope.tier if scope else Tier.NATIONAL)
            if scope is not None:
                check_may_open(scope, case_tier, where.province, where.city)
            alerts = self._claimable_alerts(connection, alert_list, entity, case_year)
            case_title = check_text(
                title or _default_title(entity, case_year, case_month, alerts), "title", title_length_max
            )
            opening = check_text(message or case_title, "message", message_length_max)
            files = parse_attachments(attachments)
            if store.get_case(connection, case_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"case {case_id!r} already exists")
            store.insert_case(
                connection,
                id=case_id,
                entity_id=entity,
                year=case_year,
                month=case_month,
                province=where.province,
                city=where.city,
                tier=case_tier.value,
                status=CaseStatus.OPEN.value,
                source="alert" if alerts else "manual",
                title=case_title,
                opened_by=actor.username,
                opened_at=at,
                updated_at=at,
            )
            store.link_alerts(connection, case_id, [a.id for a in alerts])
            for alert in alerts:
                self.alerts.set_status(connection, alert.id, ALERT_IN_REVIEW)
            store.append_message(
                connection, case_id, MessageKind.OPENED.value, actor.username, case_tier, opening, at, files
            )
            return {
                "case": case_id,
                "entity_id": entity,
                "year": case_year,
                "month": case_month,
                "tier": case_tier.value,
                "status": CaseStatus.OPEN.value,
                "province": where.province,
                "city": where.city,
                "alerts": [a.id for a in alerts],
            }

        return run_command(self.engine, self.clock, actor, "review.open", case_id, body, work)

    def take(self, actor: Actor, command_id: str, case_id: str, note: str | None = None) -> Outcome:
        """open → in_review: a reviewer of the case's tier and region takes it."""
        body = {"case": case_id, "note": note}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            state = self._acting(connection, actor, case_id, "take")
            status = check_take(state)
            store.update_case(
                connection, case_id, status=status.value, assignee=actor.username, updated_at=at
            )
            text = check_text(note, "note", message_length_max) if note else f"taken by {actor.username}"
            store.append_message(
                connection, case_id, MessageKind.TAKEN.value, actor.username, state.tier, text, at
            )
            return {
                "case": case_id,
                "status": status.value,
                "tier": state.tier.value,
                "assignee": actor.username,
            }

        return run_command(self.engine, self.clock, actor, "review.take", command_id, body, work)

    def refer(
        self,
        actor: Actor,
        command_id: str,
        case_id: str,
        reason: str,
        attachments: list[dict[str, str]] | None = None,
    ) -> Outcome:
        """Send a case one tier down (national → provincial → municipal), with the reason on the thread."""
        body = {"case": case_id, "reason": reason, "attachments": attachments or []}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            state = self._acting(connection, actor, case_id, "refer")
            lower = check_refer(state)
            text = check_text(reason, "reason", message_length_max)
            files = parse_attachments(attachments)
            store.update_case(
                connection,
                case_id,
                tier=lower.value,
                status=CaseStatus.OPEN.value,
                assignee=None,
                updated_at=at,
            )
            store.append_message(
                connection,
                case_id,
                MessageKind.REFERRED.value,
                actor.username,
                state.tier,
                f"referred from {state.tier.value} to {lower.value}: {text}",
                at,
                files,
            )
            return {
                "case": case_id,
                "status": CaseStatus.OPEN.value,
                "from_tier": state.tier.value,
                "tier": lower.value,
            }

        return run_command(self.engine, self.clock, actor, "review.refer", command_id, body, work)

    def resolve(
        self,
        actor: Actor,
        command_id: str,
        case_id: str,
        outcome: str,
        explanation: str,
        attachments: list[dict[str, str]] | None = None,
    ) -> Outcome:
        """in_review → correction_required (confirmed error) or closed (explained, false alert).

        The case's alerts take the outcome's status in the validation part's table in the same
        transaction, so an alert never shows open while its case is resolved.
        """
        body = {
            "case": case_id,
            "outcome": outcome,
            "explanation": explanation,
            "attachments": attachments or [],
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            state = self._acting(connection, actor, case_id, "resolve")
            parsed = parse_outcome(outcome)
            status = check_resolve(state, parsed)
            text = check_text(explanation, "explanation", message_length_max)
            files = parse_attachments(attachments)
            store.update_case(
                connection,
                case_id,
                status=status.value,
                outcome=parsed.value,
                resolved_by=actor.username,
                resolved_at=at,
                closed_at=at if status is CaseStatus.CLOSED else None,
                updated_at=at,
            )
            alert_ids = store.alerts_of(connection, [case_id])[case_id]
            for alert_id in alert_ids:
                self.alerts.set_status(connection, alert_id, ALERT_STATUS_ON_RESOLUTION[parsed])
            store.append_message(
                connection,
                case_id,
                MessageKind.RESOLVED.value,
                actor.username,
                state.tier,
                f"{parsed.value}: {text}",
                at,
                files,
            )
            return {
                "case": case_id,
                "status": status.value,
                "outcome": parsed.value,
                "tier": state.tier.value,
                "alerts": alert_ids,
                "alert_status": ALERT_STATUS_ON_RESOLUTION[parsed],
            }

        return run_command(self.engine, self.clock, actor, "review.resolve", command_id, body, work)

    def confirm_correction(
        self,
        actor: Actor,
        command_id: str,
        case_id: str,
        note: str,
        attachments: list[dict[str, str]] | None = None,
    ) -> Outcome:
        """correction_required → closed: the reviewer has checked the entity's corrected record."""
        body = {"case": case_id, "note": note, "attachments": attachments or []}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            state = self._acting(connection, actor, case_id, "confirm the correction of")
            status = check_confirm_correction(state)
            text = check_text(note, "note", message_length_max)
            files = parse_attachments(attachments)
            store.update_case(connection, case_id, status=status.value, closed_at=at, updated_at=at)
            alert_ids = store.alerts_of(connection, [case_id])[case_id]
            for alert_id in alert_ids:
                self.alerts.set_status(connection, alert_id, ALERT_CORRECTED)
            store.append_message(
                connection,
                case_id,
                MessageKind.CORRECTION_CONFIRMED.value,
                actor.username,
                state.tier,
                text,
                at,
                files,
            )
            return {
                "case": case_id,
                "status": status.value,
                "alerts": alert_ids,
                "alert_status": ALERT_CORRECTED,
            }

        return run_command(self.engine, self.clock, actor, "review.correct", command_id, body, work)

    def comment(
        self,
        actor: Actor,
        command_id: str,
        case_id: str,
        text: str,
        attachments: list[dict[str, str]] | None = None,
    ) -> Outcome:
        """Add a message (and evidence by hash) to a case's thread; reviewers of its tier and region."""
        body = {"case": case_id, "text": text, "attachments": attachments or []}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            state = self._acting(connection, actor, case_id, "comment on")
            check_comment(state)
            checked = check_text(text, "message", message_length_max)
            files = parse_attachments(attachments)
            message_id = store.append_message(
                connection, case_id, MessageKind.COMMENT.value, actor.username, state.tier, checked, at, files
            )
            store.update_case(connection, case_id, updated_at=at)
            return {"case": case_id, "message": message_id, "attachments": len(files)}

        return run_command(self.engine, self.clock, actor, "review.comment", command_id, body, work)

    # --- queries ------------------------------------------------------------------------------------

    def case(self, actor: Actor, case_id: str) -> dict[str, Any]:
        """A case with its alerts and thread; reviewers see the cases of their region at any tier."""

        def read(connection: Connection) -> dict[str, Any]:
            scope = _scope_of(connection, actor, "reading a review case")
            row = store.get_case(connection, case_id)
            if row is None:
                raise Refused(Code.REVIEW_CASE_NOT_FOUND, f"no review case {case_id!r}")
            if scope is not None and not scope.covers(row.province, row.city):
                raise Refused(
                    Code.REVIEW_OUT_OF_SCOPE,
                    f"case {case_id!r} is outside the reviewer's scope {scope.describe()}",
                )
            alert_ids = store.alerts_of(connection, [case_id])[case_id]
            alerts = self.alerts.get(connection, alert_ids)
            return {
                **case_json(row),
                "alerts": [alerts[a].as_json() if a in alerts else {"alert_id": a} for a in alert_ids],
                "thread": store.thread(connection, case_id),
            }

        return dict(run_read(self.engine, read))

    def queue(
        self,
        actor: Actor,
        include_alerts: bool = True,
        limit: int = 100,
        scope_filter: Scope | None = None,
    ) -> dict[str, Any]:
        """What waits for the actor: cases at their tier and region not yet closed, and open alerts
        of their region that no case covers yet. The local operator may pass a scope to look through."""
        limit = max(1, min(limit, page_size_max))

        def read(connection: Connection) -> tuple[Scope | None, list[Any], dict[str, list[str]]]:
            scope = _scope_of(connection, actor, "reading the review queue")
            if scope is None:
                scope = scope_filter
            rows = store.queue(
                connection,
                scope,
                (CaseStatus.OPEN, CaseStatus.IN_REVIEW, CaseStatus.CORRECTION_REQUIRED),
                limit,
            )
            return scope, rows, store.alerts_of(connection, [r.id for r in rows])

        scope, rows, linked = run_read(self.engine, read)
        return {
            "scope": None if scope is None else _scope_json(scope),
            "cases": [{**case_json(r), "alerts": linked.get(r.id, [])} for r in rows],
            "alerts": self._uncovered_alerts(scope, limit) if include_alerts else [],
        }

    def _uncovered_alerts(self, scope: Scope | None, limit: int) -> list[dict[str, Any]]:
        """Open alerts no case covers, of the scope's region, oldest first.

        Pages through the validation part's queue; the roster is asked between pages, with no
        connection open (see the module's docstring).
        """
        found: list[dict[str, Any]] = []
        places: dict[str, Location | None] = {}
        after, scanned = 0, 0
        while len(found) < limit and scanned < alert_scan_max:

            def page_of(connection: Connection, after: int = after) -> tuple[list[AlertView], dict[str, str]]:
                page = self.alerts.open(connection, alert_page_size, after)
                return page, store.cases_of_alerts(connection, [a.id for a in page])

            page, taken = run_read(self.engine, page_of)
            for alert in page:
                if alert.id in taken:
                    continue
                if scope is not None and scope.tier is not Tier.NATIONAL:
                    if alert.entity_id not in places:
                        places[alert.entity_id] = self.directory.locate(alert.entity_id)
                    place = places[alert.entity_id]
                    if place is None or not scope.covers(place.province, place.city):
                        continue
                found.append(alert.as_json())
                if len(found) >= limit:
                    break
            scanned += len(page)
            if len(page) < alert_page_size:
                break
            after = max(a.seq for a in page)
        return found

    def cases_for(self, entity_id: str, year: int) -> list[dict[str, Any]]:
        """Every case of one entity-year with its alerts (for tracing; the caller authorises)."""

        def read(connection: Connection) -> list[dict[str, Any]]:
            rows = store.cases_of(connection, entity_id, year)
            linked = store.alerts_of(connection, [r.id for r in rows])
            return [{**case_json(r), "alerts": linked[r.id]} for r in rows]

        return list(run_read(self.engine, read))

    # --- helpers ------------------------------------------------------------------------------------

    def _acting(self, connection: Connection, actor: Actor, case_id: str, action: str) -> CaseState:
        """Load and lock a case and check that the actor may `action` it at its tier and region."""
        scope = _scope_of(connection, actor, f"to {action} a review case")
        row = store.get_case(connection, case_id, lock=True)
        if row is None:
            raise Refused(Code.REVIEW_CASE_NOT_FOUND, f"no review case {case_id!r}")
        state = store.state_of(row)
        if scope is not None:
            check_may_act(scope, state, action)
        return state

    def _subject(
        self, alert_ids: list[str], entity_id: str | None, year: int | None, month: int | None
    ) -> tuple[str, int, int | None]:
        """The entity, year and month a new case is about: named by its alerts, or given by hand."""
        if len(alert_ids) > alerts_per_case_max:
            raise Refused(Code.INVALID_REQUEST, f"a case covers at most {alerts_per_case_max} alerts")
        if not alert_ids:
            if entity_id is None or year is None:
                raise Refused(Code.INVALID_REQUEST, "a case opened by hand names its entity and year")
            check_id(entity_id, what="entity id")
            if month is not None and (isinstance(month, bool) or not 1 <= month <= 12):
                raise Refused(Code.INVALID_REQUEST, "month must be 1-12")
            return entity_id, check_year(year), month
        found = run_read(self.engine, lambda c: self.alerts.get(c, alert_ids))
        views = _require_alerts(alert_ids, found)
        entities = {(a.entity_id, a.year) for a in views}
        if len(entities) > 1:
            raise Refused(
                Code.REVIEW_ALERTS_OF_DIFFERENT_ENTITIES,
                "a case covers the alerts of one entity and one year; these name "
                + ", ".join(f"{e}/{y}" for e, y in sorted(entities)),
            )
        (alert_entity, alert_year) = entities.pop()
        if (entity_id is not None and entity_id != alert_entity) or (year is not None and year != alert_year):
            raise Refused(
                Code.REVIEW_ALERTS_OF_DIFFERENT_ENTITIES,
                f"the alerts are about {alert_entity}/{alert_year}, not {entity_id}/{year}",
            )
        months = {a.month for a in views}
        return alert_entity, alert_year, months.pop() if len(months) == 1 else None

    def _claimable_alerts(
        self, connection: Connection, alert_ids: list[str], entity_id: str, year: int
    ) -> list[AlertView]:
        """Re-read the alerts inside the transaction: each still open, of this entity, in no other case."""
        if not alert_ids:
            return []
        views = _require_alerts(alert_ids, self.alerts.get(connection, alert_ids))
        for view in views:
            if (view.entity_id, view.year) != (entity_id, year):
                raise Refused(Code.REVIEW_ALERTS_OF_DIFFERENT_ENTITIES, f"alert {view.id} changed entity")
        taken = store.cases_of_alerts(connection, alert_ids)
        if taken:
            alert_id, case_id = sorted(taken.items())[0]
            raise Refused(
                Code.REVIEW_ALERT_ALREADY_IN_CASE,
                f"alert {alert_id} is already covered by case {case_id!r}",
                case=case_id,
            )
        not_open = [v for v in views if v.status != ALERT_OPEN]
        if not_open:
            raise Refused(
                Code.REVIEW_ALERT_NOT_OPEN,
                f"alert {not_open[0].id} is {not_open[0].status}, not open",
            )
        return views


def _require_alerts(alert_ids: list[str], found: dict[str, AlertView]) -> list[AlertView]:
    """Every requested alert, or a refusal naming the first missing one."""
    missing = [a for a in alert_ids if a not in found]
    if missing:
        raise Refused(
            Code.REVIEW_ALERT_NOT_FOUND, f"no alert {missing[0]!r} in the validation model's alerts"
        )
    return [found[a] for a in alert_ids]


def _scope_of(connection: Connection, actor: Actor, action: str) -> Scope | None:
    """The actor's review scope: their assigned one; a regulator without one acts nationally.

    None means the local operator, who holds the database and may act at any tier.
    """
    if actor.superuser:
        return None
    require_role(actor, REVIEWERS, action)
    assigned = store.get_reviewer(connection, actor.username)
    if assigned is not None:
        return assigned
    if actor.role is Role.REGULATOR:
        # The national regulator (MEE) runs the national screening (Progress Report §7(2) [seed]).
        return NATIONAL_SCOPE
    raise Refused(
        Code.REVIEW_REVIEWER_NOT_ASSIGNED,
        f"reviewer {actor.username!r} has no tier or region yet; a regulator assigns one",
    )


def _location(entity_id: str, found: Location | None, province: str | None, city: str | None) -> Location:
    """The roster's location of the entity; given values must agree with it, or stand in for it."""
    given = Location(province.strip() if province else None, city.strip() if city else None)
    if found is None:
        if given.province is None:
            raise Refused(
                Code.REVIEW_ENTITY_NOT_FOUND,
                f"entity {entity_id!r} is not on the roster; give its province (and city) to open a case",
            )
        return given
    for what, wanted, have in (
        ("province", given.province, found.province),
        ("city", given.city, found.city),
    ):
        if wanted is not None and wanted != have:
            raise Refused(
                Code.REVIEW_INVALID_SCOPE,
                f"the roster places entity {entity_id!r} in {what} {have!r}, not {wanted!r}",
            )
    return found


def _default_title(entity_id: str, year: int, month: int | None, alerts: list[AlertView]) -> str:
    """A case title a reader can scan in a queue."""
    when = f"{year}-{month:02d}" if month else str(year)
    if not alerts:
        return f"{entity_id} {when}: manual review"
    rules = sorted({a.rule_id for a in alerts if a.rule_id})
    named = ", ".join(rules[:3]) + (" …" if len(rules) > 3 else "")
    return f"{entity_id} {when}: {len(alerts)} alert{'s' if len(alerts) > 1 else ''}" + (
        f" ({named})" if named else ""
    )


def _scope_json(scope: Scope) -> dict[str, Any]:
    return {"tier": scope.tier.value, "province": scope.province, "city": scope.city}


def case_json(row: Any) -> dict[str, Any]:
    """A case row for the CLI, the API and the page."""
    return {
        "case": row.id,
        "entity_id": row.entity_id,
        "year": row.year,
        "month": row.month,
        "province": row.province,
        "city": row.city,
        "tier": row.tier,
        "status": row.status,
        "source": row.source,
        "title": row.title,
        "assignee": row.assignee,
        "outcome": row.outcome,
        "opened_by": row.opened_by,
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at,
        "closed_at": row.closed_at,
    }


__all__ = ["AlertSource", "AlertView", "EntityDirectory", "Location", "Review"]
