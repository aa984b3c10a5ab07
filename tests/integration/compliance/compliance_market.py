"""A small market for compliance tests, built through the real parts: roster entities, verified
emissions through MRV verification, registry accounts and allowances through `registry.postings`.

Entities (roster province in brackets): E1 and E2 (Guangdong), E3 (Hubei). Each has `<id>-H` and
`<id>-T`. Verified 2024 emissions: E1 1,000,000 t, E2 200,000 t, E3 50,000 t.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from carbonmarket.compliance.model import CcerFacts
from carbonmarket.compliance.service import Compliance
from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.db.command import run_command
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.verification.service import Verification
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from carbonmarket.registry.service import Registry

PASSWORD = "correct horse battery"
MEE = Actor("mee", Role.REGULATOR)
VERIFIER = Actor("vera", Role.VERIFIER)
PROVINCES = {"E1": "Guangdong", "E2": "Guangdong", "E3": "Hubei"}
VERIFIED_2024 = {"E1": 1_000_000, "E2": 200_000, "E3": 50_000}
# 2025-06-01 noon UTC: 2024's surrender window is open (deadline 2025-12-31).
SURRENDER_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


class NoReports:
    """No monthly records in these tests: verification keeps no reported figure."""

    def reported_emissions(self, entity_id: str, year: int) -> int | None:
        return None


class Facts:
    """CCER project facts as the voluntary part will give them (it is built alongside this part)."""

    def __init__(self) -> None:
        self.by_instrument: dict[str, CcerFacts] = {
            # Registered under the 2023 Measures: eligible.
            "CCER-WIND01-2024": CcerFacts(date(2024, 11, 5), "energy", False),
            # An old-registry project (before 2017-03-14): usable until 2024-12-31 only.
            "CCER-OLD01-2016": CcerFacts(date(2015, 6, 1), "energy", False),
            # A project in a covered sector.
            "CCER-STEEL1-2024": CcerFacts(date(2024, 8, 1), "steel", False),
        }

    def facts(self, connection: Connection, instrument_id: str) -> CcerFacts | None:
        return self.by_instrument.get(instrument_id)


class Prices:
    """Monthly average prices in fen per tonne, as the exchange part will publish them."""

    def __init__(self, figures: dict[tuple[int, int], int] | None = None) -> None:
        self.figures = figures or {}

    def monthly_average_price_fen(self, connection: Connection, year: int, month: int) -> int | None:
        return self.figures.get((year, month))


@dataclass
class Market:
    """The pieces a compliance test needs."""

    engine: Engine
    registry: Registry
    compliance: Compliance
    clock: FixedClock
    facts: Facts
    prices: Prices

    def balance(self, account: str, instrument: str) -> int:
        with self.engine.connect() as connection:
            return postings.balances(connection, [(account, instrument)])[(account, instrument)].total

    def deliver(self, command_id: str, moves: Iterable[tuple[str, str, int]]) -> None:
        """Issue and deliver units: (account, instrument, quantity), from CN-ISSUANCE."""
        wanted = list(moves)

        def work(connection: Connection, at: str) -> dict[str, Any]:
            totals: dict[str, int] = {}
            for _, instrument, quantity in wanted:
                totals[instrument] = totals.get(instrument, 0) + quantity
            for instrument, quantity in sorted(totals.items()):
                postings.ensure_instrument(connection, LOCAL_OPERATOR, instrument, at)
                postings.issue(
                    connection,
                    LOCAL_OPERATOR,
                    f"{command_id}-{instrument}",
                    instrument,
                    quantity,
                    "CN-ISSUANCE",
                    at,
                )
            postings.move(
                connection,
                LOCAL_OPERATOR,
                f"{command_id}-d",
                "allocation",
                [Move("CN-ISSUANCE", account, instrument, q) for account, instrument, q in wanted],
                at,
            )
            return {}

        done(run_command(self.engine, self.clock, LOCAL_OPERATOR, "test.deliver", command_id, {}, work))


def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are made for their roles, not to sign in: a light argon2 setting saves seconds."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("carbonmarket.identity.service._hasher", PasswordHasher(time_cost=1, memory_cost=64))


def build_market(
    engine: Engine,
    verified: dict[str, int] | None = None,
    year: int = 2024,
    users: Iterable[tuple[str, str]] = (),
) -> Market:
    """Central accounts, the roster, verified emissions of `year`, entity accounts and users."""
    figures = VERIFIED_2024 if verified is None else verified
    registry = Registry(engine)
    registry.define_defaults(LOCAL_OPERATOR)
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    identity = Identity(engine, "compliance-test-secret-0123456789abcdef")
    for username, role in [("mee", "regulator"), ("vera", "verifier"), *users]:
        done(identity.add_user(LOCAL_OPERATOR, username, PASSWORD, role))
    roster = Roster(engine)
    for entity in figures:
        province = PROVINCES.get(entity, "Guangdong")
        done(roster.add_entity(LOCAL_OPERATOR, entity, f"Plant {entity}", "power", province, None))
        done(registry.add_holder(LOCAL_OPERATOR, entity, f"Plant {entity}", "entity"))
        done(registry.open_account(LOCAL_OPERATOR, f"{entity}-H", entity, "holding"))
        done(registry.open_account(LOCAL_OPERATOR, f"{entity}-T", entity, "trading"))
    verify_all(engine, figures, year)
    clock = FixedClock(SURRENDER_TIME)
    facts, prices = Facts(), Prices()
    compliance = Compliance(engine, clock=clock, facts=facts, prices=prices)
    return Market(engine, registry, compliance, clock, facts, prices)


def verify_all(engine: Engine, figures: dict[str, int], year: int) -> None:
    """Take each entity's verification of `year` from assignment to acceptance."""
    verification = Verification(
        engine, clock=FixedClock(datetime(year + 1, 4, 1, 2, 0, tzinfo=UTC)), reports=NoReports()
    )
    if verification.bodies() == []:
        done(verification.apply_body(MEE, "B1", "Body B1", "Guangdong"))
        done(verification.qualify(MEE, "q-B1", "B1", "meets the entry requirements"))
        done(verification.add_verifier(MEE, "v-vera", "vera", "B1"))
    for entity, figure in figures.items():
        vid = f"V-{entity}-{year}"
        done(verification.assign(MEE, vid, entity, year, "B1"))
        done(verification.start(VERIFIER, f"{vid}-start", vid))
        done(verification.submit(VERIFIER, f"{vid}-submit", vid, figure))
        done(verification.accept(MEE, f"{vid}-accept", vid))
