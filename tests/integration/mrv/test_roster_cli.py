"""The roster's command line as a user drives it: --db, --json, exit codes, the import interface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from carbonmarket.mrv.roster.cli import import_app, roster_app

runner = CliRunner()


def cli(app: Any, db: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--db", db, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    data: dict[str, Any] = json.loads(lines[-1])
    assert (result.exit_code == 0) is ok, (result.exit_code, result.output)
    assert data["ok"] is ok
    return data


def test_import_roster_prints_the_documented_json(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "province.csv"
    path.write_text(
        "统一社会信用代码,年份,排放量\nGD-0001,2024,3100000\nGD-0002,2024,25999\nGD-0003,2024,未报告\nGD-0004,2024,\n",
        encoding="gbk",
    )
    out = cli(import_app, db_url, "roster", str(path), "--year", "2024", "--threshold", "26000")
    assert {"rows", "included", "excluded", "rejected", "ok"} <= set(out)
    assert (out["rows"], out["included"], out["excluded"], out["encoding"]) == (4, 1, 1, "gbk")
    assert out["rejected"] == [
        {"row": 4, "entity": "GD-0003", "reason": "2024: '未报告' is not a number of tonnes"},
        {"row": 5, "entity": "GD-0004", "reason": "2024: blank: no emissions reported"},
    ]
    again = cli(import_app, db_url, "roster", str(path), "--year", "2024", "--threshold", "25000")
    assert (again["result"], again["included"]) == ("exists", 2)


def test_import_roster_refuses_a_missing_or_unreadable_file(sqlite_url: str, tmp_path: Path) -> None:
    assert (
        cli(import_app, sqlite_url, "roster", str(tmp_path / "nope.csv"), ok=False)["code"]
        == "roster_file_unreadable"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\nx,y\n")
    assert cli(import_app, sqlite_url, "roster", str(bad), ok=False)["code"] == "roster_layout_unknown"


def test_import_roster_without_json_prints_a_readable_summary(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("account_id,2019\nA1,30000\nA2,Excluded\n")
    result = runner.invoke(import_app, ["roster", str(path), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "1 included" in result.stdout and "1 rejected" in result.stdout and "Excluded" in result.stdout


def test_entities_facilities_and_changes_through_the_cli(db_url: str) -> None:
    added = cli(
        roster_app,
        db_url,
        "entity",
        "add",
        "--id",
        "GD-0001",
        "--name",
        "Huaneng Shantou",
        "--sector",
        "power",
        "--province",
        "Guangdong",
        "--city",
        "Shantou",
        "--inclusion-year",
        "2021",
    )
    assert added["entity"]["status"] == "active"
    unit = cli(
        roster_app,
        db_url,
        "facility",
        "add",
        "--id",
        "GD-0001-U1",
        "--entity",
        "GD-0001",
        "--fuel",
        "coal",
        "--capacity-mw",
        "399",
        "--cooling",
        "air",
    )
    assert (unit["facility"]["category"], unit["facility"]["capacity_mw"]) == ("II", "399")
    cli(
        roster_app,
        db_url,
        "change",
        "--entity",
        "GD-0001",
        "--set",
        "city=",
        "--set",
        "status=suspended",
        "--reason",
        "idle",
        "--id",
        "c1",
    )
    cli(
        roster_app,
        db_url,
        "facility",
        "change",
        "--facility",
        "GD-0001-U1",
        "--set",
        "capacity_mw=600",
        "--reason",
        "upgraded",
        "--id",
        "c2",
    )
    shown = cli(roster_app, db_url, "show", "--entity", "GD-0001")
    assert (shown["entity"]["city"], shown["entity"]["status"]) == (None, "suspended")
    assert shown["facilities"][0]["category"] == "I"
    assert [h["kind"] for h in shown["history"]] == [
        "entity.add",
        "facility.add",
        "entity.change",
        "facility.change",
    ]
    listed = cli(roster_app, db_url, "list", "--search", "huaneng")
    assert [e["entity_id"] for e in listed["entities"]] == ["GD-0001"] and listed["total"] == 1


def test_roster_refusals_exit_1_with_their_code(sqlite_url: str) -> None:
    assert (
        cli(roster_app, sqlite_url, "show", "--entity", "XX", ok=False)["code"] == "roster_entity_not_found"
    )
    assert (
        cli(
            roster_app,
            sqlite_url,
            "change",
            "--entity",
            "XX",
            "--set",
            "nonsense",
            "--reason",
            "r",
            "--id",
            "c",
            ok=False,
        )["code"]
        == "roster_invalid_field"
    )
    assert (
        cli(roster_app, sqlite_url, "list", "--sector", "aviation", ok=False)["code"]
        == "roster_invalid_sector"
    )
    assert (
        cli(roster_app, sqlite_url, "inclusion", "--year", "1800", ok=False)["code"] == "roster_invalid_year"
    )
    refused = cli(
        roster_app,
        sqlite_url,
        "entity",
        "add",
        "--id",
        "X1",
        "--name",
        "X",
        "--sector",
        "aviation",
        "--province",
        "Hainan",
        ok=False,
    )
    assert refused["code"] == "roster_invalid_sector"
