"""Property tests of surrender: whatever sequence of surrenders entities attempt, none surrenders more
than it owes, CCERs never pass 5% of the obligation, the records agree with the ledger, and the
ledger reconciles. First on the pure rules (many sequences), then on a real database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from carbonmarket.compliance.model import Position, check_surrender, offset_cap
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Refusal, Refused
from carbonmarket.db.tables_compliance import compliance_surrenders

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration" / "compliance"))
from compliance_market import MEE, build_market, cheap_hashes, done

attempts = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400_000), st.integers(min_value=0, max_value=30_000)),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(obligation=st.integers(min_value=0, max_value=1_000_000), steps=attempts)
def test_checked_surrenders_never_pass_the_obligation_or_the_ccer_cap(
    obligation: int, steps: list[tuple[int, int]]
) -> None:
    position = Position(obligation, 0, 0)
    cap = offset_cap(obligation, 5)
    for allowances, ccer in steps:
        try:
            position = check_surrender(position, allowances, ccer, 5)
        except Refused:
            continue
        assert position.surrendered <= obligation
        assert position.ccer <= cap
        assert position.owed == obligation - position.surrendered


ENTITIES = ("E1", "E2", "E3")
INSTRUMENTS = ("CEA24", "CEA23", "CEA25", "CCER-WIND01-2024")
db_attempts = st.lists(
    st.tuples(
        st.sampled_from(ENTITIES),
        st.sampled_from(INSTRUMENTS),
        st.integers(min_value=-5, max_value=120_000),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture
def market(engine: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Three entities (obligations 150,000 / 100,000 / 50,000 t) holding more than they owe."""
    cheap_hashes(monkeypatch)
    built = build_market(engine, verified={"E1": 150_000, "E2": 100_000, "E3": 50_000})
    built.deliver(
        "alloc",
        [
            (f"{e}-H", instrument, 200_000)
            for e in ENTITIES
            for instrument in ("CEA24", "CEA23", "CEA25", "CCER-WIND01-2024")
        ],
    )
    done(built.compliance.open_year(MEE, "open", 2024))
    return built


def test_random_surrender_sequences_keep_the_books_straight(market) -> None:  # type: ignore[no-untyped-def]
    obligations = {"E1": 150_000, "E2": 100_000, "E3": 50_000}
    counter = iter(range(10**6))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps=db_attempts)
    def run(steps: list[tuple[str, str, int]]) -> None:
        for entity, instrument, quantity in steps:
            outcome = market.compliance.surrender(
                LOCAL_OPERATOR, f"p{next(counter)}", entity, 2024, [(instrument, quantity)]
            )
            assert isinstance(outcome, Done | Refusal)
        status = {r["entity_id"]: r for r in market.compliance.status(MEE, 2024)["rows"]}
        with market.engine.connect() as connection:
            recorded = connection.execute(
                select(func.coalesce(func.sum(compliance_surrenders.c.quantity_t), 0))
            ).scalar_one()
        for entity, obligation in obligations.items():
            position = market.compliance.position(LOCAL_OPERATOR, entity, 2024)
            assert status[entity]["surrendered_t"] <= obligation
            assert position["ccer_t"] <= offset_cap(obligation, 5)
            assert position["surrendered_by_instrument"].get("CEA25", 0) == 0  # never borrowed
        in_ledger = sum(market.balance("CN-SURRENDER", i) for i in INSTRUMENTS)
        assert in_ledger == recorded == sum(r["surrendered_t"] for r in status.values())
        assert market.registry.reconcile().ok

    run()
