"""A small synthetic market for allocation tests: roster, verified emissions, plans, activity data.

Everything goes through the real use cases (roster, verification, registry, allocation), so the
tests exercise the same paths a regulator's commands do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from carbonmarket.allocation.service import Allocation, packaged_plan_text
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome, Refusal
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.verification.service import Verification
from carbonmarket.registry.service import Registry

ACTIVITY_HEADER = (
    "entity_id,facility_id,year,electricity_generated_mwh,electricity_supplied_mwh,heat_supplied_gj,"
    "load_rate_fraction,heat_supply_ratio_fraction,output_t,verified_emissions_t"
)


def done(outcome: Outcome) -> dict[str, Any]:
    """The data of a command that must have succeeded."""
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome) -> Refusal:
    """The refusal of a command that must have been refused."""
    assert isinstance(outcome, Refusal), outcome
    return outcome


@dataclass
class Market:
    """The services over one database, with helpers to populate it."""

    engine: Engine
    registry: Registry
    roster: Roster
    verification: Verification
    allocation: Allocation

    def power_entity(
        self, entity_id: str, *units: tuple[str, str, str, str], province: str = "Hebei"
    ) -> None:
        """An entity with power units given as (facility id, fuel, rated MW, cooling)."""
        done(self.roster.add_entity(LOCAL_OPERATOR, entity_id, f"{entity_id} Power Co.", "power", province))
        for facility_id, fuel, capacity, cooling in units:
            done(
                self.roster.add_facility(
                    LOCAL_OPERATOR, facility_id, entity_id, fuel=fuel, capacity_mw=capacity, cooling=cooling
                )
            )

    def industry_entity(self, entity_id: str, sector: str, line: str, province: str = "Hebei") -> None:
        """An industrial entity with one process line `<entity>-L1`."""
        done(self.roster.add_entity(LOCAL_OPERATOR, entity_id, f"{entity_id} Co.", sector, province))
        done(self.roster.add_facility(LOCAL_OPERATOR, f"{entity_id}-L1", entity_id, line_type=line))

    def verify(self, entity_id: str, year: int, tonnes: int) -> None:
        """Verified emissions through the real verification life (assign, start, submit, accept)."""
        body = f"VB-{year}"
        if not any(b["body"] == body for b in self.verification.bodies()):
            done(self.verification.apply_body(LOCAL_OPERATOR, body, f"Verifier {year}"))
            done(self.verification.qualify(LOCAL_OPERATOR, f"q-{body}", body, "meets the entry rules"))
        vid = f"V-{entity_id}-{year}"
        done(self.verification.assign(LOCAL_OPERATOR, vid, entity_id, year, body, mode="full"))
        done(self.verification.start(LOCAL_OPERATOR, f"{vid}-s", vid))
        done(self.verification.submit(LOCAL_OPERATOR, f"{vid}-u", vid, tonnes))
        done(self.verification.accept(LOCAL_OPERATOR, f"{vid}-a", vid))

    def publish(self, plan_id: str, command_id: str | None = None) -> dict[str, Any]:
        """Publish a packaged plan."""
        return done(
            self.allocation.publish_plan(
                LOCAL_OPERATOR, command_id or f"pub-{plan_id}", packaged_plan_text(plan_id)
            )
        )

    def activity(self, *rows: str, command_id: str | None = None) -> dict[str, Any]:
        """Import activity rows (CSV lines under the full header)."""
        data = "\n".join([ACTIVITY_HEADER, *rows]).encode()
        return done(self.allocation.import_activity(LOCAL_OPERATOR, data, "activity.csv", command_id))

    def holding(self, entity_id: str, vintage: str) -> int:
        """What the entity's holding account has of a vintage."""
        return int(self.registry.balance(LOCAL_OPERATOR, f"{entity_id}-H")["balances"].get(vintage, 0))

    def reconciles(self) -> bool:
        """The ledger's reconciliation (cached balances = replay, supply = issued − retired)."""
        return bool(self.registry.reconcile().ok)


def market(engine: Engine) -> Market:
    """The services over `engine`, with the packaged instruments and central accounts."""
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    return Market(engine, registry, Roster(engine), Verification(engine), Allocation(engine))
