"""Review, verification and trace at the command line (the Typer apps the lead mounts): --db,
--json, exit codes, one JSON object per command."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.mrv.review.cli import review_app
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.trace import trace_command
from carbonmarket.mrv.verification.cli import verification_app

runner = CliRunner()
mrv = typer.Typer()
mrv.add_typer(review_app, name="review")
mrv.add_typer(verification_app, name="verification")
mrv.command("trace")(trace_command)


def cli(db: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(mrv, [*args, "--db", db, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    data: dict[str, Any] = json.loads(lines[-1])
    assert (result.exit_code == 0) is ok, (result.exit_code, result.output)
    assert data["ok"] is ok
    return data


@pytest.fixture
def db(db_url: str) -> str:
    engine = make_engine(db_url)
    outcome = Roster(engine).add_entity(
        LOCAL_OPERATOR, "E-SZ", "Shenzhen Power", "power", "Guangdong", "Shenzhen"
    )
    assert isinstance(outcome, Done), outcome
    engine.dispose()
    return db_url


def test_a_case_is_opened_referred_resolved_and_queued_at_the_command_line(db: str) -> None:
    opened = cli(db, "review", "open", "--id", "C1", "--entity", "E-SZ", "--year", "2024", "--month", "3")
    assert (opened["result"], opened["tier"], opened["province"]) == ("created", "national", "Guangdong")
    assert cli(db, "review", "queue", "--tier", "national")["cases"][0]["case"] == "C1"
    refusal = cli(
        db, "review", "resolve", "C1", "--outcome", "explained", "--explanation", "x", "--id", "s0", ok=False
    )
    assert refusal["code"] == "review_case_not_in_review"
    assert cli(db, "review", "refer", "C1", "--reason", "province", "--id", "r1")["tier"] == "provincial"
    assert cli(db, "review", "queue", "--tier", "national")["cases"] == []
    assert (
        cli(db, "review", "queue", "--tier", "provincial", "--province", "Guangdong")["cases"][0]["case"]
        == "C1"
    )
    cli(db, "review", "take", "C1", "--id", "t1")
    comment = cli(
        db, "review", "comment", "C1", "--text", "photo", "--attach", f"meter.jpg={'2b' * 32}", "--id", "m1"
    )
    assert comment["attachments"] == 1
    bad = cli(
        db, "review", "comment", "C1", "--text", "photo", "--attach", "meter.jpg", "--id", "m2", ok=False
    )
    assert bad["code"] == "review_invalid_attachment"
    cli(
        db,
        "review",
        "resolve",
        "C1",
        "--outcome",
        "confirmed_error",
        "--explanation",
        "wrong unit",
        "--id",
        "s1",
    )
    assert cli(db, "review", "confirm", "C1", "--note", "fixed", "--id", "k1")["status"] == "closed"
    shown = cli(db, "review", "show", "C1")
    assert [m["kind"] for m in shown["thread"]][-2:] == ["resolved", "correction_confirmed"]
    assert cli(db, "review", "show", "NOPE", ok=False)["code"] == "review_case_not_found"


def test_a_verification_and_its_evaluation_at_the_command_line(db: str) -> None:
    cli(db, "verification", "body", "apply", "--id", "B1", "--name", "Body One")
    assert (
        cli(db, "verification", "body", "qualify", "B1", "--reason", "ok", "--id", "q1")["status"]
        == "qualified"
    )
    assert cli(db, "verification", "body", "qualify", "B1", "--reason", "ok", "--id", "q2", ok=False)[
        "code"
    ] == ("verification_body_not_applied")
    assert cli(
        db, "verification", "assign", "--id", "V1", "--entity", "E-SZ", "--year", "2024", "--body", "B1"
    )["mode"] == ("full")
    cli(db, "verification", "start", "V1", "--id", "s1")
    cli(
        db,
        "verification",
        "nc",
        "raise",
        "--id",
        "NC1",
        "--verification",
        "V1",
        "--description",
        "no lab report",
    )
    assert cli(db, "verification", "submit", "V1", "--emissions", "5000", "--id", "x", ok=False)["code"] == (
        "verification_open_nonconformities"
    )
    cli(db, "verification", "nc", "close", "NC1", "--closure", "supplied", "--id", "c1")
    cli(db, "verification", "submit", "V1", "--emissions", "5000", "--id", "sub")
    cli(db, "verification", "accept", "V1", "--id", "acc")
    assert cli(db, "verification", "verified", "E-SZ", "2024")["verified_emissions_tco2e"] == 5000
    assert cli(db, "verification", "eligibility", "E-SZ", "2025")["eligible"] is False
    # The CLI runs on the machine's clock: the 40 timeliness points depend on whether today is
    # before 30 June 2025; first pass (20) and no later findings (40) do not.
    on_time = cli(db, "verification", "show", "V1")["on_time"]
    preview = cli(db, "verification", "evaluation", "preview", "2024")["bodies"][0]
    assert preview["score"] == 60 + 40 * on_time
    cli(db, "verification", "evaluation", "publish", "2024")
    assert cli(db, "verification", "evaluation", "show")["bodies"][0]["score"] == preview["score"]
    assert cli(db, "verification", "list", "--body", "B1")["verifications"][0]["status"] == "verified"
    assert cli(db, "verification", "body", "show", "B1")["history"][-1]["to"] == "qualified"


def test_trace_prints_the_chain_as_one_json_object(db: str) -> None:
    traced = cli(db, "trace", "E-SZ", "2024")
    assert traced["entity"]["city"] == "Shenzhen"
    assert [s["stage"] for s in traced["chain"]][-2:] == ["allocation", "compliance"]
    human = runner.invoke(mrv, ["trace", "E-SZ", "2024", "--db", db])
    assert human.exit_code == 0 and "trace E-SZ 2024" in human.output
