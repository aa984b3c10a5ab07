"""Batch postings on SQLite and PostgreSQL: `hold_many`, `release_many`, `hold_states` and
`move_closing_holds` do what the one-at-a-time functions do, all or none, with the same refusals,
in a number of statements that does not grow with the batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.results import Code
from carbonmarket.db import raw
from carbonmarket.ledger.model import HoldKind
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Authority, HoldSpec, Move
from carbonmarket.registry.service import Registry
from integration.test_registry_postings import EXCHANGE, balance, done, market, refused, run

__all__ = ["market"]


MEMBER = Actor("a-trader", Role.EXCHANGE_MEMBER, rights=frozenset({("A-T", Permission.INITIATE)}))


def spec(hold_id: str, account: str, instrument: str, quantity: int) -> HoldSpec:
    return HoldSpec(hold_id, HoldKind.ORDER, account, instrument, quantity, reason="test order")


@contextmanager
def counting(connection: Connection) -> Iterator[list[str]]:
    """Every statement sent on the connection, through SQLAlchemy or straight to the driver."""
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(str(args[2]))

    def on_raw(text: str, _seconds: float) -> None:
        seen.append(text)

    event.listen(connection, "before_cursor_execute", on_execute)
    raw.statement_observers.append(on_raw)
    try:
        yield seen
    finally:
        raw.statement_observers.remove(on_raw)
        event.remove(connection, "before_cursor_execute", on_execute)


def test_hold_many_reserves_every_hold_like_hold_does(market: Registry) -> None:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        made = postings.hold_many(
            connection,
            EXCHANGE,
            [
                spec("@x:s1", "A-T", "CEA24", 100),
                spec("@x:s2", "A-T", "CEA24", 250),
                spec("@x:b1", "B-T", "CNY", 7),
            ],
            at,
            Authority.SETTLEMENT,
        )
        return {"made": made}

    made = done(run(market, "hm", work, EXCHANGE))["made"]
    assert [m["hold"] for m in made] == ["@x:s1", "@x:s2", "@x:b1"]
    # A-T had 600 t: 100 + 250 = 350 t reserved; B-T had CNY 10,000.00 = 1,000,000 fen, 7 reserved.
    assert balance(market.engine, "A-T", "CEA24") == (600, 350)
    assert balance(market.engine, "B-T", "CNY") == (1_000_000, 7)
    with market.engine.connect() as connection:
        states = postings.hold_states(connection, ["@x:s2", "@x:b1", "@x:none"])
        single = postings.hold_state(connection, "@x:s2")
    assert set(states) == {"@x:s2", "@x:b1"}
    assert states["@x:s2"] == single
    assert (states["@x:s2"]["remaining"], states["@x:s2"]["status"]) == (250, "pending")
    assert market.reconcile().ok


def test_hold_many_refuses_the_whole_batch_when_one_account_lacks_the_units(market: Registry) -> None:
    def work(connection: Connection, at: str) -> dict[str, Any]:
        # 400 + 201 = 601 t asked of A-T's 600 t: each alone fits, together they do not.
        postings.hold_many(
            connection,
            EXCHANGE,
            [
                spec("@x:1", "B-T", "CNY", 5),
                spec("@x:2", "A-T", "CEA24", 400),
                spec("@x:3", "A-T", "CEA24", 201),
            ],
            at,
            Authority.SETTLEMENT,
        )
        return {}

    refusal = refused(run(market, "hm-over", work, EXCHANGE), Code.INSUFFICIENT_BALANCE)
    assert "A-T" in refusal.message
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)
    assert balance(market.engine, "B-T", "CNY") == (1_000_000, 0)
    assert market.reconcile().ok


@pytest.mark.parametrize(
    ("specs", "actor", "code"),
    [
        (
            [spec("@x:1", "A-T", "CEA24", 1), spec("@x:1", "A-T", "CEA24", 2)],
            EXCHANGE,
            Code.EXISTS_WITH_DIFFERENT_FIELDS,
        ),
        ([spec("@x:1", "NOPE-T", "CEA24", 1)], EXCHANGE, Code.TRANSFERRING_ACCOUNT_NOT_FOUND),
        ([spec("@x:1", "A-T", "CEA99", 1)], EXCHANGE, Code.UNKNOWN_INSTRUMENT),
        ([spec("@x:1", "A-T", "CEA24", 0)], EXCHANGE, Code.QUANTITY_NOT_POSITIVE),
        ([spec("bad id!", "A-T", "CEA24", 1)], EXCHANGE, Code.INVALID_ID),
        ([spec("@x:1", "A-T", "CEA24", 1)], Actor("trader", Role.EXCHANGE_MEMBER), Code.FORBIDDEN),
    ],
)
def test_hold_many_refuses_what_hold_refuses(
    market: Registry, specs: list[HoldSpec], actor: Actor, code: Code
) -> None:
    authority = Authority.SETTLEMENT if actor is EXCHANGE else Authority.HOLDER

    def work(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold_many(connection, actor, specs, at, authority)
        return {}

    refused(run(market, "hm-bad", work, actor), code)
    assert balance(market.engine, "A-T", "CEA24") == (600, 0)


def test_hold_many_refuses_an_id_already_in_use_and_a_member_holds_on_its_own_right(market: Registry) -> None:
    member = MEMBER

    def first(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold_many(connection, member, [spec("@x:1", "A-T", "CEA24", 10)], at)
        return {}

    def again(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold_many(
            connection, member, [spec("@x:2", "A-T", "CEA24", 10), spec("@x:1", "A-T", "CEA24", 1)], at
        )
        return {}

    done(run(market, "hm-1", first, member))
    refused(run(market, "hm-2", again, member), Code.EXISTS_WITH_DIFFERENT_FIELDS)
    assert balance(market.engine, "A-T", "CEA24") == (600, 10)


def test_release_many_voids_pending_holds_and_returns_what_each_reserved(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "h1", HoldKind.ORDER, "A-T", "CEA24", 300, at)
        postings.hold(connection, LOCAL_OPERATOR, "h2", HoldKind.ORDER, "A-T", "CEA24", 100, at)
        postings.hold(connection, LOCAL_OPERATOR, "h3", HoldKind.ORDER, "B-T", "CNY", 500, at)
        # h1 is spent in part (120 t) before it is released: 180 t remain reserved.
        postings.move(
            connection,
            EXCHANGE,
            "fill-h1",
            "trade",
            [Move("A-T", "B-T", "CEA24", 120, "h1")],
            at,
            Authority.SETTLEMENT,
        )
        postings.release(connection, "h2", at)
        return {}

    done(run(market, "reserve", reserve))
    assert balance(market.engine, "A-T", "CEA24") == (480, 180)

    def release(connection: Connection, at: str) -> dict[str, Any]:
        return postings.release_many(connection, ["h3", "h1", "h2", "h1"], at)

    # h2 was already voided, so it frees 0, as `release` says for a resolved hold.
    assert done(run(market, "rel", release)) == {"h1": 180, "h2": 0, "h3": 500}
    assert balance(market.engine, "A-T", "CEA24") == (480, 0)
    assert balance(market.engine, "B-T", "CNY") == (1_000_000, 0)
    with market.engine.connect() as connection:
        states = postings.hold_states(connection, ["h1", "h3"])
    assert (states["h1"]["status"], states["h1"]["posted"]) == ("voided", 120)
    assert states["h3"]["status"] == "voided"
    assert market.reconcile().ok


def test_release_many_refuses_an_unknown_hold_and_releases_nothing(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "h1", HoldKind.ORDER, "A-T", "CEA24", 300, at)
        return {}

    done(run(market, "reserve", reserve))

    def release(connection: Connection, at: str) -> dict[str, Any]:
        return postings.release_many(connection, ["h1", "ghost"], at)

    refused(run(market, "rel", release), Code.HOLD_NOT_FOUND)
    assert balance(market.engine, "A-T", "CEA24") == (600, 300)


def test_move_closing_holds_spends_holds_and_frees_the_rest_of_the_closed_ones(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "sell", HoldKind.ORDER, "A-T", "CEA24", 300, at)
        postings.hold(connection, LOCAL_OPERATOR, "buy", HoldKind.ORDER, "B-T", "CNY", 500_000, at)
        return {}

    done(run(market, "reserve", reserve))

    def settle(connection: Connection, at: str) -> dict[str, Any]:
        postings.move(
            connection,
            EXCHANGE,
            "t-units",
            "trade",
            [Move("A-T", "B-T", "CEA24", 100, "sell")],
            at,
            Authority.SETTLEMENT,
        )
        # The buy paid 120,000 + 30,000 fen out of its 500,000 reservation and is finished: the
        # other 350,000 fen are free again; the sell keeps 200 t reserved.
        return postings.move_closing_holds(
            connection,
            EXCHANGE,
            "t-pay",
            "trade_payment",
            [Move("B-T", "A-T", "CNY", 120_000, "buy"), Move("B-T", "A-T", "CNY", 30_000, "buy")],
            at,
            Authority.SETTLEMENT,
            ["buy"],
        )

    assert done(run(market, "settle", settle, EXCHANGE))["legs"] == 2
    assert balance(market.engine, "B-T", "CNY") == (850_000, 0)
    assert balance(market.engine, "A-T", "CNY") == (150_000, 0)
    assert balance(market.engine, "A-T", "CEA24") == (500, 200)
    with market.engine.connect() as connection:
        states = postings.hold_states(connection, ["buy", "sell"])
    assert (states["buy"]["status"], states["buy"]["posted"], states["buy"]["remaining"]) == (
        "posted",
        150_000,
        0,
    )
    assert (states["sell"]["status"], states["sell"]["remaining"]) == ("pending", 200)
    assert market.reconcile().ok


def test_move_closing_holds_refuses_like_move_and_changes_nothing(market: Registry) -> None:
    def reserve(connection: Connection, at: str) -> dict[str, Any]:
        postings.hold(connection, LOCAL_OPERATOR, "sell", HoldKind.ORDER, "A-T", "CEA24", 50, at)
        return {}

    done(run(market, "reserve", reserve))

    def overfill(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move_closing_holds(
            connection,
            EXCHANGE,
            "t",
            "trade",
            [Move("A-T", "B-T", "CEA24", 51, "sell")],
            at,
            Authority.SETTLEMENT,
            ["sell"],
        )

    def holder(connection: Connection, at: str) -> dict[str, Any]:
        return postings.move_closing_holds(
            connection,
            MEMBER,
            "t",
            "trade",
            [Move("A-T", "B-T", "CEA24", 5, "sell")],
            at,
            Authority.SETTLEMENT,
            ["sell"],
        )

    refused(run(market, "over", overfill, EXCHANGE), Code.POST_QUANTITY_EXCEEDS_HOLD)
    # A member may not settle: spending holds is the exchange operator's (Authority.SETTLEMENT).
    refused(run(market, "who", holder, MEMBER), Code.FORBIDDEN)
    assert balance(market.engine, "A-T", "CEA24") == (600, 50)
    assert market.reconcile().ok


def _statements_for(market: Registry, size: int, label: str) -> int:
    """Statements of one hold_many + move_closing_holds + release_many of `size` orders each."""

    def work(connection: Connection, at: str) -> dict[str, Any]:
        sells = [spec(f"@{label}:s{i}", "A-T", "CEA24", 2) for i in range(size)]
        buys = [spec(f"@{label}:b{i}", "B-T", "CNY", 100) for i in range(size)]
        with counting(connection) as seen:
            postings.hold_many(connection, EXCHANGE, sells + buys, at, Authority.SETTLEMENT)
            postings.move_closing_holds(
                connection,
                EXCHANGE,
                f"@{label}:t",
                "trade",
                [Move("A-T", "B-T", "CEA24", 1, s.hold_id) for s in sells],
                at,
                Authority.SETTLEMENT,
                [s.hold_id for s in sells[: size // 2]],
            )
            postings.release_many(connection, [b.hold_id for b in buys], at)
        return {"statements": len(seen)}

    return int(done(run(market, f"count-{label}", work, EXCHANGE))["statements"])


def test_batch_postings_cost_the_same_statements_for_4_or_120_orders(market: Registry) -> None:
    _statements_for(market, 1, "warm")  # the first movement creates the balance rows it needs
    small = _statements_for(market, 4, "small")
    large = _statements_for(market, 120, "large")
    assert small == large
    assert small <= 25
    # 1 + 4 + 120 sells reserved 2 t and spent 1 t each; 0 + 2 + 60 were closed, the other 63
    # keep 1 t reserved each.
    assert balance(market.engine, "A-T", "CEA24") == (600 - 125, 63)
    assert market.reconcile().ok
