"""Roster use cases: add and change entities and facilities, import emission files, list inclusion.

Every write is one command (`run_command`): checked, applied in one transaction, audited, and
idempotent by its id. Entity and facility ids are their own command ids, as holder ids are in the
registry; a change names its command id; an import's id is, unless the caller gives one, derived
from the file's sha256, so the same file imported twice is stored once (`exists`).

Other contexts read the roster through `Roster(engine).entity(entity_id)` and `.facility(facility_id)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused
from carbonmarket.db.command import record_refusal, run_command, run_read
from carbonmarket.mrv.roster import store
from carbonmarket.mrv.roster.importer import ParsedRoster, read_roster_file
from carbonmarket.mrv.roster.model import (
    Entity,
    EntityStatus,
    Facility,
    change_entity,
    change_facility,
    check_text,
    creation_diff,
    is_included,
    new_entity,
    new_facility,
    parse_sector,
    parse_status,
    parse_threshold,
    parse_year,
    reason_length_max,
    roster_rules,
)

# Who keeps the roster: the registry's operators and the regulator (provincial authorities act
# through the regulator role until issue 3's review scopes arrive).
KEEPERS = {Role.REGULATOR, Role.REGISTRY_OPERATOR}
page_size_max = 500
history_rows_max = 1000
file_name_length_max = 200
IMPORT = "roster.import"


class Roster:
    """The roster's use cases over one database."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # --- entities -------------------------------------------------------------------------------

    def add_entity(
        self,
        actor: Actor,
        entity_id: str,
        name: str,
        sector: str,
        province: str,
        city: str | None = None,
        inclusion_year: int | str | None = None,
        status: str = EntityStatus.ACTIVE.value,
        reason: str = "listed on the roster",
    ) -> Outcome:
        """Put a key emitting entity on the roster; its creation is the first row of its history."""
        body = {
            "entity_id": entity_id,
            "name": name,
            "sector": sector,
            "province": province,
            "city": city,
            "inclusion_year": inclusion_year,
            "status": status,
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, KEEPERS, "adding an entity to the roster")
            entity = new_entity(entity_id, name, sector, province, city, inclusion_year, status)
            why = check_text(reason, "reason", reason_length_max)
            if store.get_entity(connection, entity.id) is not None:
                raise Refused(
                    Code.EXISTS_WITH_DIFFERENT_FIELDS, f"entity {entity.id!r} is already on the roster"
                )
            store.insert_entity(connection, entity, at)
            store.append_change(
                connection,
                entity_id=entity.id,
                facility_id=None,
                kind="entity.add",
                changes=creation_diff(entity.fields()),
                reason=why,
                actor=actor.username,
                command_id=entity_id,
                at=at,
            )
            return {"entity": entity.as_dict()}

        return run_command(self.engine, self.clock, actor, "roster.entity.add", entity_id, body, work)

    def change_entity(
        self, actor: Actor, command_id: str, entity_id: str, updates: Mapping[str, Any], reason: str
    ) -> Outcome:
        """Change an entity's fields or status; the old values stay in its history with the reason."""
        body = {
            "entity_id": entity_id,
            "set": {k: _jsonable(v) for k, v in updates.items()},
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, KEEPERS, "changing the roster")
            why = check_text(reason, "reason", reason_length_max)
            entity, version = self._entity(connection, entity_id, lock=True)
            changed, diff = change_entity(entity, updates)
            if "sector" in diff and store.count_active_facilities(connection, entity.id):
                raise Refused(
                    Code.ROSTER_FACILITY_SECTOR_MISMATCH,
                    f"entity {entity.id!r} has running {entity.sector.value} facilities; close them before "
                    "changing its sector",
                )
            store.update_entity(connection, changed, version, at)
            store.append_change(
                connection,
                entity_id=entity.id,
                facility_id=None,
                kind="entity.change",
                changes=diff,
                reason=why,
                actor=actor.username,
                command_id=command_id,
                at=at,
            )
            return {"entity": changed.as_dict(), "changes": diff, "version": version + 1}

        return run_command(self.engine, self.clock, actor, "roster.entity.change", command_id, body, work)

    # --- facilities -----------------------------------------------------------------------------

    def add_facility(
        self,
        actor: Actor,
        facility_id: str,
        entity_id: str,
        *,
        name: str | None = None,
        fuel: str | None = None,
        capacity_mw: str | int | None = None,
        cooling: str | None = None,
        plan: str | None = None,
        line_type: str | None = None,
        capacity_t_per_year: int | str | None = None,
        reason: str = "facility recorded",
    ) -> Outcome:
        """Record a power unit (its category derived from fuel and rated power) or a process line."""
        body = {
            "facility_id": facility_id,
            "entity_id": entity_id,
            "name": name,
            "fuel": fuel,
            "capacity_mw": None if capacity_mw is None else str(capacity_mw),
            "cooling": cooling,
            "plan": plan,
            "line_type": line_type,
            "capacity_t_per_year": capacity_t_per_year,
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, KEEPERS, "adding a facility to the roster")
            why = check_text(reason, "reason", reason_length_max)
            entity, _ = self._entity(connection, entity_id, lock=True)
            facility = new_facility(
                facility_id,
                entity,
                name=name,
                fuel=fuel,
                capacity_mw=capacity_mw,
                cooling=cooling,
                plan=plan,
                line_type=line_type,
                capacity_t_per_year=capacity_t_per_year,
            )
            if store.get_facility(connection, facility.id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"facility {facility.id!r} already exists")
            store.insert_facility(connection, facility, at)
            store.append_change(
                connection,
                entity_id=entity.id,
                facility_id=facility.id,
                kind="facility.add",
                changes=creation_diff(facility.fields()),
                reason=why,
                actor=actor.username,
                command_id=facility_id,
                at=at,
            )
            return {"facility": _facility_json(facility)}

        return run_command(self.engine, self.clock, actor, "roster.facility.add", facility_id, body, work)

    def change_facility(
        self, actor: Actor, command_id: str, facility_id: str, updates: Mapping[str, Any], reason: str
    ) -> Outcome:
        """Change a facility (capacity, fuel, cooling, status ...); its category follows the new values."""
        body = {
            "facility_id": facility_id,
            "set": {k: _jsonable(v) for k, v in updates.items()},
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, KEEPERS, "changing the roster")
            why = check_text(reason, "reason", reason_length_max)
            found = store.get_facility(connection, facility_id, lock=True)
            if found is None:
                raise Refused(
                    Code.ROSTER_FACILITY_NOT_FOUND, f"facility {facility_id!r} is not on the roster"
                )
            facility, version = found
            entity, _ = self._entity(connection, facility.entity_id)
            if entity.status is EntityStatus.REMOVED:
                raise Refused(
                    Code.ROSTER_ENTITY_REMOVED,
                    f"entity {entity.id!r} is removed; list it again before changing it",
                )
            changed, diff = change_facility(facility, updates)
            store.update_facility(connection, changed, version, at)
            store.append_change(
                connection,
                entity_id=entity.id,
                facility_id=facility.id,
                kind="facility.change",
                changes=diff,
                reason=why,
                actor=actor.username,
                command_id=command_id,
                at=at,
            )
            return {"facility": _facility_json(changed), "changes": diff, "version": version + 1}

        return run_command(self.engine, self.clock, actor, "roster.facility.change", command_id, body, work)

    # --- import ---------------------------------------------------------------------------------

    def import_file(
        self,
        actor: Actor,
        data: bytes,
        file_name: str,
        year: int | str | None = None,
        threshold_t: int | str | None = None,
        command_id: str | None = None,
    ) -> Outcome:
        """Import a long or wide emissions file in one transaction; answer with inclusion for one year.

        The file's valid figures for every year are stored; unusable cells are reported by row and
        never stop the import. The answer's `rows`, `included`, `excluded` and `rejected` are for
        `year` (default: the file's latest) at `threshold_t` (default: 26,000 t [seed]). Without a
        `command_id` the command is the file: the same bytes again, from anyone, answer `exists`
        with the summary for the year now asked.
        """
        digest = hashlib.sha256(data).hexdigest()
        chosen_id = command_id or derived_id("roster-import", digest)
        body = {"sha256": digest}
        try:
            require_role(actor, KEEPERS, "importing a roster file")
            check_id(chosen_id, what="command id")
            parsed = read_roster_file(data, file_name)
            summary_year = parsed.check_year(None if year is None else parse_year(year))
            threshold = parse_threshold(threshold_t)
        except Refused as refused:
            # Refused before any transaction: still recorded, as every refusal is (rule 11).
            record_refusal(self.engine, self.clock, actor, IMPORT, chosen_id, body, refused)
            return refused.refusal
        name = (file_name or "upload").strip()[-file_name_length_max:] or "upload"
        if command_id is None:
            # Without an id of the caller's, the file is the command: whoever imported these bytes
            # first, the import exists. A caller's own id imports again on purpose (its figures
            # become the newest), with the usual idempotency of that id.
            earlier = run_read(self.engine, lambda connection: store.import_of_file(connection, digest))
            if earlier is not None:
                record = _import_record(earlier.command_id, earlier.file_name, parsed)
                return Done("exists", {**record, **parsed.summary(summary_year, threshold)})

        def work(connection: Connection, at: str) -> dict[str, Any]:
            seq = store.insert_import(
                connection,
                command_id=chosen_id,
                file_name=name,
                sha256=digest,
                layout=parsed.layout.value,
                encoding=parsed.encoding,
                rows=parsed.rows,
                values_stored=len(parsed.values),
                cells_rejected=len(parsed.problems),
                actor=actor.username,
                at=at,
            )
            store.insert_emissions(connection, seq, parsed.values)
            return _import_record(chosen_id, name, parsed)

        outcome = run_command(self.engine, self.clock, actor, IMPORT, chosen_id, body, work)
        if isinstance(outcome, Refusal):
            return outcome
        return Done(outcome.result, {**outcome.data, **parsed.summary(summary_year, threshold)})

    # --- queries --------------------------------------------------------------------------------

    def entity(self, entity_id: str) -> dict[str, Any]:
        """An entity: entity_id, name, sector, province, city, status, inclusion_year; refuses unknown ids."""

        def read(connection: Connection) -> dict[str, Any]:
            entity, _ = self._entity(connection, entity_id)
            return entity.as_dict()

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def facility(self, facility_id: str) -> dict[str, Any]:
        """A facility: facility_id, entity_id, sector, kind, category, capacity_mw (Decimal), cooling, ..."""

        def read(connection: Connection) -> dict[str, Any]:
            found = store.get_facility(connection, facility_id)
            if found is None:
                raise Refused(
                    Code.ROSTER_FACILITY_NOT_FOUND, f"facility {facility_id!r} is not on the roster"
                )
            return found[0].as_dict()

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def entity_detail(self, entity_id: str) -> dict[str, Any]:
        """An entity with its facilities, its history of changes and its reported emissions per year."""

        def read(connection: Connection) -> dict[str, Any]:
            entity, version = self._entity(connection, entity_id)
            row = store.entity_row(connection, entity_id)
            assert row is not None
            return {
                "entity": {
                    **entity.as_dict(),
                    "version": version,
                    "created_at": row.created_at,
                    "updated_at": row.updated_at,
                },
                "facilities": [_facility_json(f) for f in store.facilities_of(connection, entity_id)],
                "history": store.history(connection, entity_id, history_rows_max),
                "emissions": store.emissions_of(connection, entity_id),
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def entities(
        self,
        text: str | None = None,
        sector: str | None = None,
        province: str | None = None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """One page of the roster, searched by id or name and filtered by sector, province, status."""
        checked_sector = None if not sector else parse_sector(sector).value
        checked_status = None if not status else parse_status(status).value
        page = max(page, 1)
        page_size = min(max(page_size, 1), page_size_max)

        def read(connection: Connection) -> dict[str, Any]:
            rows, total = store.list_entities(
                connection, text, checked_sector, province, checked_status, page_size, (page - 1) * page_size
            )
            return {
                "entities": [_entity_row_json(r) for r in rows],
                "page": page,
                "page_size": page_size,
                "total": total,
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    def inclusion(
        self, year: int | str, threshold_t: int | str | None = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """Who is in for a year at a threshold, from every import (the newest figure per entity counts).

        `entities` lists the included ones, largest first, a page at a time; `on_roster` says
        whether each is on the roster already, so a regulator sees whom to list.
        """
        checked_year = parse_year(year)
        threshold = parse_threshold(threshold_t)
        limit = min(max(limit, 0), page_size_max)
        offset = max(offset, 0)

        def read(connection: Connection) -> dict[str, Any]:
            rows = store.reported(connection, checked_year)
            included = [r for r in rows if is_included(r.emissions_t, threshold)]
            return {
                "year": checked_year,
                "threshold_t": threshold,
                "threshold_source": roster_rules().threshold_source
                if threshold_t is None
                else "given by the caller",
                "reported": len(rows),
                "reported_t": sum(r.emissions_t for r in rows),
                "included": len(included),
                "included_t": sum(r.emissions_t for r in included),
                "excluded": len(rows) - len(included),
                "on_roster": sum(1 for r in included if r.status is not None),
                "entities": [
                    {
                        "entity": r.entity_ref,
                        "emissions_t": r.emissions_t,
                        "on_roster": r.status is not None,
                        "name": r.name,
                        "status": r.status,
                    }
                    for r in included[offset : offset + limit]
                ],
                "limit": limit,
                "offset": offset,
            }

        result: dict[str, Any] = run_read(self.engine, read)
        return result

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _entity(connection: Connection, entity_id: str, *, lock: bool = False) -> tuple[Entity, int]:
        """An entity and its version, or the refusal that it is not on the roster."""
        found = store.get_entity(connection, entity_id, lock=lock)
        if found is None:
            raise Refused(Code.ROSTER_ENTITY_NOT_FOUND, f"entity {entity_id!r} is not on the roster")
        return found


def _entity_row_json(row: Any) -> dict[str, Any]:
    """A listed entity row as JSON."""
    return {
        "entity_id": row.id,
        "name": row.name,
        "sector": row.sector,
        "province": row.province,
        "city": row.city,
        "status": row.status,
        "inclusion_year": row.inclusion_year,
        "version": row.version,
    }


def _facility_json(facility: Facility) -> dict[str, Any]:
    """A facility as JSON: capacity in MW as decimal text, so no float ever rounds it."""
    return {**facility.as_dict(), **facility.fields()}


def _import_record(command_id: str, file_name: str, parsed: ParsedRoster) -> dict[str, Any]:
    """What an import stored, kept as the command's first result."""
    return {
        "import": command_id,
        "file": file_name,
        "sha256": parsed.sha256,
        "layout": parsed.layout.value,
        "encoding": parsed.encoding,
        "years": list(parsed.years),
        "values_stored": len(parsed.values),
        "cells_rejected": len(parsed.problems),
    }


def _jsonable(value: Any) -> Any:
    """A value as it goes into a command's body (Decimal capacities as text)."""
    return value if value is None or isinstance(value, bool | int | str) else str(value)
