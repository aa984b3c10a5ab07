"""A command retried many times, even concurrently, takes effect exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.registry.service import Registry


def test_concurrent_retries_of_one_transfer_move_units_once(registry: Registry) -> None:
    registry.add_holder(LOCAL_OPERATOR, "G", "Gov", "government")
    registry.open_account(LOCAL_OPERATOR, "ISS", "G", "issuance")
    registry.add_holder(LOCAL_OPERATOR, "E", "Entity", "entity")
    registry.open_account(LOCAL_OPERATOR, "E-H", "E", "holding")
    registry.issue(LOCAL_OPERATOR, "iss", "CEA24", 1_000, "ISS")

    def attempt(_: int) -> str:
        outcome = registry.transfer(LOCAL_OPERATOR, "same-id", "ISS", "E-H", "CEA24", 100)
        assert isinstance(outcome, Done), outcome
        return outcome.result

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(40)))
    assert results.count("created") == 1
    assert results.count("exists") == 39
    assert registry.balance(LOCAL_OPERATOR, "E-H")["balances"] == {"CEA24": 100}
    assert registry.reconcile().ok
