"""`carbonmarket ccer ...` on SQLite and PostgreSQL: a project through its lifecycle with `--at`,
one JSON object per command with `--json`, refusals exit 1 with their code."""

from __future__ import annotations

import json
from typing import Any

from ccer_market import EXAMPLES, SHA
from typer.testing import CliRunner

from carbonmarket.cli import app

runner = CliRunner()


def ccer(db_url: str, at: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(app, ["ccer", "--at", at, *args, "--db", db_url, "--json"])
    assert (result.exit_code == 0) is ok, result.output
    data: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return data


def test_a_project_is_registered_issued_searched_and_cancelled_at_the_command_line(db_url: str) -> None:
    day1, day2, day3 = "2025-03-03T10:00+08:00", "2025-04-08T10:00+08:00", "2025-05-20T10:00+08:00"
    example = EXAMPLES["CCER-01-002-V01"]
    ccer(
        db_url,
        day1,
        "project",
        "submit",
        "--id",
        "CLI1",
        "--name",
        "Offshore",
        "--owner",
        "OWN1",
        "--methodology",
        "CCER-01-002-V01",
        "--sector",
        "renewable_power",
        "--province",
        "Jiangsu",
        "--construction-start",
        "2022-01-01",
        "--operation-start",
        "2023-06-01",
        "--crediting-start",
        "2024-01-01",
        "--crediting-end",
        "2033-12-31",
        "--parameters",
        json.dumps(example["parameters"]),
        "--sha256",
        SHA,
    )
    ccer(
        db_url,
        day1,
        "project",
        "validate",
        "CLI1",
        "--id",
        "v",
        "--vvb",
        "VVB-A",
        "--sha256",
        SHA,
        "--opinion",
        "ok",
        "--owner-commitment",
        "true",
        "--vvb-commitment",
        "independent",
    )
    disclosed = ccer(db_url, day1, "project", "disclose", "CLI1", "--id", "d")
    assert disclosed["disclosure_end"] == "2025-03-31"
    early = ccer(db_url, day1, "project", "apply", "CLI1", "--id", "a0", ok=False)
    assert early["code"] == "ccer_disclosure_open"
    ccer(db_url, day2, "project", "apply", "CLI1", "--id", "a")
    ccer(db_url, day2, "project", "decide", "CLI1", "--id", "r", "--reason", "complete")
    submitted = ccer(
        db_url,
        day2,
        "monitoring",
        "submit",
        "--id",
        "CLI1-R",
        "--project",
        "CLI1",
        "--start",
        "2024-01-01",
        "--end",
        "2024-12-31",
        "--inputs",
        json.dumps(example["monitored"]),
    )
    assert submitted["claimed_t"] == 678_333
    same = ccer(
        db_url,
        day2,
        "verify",
        "CLI1-R",
        "--id",
        "x",
        "--vvb",
        "VVB-A",
        "--verified-t",
        "1",
        "--sha256",
        SHA,
        ok=False,
    )
    assert same["code"] == "ccer_vvb_same_body"
    ccer(
        db_url,
        day2,
        "verify",
        "CLI1-R",
        "--id",
        "vr",
        "--vvb",
        "VVB-B",
        "--verified-t",
        "678333",
        "--sha256",
        SHA,
    )
    ccer(db_url, day2, "monitoring", "disclose", "CLI1-R", "--id", "dr")
    ccer(db_url, day3, "monitoring", "apply", "CLI1-R", "--id", "ar")
    ccer(db_url, day3, "monitoring", "decide", "CLI1-R", "--id", "rr", "--reason", "ok")
    issued = ccer(db_url, day3, "issue", "CLI1-R", "--id", "iss")
    assert issued["serials"] == ["CCER-CLI1-2024-000001", "CCER-CLI1-2024-678333"]
    assert ccer(db_url, day3, "issue", "CLI1-R", "--id", "iss2", ok=False)["code"] == "ccer_already_issued"
    cancelled = ccer(
        db_url,
        day3,
        "cancel",
        "--id",
        "cx",
        "--account",
        "OWN1-H",
        "--instrument",
        "CCER-CLI1-2024",
        "--quantity",
        "10",
        "--claim",
        "organisation",
        "--beneficiary",
        "Acme",
        "--purpose",
        "2024 scope 2",
    )
    found = ccer(db_url, day3, "search", "CCER-CLI1-2024-000010")
    assert found["retired"] is True and found["certificate"]["certificate_id"] == cancelled["certificate"]
    listed = ccer(db_url, day3, "methodology", "list")
    assert len(listed["methodologies"]) == 6


def test_methodology_calculate_shows_the_worked_example(db_url: str) -> None:
    example = EXAMPLES["CCER-07-001-V01"]
    result = ccer(
        db_url,
        "2025-03-03T10:00+08:00",
        "methodology",
        "calculate",
        "CCER-07-001-V01",
        "--parameters",
        json.dumps(example["parameters"]),
        "--monitored",
        json.dumps(example["monitored"]),
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
    )
    assert result["reduction_t"] == 1_445 and result["unmet_conditions"] == []


def test_malformed_json_arguments_are_refused_as_one_json_object(db_url: str, tmp_path: Any) -> None:
    """--parameters and the like take JSON inline or as @file; a bad one is refused as --json asks."""
    at = "2025-03-03T10:00+08:00"
    common = ["--start", "2025-01-01", "--end", "2025-12-31"]
    bad_inline = ccer(
        db_url, at, "methodology", "calculate", "CCER-07-001-V01",
        "--parameters", "{bad", "--monitored", "{}", *common, ok=False,
    )  # fmt: skip
    assert bad_inline["ok"] is False and bad_inline["code"] == "invalid_request"
    assert bad_inline["message"].startswith("--parameters: not a JSON object")
    missing = tmp_path / "absent.json"
    bad_file = ccer(
        db_url, at, "methodology", "calculate", "CCER-07-001-V01",
        "--parameters", json.dumps(EXAMPLES["CCER-07-001-V01"]["parameters"]),
        "--monitored", f"@{missing}", *common, ok=False,
    )  # fmt: skip
    assert bad_file["code"] == "invalid_request" and bad_file["message"].startswith("--monitored:")
