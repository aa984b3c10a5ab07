"""No double issuance: random sequences of CCER issuance, transfers between holding and trading accounts
and cancellations keep every serial block disjoint, account for every issued serial exactly once, and
keep `Registry(engine).reconcile().ok` — checked after every step (SQLite; the lifecycle tests cover
PostgreSQL)."""

from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.results import Code, Done, Refusal
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables import serial_blocks
from carbonmarket.db.tables_voluntary import ccer_issuances
from carbonmarket.registry.service import Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "voluntary"))
from ccer_market import MEE, OWNER, make_market, set_up_market

REPORTS = ["Q1", "Q2", "Q3", "Q4"]
PERIODS = {
    "Q1": ("2024-01-01", "2024-03-31"),
    "Q2": ("2024-04-01", "2024-06-30"),
    "Q3": ("2024-07-01", "2024-09-30"),
    "Q4": ("2024-10-01", "2024-12-31"),
}
INSTRUMENT = "CCER-PROP-2024"
OWNER_RIGHTS = frozenset({(a, Permission.INITIATE) for a in ("OWN1-H", "OWN1-T")})
OWNER_ALL = Actor("owner1", Role.PROJECT_OWNER, rights=OWNER_RIGHTS)
OWNER2 = Actor("owner2", Role.PROJECT_OWNER, rights=frozenset({("OWN2-H", Permission.INITIATE)}))
ACCOUNTS = ["OWN1-H", "OWN1-T", "OWN2-H"]
ACTORS = {"OWN1-H": OWNER_ALL, "OWN1-T": OWNER_ALL, "OWN2-H": OWNER2}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A market with project PROP registered and four quarterly reports registered, not yet issued."""
    path = tmp_path_factory.mktemp("ccer-prop") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    set_up_market(engine)
    market = make_market(engine)
    market.register_project("PROP")
    for report in REPORTS:
        start, end = PERIODS[report]
        # Small, distinct verified amounts keep blocks easy to read: 100, 200, 300, 400 t.
        market.register_report("PROP", report, start, end, verified_t=100 * (REPORTS.index(report) + 1))
    engine.dispose()
    return path


issue_op = st.tuples(st.just("issue"), st.sampled_from(REPORTS), st.integers(1, 450))
move_op = st.tuples(
    st.just("move"), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(1, 300)
)
cancel_op = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(1, 300))
operations = st.lists(st.one_of(issue_op, move_op, cancel_op), min_size=1, max_size=12)


def check_invariants(engine: Any, issued: dict[str, int]) -> None:
    with engine.connect() as connection:
        blocks = sorted(
            (r.first_serial, r.last_serial)
            for r in connection.execute(
                select(serial_blocks).where(serial_blocks.c.instrument_id == INSTRUMENT)
            )
        )
        issuances = sorted(
            (r.first_serial, r.last_serial)
            for r in connection.execute(
                select(ccer_issuances).where(ccer_issuances.c.instrument_id == INSTRUMENT)
            )
        )
    for (_, last), (first, _) in itertools.pairwise(blocks):
        assert last < first, f"serial blocks overlap: {blocks}"
    for (_, last), (first, _) in itertools.pairwise(issuances):
        assert last < first, f"issued blocks overlap: {issuances}"
    # Every issued serial sits in exactly one account's block: the blocks tile 1..total issued.
    assert sum(b - a + 1 for a, b in blocks) == sum(issued.values())
    assert sum(b - a + 1 for a, b in issuances) == sum(issued.values())
    assert Registry(engine).reconcile().ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_issuance_transfer_and_cancellation_keep_serials_disjoint(
    template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[Any, ...]]
) -> None:
    path = tmp_path_factory.mktemp("ccer-example") / "market.db"
    shutil.copyfile(template, path)
    engine = make_engine(f"sqlite:///{path}")
    market = make_market(engine)
    verified = {r: 100 * (REPORTS.index(r) + 1) for r in REPORTS}
    issued: dict[str, int] = {}
    try:
        for step, op in enumerate(ops):
            if op[0] == "issue":
                _, report, quantity = op
                outcome = market.ccer.issue(MEE, f"i{step}", report, quantity)
                if report in issued:
                    assert isinstance(outcome, Refusal) and outcome.code is Code.CCER_ALREADY_ISSUED
                elif quantity > verified[report]:
                    assert isinstance(outcome, Refusal) and outcome.code is Code.CCER_ISSUANCE_ABOVE_VERIFIED
                else:
                    assert isinstance(outcome, Done), outcome
                    issued[report] = quantity
            elif op[0] == "move":
                _, source, target, quantity = op
                market.registry.transfer(ACTORS[source], f"m{step}", source, target, INSTRUMENT, quantity)
            else:
                _, source, quantity = op
                market.ccer.cancel(
                    ACTORS[source],
                    f"c{step}",
                    account_id=source,
                    instrument_id=INSTRUMENT,
                    quantity=quantity,
                    kind="voluntary",
                    claim="organisation",
                    beneficiary="Example Co",
                    purpose="2024 footprint",
                )
            check_invariants(engine, issued)
    finally:
        engine.dispose()
    assert OWNER.username == "owner1"
