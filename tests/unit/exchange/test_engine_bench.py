"""`carbonmarket bench matching`, called directly on a small stream: the contract's JSON, equal fills."""

from __future__ import annotations

import json

import pytest
import typer

from carbonmarket.exchange.bench_matching import BareBook, bench_matching, generate_stream


def test_bench_matching_prints_the_contract_object_last_with_equal_fills(capsys):
    bench_matching(ops=3_000, seed=11, repeat=1, as_json=True)
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert list(result)[:6] == ["ops", "ops_per_s", "peers", "best_peer_ops_per_s", "ratio", "filled_equal"]
    assert result["ops"] == 3_000
    assert set(result["peers"]) == {"liquibook", "pyorderbook", "lightmatchingengine"}
    assert result["filled_equal"] is True
    assert result["best_peer_ops_per_s"] == max(result["peers"].values())
    assert result["ratio"] == pytest.approx(result["ops_per_s"] / result["best_peer_ops_per_s"], rel=1e-2)
    assert len(set(result["filled_t"].values())) == 1 and result["filled_t"]["ours"] > 0


def test_the_stream_cancels_only_live_orders_and_is_seeded():
    stream = generate_stream(5_000, seed=3)
    assert stream == generate_stream(5_000, seed=3)
    cancels = sum(1 for op in stream if op.kind == "cancel")
    assert 0.2 < cancels / len(stream) < 0.35  # about 30%, a little less while the book is empty
    book = BareBook(track=False)
    for op in stream:  # a cancel of an order that is not live would raise KeyError here
        if op.kind == "new":
            book.add(op.index, op.is_buy, op.price_fen, op.quantity)
        else:
            book.cancel(op.index)
    assert len(book.orders) > 1_000  # a deep book


def test_bench_matching_refuses_an_absurd_size():
    with pytest.raises(typer.Exit):
        bench_matching(ops=0, seed=1, repeat=1, as_json=True)


def test_bench_matching_on_the_cpu_clock_still_checks_equal_fills(capsys):
    bench_matching(ops=2_000, seed=5, repeat=1, as_json=True, clock="cpu")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["clock"] == "cpu" and result["filled_equal"] is True and result["ops_per_s"] > 0


def test_bench_matching_refuses_an_unknown_clock():
    with pytest.raises(typer.Exit):
        bench_matching(ops=1_000, seed=1, repeat=1, as_json=True, clock="sundial")
