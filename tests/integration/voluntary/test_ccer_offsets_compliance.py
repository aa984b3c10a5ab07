"""A CCER issued by the voluntary registry offsets an entity's obligation, up to 5% (Measures Art. 29).

The whole path across three contexts on SQLite and PostgreSQL: a project is registered and its
reductions issued as serial blocks (voluntary), the credits move to a key emitting entity
(registry), and the entity surrenders them with allowances for its verified emissions
(compliance, reading the credit's facts from the voluntary registry itself, not a stand-in).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from ccer_market import MEE, Market, done, refused

from carbonmarket.compliance.service import Compliance
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.roster.service import Roster

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compliance"))
from compliance_market import PASSWORD, Prices, verify_all

CCER = "CCER-W1-2024"
VERIFIED_T = 100_000


def test_an_issued_ccer_offsets_five_percent_of_an_obligation_and_no_more(market: Market) -> None:
    market.register_project("W1")
    market.register_report("W1", "W1-R", "2024-01-01", "2024-12-31")
    done(market.ccer.issue(MEE, "i", "W1-R"))
    registry = market.registry
    done(Roster(market.engine).add_entity(LOCAL_OPERATOR, "E1", "Plant E1", "power", "Jiangsu", None))
    done(registry.add_holder(LOCAL_OPERATOR, "E1", "Plant E1", "entity"))
    done(registry.open_account(LOCAL_OPERATOR, "E1-H", "E1", "holding"))
    done(registry.transfer(LOCAL_OPERATOR, "ccer-sale", "OWN1-H", "E1-H", CCER, 6_000))
    done(registry.issue(LOCAL_OPERATOR, "cea24", "CEA24", 95_000, "CN-ISSUANCE"))
    done(registry.transfer(LOCAL_OPERATOR, "alloc", "CN-ISSUANCE", "E1-H", "CEA24", 95_000))
    identity = Identity(market.engine, "offsets-test-secret-0123456789abcdef0123")
    done(identity.add_user(LOCAL_OPERATOR, "vera", PASSWORD, "verifier"))
    verify_all(market.engine, {"E1": VERIFIED_T}, 2024)

    clock = FixedClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
    compliance = Compliance(market.engine, clock=clock, prices=Prices({(2025, 12): 8_000}))
    done(compliance.open_year(LOCAL_OPERATOR, "open-2024", 2024))
    # 5% of 100,000 t is 5,000 t of CCER (vector 12); one tonne more is refused, nothing moves.
    refused(
        compliance.surrender(LOCAL_OPERATOR, "too-many", "E1", 2024, [(CCER, 5_001)]),
        Code.COMPLIANCE_OFFSET_LIMIT_EXCEEDED,
    )
    assert registry.balance(LOCAL_OPERATOR, "E1-H")["balances"][CCER] == 6_000
    done(compliance.surrender(LOCAL_OPERATOR, "offset", "E1", 2024, [(CCER, 5_000), ("CEA24", 95_000)]))
    trace = compliance.trace("E1", 2024)
    assert (trace["status"], trace["ccer_t"], trace["owed_t"]) == ("met", 5_000, 0)
    # The credits left circulation: 5,000 of the project's serials now sit in the surrender account.
    supply = {row["instrument"]: row for row in registry.instruments()}[CCER]
    assert supply["retired"] == 5_000
    report = registry.reconcile()
    assert report.ok, report.mismatches
