"""The command line as a user drives it: --db, --json, exit codes, the stable interfaces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from carbonmarket.cli import app

runner = CliRunner()


def schema_head() -> str | None:
    """The newest migration shipped with the code (what `init` must bring a database to)."""
    from alembic.script import ScriptDirectory

    from carbonmarket.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def cli(db: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--db", db, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    data: dict[str, Any] = json.loads(lines[-1])
    assert (result.exit_code == 0) is ok, (result.exit_code, result.output)
    assert data["ok"] is ok
    return data


@pytest.fixture
def db(db_url: str) -> str:
    """A database set up through the CLI like a user would."""
    init = cli(db_url, "init")
    assert "CEA24" in init["instruments_defined"] and init["revision"] == schema_head()
    cli(db_url, "registry", "holder", "add", "--id", "MEE", "--name", "Ministry", "--kind", "government")
    cli(db_url, "registry", "account", "open", "--id", "ISS", "--holder", "MEE", "--type", "issuance")
    cli(db_url, "registry", "account", "open", "--id", "CANCEL", "--holder", "MEE", "--type", "cancellation")
    for holder in ("E1", "E2"):
        cli(
            db_url,
            "registry",
            "holder",
            "add",
            "--id",
            holder,
            "--name",
            f"Plant {holder}",
            "--kind",
            "entity",
        )
        cli(
            db_url,
            "registry",
            "account",
            "open",
            "--id",
            f"{holder}-H",
            "--holder",
            holder,
            "--type",
            "holding",
        )
    return db_url


def test_init_twice_is_harmless(db: str) -> None:
    assert cli(db, "init")["instruments_defined"] == []


def test_issue_transfer_balance_follow_the_documented_json(db: str) -> None:
    issued = cli(
        db, "registry", "issue", "--instrument", "CEA24", "--quantity", "5000", "--to", "ISS", "--id", "c1"
    )
    assert (issued["result"], issued["quantity"]) == ("created", 5000)
    moved = cli(
        db,
        "registry",
        "transfer",
        "--from",
        "ISS",
        "--to",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "1200",
        "--id",
        "c2",
    )
    assert moved["result"] == "created"
    again = cli(
        db,
        "registry",
        "transfer",
        "--from",
        "ISS",
        "--to",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "1200",
        "--id",
        "c2",
    )
    assert again["result"] == "exists"
    balance = cli(db, "registry", "balance", "--account", "E1-H")
    assert (balance["account"], balance["balances"]) == ("E1-H", {"CEA24": 1200})


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        ("0", "quantity_not_positive"),
        ("-5", "quantity_not_positive"),
        ("1.5", "quantity_not_integer"),
        ("1000000000001", "quantity_too_large"),
        ("lots", "quantity_not_integer"),
        ("999999", "insufficient_balance"),
    ],
)
def test_bad_quantities_exit_nonzero_with_a_named_code(db: str, quantity: str, code: str) -> None:
    cli(db, "registry", "issue", "--instrument", "CEA24", "--quantity", "100", "--to", "ISS", "--id", "c1")
    error = cli(
        db,
        "registry",
        "transfer",
        "--from",
        "ISS",
        "--to",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        quantity,
        "--id",
        "bad",
        ok=False,
    )
    assert error["code"] == code and error["message"]
    assert cli(db, "registry", "balance", "--account", "ISS")["balances"] == {"CEA24": 100}


def test_unknown_accounts_and_instruments_are_named(db: str) -> None:
    error = cli(db, "registry", "balance", "--account", "GHOST", ok=False)
    assert error["code"] == "unknown_account" and "GHOST" in error["message"]
    error = cli(
        db,
        "registry",
        "issue",
        "--instrument",
        "CEA77",
        "--quantity",
        "1",
        "--to",
        "ISS",
        "--id",
        "x",
        ok=False,
    )
    assert error["code"] == "unknown_instrument"
    error = cli(db, "registry", "holder", "add", "--id", "Z", "--name", "Z", "--kind", "alien", ok=False)
    assert error["code"] == "invalid_holder_kind"


def test_freeze_release_cancel_history_reconcile_and_audit(db: str) -> None:
    cli(db, "registry", "issue", "--instrument", "CEA24", "--quantity", "900", "--to", "ISS", "--id", "c1")
    cli(
        db,
        "registry",
        "transfer",
        "--from",
        "ISS",
        "--to",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "900",
        "--id",
        "c2",
    )
    cli(
        db,
        "registry",
        "freeze",
        "--account",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "400",
        "--reason",
        "court",
        "--id",
        "f1",
    )
    refused = cli(
        db,
        "registry",
        "transfer",
        "--from",
        "E1-H",
        "--to",
        "E2-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "501",
        "--id",
        "c3",
        ok=False,
    )
    assert refused["code"] == "insufficient_balance"
    cli(db, "registry", "release", "--hold", "f1")
    cancelled = cli(
        db,
        "registry",
        "cancel",
        "--from",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "100",
        "--to",
        "CANCEL",
        "--beneficiary",
        "Expo",
        "--purpose",
        "neutral event",
        "--id",
        "r1",
    )
    assert cancelled["certificate"] == "CERT-r1"
    history = cli(db, "registry", "history", "--account", "E1-H")
    assert [e["quantity"] for e in history["entries"]] == [-100, 900]
    report = cli(db, "reconcile")
    assert report["supply"]["CEA24"] == {"issued": 900, "retired": 100, "supply": 800}
    audit = cli(db, "audit", "verify")
    assert audit["first_bad_row"] is None and audit["rows"] > 10


def test_pledge_and_users_through_the_cli(db: str) -> None:
    cli(db, "registry", "issue", "--instrument", "CEA24", "--quantity", "50", "--to", "ISS", "--id", "c1")
    cli(
        db,
        "registry",
        "transfer",
        "--from",
        "ISS",
        "--to",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "50",
        "--id",
        "c2",
    )
    cli(
        db,
        "registry",
        "pledge",
        "--account",
        "E1-H",
        "--instrument",
        "CEA24",
        "--quantity",
        "30",
        "--pledgee",
        "E2-H",
        "--id",
        "p1",
    )
    executed = cli(db, "registry", "execute-pledge", "--hold", "p1", "--quantity", "20")
    assert (executed["quantity"], executed["released"]) == (20, 10)
    cli(
        db,
        "user",
        "add",
        "--username",
        "rep1",
        "--role",
        "entity_representative",
        "--password",
        "a-long-password",
        "--holder",
        "E1",
    )
    cli(db, "user", "grant", "--username", "rep1", "--account", "E1-H", "--right", "initiate")
    weak = cli(db, "user", "add", "--username", "rep2", "--role", "public", "--password", "short", ok=False)
    assert weak["code"] == "invalid_text"
