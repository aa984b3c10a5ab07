"""`carbonmarket exchange replay FILE` on the documented example, on SQLite and PostgreSQL, and the
refusal of malformed files; the journal rebuilds the books the replay left."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carbonmarket.cli import app
from carbonmarket.db.engine import make_engine
from carbonmarket.exchange.service import Exchange

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "exchange-replay.jsonl"


def test_the_documented_example_gives_the_worked_trades_refusals_and_closes(db_url: str) -> None:
    result = CliRunner().invoke(app, ["exchange", "replay", str(EXAMPLE), "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(t["modality"], t["price_fen"], t["quantity"]) for t in report["trades"]] == [
        ("listed", 9_800, 1_000),
        ("listed", 9_850, 500),
        ("bulk", 9_400, 100_000),
        ("listed", 9_820, 400),
        ("listed", 9_830, 600),
    ]
    assert [(r["line"], r["code"]) for r in report["refusals"]] == [
        (10, "order_price_outside_limit"),
        (11, "exchange_units_bought_today"),
    ]
    # (1,000 × 98.00 + 500 × 98.50 + 400 × 98.20) / 1,900 t = 98.1737 → 98.17; bulk stays out.
    closes = {(d["day"], d["close_fen"]) for d in report["days"]}
    assert closes == {("2025-03-04", 9_817), ("2025-03-05", 9_830)}
    assert report["reconcile_ok"] is True
    engine = make_engine(db_url)
    try:
        exchange = Exchange(engine)
        live, rebuilt = exchange.live_book("CEA24"), exchange.rebuild("CEA24")
        assert live is not None and rebuilt is not None and live.snapshot() == rebuilt.snapshot()
        assert rebuilt.reference_price_fen == 9_817  # Wednesday's band follows Tuesday's close
    finally:
        engine.dispose()


def test_a_malformed_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"at": "2025-03-04T01:00:00Z", "type": "holder", "id": "X"}\n{"at": "yesterday", "type": "order"}\n'
    )
    result = CliRunner().invoke(app, ["exchange", "replay", str(bad), "--json"])
    assert result.exit_code == 1
    refusal = json.loads(result.output)
    assert refusal["code"] == "exchange_replay_invalid_line" and "line 2" in refusal["message"]
    missing = CliRunner().invoke(app, ["exchange", "replay", str(tmp_path / "nope.jsonl"), "--json"])
    assert missing.exit_code == 1 and json.loads(missing.output)["code"] == "exchange_replay_file_unreadable"
