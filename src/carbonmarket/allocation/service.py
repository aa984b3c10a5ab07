"""Allocation use cases: publish plans, import activity data, calculate, pre-allocate, true up, trace.

Each write is one command (`run_command`): checked, applied in one transaction with the registry's
legs (`registry.postings`), audited, idempotent by its id. A pre-allocation issues the year's
allowances into `CN-ISSUANCE` and delivers them to every entity's `<entity>-H` account in linked
batches; the true-up tops up or withdraws (by order, `Authority.ORDER`) the difference to the final
allocation, never overdrawing an account: what an entity no longer holds is recorded as a deduction
it owes (DOMAIN-SOURCES.md vector 8). Other contexts read `Allocation(engine).allocated(entity, year)`
(compliance) and `.trace(entity, year)` (MRV trace).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.allocation import store
from carbonmarket.allocation.calculation import (
    ENTITY_LINE,
    ActivityIn,
    EntityCalc,
    EntityIn,
    FacilityIn,
    PlanInForce,
    YearInputs,
    YearResult,
    calculate,
    entity_json,
    summarise,
)
from carbonmarket.allocation.importer import ActivityRow, RowProblem, problems_shown_max, read_activity_file
from carbonmarket.allocation.model import (
    Plan,
    PlanKind,
    PreallocationBasis,
    annual_load_rate,
    parse_plan,
    settle,
    year_max,
    year_min,
)
from carbonmarket.audit.model import canonical_json
from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.core.units import parse_quantity
from carbonmarket.db.command import record_refusal, run_command, run_read
from carbonmarket.mrv.roster import store as roster_store
from carbonmarket.mrv.roster.model import roster_rules
from carbonmarket.mrv.verification import store as verification_store
from carbonmarket.registry import postings
from carbonmarket.registry.postings import ORDER_ROLES, Authority, Move

PUBLISHERS = {Role.REGULATOR}
RUNNERS = {Role.REGULATOR}
ISSUANCE_ACCOUNT = "CN-ISSUANCE"
AUCTION_ACCOUNT = "CN-AUCTION"
RESERVE_ACCOUNT = "CN-RESERVE"
# Withdrawn allowances leave circulation: the true-up's "refund the excess" takes back what the
# final allocation does not grant (plan A §五(一) "多退少补").
WITHDRAWAL_ACCOUNT = "CN-DELETION"
# Legs per linked batch: the national market's ~3,500 entities go in one batch; 100,000 synthetic
# entities go in several, all in one transaction (so still all or none). Kept far below
# `postings.moves_per_batch_max` so each batch's account and balance reads stay small statements.
moves_per_batch = 10_000
plan_file_bytes_max = 256 * 1024
file_name_length_max = 200
reason_length_max = 1000
entities_shown_max = 100
problems_listed_max = 20
keys_per_read = 5_000
IMPORT = "allocation.import"


def parse_year(value: object) -> int:
    """An allocation year within the limits, from an int or its digits."""
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit() or not year_min <= int(text) <= year_max:
        raise Refused(Code.ALLOCATION_INVALID_YEAR, f"year {value!r} is not a year in {year_min}-{year_max}")
    return int(text)


@cache
def packaged_plans() -> dict[str, str]:
    """The plan files shipped in `allocation/data/`: plan id → file name."""
    found = {}
    for entry in sorted(
        (resources.files("carbonmarket.allocation") / "data").iterdir(), key=lambda e: e.name
    ):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text("utf-8"))
            found[str(data["id"])] = entry.name
    return found


def packaged_plan_text(plan_id: str) -> str:
    """A shipped plan file's text, by plan id."""
    name = packaged_plans().get(plan_id)
    if name is None:
        raise Refused(
            Code.ALLOCATION_PLAN_NOT_FOUND,
            f"no packaged plan {plan_id!r}; packaged plans: {', '.join(packaged_plans())}",
        )
    return (resources.files("carbonmarket.allocation") / "data" / name).read_text("utf-8")


def plan_source_text(source: str) -> tuple[str, str]:
    """A plan's TOML text from a file path or a packaged plan id; also the name it goes by."""
    path = Path(source)
    if source.endswith(".toml") or path.exists():
        if not path.is_file():
            raise Refused(Code.ALLOCATION_FILE_UNREADABLE, f"plan file {source!r} does not exist")
        if path.stat().st_size > plan_file_bytes_max:
            raise Refused(
                Code.ALLOCATION_FILE_TOO_LARGE, f"plan file {source!r} is over {plan_file_bytes_max} bytes"
            )
        try:
            return path.read_text("utf-8"), path.name
        except UnicodeDecodeError:
            raise Refused(
                Code.ALLOCATION_FILE_UNREADABLE, f"plan file {source!r} is not UTF-8 text"
            ) from None
    return packaged_plan_text(source), source


def read_plan(text: str) -> Plan:
    """Parse and validate a plan file's TOML text."""
    if len(text.encode("utf-8")) > plan_file_bytes_max:
        raise Refused(Code.ALLOCATION_FILE_TOO_LARGE, f"a plan file is at most {plan_file_bytes_max} bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Refused(Code.ALLOCATION_FILE_UNREADABLE, f"the plan is not valid TOML: {error}") from None
    return parse_plan(data)


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan's headline and its full data (with every tag and source), for the interfaces."""
    return {
        "plan_id": plan.id,
        "title": plan.title,
        "kind": plan.kind.value,
        "sectors": list(plan.sectors),
        "status": plan.status,
        "source": plan.source,
        "years": [{"year": y.year, "vintage": y.vintage, "cap_t": y.cap_t} for y in plan.years],
        "preallocation_share": str(plan.preallocation_share),
        "preallocation_basis": plan.preallocation_basis.value,
        "data": dict(plan.data),
    }


@cache
def _parsed(body: str) -> Plan:
    """A stored plan body parsed once per process (plans are immutable once published)."""
    return parse_plan(json.loads(body))


class Allocation:
    """The allocation context's use cases over one database."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # --- plans ----------------------------------------------------------------------------------------

    def load_plan(self, source: str) -> dict[str, Any]:
        """Validate a plan file (or packaged plan id) without publishing it."""
        text, _name = plan_source_text(source)
        return plan_json(read_plan(text))

    def publish_plan(self, actor: Actor, command_id: str, text: str) -> Outcome:
        """Publish a plan version (regulators): a revised plan for the same id keeps the older versions."""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        body = {"sha256": digest}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, PUBLISHERS, "publishing an allocation plan")
            plan = read_plan(text)
            data_json = canonical_json(dict(plan.data))
            previous = store.latest_version(connection, plan.id)
            if previous is not None and previous.body == data_json:
                raise Refused(
                    Code.ALLOCATION_PLAN_UNCHANGED,
                    f"plan {plan.id} version {previous.version} already has exactly this content",
                )
            version = 1 if previous is None else previous.version + 1
            store.insert_plan(
                connection,
                [(sector, y.year) for sector in plan.sectors for y in plan.years],
                plan_id=plan.id,
                version=version,
                kind=plan.kind.value,
                status=plan.status,
                title=plan.title,
                sha256=digest,
                body=data_json,
                command_id=command_id,
                published_by=actor.username,
                published_at=at,
            )
            return {
                "plan": plan.id,
                "version": version,
                "years": [y.year for y in plan.years],
                "sectors": list(plan.sectors),
                "supersedes": None if previous is None else previous.version,
            }

        return run_command(self.engine, self.clock, actor, "allocation.plan.publish", command_id, body, work)

    def plans(self) -> dict[str, Any]:
        """Every published plan version, and the packaged plan files that may be published."""

        def read(connection: Connection) -> dict[str, Any]:
            return {
                "plans": [
                    {
                        "plan_id": r.plan_id,
                        "version": r.version,
                        "kind": r.kind,
                        "status": r.status,
                        "title": r.title,
                        "years": f"{r.first_year}"
                        if r.first_year == r.last_year
                        else f"{r.first_year}-{r.last_year}",
                        "published_by": r.published_by,
                        "published_at": r.published_at,
                    }
                    for r in store.plan_versions(connection)
                ],
                "packaged": sorted(packaged_plans()),
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def plan(self, plan_id: str, version: int | None = None) -> dict[str, Any]:
        """One published plan version (the newest by default) with its data, tags and sources."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.get_plan(connection, plan_id, version)
            if row is None:
                raise Refused(
                    Code.ALLOCATION_PLAN_NOT_FOUND,
                    f"plan {plan_id!r}{'' if version is None else f' version {version}'} is not published",
                )
            latest = store.latest_version(connection, plan_id)
            return {
                **plan_json(_parsed(row.body)),
                "version": row.version,
                "latest_version": None if latest is None else latest.version,
                "published_by": row.published_by,
                "published_at": row.published_at,
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    # --- activity data --------------------------------------------------------------------------------

    def import_activity(
        self, actor: Actor, data: bytes, file_name: str, command_id: str | None = None
    ) -> Outcome:
        """Import activity data from a CSV (one row per unit and year); bad rows are listed, good ones stored.

        Without a command id the file is the command (its sha256): the same bytes again answer `exists`.
        """
        digest = hashlib.sha256(data).hexdigest()
        chosen = command_id or derived_id("alloc-import", digest)
        body = {"sha256": digest}
        try:
            require_role(actor, RUNNERS, "importing allocation activity data")
            check_id(chosen, what="command id")
            rows, problems, count = read_activity_file(data)
        except Refused as refused:
            record_refusal(self.engine, self.clock, actor, IMPORT, chosen, body, refused)
            return refused.refusal
        name = (file_name or "upload").strip()[-file_name_length_max:] or "upload"

        def work(connection: Connection, at: str) -> dict[str, Any]:
            accepted, rejected = _check_against_roster(connection, rows, problems)
            seq = store.insert_import(
                connection,
                command_id=chosen,
                file_name=name,
                sha256=digest,
                rows=count,
                stored=len(accepted),
                rejected=len(rejected),
                actor=actor.username,
                at=at,
            )
            store.insert_activity(connection, [_activity_values(seq, r) for r in accepted])
            return {
                "import": chosen,
                "file": name,
                "rows": count,
                "stored": len(accepted),
                "rejected": len(rejected),
                "problems": [p.as_json() for p in rejected[:problems_shown_max]],
            }

        return run_command(self.engine, self.clock, actor, IMPORT, chosen, body, work)

    # --- calculation ----------------------------------------------------------------------------------

    def calc(self, year: object, entity_id: str | None = None) -> dict[str, Any]:
        """A dry run: every entity's pre-allocation and final allocation for a year; no unit moves."""
        checked = parse_year(year)
        if entity_id is not None:
            check_id(entity_id, what="entity id")

        extra = self._from_records(checked, entity_id)

        def read(connection: Connection) -> tuple[YearInputs, YearResult]:
            inputs = self._inputs(connection, checked, entity_id, extra)
            return inputs, calculate(inputs, entity_id)

        _inputs, result = run_read(self.engine, read)
        shown = result.entities[:entities_shown_max]
        problems = [
            {"entity_id": c.entity_id, "stage": stage, "code": p.code.value, "message": p.message}
            for c in result.entities
            for stage, p in (("preallocation", c.pre_problem), ("final", c.final_problem))
            if p is not None
        ]
        return {
            "dry_run": True,
            "summary": summarise(result),
            "entities": [entity_json(c) for c in shown],
            "entities_shown": len(shown),
            "problems": problems[:entities_shown_max],
            "problems_total": len(problems),
        }

    def preallocate(self, actor: Actor, command_id: str, year: object) -> Outcome:
        """Pre-allocate a year: each entity's share of its previous-year verified emissions (plan A §五(一)).

        Issues the total into CN-ISSUANCE and delivers it to every `<entity>-H` in linked batches, net of
        deductions the entity owes; refused if the year was already pre-allocated (under any id).
        """
        body = {"year": year if isinstance(year, int) else str(year)}
        extra = self._from_records(year, None)

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, RUNNERS, "pre-allocating allowances")
            checked = parse_year(year)
            earlier = store.preallocation_of_year(connection, checked)
            if earlier is not None:
                raise Refused(
                    Code.ALLOCATION_ALREADY_PREALLOCATED,
                    f"{checked} was already pre-allocated by run {earlier.id!r}; a year is pre-allocated "
                    "once "
                    "(the true-up settles the rest)",
                )
            if store.entity_years(connection, checked):
                raise Refused(
                    Code.ALLOCATION_ALREADY_PREALLOCATED,
                    f"{checked} was already trued up; a pre-allocation comes before the true-up",
                )
            inputs = self._inputs(connection, checked, extra=extra)
            result = calculate(inputs, final=False)
            if not result.entities:
                raise Refused(
                    Code.ALLOCATION_NOTHING_TO_ALLOCATE,
                    f"no entity on the roster is covered by the plans in force for {checked}",
                )
            _refuse_problems([(c, c.pre_problem) for c in result.entities], "pre-allocated")
            return self._settle_run(connection, actor, command_id, at, "preallocation", inputs, result, {})

        return run_command(self.engine, self.clock, actor, "allocation.preallocate", command_id, body, work)

    def true_up(self, actor: Actor, command_id: str, year: object, entity_id: str | None = None) -> Outcome:
        """Settle a year at its final allocation: top up the shortfall, withdraw the excess (plan A 多退少补).

        Final allocation = the plan's formula on the year's verified activity data, with the gas top-up
        and the 20% gap cap. A withdrawal never overdraws: what an entity no longer holds is recorded
        as a deduction it owes. Runs again with a new id settle only what changed since.
        """
        body = {"year": year if isinstance(year, int) else str(year), "entity": entity_id}
        extra = self._from_records(year, entity_id)

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, RUNNERS, "truing up allowances")
            checked = parse_year(year)
            if entity_id is not None:
                check_id(entity_id, what="entity id")
            inputs = self._inputs(connection, checked, entity_id, extra)
            pre_shares = {
                s: p.plan.preallocation_share
                for s, p in inputs.plans.items()
                if p.plan.preallocation_share > 0
            }
            if pre_shares and store.preallocation_of_year(connection, checked) is None:
                sector, share = next(iter(sorted(pre_shares.items())))
                raise Refused(
                    Code.ALLOCATION_NOT_PREALLOCATED,
                    f"{checked} has not been pre-allocated; the {sector} plan pre-allocates {share} first "
                    "and the true-up settles against it",
                )
            result = calculate(inputs, entity_id)
            if not result.entities:
                raise Refused(
                    Code.ALLOCATION_NOTHING_TO_ALLOCATE,
                    f"no entity is covered by the plans in force for {checked}",
                )
            _refuse_problems([(c, c.final_problem) for c in result.entities], "trued up")
            existing = store.entity_years(connection, checked)
            return self._settle_run(
                connection,
                actor,
                command_id,
                at,
                "true_up",
                inputs,
                result,
                existing,
                whole_year=entity_id is None,
            )

        return run_command(self.engine, self.clock, actor, "allocation.true_up", command_id, body, work)

    def order_deduction(
        self, actor: Actor, command_id: str, entity_id: str, quantity: object, reason: str
    ) -> Outcome:
        """Record a deduction an entity owes against its next allocations (e.g. the Art. 24 next-year cut)."""
        body = {"entity": entity_id, "quantity": str(quantity), "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, ORDER_ROLES, "ordering an allocation deduction")
            check_id(entity_id, what="entity id")
            if roster_store.get_entity(connection, entity_id) is None:
                raise Refused(Code.ALLOCATION_ENTITY_NOT_FOUND, f"entity {entity_id!r} is not on the roster")
            try:
                amount = parse_quantity(quantity, what="deduction")
            except Refused as refused:
                raise Refused(Code.ALLOCATION_INVALID_DEDUCTION, refused.refusal.message) from None
            if not isinstance(reason, str) or not reason.strip() or len(reason) > reason_length_max:
                raise Refused(
                    Code.INVALID_TEXT, f"a deduction needs a reason of 1-{reason_length_max} characters"
                )
            store.insert_deductions(
                connection,
                [
                    {
                        "entity_id": entity_id,
                        "year": None,
                        "quantity_t": amount,
                        "kind": "ordered",
                        "command_id": command_id,
                        "reason": reason.strip(),
                        "at": at,
                    }
                ],
            )
            owed = store.owed(connection, [entity_id]).get(entity_id, 0)
            return {"entity": entity_id, "ordered_t": amount, "owed_t": owed}

        return run_command(self.engine, self.clock, actor, "allocation.deduction", command_id, body, work)

    # --- reads ----------------------------------------------------------------------------------------

    def allocated(self, entity_id: str, year: int) -> int | None:
        """The entity's final allocation for the year after true-up (whole t), None before it (compliance)."""
        result: int | None = run_read(self.engine, lambda c: store.allocated(c, entity_id, year))
        return result

    def trace(self, entity_id: str, year: int) -> dict[str, Any]:
        """Every allocation line of an entity-year (run, plan version, inputs, terms, result); deductions."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.entity_year(connection, entity_id, year)
            lines = store.lines_of(connection, entity_id, year)
            runs = {r.id: r for r in store.runs_of_year(connection, year)}
            return {
                "entity_id": entity_id,
                "year": year,
                "position": None if row is None else _entity_year_json(row),
                "owed_t": store.owed(connection, [entity_id]).get(entity_id, 0),
                "runs": [
                    {
                        "run": run_id,
                        "kind": runs[run_id].kind if run_id in runs else None,
                        "at": runs[run_id].at if run_id in runs else None,
                        "transactions": json.loads(runs[run_id].summary).get("transactions", [])
                        if run_id in runs
                        else [],
                        "lines": [_line_json(line) for line in lines if line.run_id == run_id],
                    }
                    for run_id in dict.fromkeys(line.run_id for line in lines)
                ],
                "deductions": [
                    {
                        "kind": d.kind,
                        "quantity_t": d.quantity_t,
                        "year": d.year,
                        "command": d.command_id,
                        "reason": d.reason,
                        "at": d.at,
                    }
                    for d in store.deductions_of(connection, entity_id)
                ],
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def entity_allocations(self, entity_id: str) -> dict[str, Any]:
        """An entity's allocation per year (pre-allocated, final, delivered, deducted) and what it owes."""

        def read(connection: Connection) -> dict[str, Any]:
            return {
                "entity_id": entity_id,
                "years": [_entity_year_json(r) for r in store.years_of_entity(connection, entity_id)],
                "owed_t": store.owed(connection, [entity_id]).get(entity_id, 0),
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def year_overview(self, year: object) -> dict[str, Any]:
        """A year's allocation by sector and its runs, for the regulator's console."""
        checked = parse_year(year)

        def read(connection: Connection) -> dict[str, Any]:
            return {
                "year": checked,
                "sectors": [
                    {
                        "sector": r.sector,
                        "entities": int(r.entities),
                        "preallocated_t": int(r.preallocated_t or 0),
                        "final_t": None if r.final_t is None else int(r.final_t),
                        "delivered_t": int(r.delivered_t or 0),
                        "deducted_t": int(r.deducted_t or 0),
                    }
                    for r in store.year_summary(connection, checked)
                ],
                "runs": [
                    {
                        "run": r.id,
                        "kind": r.kind,
                        "entities": r.entities,
                        "issued_t": r.issued_t,
                        "delivered_t": r.delivered_t,
                        "withdrawn_t": r.withdrawn_t,
                        "shortfall_t": r.shortfall_t,
                        "actor": r.actor,
                        "at": r.at,
                    }
                    for r in store.runs_of_year(connection, checked)
                ],
                "years_with_plans": store.years_with_plans(connection),
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    # --- internals ------------------------------------------------------------------------------------

    def _inputs(
        self,
        connection: Connection,
        year: int,
        entity_id: str | None = None,
        extra: Mapping[tuple[str, str, int], ActivityIn] | None = None,
    ) -> YearInputs:
        """Load what the year's allocation needs: plans in force, roster, activity, verified emissions.

        `extra` is activity from the MRV monthly records, read beforehand (`_from_records`), for
        units no import covers.
        """
        rows = store.plans_in_force(connection, year)
        if not rows:
            covered = store.years_with_plans(connection)
            raise Refused(
                Code.ALLOCATION_NO_PLAN_FOR_YEAR,
                f"no published allocation plan covers {year}"
                + (
                    f"; plans cover {', '.join(str(y) for y in covered)}"
                    if covered
                    else "; none is published"
                ),
            )
        plans = {sector: PlanInForce(_parsed(r.body), int(r.version)) for sector, r in rows.items()}
        sectors = sorted(plans)
        entities = roster_store.entities_in_sectors(connection, sectors)
        if entity_id is not None:
            entities = [e for e in entities if e.id == entity_id]
            if not entities:
                raise Refused(
                    Code.ALLOCATION_ENTITY_NOT_FOUND,
                    f"entity {entity_id!r} is not on the roster in a sector with a plan for {year} "
                    f"({', '.join(sectors)})",
                )
        by_entity: dict[str, list[FacilityIn]] = defaultdict(list)
        fuels = roster_rules().fuels
        for facility in roster_store.active_facilities_in_sectors(connection, sectors):
            by_entity[facility.entity_id].append(
                FacilityIn(
                    facility.id,
                    facility.kind.value,
                    None if facility.fuel is None else fuels.get(facility.fuel),
                    facility.capacity_mw,
                    None if facility.cooling is None else facility.cooling.value,
                )
            )
        loaded = [
            EntityIn(e.id, e.sector.value, tuple(by_entity.get(e.id, ())), e.province) for e in entities
        ]
        activity = _activity(store.activity_of_year(connection, year))
        previous = _activity(store.activity_of_year(connection, year - 1))
        for (entity_key, facility_key, record_year), found in (extra or {}).items():
            target = activity if record_year == year else previous
            target.setdefault((entity_key, facility_key), found)
        return YearInputs(
            year=year,
            plans=plans,
            entities=loaded,
            activity=activity,
            activity_previous=previous,
            verified=verification_store.verified_of_year(connection, year),
            verified_previous=verification_store.verified_of_year(connection, year - 1),
        )

    def _from_records(self, year: object, entity_id: str | None) -> dict[tuple[str, str, int], ActivityIn]:
        """Activity no import gives, from the MRV monthly records' annual sums, read before the command.

        Read outside the command's transaction: the records part reads with a connection of its own,
        which on SQLite would wait for the write lock the command holds.
        """
        try:
            checked = parse_year(year)
            inputs = run_read(self.engine, lambda c: self._inputs(c, checked, entity_id))
        except Refused:
            return {}  # the command itself refuses with the same words
        wanted: dict[tuple[str, str, int], ActivityIn] = {}
        previous_output = any(
            p.plan.preallocation_basis is PreallocationBasis.PREVIOUS_YEAR_OUTPUT
            for p in inputs.plans.values()
        )
        for entity in inputs.entities:
            plan = inputs.plans[entity.sector].plan
            years = [(checked, inputs.activity)]
            if previous_output:
                years.append((checked - 1, inputs.activity_previous))
            for record_year, activity in years:
                if _needs_records(entity, plan, activity):
                    output = _output_parameter(plan, entity.sector)
                    for key, found in records_activity(
                        self.engine, entity.entity_id, record_year, output
                    ).items():
                        wanted[(entity.entity_id, key, record_year)] = found
        return wanted

    def _settle_run(
        self,
        connection: Connection,
        actor: Actor,
        run_id: str,
        at: str,
        kind: str,
        inputs: YearInputs,
        result: YearResult,
        existing: Mapping[str, Any],
        whole_year: bool = True,
    ) -> dict[str, Any]:
        """Settle every entity at its entitlement of this stage, move the units, write the lines and rows."""
        final = kind == "true_up"
        ids = [c.entity_id for c in result.entities]
        owed = store.owed(connection, ids)
        available = _available(
            connection, [(f"{c.entity_id}-H", c.vintage) for c in result.entities if c.entity_id in existing]
        )
        deliveries: list[tuple[str, str, int]] = []
        withdrawals: list[tuple[str, str, int]] = []
        deduction_rows: list[dict[str, Any]] = []
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        totals: dict[str, int] = defaultdict(int)
        sectors: dict[str, dict[str, int]] = {}
        for calc in result.entities:
            entitled = calc.final_t if final else calc.preallocation_t
            assert entitled is not None, "problems were refused before settling"
            row = existing.get(calc.entity_id)
            delivered = 0 if row is None else int(row.delivered_t)
            deducted = 0 if row is None else int(row.deducted_t)
            vintage = calc.vintage if row is None else str(row.vintage)
            s = settle(
                entitled,
                delivered,
                deducted,
                owed.get(calc.entity_id, 0),
                available.get((f"{calc.entity_id}-H", vintage), 0),
            )
            if s.deliver_t:
                deliveries.append((calc.entity_id, calc.vintage, s.deliver_t))
            if s.withdraw_t:
                withdrawals.append((calc.entity_id, vintage, s.withdraw_t))
            deduction_rows.extend(
                _deduction_rows(calc, s.deducted_delta_t, s.shortfall_t, run_id, kind, at, inputs.year)
            )
            for name, value in (
                ("entitled_t", entitled),
                ("delivered_t", s.deliver_t),
                ("withdrawn_t", s.withdraw_t),
                ("shortfall_t", s.shortfall_t),
                ("deducted_t", s.deducted_delta_t),
            ):
                totals[name] += value
            sector = sectors.setdefault(
                calc.sector, {"entities": 0, "entitled_t": 0, "delivered_t": 0, "withdrawn_t": 0}
            )
            sector["entities"] += 1
            sector["entitled_t"] += entitled
            sector["delivered_t"] += s.deliver_t
            sector["withdrawn_t"] += s.withdraw_t
            values = {
                "plan_id": calc.plan_id,
                "plan_version": calc.plan_version,
                "final_t": calc.final_t if final else None,
                "delivered_t": s.delivered_after_t,
                "deducted_t": s.deducted_after_t,
                "status": "final" if final else "preallocated",
                "run_id": run_id,
                "updated_at": at,
            }
            if row is None:
                new_rows.append(
                    {
                        "entity_id": calc.entity_id,
                        "year": inputs.year,
                        "sector": calc.sector,
                        "vintage": calc.vintage,
                        "preallocated_t": 0 if final else entitled,
                        **values,
                    }
                )
            else:
                changed_rows.append({"key_entity": calc.entity_id, "key_year": inputs.year, **values})
        # A cap's central parts move once for the whole sector, never on one entity's true-up.
        central = (
            _central_moves(inputs, result, kind, store.runs_of_year(connection, inputs.year))
            if whole_year
            else []
        )
        self._ensure_holding_accounts(connection, actor, [e for e, _, _ in deliveries], at)
        transactions, issued = _deliver(connection, actor, run_id, kind, at, deliveries, central, inputs)
        transactions += _withdraw(connection, actor, run_id, at, withdrawals)
        lines = _line_rows(result, run_id, kind, inputs.year)
        summary = {
            "kind": kind,
            "year": inputs.year,
            "entities": len(result.entities),
            "lines": len(lines),
            "issued_t": issued,
            **totals,
            "central": [{"account": a, "vintage": v, "quantity_t": q} for a, v, q in central],
            "sectors": sectors,
            "transactions": transactions,
        }
        store.insert_run(
            connection,
            id=run_id,
            kind=kind,
            year=inputs.year,
            preallocation_year=None if final else inputs.year,
            entities=len(result.entities),
            lines=len(lines),
            issued_t=issued,
            delivered_t=totals["delivered_t"],
            withdrawn_t=totals["withdrawn_t"],
            shortfall_t=totals["shortfall_t"],
            deducted_t=totals["deducted_t"],
            summary=canonical_json(summary),
            actor=actor.username,
            at=at,
        )
        store.insert_lines(connection, lines)
        store.insert_entity_years(connection, new_rows)
        store.update_entity_years(connection, changed_rows)
        store.insert_deductions(connection, deduction_rows)
        return {"run": run_id, **summary}

    def _ensure_holding_accounts(
        self, connection: Connection, actor: Actor, entity_ids: Sequence[str], at: str
    ) -> None:
        """Open `<entity>-H` (and the entity's registry holder, id = roster entity id) where missing."""
        wanted = set(entity_ids)
        if not wanted:
            return
        names = {e.id: e.name for e in roster_store.entities_in_sectors(connection, _all_sectors())}
        postings.ensure_entity_accounts(
            connection, actor, [(e, names.get(e, e)) for e in sorted(wanted)], "holding", at
        )


# --- helpers (module level: no state) --------------------------------------------------------------------


def _all_sectors() -> list[str]:
    return ["power", "steel", "cement", "aluminium"]


def _refuse_problems(items: Sequence[tuple[EntityCalc, Any]], what: str) -> None:
    """Refuse a run naming the entities whose data is missing (the first problem's code leads)."""
    found = [(calc, problem) for calc, problem in items if problem is not None]
    if not found:
        return
    first = found[0][1]
    more = f" (and {len(found) - 1} more entities)" if len(found) > 1 else ""
    raise Refused(
        first.code,
        f"{len(found)} entities cannot be {what}: {first.message}{more}; nothing was moved",
        entities=[
            {"entity_id": c.entity_id, "code": p.code.value, "message": p.message}
            for c, p in found[:problems_listed_max]
        ],
    )


def _needs_records(entity: EntityIn, plan: Plan, activity: Mapping[tuple[str, str], ActivityIn]) -> bool:
    """Whether an import leaves some of the entity's activity for the monthly records to give."""
    if entity.sector == "power":
        units = [f.facility_id for f in entity.facilities if f.kind == "power_unit"]
        return any((entity.entity_id, f) not in activity for f in units)
    if plan.kind not in (PlanKind.INDUSTRY_INTENSITY, PlanKind.ABSOLUTE_CAP):
        return False
    keys = [ENTITY_LINE, *(f.facility_id for f in entity.facilities)]
    return not any((entity.entity_id, k) in activity for k in keys)


def _output_parameter(plan: Plan, sector: str) -> str | None:
    """The monthly parameter an industrial plan measures output by."""
    if plan.industry is not None:
        return plan.industry.intensity_basis.get(sector)
    return None if plan.cap is None else plan.cap.basis


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _activity(rows: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], ActivityIn]:
    return {
        key: ActivityIn(
            generated_mwh=_decimal_or_none(r.generated_mwh),
            supplied_mwh=_decimal_or_none(r.supplied_mwh),
            heat_gj=_decimal_or_none(r.heat_gj),
            load_rate=_decimal_or_none(r.load_rate),
            heat_ratio=_decimal_or_none(r.heat_ratio),
            output_t=_decimal_or_none(r.output_t),
            verified_t=None if r.verified_t is None else int(r.verified_t),
            source=f"import {r.import_seq} row {r.row}",
        )
        for key, r in rows.items()
    }


def records_activity(engine: Engine, entity_id: str, year: int, output: str | None) -> dict[str, ActivityIn]:
    """A year's activity per unit from the MRV monthly records (annual sums; load rate hour-weighted).

    Industrial output (`output`, e.g. clinker_output_t) is summed over the entity's lines into one
    entity-level figure. An entity without monthly records has none.
    """
    from carbonmarket.mrv.records.service import Records

    try:
        report = Records(engine).annual_report(entity_id, year)
    except Refused as refused:
        if refused.refusal.code is Code.RECORD_NOT_FOUND:
            return {}
        raise
    return activity_of_parameters(report["parameters_used"], year, output)


def activity_of_parameters(
    used: Iterable[Mapping[str, Any]], year: int, output: str | None
) -> dict[str, ActivityIn]:
    """Activity per unit from monthly parameters as an annual report lists them (`parameters_used`:
    facility_id and values per month), pure: the sums and the hour-weighted load rate."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    load: dict[str, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for month in used:
        values = {k: Decimal(v) for k, v in month["values"].items()}
        facility = month["facility_id"]
        for name in ("electricity_generated_mwh", "electricity_supplied_mwh", "heat_supplied_gj"):
            if name in values:
                sums[facility][name] += values[name]
        if output and output in values:
            sums[ENTITY_LINE]["output_t"] += values[output]
        if "load_rate_fraction" in values and "operating_hours_h" in values:
            load[facility].append((values["load_rate_fraction"], values["operating_hours_h"]))
    found = {}
    for facility, values in sums.items():
        source = f"MRV monthly records {year}"
        if facility == ENTITY_LINE:
            found[facility] = ActivityIn(output_t=values["output_t"], source=source)
            continue
        found[facility] = ActivityIn(
            generated_mwh=values.get("electricity_generated_mwh"),
            supplied_mwh=values.get("electricity_supplied_mwh"),
            heat_gj=values.get("heat_supplied_gj", Decimal(0)),
            load_rate=annual_load_rate(load.get(facility, [])),
            source=source,
        )
    return found


def _check_against_roster(
    connection: Connection, rows: Sequence[ActivityRow], problems: Sequence[RowProblem]
) -> tuple[list[ActivityRow], list[RowProblem]]:
    """Rows whose entity is on the roster and whose facility is the entity's; the others as problems."""
    entities = {e.id for e in roster_store.entities_in_sectors(connection, _all_sectors())}
    owners = {
        f.id: f.entity_id for f in roster_store.active_facilities_in_sectors(connection, _all_sectors())
    }
    accepted: list[ActivityRow] = []
    rejected = list(problems)
    for row in rows:
        if row.entity_id not in entities:
            rejected.append(
                RowProblem(
                    row.row,
                    Code.ALLOCATION_ENTITY_NOT_FOUND,
                    f"row {row.row}: entity {row.entity_id} is not on the roster",
                )
            )
        elif row.facility_id and owners.get(row.facility_id) != row.entity_id:
            rejected.append(
                RowProblem(
                    row.row,
                    Code.ROSTER_FACILITY_NOT_FOUND,
                    f"row {row.row}: facility {row.facility_id} is not a running facility of {row.entity_id}",
                )
            )
        else:
            accepted.append(row)
    rejected.sort(key=lambda p: p.row)
    return accepted, rejected


def _activity_values(seq: int, row: ActivityRow) -> dict[str, Any]:
    def text(name: str) -> str | None:
        value = row.values.get(name)
        return None if value is None else format(value, "f")

    return {
        "import_seq": seq,
        "entity_id": row.entity_id,
        "facility_id": row.facility_id,
        "year": row.year,
        "generated_mwh": text("electricity_generated_mwh"),
        "supplied_mwh": text("electricity_supplied_mwh"),
        "heat_gj": text("heat_supplied_gj"),
        "load_rate": text("load_rate_fraction"),
        "heat_ratio": text("heat_supply_ratio_fraction"),
        "output_t": text("output_t"),
        "verified_t": row.verified_t,
        "row": row.row,
    }


def _available(connection: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """What each (account, vintage) has available (total − held), read in slices."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), keys_per_read):
        for key, balance in postings.balances(connection, keys[start : start + keys_per_read]).items():
            found[key] = balance.total - balance.held
    return found


def _deduction_rows(
    calc: EntityCalc, deducted_delta: int, shortfall: int, run_id: str, kind: str, at: str, year: int
) -> list[dict[str, Any]]:
    rows = []
    if deducted_delta > 0:
        rows.append((-deducted_delta, "applied", f"deducted from the {year} {kind.replace('_', '-')}"))
    elif deducted_delta < 0:
        rows.append((-deducted_delta, "returned", f"the {year} final allocation needs a smaller deduction"))
    if shortfall > 0:
        rows.append(
            (shortfall, "withdrawal_shortfall", f"the {year} excess exceeds what the holding account has")
        )
    return [
        {
            "entity_id": calc.entity_id,
            "year": year,
            "quantity_t": quantity,
            "kind": deduction_kind,
            "command_id": run_id,
            "reason": reason,
            "at": at,
        }
        for quantity, deduction_kind, reason in rows
    ]


def _central_moves(
    inputs: YearInputs, result: YearResult, kind: str, runs: Sequence[Any]
) -> list[tuple[str, str, int]]:
    """An absolute cap's auction and reserve parts (pre-allocation) and its unused free share (true-up).

    Also refuses a pre-allocation that the free share cannot hold.
    """
    moves: list[tuple[str, str, int]] = []
    for sector, split in sorted(result.cap_splits.items()):
        vintage = inputs.plans[sector].plan.year(inputs.year).vintage
        if kind == "preallocation":
            pre = sum(c.preallocation_t or 0 for c in result.entities if c.sector == sector)
            if pre > split.free_t:
                raise Refused(
                    Code.ALLOCATION_CAP_EXCEEDED,
                    f"the {sector} pre-allocation of {pre} t exceeds the free share of the cap, "
                    f"{split.free_t} t",
                )
            moves += [
                (AUCTION_ACCOUNT, vintage, split.auction_t),
                (RESERVE_ACCOUNT, vintage, split.reserve_t),
            ]
        elif not any(r.kind == "true_up" for r in runs):
            moves.append((RESERVE_ACCOUNT, vintage, result.unallocated_free_t.get(sector, 0)))
    return [m for m in moves if m[2] > 0]


def _deliver(
    connection: Connection,
    actor: Actor,
    run_id: str,
    kind: str,
    at: str,
    deliveries: Sequence[tuple[str, str, int]],
    central: Sequence[tuple[str, str, int]],
    inputs: YearInputs,
) -> tuple[list[str], int]:
    """Issue each vintage's total into CN-ISSUANCE, then move it to the accounts in linked batches."""
    by_vintage: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for entity_id, vintage, quantity in deliveries:
        by_vintage[vintage].append((f"{entity_id}-H", quantity))
    for account, vintage, quantity in central:
        by_vintage[vintage].append((account, quantity))
    ceilings = {y.vintage: y.vintage_ceiling_t for p in inputs.plans.values() for y in p.plan.years}
    transactions: list[str] = []
    issued = 0
    type_ = "allocation" if kind == "preallocation" else "true_up"
    for vintage, moves in sorted(by_vintage.items()):
        total = sum(q for _, q in moves)
        postings.ensure_instrument(
            connection, actor, vintage, at, cap=ceilings.get(vintage), source=f"allocation run {run_id}"
        )
        issue_id = postings.internal_id("alloc", f"{run_id}:{kind[:3]}:{vintage}:issue")
        postings.issue(connection, actor, issue_id, vintage, total, ISSUANCE_ACCOUNT, at)
        transactions.append(issue_id)
        issued += total
        for number, start in enumerate(range(0, len(moves), moves_per_batch), start=1):
            batch_id = postings.internal_id("alloc", f"{run_id}:{kind[:3]}:{vintage}:{number}")
            batch = [
                Move(ISSUANCE_ACCOUNT, account, vintage, q)
                for account, q in moves[start : start + moves_per_batch]
            ]
            postings.move(connection, actor, batch_id, type_, batch, at)
            transactions.append(batch_id)
    return transactions, issued


def _withdraw(
    connection: Connection, actor: Actor, run_id: str, at: str, withdrawals: Sequence[tuple[str, str, int]]
) -> list[str]:
    """Take back excess allowances by order of the regulator (true-up "refund the excess")."""
    transactions = []
    for number, start in enumerate(range(0, len(withdrawals), moves_per_batch), start=1):
        batch = [
            Move(f"{entity_id}-H", WITHDRAWAL_ACCOUNT, vintage, q)
            for entity_id, vintage, q in withdrawals[start : start + moves_per_batch]
        ]
        batch_id = postings.internal_id("alloc", f"{run_id}:withdraw:{number}")
        postings.move(connection, actor, batch_id, "withdrawal", batch, at, Authority.ORDER)
        transactions.append(batch_id)
    return transactions


def _line_rows(result: YearResult, run_id: str, kind: str, year: int) -> list[dict[str, Any]]:
    rows = []
    for calc in result.entities:
        if kind == "preallocation":
            lines = [("preallocation", line) for line in calc.pre_lines]
        else:
            lines = [("unit", line) for line in calc.unit_lines]
            if calc.final_line is not None:
                lines.append(("final", calc.final_line))
        for stage, line in lines:
            rows.append(
                {
                    "run_id": run_id,
                    "entity_id": calc.entity_id,
                    "facility_id": line.facility_id,
                    "year": year,
                    "stage": stage,
                    "sector": calc.sector,
                    "category": line.category,
                    "plan_id": calc.plan_id,
                    "plan_version": calc.plan_version,
                    "inputs": json.dumps(dict(line.inputs), sort_keys=True, default=str),
                    "terms": json.dumps(dict(line.terms), sort_keys=True, default=str),
                    "result_t": line.result_t,
                }
            )
    return rows


def _line_json(row: Any) -> dict[str, Any]:
    return {
        "stage": row.stage,
        "facility_id": row.facility_id or None,
        "category": row.category,
        "plan": row.plan_id,
        "plan_version": row.plan_version,
        "inputs": json.loads(row.inputs),
        "terms": json.loads(row.terms),
        "result_t": row.result_t,
    }


def _entity_year_json(row: Any) -> dict[str, Any]:
    return {
        "year": row.year,
        "sector": row.sector,
        "plan": row.plan_id,
        "plan_version": row.plan_version,
        "vintage": row.vintage,
        "preallocated_t": row.preallocated_t,
        "final_t": row.final_t,
        "delivered_t": row.delivered_t,
        "deducted_t": row.deducted_t,
        "status": row.status,
        "run": row.run_id,
        "updated_at": row.updated_at,
    }
