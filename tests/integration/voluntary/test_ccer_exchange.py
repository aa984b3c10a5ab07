"""A CCER trades on the exchange's listed agreement: the owner moves credits from `-H` to `-T`, sells to
another participant's `-T`, who cancels them for a voluntary claim; the serials follow the units."""

from __future__ import annotations

from ccer_market import MEE, OWNER, Market, done

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.exchange.service import Exchange
from carbonmarket.registry import postings
from carbonmarket.registry.service import Registry

OWNER_BOTH = Actor(
    "owner1", Role.PROJECT_OWNER, rights=frozenset({(a, Permission.INITIATE) for a in ("OWN1-H", "OWN1-T")})
)
BUYER_OWNER = Actor("owner2", Role.PROJECT_OWNER, rights=frozenset({("OWN2-T", Permission.INITIATE)}))
SELLER = Actor("seller", Role.EXCHANGE_MEMBER, rights=frozenset({("OWN1-T", Permission.INITIATE)}))
BUYER = Actor("buyer", Role.EXCHANGE_MEMBER, rights=frozenset({("OWN2-T", Permission.INITIATE)}))
OPERATOR = Actor("seee", Role.EXCHANGE_OPERATOR)
PRICE_FEN = 8_045  # CNY 80.45/t, the first day's average (Progress Report §6 [seed])


def test_a_ccer_is_sold_on_the_exchange_and_cancelled_by_its_buyer(market: Market) -> None:
    market.register_project("W1")
    market.register_report("W1", "W1-R", "2024-01-01", "2024-12-31")
    done(market.ccer.issue(MEE, "i", "W1-R"))
    done(market.registry.transfer(OWNER_BOTH, "to-t", "OWN1-H", "OWN1-T", "CCER-W1-2024", 1_000))
    exchange = Exchange(market.engine, clock=market.clock, reference_price=lambda _c, _i, _d: PRICE_FEN)
    done(exchange.deposit(OPERATOR, "dep", "OWN2-T", 10_000_000))
    done(exchange.place_order(SELLER, "sell-1", "OWN1-T", "CCER-W1-2024", "sell", PRICE_FEN, 500))
    done(exchange.place_order(BUYER, "buy-1", "OWN2-T", "CCER-W1-2024", "buy", PRICE_FEN, 500))
    with market.engine.connect() as connection:
        held = postings.balances(connection, [("OWN2-T", "CCER-W1-2024"), ("OWN1-T", "CCER-W1-2024")])
    assert held[("OWN2-T", "CCER-W1-2024")].total == 500
    assert held[("OWN1-T", "CCER-W1-2024")].total == 500
    bought = market.ccer.search_serial("CCER-W1-2024-000001")
    assert bought["holder_account_type"] == "trading"
    cancelled = done(
        market.ccer.cancel(
            BUYER_OWNER,
            "c",
            account_id="OWN2-T",
            instrument_id="CCER-W1-2024",
            quantity=500,
            kind="voluntary",
            claim="organisation",
            beneficiary="Owner Two Ltd",
            purpose="2024 operations",
        )
    )
    assert cancelled["quantity"] == 500
    assert market.ccer.search_serial("CCER-W1-2024-000001")["retired"] is True
    assert Registry(market.engine).reconcile().ok
    assert OWNER.username == "owner1"
