"""Registry postings inside another context's transaction, on SQLite and PostgreSQL: linked batches,
holds spent in part, funds deposits and withdrawals, retirements with certificates, authorities."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.db.command import run_command
from carbonmarket.ledger.model import HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Authority, Move
from carbonmarket.registry.service import Registry

EXCHANGE = Actor("seee-ops", Role.EXCHANGE_OPERATOR)
CCER = "CCER-P0009-2024"


def run(registry: Registry, command_id: str, work: Any, actor: Actor = LOCAL_OPERATOR) -> Outcome:
    """Run `work(connection, at)` as one audited command, as another context's service would."""
    return run_command(registry.engine, registry.clock, actor, "test.postings", command_id, {}, work)


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


def balance(engine: Engine, account: str, instrument: str) -> tuple[int, int]:
    with engine.connect() as connection:
        found = postings.balances(connection, [(account, instrument)])[(account, instrument)]
    return found.total, found.held


@pytest.fixture
def market(registry: Registry) -> Registry:
    """Central accounts from init's data file, two traders with holding and trading accounts, 1,000 t."""
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    for holder in ("A", "B"):
        done(registry.add_holder(LOCAL_OPERATOR, holder, f"Entity {holder}", "entity"))
        done(registry.open_account(LOCAL_OPERATOR, f"{holder}-H", holder, "holding"))
        done(registry.open_account(LOCAL_OPERATOR, f"{holder}-T", holder, "trading"))

    def setup(connection: Connection, at: str) -> dict[str, Any]:
        postings.issue(connection, LOCAL_OPERATOR, "iss", "CEA24", 1_000, "CN-ISSUANCE", at)
        postings.move(
            connection,
            LOCAL_OPERATOR,
            "alloc",
            "allocation",
            [Move("CN-ISSUANCE", "A-T", "CEA24", 600), Move("CN-ISSUANCE", "B-H", "CEA24", 400)],
            at,
        )
        postings.deposit_funds(connection, EXCHANGE, "dep", "B-T", 1_000_000, at)
        return {}

    done(run(registry, "setup", setup))
    return registry


def test_a_linked_batch_moves_every_leg_and_records_a_transaction_per_leg(market: Registry) -> None:
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)
    assert balance(market.engine, "B-H", "CEA24") == (400, 0)
    ids = {row["id"] for row in market.transactions(limit=50)}
    assert {"alloc/0", "alloc/1", "iss", "dep"} <= ids
    assert market.reconcile().ok


def test_a_batch_with_one_overdrawn_leg_moves_nothing(market: Registry) -> None:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(
            connection,
            LOCAL_OPERATOR,
            "too-much",
            "transfer",
            [Move("A-T", "B-T", "CEA24", 100), Move("B-H", "A-H", "CEA24", 401)],
            at,
        )

    refused(run(market, "over", work), Code.INSUFFICIENT_BALANCE)
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)
    assert balance(market.engine, "B-T", "CEA24") == (0, 0)
    assert market.reconcile().ok


def test_an_order_hold_is_spent_in_parts_and_its_rest_released(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "sell-1", HoldKind.ORDER, "A-T", "CEA24", 300, at)
        postings.hold(connection, LOCAL_OPERATOR, "buy-1", HoldKind.ORDER, "B-T", "CNY", 500_000, at)
        return {}

    done(run(market, "reserve", reserve))
    assert balance(market.engine, "A-T", "CEA24") == (600, 300)

    def fill(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(
            connection,
            EXCHANGE,
            "trade-1",
            "trade",
            [Move("A-T", "B-T", "CEA24", 100, "sell-1"), Move("B-T", "A-T", "CNY", 120_000, "buy-1")],
            at,
            Authority.SETTLEMENT,
        )

    done(run(market, "fill", fill, EXCHANGE))
    assert balance(market.engine, "A-T", "CEA24") == (500, 200)
    assert balance(market.engine, "B-T", "CNY") == (880_000, 380_000)
    with market.engine.connect() as connection:
        state = postings.hold_state(connection, "sell-1")
    assert state is not None
    assert (state["posted"], state["remaining"], state["status"]) == (100, 200, "pending")
    assert market.reconcile().ok

    def cancel(connection: Connection, at: str) -> dict[str, Any]:
        return {"released": postings.release(connection, "sell-1", at)}

    assert done(run(market, "cancel", cancel))["released"] == 200
    assert balance(market.engine, "A-T", "CEA24") == (500, 0)
    assert market.reconcile().ok


def test_a_fill_larger_than_what_the_hold_still_reserves_is_refused(market: Registry) -> None:
    def reserve_and_overfill(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "sell-2", HoldKind.ORDER, "A-T", "CEA24", 50, at)
        return postings.move(
            connection,
            EXCHANGE,
            "t-2",
            "trade",
            [Move("A-T", "B-T", "CEA24", 51, "sell-2")],
            at,
            Authority.SETTLEMENT,
        )

    refused(run(market, "overfill", reserve_and_overfill, EXCHANGE), Code.POST_QUANTITY_EXCEEDS_HOLD)
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)
    assert market.reconcile().ok


def test_settlement_needs_the_exchange_operator_and_holder_moves_need_the_initiate_right(
    market: Registry,
) -> None:
    member = Actor("trader-a", Role.EXCHANGE_MEMBER, frozenset({("A-T", Permission.INITIATE)}))

    def settle(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(
            connection, member, "t-3", "trade", [Move("A-T", "B-T", "CEA24", 1)], at, Authority.SETTLEMENT
        )

    refused(run(market, "settle-as-member", settle, member), Code.FORBIDDEN)

    def steal(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(connection, member, "t-4", "transfer", [Move("B-H", "A-T", "CEA24", 1)], at)

    refused(run(market, "steal", steal, member), Code.FORBIDDEN)

    def own(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move(connection, member, "t-5", "transfer", [Move("A-T", "B-T", "CEA24", 1)], at)

    done(run(market, "own", own, member))
    assert balance(market.engine, "B-T", "CEA24") == (1, 0)


def test_funds_withdrawal_cannot_spend_funds_reserved_by_an_order(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "buy-3", HoldKind.ORDER, "B-T", "CNY", 900_000, at)
        return {}

    done(run(market, "reserve-3", reserve))

    def withdraw(connection: Connection, at: str) -> dict[str, Any]:
        return postings.withdraw_funds(connection, LOCAL_OPERATOR, "wd", "B-T", 100_001, at)

    refused(run(market, "wd-1", withdraw), Code.INSUFFICIENT_BALANCE)

    def withdraw_rest(connection: Connection, at: str) -> dict[str, Any]:
        return postings.withdraw_funds(connection, LOCAL_OPERATOR, "wd2", "B-T", 100_000, at)

    done(run(market, "wd-2", withdraw_rest))
    assert balance(market.engine, "B-T", "CNY") == (900_000, 900_000)
    report = market.reconcile()
    assert report.ok
    assert report.supply["CNY"]["supply"] == 900_000


def test_a_retirement_keeps_a_certificate_with_the_serials(market: Registry) -> None:
    def issue_and_retire(connection: Connection, at: str) -> dict[str, Any]:
        postings.ensure_instrument(connection, LOCAL_OPERATOR, CCER, at, cap=5_000, source="test project")
        postings.issue(connection, LOCAL_OPERATOR, "iss-c", CCER, 5_000, "CN-ISSUANCE", at)
        postings.move(
            connection,
            LOCAL_OPERATOR,
            "to-owner",
            "ccer_issuance",
            [Move("CN-ISSUANCE", "A-H", CCER, 5_000)],
            at,
        )
        return postings.retire(
            connection,
            LOCAL_OPERATOR,
            "retire-1",
            "ccer_cancellation",
            Move("A-H", "CN-CANCELLATION", CCER, 1_200),
            at,
            beneficiary="Hangzhou Asian Games",
            purpose="carbon-neutral event",
        )

    result = done(run(market, "ccer", issue_and_retire))
    assert result["certificate"] == "CERT-retire-1"
    certificate = market.certificate("CERT-retire-1")
    assert certificate["quantity"] == 1_200
    assert certificate["serials"] == [[1, 1_200]]
    report = market.reconcile()
    assert report.ok
    assert report.supply[CCER] == {"issued": 5_000, "retired": 1_200, "supply": 3_800}


def test_a_retirement_into_a_holding_account_is_refused(market: Registry) -> None:
    def retire(connection: Connection, at: str) -> dict[str, Any]:
        return postings.retire(
            connection,
            LOCAL_OPERATOR,
            "r-bad",
            "ccer_cancellation",
            Move("A-T", "B-H", "CEA24", 1),
            at,
            beneficiary="x",
            purpose="y",
        )

    refused(run(market, "r-bad", retire), Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED)
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)


def test_traded_net_counts_trades_out_minus_in_but_not_moves_between_own_accounts(market: Registry) -> None:
    def trades(connection: Connection, at: str) -> dict[str, Any]:
        postings.move(
            connection, EXCHANGE, "tr-1", "trade", [Move("A-T", "B-T", "CEA24", 70)], at, Authority.SETTLEMENT
        )
        postings.move(
            connection, EXCHANGE, "tr-2", "trade", [Move("B-T", "A-T", "CEA24", 20)], at, Authority.SETTLEMENT
        )
        postings.move(connection, LOCAL_OPERATOR, "own", "transfer", [Move("A-T", "A-H", "CEA24", 5)], at)
        return postings.traded_net(connection, ["A-H", "A-T"], ["CEA24"], "2000-01-01", "2100-01-01")

    assert done(run(market, "trades", trades)) == {"sold": 70, "bought": 20, "net_sold": 50}


def test_central_accounts_open_once(market: Registry) -> None:
    again = done(market.open_central_accounts(LOCAL_OPERATOR))
    assert "CN-ISSUANCE" in again["opened"]  # the first result, replayed: nothing opened twice
    ids = {row["account"] for row in market.accounts(holder_id="CN-MEE")}
    assert {"CN-ISSUANCE", "CN-SURRENDER", "CN-AUCTION-PROCEEDS"} <= ids
