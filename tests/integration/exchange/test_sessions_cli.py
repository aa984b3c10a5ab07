"""`carbonmarket exchange bidding|auction|close-day|marketdata` on SQLite and PostgreSQL: one JSON
object per command with --json, refusals exit 1 with their code, `--at` acts as of a moment."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from carbonmarket.cli import app
from integration.exchange.sessions_market import market_engine, market_template

__all__ = ["market_engine", "market_template"]  # fixtures: one prepared database per module, cloned per test


@pytest.fixture
def db(market_engine: Engine) -> str:
    return market_engine.url.render_as_string(hide_password=False)


def run(db: str, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["exchange", *args, "--db", db, "--json"])
    assert result.exit_code == code, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_a_session_runs_from_application_to_published_result_on_the_command_line(db: str) -> None:
    window = ["--opens", "2025-07-16T10:00", "--closes", "2025-07-16T11:00"]
    applied = run(
        db,
        "bidding",
        "apply",
        "--id",
        "S1",
        "--account",
        "S-T",
        "--instrument",
        "CEA24",
        "--quantity",
        "130000",
        "--price",
        "97.49",
        "--mode",
        "pay_as_bid",
        "--minimum",
        "0",
        *window,
        "--at",
        "2025-07-01T10:00+08:00",
    )
    assert (applied["ok"], applied["result"], applied["session"]["phase"]) == (True, "created", "applied")
    run(db, "bidding", "approve", "S1", "--id", "a1", "--seed", "5", "--at", "2025-07-02T10:00+08:00")
    early = run(
        db,
        "bidding",
        "bid",
        "S1",
        "--id",
        "b-0",
        "--account",
        "B-T",
        "--price",
        "98.00",
        "--quantity",
        "1000",
        "--at",
        "2025-07-16T09:59+08:00",
        code=1,
    )
    assert (early["ok"], early["code"]) == (False, "exchange_bidding_window_not_open")
    odd = run(
        db,
        "bidding",
        "bid",
        "S1",
        "--id",
        "b-9",
        "--account",
        "B-T",
        "--price",
        "98.001",
        "--quantity",
        "1000",
        "--at",
        "2025-07-16T10:30+08:00",
        code=1,
    )
    assert odd["code"] == "exchange_bidding_invalid_price"
    for bid_id, account, price, quantity in (
        ("b-1", "B-T", "98.00", "70000"),
        ("c-1", "C-T", "97.60", "70000"),
    ):
        run(
            db,
            "bidding",
            "bid",
            "S1",
            "--id",
            bid_id,
            "--account",
            account,
            "--price",
            price,
            "--quantity",
            quantity,
            "--at",
            "2025-07-16T10:30+08:00",
        )
    closed = run(db, "bidding", "close", "S1", "--id", "c1", "--at", "2025-07-16T11:30+08:00")
    result = closed["session"]["result"]
    # Pay-as-bid: 70,000 t at 98.00 + 60,000 t at 97.60 = 686,000,000 + 585,600,000 fen.
    assert (result["cleared_quantity"], result["cleared_value_fen"]) == (130_000, 1_271_600_000)
    assert run(db, "bidding", "results", "S1")["session"]["status"] == "cleared"
    assert [s["session"] for s in run(db, "bidding", "list")["sessions"]] == ["S1"]
    day = run(db, "close-day", "--date", "2025-07-16", "--at", "2025-07-16T15:05+08:00")
    cea24 = next(c for c in day["closes"] if c["instrument"] == "CEA24")
    assert (cea24["close_fen"], cea24["carried"], cea24["volume"]["bidding"]) == (9_749, True, 130_000)
    series = run(db, "marketdata", "--instrument", "CEA24", "--from", "2025-07-14", "--to", "2025-07-16")
    assert [d["volume"]["bidding"] for d in series["series"]] == [0, 0, 130_000]


def test_an_auction_runs_on_the_command_line_and_bad_input_exits_1(db: str) -> None:
    window = ["--opens", "2025-07-16T10:00", "--closes", "2025-07-16T11:00"]
    created = run(
        db,
        "auction",
        "create",
        "--id",
        "A1",
        "--instrument",
        "CEA24",
        "--quantity",
        "50000",
        "--reserve",
        "90.00",
        "--issue",
        "--seed",
        "3",
        *window,
        "--at",
        "2025-07-01T10:00+08:00",
    )
    assert created["auction"]["quantity"] == 50_000
    run(
        db,
        "auction",
        "bid",
        "A1",
        "--id",
        "x-1",
        "--account",
        "D-T",
        "--price",
        "95.00",
        "--quantity",
        "50000",
        "--at",
        "2025-07-16T10:30+08:00",
    )
    closed = run(db, "auction", "close", "A1", "--id", "ca", "--at", "2025-07-16T11:30+08:00")
    assert (closed["auction"]["status"], closed["auction"]["result"]["clearing_price_fen"]) == (
        "cleared",
        9_500,
    )
    assert run(db, "auction", "results", "A1")["auction"]["result"]["cleared_quantity"] == 50_000
    bad = run(db, "marketdata", "--instrument", "CEA24", "--from", "2025-07-16", "--to", "2025-07-01", code=1)
    assert bad["code"] == "exchange_marketdata_range_invalid"
    early = run(db, "close-day", "--date", "2025-07-16", "--at", "2025-07-16T14:00+08:00", code=1)
    assert early["code"] == "exchange_close_too_early"
