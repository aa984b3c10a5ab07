"""The exchange's trading API and CLI on the real app and database (SQLite and PostgreSQL): a
member orders with its token, refusals come back in the one error shape, the book is public."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carbonmarket.api.app import create_app
from carbonmarket.cli import app as cli_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.identity.service import Identity
from integration.exchange import trading_market
from integration.exchange.trading_market import Market, done

market = trading_market.market
market_template = trading_market.market_template
SECRET = "exchange-api-test-secret-0123456789abcdef0123"


def token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/auth/token", data={"username": username, "password": "password-" + username})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_members_trade_over_http_and_refusals_have_the_one_error_shape(market: Market) -> None:
    identity = Identity(market.engine, SECRET)
    for username, account in (("alice", "A-T"), ("bob", "B-T")):
        done(
            identity.add_user(LOCAL_OPERATOR, username, "password-" + username, "exchange_member", account[0])
        )
        done(identity.grant(LOCAL_OPERATOR, username, account, "initiate"))
    app = create_app(market.engine.url.render_as_string(hide_password=False), Settings(jwt_secret=SECRET))
    app.state.market_clock = market.clock
    with TestClient(app) as client:
        alice, bob = token(client, "alice"), token(client, "bob")
        sell = {
            "id": "s1",
            "account": "A-T",
            "instrument": "CEA24",
            "side": "sell",
            "price": "98.00",
            "quantity": 500,
        }
        assert client.post("/api/exchange/orders", json=sell, headers=alice).status_code == 201
        assert client.post("/api/exchange/orders", json=sell, headers=alice).json()["result"] == "exists"
        assert client.get("/api/exchange/book/CEA24").json()["asks"] == [
            {"price_fen": 9_800, "quantity": 500, "orders": 1}
        ]
        forbidden = client.post("/api/exchange/orders", json={**sell, "id": "s2"}, headers=bob)
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
        off_tick = client.post(
            "/api/exchange/orders", json={**sell, "id": "s3", "price": "98.005"}, headers=alice
        )
        assert (off_tick.status_code, off_tick.json()["code"]) == (422, "order_price_off_tick")
        buy = {
            "id": "b1",
            "account": "B-T",
            "instrument": "CEA24",
            "side": "buy",
            "price_fen": 9_800,
            "quantity": 200,
        }
        placed = client.post("/api/exchange/orders", json=buy, headers=bob).json()
        assert placed["trades"][0]["quantity"] == 200
        fills = client.get("/api/exchange/trades?mine=true", headers=alice).json()["trades"]
        assert [(f["seller_account"], f["quantity"]) for f in fills] == [("A-T", 200)]
        public = client.get("/api/exchange/trades").json()["trades"]
        assert "buyer_account" not in public[0]
        funds = client.get("/api/exchange/funds/B-T", headers=bob).json()["balances"]
        assert {b["instrument"]: b["tradable"] for b in funds if b["instrument"] != "CNY"}["CEA24"] == 10_000
        assert client.get("/api/exchange/funds/A-T", headers=bob).status_code == 403
        assert (
            client.patch(
                "/api/exchange/orders/s1", json={"id": "a1", "quantity": 400}, headers=alice
            ).status_code
            == 201
        )
        cancelled = client.delete("/api/exchange/orders/s1?id=x1", headers=alice)
        assert cancelled.status_code == 201 and cancelled.json()["status"] == "cancelled"
        assert client.get("/api/exchange/orders?status=open", headers=alice).json()["orders"] == []
        assert client.get("/exchange/trade").status_code == 200
    assert market.registry.reconcile().ok


def test_the_cli_places_an_order_and_refuses_with_exit_1(market: Market) -> None:
    url = market.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    # The CLI uses the system clock; the session check is the only thing that depends on it.
    book = runner.invoke(cli_app, ["exchange", "book", "CEA24", "--db", url, "--json"])
    assert book.exit_code == 0 and json.loads(book.output)["open"] is False
    bad = runner.invoke(
        cli_app,
        [
            "exchange",
            "order",
            "--id",
            "c1",
            "--account",
            "A-T",
            "--instrument",
            "CEA24",
            "--side",
            "sell",
            "--price",
            "98.001",
            "--quantity",
            "10",
            "--db",
            url,
            "--json",
        ],
    )
    assert bad.exit_code == 1 and json.loads(bad.output)["code"] == "order_price_off_tick"
    funds = runner.invoke(cli_app, ["exchange", "funds", "A-T", "--db", url, "--json"])
    assert funds.exit_code == 0
    cea = {b["instrument"]: b for b in json.loads(funds.output)["balances"]}["CEA24"]
    assert (cea["total"], cea["held"]) == (trading_market.A_UNITS, 0)
    deposited = runner.invoke(
        cli_app,
        ["exchange", "deposit", "--account", "C-T", "--cny", "1000.50", "--id", "d9", "--db", url, "--json"],
    )
    assert deposited.exit_code == 0 and json.loads(deposited.output)["fen"] == 100_050


def test_an_operator_sends_batches_and_streams_of_batches_over_http(market: Market) -> None:
    identity = Identity(market.engine, SECRET)
    done(identity.add_user(LOCAL_OPERATOR, "gateway", "password-gateway", "exchange_operator"))
    app = create_app(market.engine.url.render_as_string(hide_password=False), Settings(jwt_secret=SECRET))
    app.state.market_clock = market.clock

    def new(order_id: str, account: str, side: str, price_fen: int, quantity: int) -> dict[str, object]:
        return {"type": "new", "order_id": order_id, "account": account, "instrument": "CEA24",
                "side": side, "price_fen": price_fen, "quantity": quantity}  # fmt: skip

    with TestClient(app) as client:
        gateway = token(client, "gateway")
        first = {"id": "g1", "commands": [new("s1", "A-T", "sell", 9_800, 500)]}
        answer = client.post("/api/exchange/batches", json=first, headers=gateway)
        assert (answer.status_code, answer.json()["accepted"]) == (201, 1)
        unknown_cancel = {"type": "cancel", "order_id": "nope"}
        stream = {
            "batches": [
                first,  # sent before: exists
                {"id": "g2", "commands": [new("b1", "B-T", "buy", 9_800, 200), unknown_cancel]},
                {"id": "g3", "commands": [new("b2", "C-T", "buy", 9_800, 300)]},
            ]
        }
        answer = client.post("/api/exchange/batch-streams", json=stream, headers=gateway)
        assert answer.status_code == 200, answer.text
        outcomes = answer.json()["outcomes"]
        assert [(o["result"], o["accepted"], o["trades"]) for o in outcomes] == [
            ("exists", 1, 0),
            ("created", 1, 1),
            ("created", 1, 1),
        ]
        assert outcomes[1]["results"][1]["code"] == "order_not_found"
        assert client.get("/api/exchange/book/CEA24").json()["asks"] == []  # s1 filled: 200 + 300
        empty = client.post("/api/exchange/batch-streams", json={"batches": []}, headers=gateway)
        assert (empty.status_code, empty.json()["code"]) == (422, "invalid_request")
        anonymous = client.post("/api/exchange/batch-streams", json=stream)
        assert anonymous.status_code == 401
    assert market.balance("A-T", "CEA24")[1] == 0 and market.registry.reconcile().ok
