"""Market data, one-way bidding and the live feed over HTTP on the real app (uvicorn), SQLite and
PostgreSQL: roles and account rights, the API's error shape, public results without parties, and
server-sent events read with httpx as trades and closes happen."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from carbonmarket.core.actors import Actor, Role
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from integration.exchange.sessions_market import (
    AFTER,
    APPLIED,
    APPROVED,
    CLOSES,
    DURING,
    MARKET_PASSWORD,
    MARKET_USERS,
    OPENS,
    Market,
    attach_market,
    market_engine,
    market_template,
    serve_market_app,
)

__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test

SECRET = "market-api-test-secret-0123456789abcdef0123456"


@pytest.fixture
def market(market_engine: Engine) -> Market:
    return attach_market(market_engine, APPLIED)


@pytest.fixture
def base(market: Market) -> Iterator[str]:
    with serve_market_app(market.engine, SECRET, market.clock) as url:
        yield url


def token(base: str, username: str) -> dict[str, str]:
    """A bearer token: signed in through the real login route once, minted directly after that
    (argon2 verification costs half a second by design)."""
    if username == "sam":
        answer = httpx.post(
            f"{base}/api/auth/token", data={"username": username, "password": MARKET_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}
    minted = Identity(make_engine("sqlite://"), SECRET).token_for(
        Actor(username, Role(MARKET_USERS[username][0]))
    )
    return {"Authorization": f"Bearer {minted}"}


def test_a_session_is_applied_for_published_bid_on_and_cleared_over_http(market: Market, base: str) -> None:
    sam, bea, ops = (token(base, name) for name in ("sam", "bea", "ops"))
    application = {
        "id": "S1",
        "account": "S-T",
        "instrument": "CEA24",
        "quantity": 100_000,
        "limit_price_fen": 9_749,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "price_mode": "uniform",
        "minimum_t": 0,
    }
    assert httpx.post(f"{base}/api/exchange/bidding", json=application, headers=bea).status_code == 403
    assert httpx.post(f"{base}/api/exchange/bidding", json=application, headers=sam).status_code == 201
    assert (
        httpx.post(f"{base}/api/exchange/bidding", json=application, headers=sam).json()["result"] == "exists"
    )
    misspelt = httpx.post(
        f"{base}/api/exchange/bidding", json={**application, "id": "S2", "qty": 1}, headers=sam
    )
    assert (misspelt.status_code, misspelt.json()["code"]) == (422, "invalid_request")
    market.at(APPROVED)
    refused = httpx.post(f"{base}/api/exchange/bidding/S1/approve", json={"id": "a1"}, headers=bea)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (
        httpx.post(
            f"{base}/api/exchange/bidding/S1/approve", json={"id": "a1", "seed": 1}, headers=ops
        ).status_code
        == 201
    )
    market.at(DURING)
    bid = {"id": "b-1", "account": "B-T", "price_fen": 9_800, "quantity": 40_000}
    assert httpx.post(f"{base}/api/exchange/bidding/S1/bids", json=bid).status_code == 401
    too_high = httpx.post(
        f"{base}/api/exchange/bidding/S1/bids", json={**bid, "price_fen": 10_724}, headers=bea
    )
    assert (too_high.status_code, too_high.json()["code"]) == (422, "exchange_bid_above_ceiling")
    assert httpx.post(f"{base}/api/exchange/bidding/S1/bids", json=bid, headers=bea).status_code == 201
    public = httpx.get(f"{base}/api/market/bidding/S1").json()["session"]
    assert public["bids_received"] == 1 and public["my_bids"] == [] and "result" not in public
    assert [
        b["bid"] for b in httpx.get(f"{base}/api/market/bidding/S1", headers=bea).json()["session"]["my_bids"]
    ] == ["b-1"]
    market.at(AFTER)
    closed = httpx.post(f"{base}/api/exchange/bidding/S1/close", json={"id": "c1"}, headers=ops)
    assert closed.status_code == 201
    result = httpx.get(f"{base}/api/market/bidding").json()["sessions"][0]["result"]
    assert (result["cleared_quantity"], result["clearing_price_fen"], result["seed"]) == (40_000, 9_800, 1)
    [trade] = httpx.get(f"{base}/api/market/trades").json()["trades"]
    assert (trade["modality"], trade["quantity"], trade["price_fen"]) == ("bidding", 40_000, 9_800)
    assert not {"buyer_account", "seller_account"} & set(trade)
    overview = httpx.get(f"{base}/api/market/overview").json()
    cea24 = next(r for r in overview["instruments"] if r["instrument"] == "CEA24")
    assert (cea24["volume"]["bidding"], cea24["close_fen"], cea24["carried"]) == (40_000, 9_749, True)
    assert market.registry.reconcile().ok


def test_queries_refuse_bad_input_in_the_api_shape(base: str) -> None:
    for path, status, code in (
        ("/api/market/bidding/nope", 404, "exchange_bidding_not_found"),
        ("/api/market/auctions/nope", 404, "exchange_auction_not_found"),
        (
            "/api/market/series?instrument=CEA24&from=2025-07-01&to=2025-07-31&period=week",
            422,
            "exchange_marketdata_invalid_period",
        ),
        (
            "/api/market/series?instrument=CEA24&from=2025-07-31&to=2025-07-01",
            422,
            "exchange_marketdata_range_invalid",
        ),
        ("/api/market/bidding?status=open", 422, "exchange_bidding_invalid_status"),
        ("/api/market/monthly-average?year=2025&month=13", 422, "invalid_request"),
        ("/api/market/stream?duration_s=100000", 422, "invalid_request"),
    ):
        answer = httpx.get(f"{base}{path}")
        assert (answer.status_code, answer.json()["ok"], answer.json()["code"]) == (status, False, code), path


def read_events(url: str, events: list[tuple[str, dict[str, Any]]], connected: threading.Event) -> None:
    """Collect `event:`/`data:` pairs of a server-sent events stream until it ends."""
    with httpx.stream("GET", url, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            connected.set()
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind:
                events.append((kind, json.loads(line.removeprefix("data: "))))
                kind = None


def test_the_live_feed_sends_trades_and_closes_as_they_happen(market: Market, base: str) -> None:
    ops = token(base, "ops")
    market.trade("L0", 9_700, 500)  # before the stream starts: not sent to a stream that starts now
    market.at(datetime(2025, 7, 1, 2, 30, tzinfo=UTC))
    events: list[tuple[str, dict[str, Any]]] = []
    connected = threading.Event()
    reader = threading.Thread(
        target=read_events, args=(f"{base}/api/market/stream?duration_s=3", events, connected)
    )
    reader.start()
    assert connected.wait(10)
    market.trade("L1", 9_800, 1_000)
    market.at(datetime(2025, 7, 1, 5, 30, tzinfo=UTC))  # 13:30 CST, bulk hours
    market.trade("K1", 7_000, 100_000, modality="bulk")
    market.at(datetime(2025, 7, 1, 7, 30, tzinfo=UTC))  # 15:30 CST
    assert (
        httpx.post(f"{base}/api/exchange/closes", json={"day": "2025-07-01"}, headers=ops).status_code == 201
    )
    reader.join(20)
    trades = [data["trade_id"] for kind, data in events if kind == "trade"]
    closes = {data["instrument"]: data["close_fen"] for kind, data in events if kind == "close"}
    assert trades == ["L1", "K1"]
    # 500 t at 97.00 and 1,000 t at 98.00: (4,850,000 + 9,800,000) / 1,500 = 9,766.67 → 9,767 fen.
    assert closes["CEA24"] == 9_767 and closes["CEA"] == 9_767
    # From a given time on, the stream replays what it finds: all three trades.
    replay: list[tuple[str, dict[str, Any]]] = []
    read_events(
        f"{base}/api/market/stream?since=2025-06-30T00:00:00%2B00:00&duration_s=1", replay, threading.Event()
    )
    assert [d["trade_id"] for k, d in replay if k == "trade"] == ["L0", "L1", "K1"]
