"""`carbonmarket mrv record ...` and `carbonmarket import monthly FILE`, mounted as the root CLI will."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from carbonmarket.mrv.model import Finding, MonthlyRecord
from carbonmarket.mrv.records import service
from carbonmarket.mrv.records.cli import import_monthly_app, records_app

runner = CliRunner()
# The wiring the lead adds to src/carbonmarket/cli.py.
app = typer.Typer()
mrv_app = typer.Typer()
import_app = typer.Typer()
mrv_app.add_typer(records_app, name="record")
import_app.add_typer(import_monthly_app)
app.add_typer(mrv_app, name="mrv")
app.add_typer(import_app, name="import")

VALUES = [
    "coal_consumed_t=1000",
    "coal_ncv_gj_per_t=20.5",
    "gas_consumed_10k_nm3=0",
    "electricity_generated_mwh=3000",
    "electricity_supplied_mwh=2800",
    "heat_supplied_gj=0",
    "operating_hours_h=600",
    "load_rate_fraction=0.7",
]


@pytest.fixture(autouse=True)
def no_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validation model is not what these tests are about."""

    def evaluate(_record: MonthlyRecord, _previous: Any) -> list[Finding]:
        return []

    monkeypatch.setattr(service, "evaluate_rules", evaluate)


def cli(db: str, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--db", db, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    data: dict[str, Any] = json.loads(lines[-1])
    assert (result.exit_code == 0) is ok, (result.exit_code, result.output)
    assert data["ok"] is ok
    return data


def submit(db: str, month: int, *extra: str, ok: bool = True) -> dict[str, Any]:
    args = ["mrv", "record", "submit", "--entity", "E-1", "--facility", "UNIT-1", "--sector", "power"]
    args += ["--year", "2024", "--month", str(month)]
    for value in VALUES:
        args += ["--value", value]
    return cli(db, *args, *extra, ok=ok)


def test_submit_correct_history_and_report_at_the_command_line(db_url: str) -> None:
    first = submit(db_url, 1, "--evidence", "lab_report_id=LR-1")
    assert (first["result"], first["record_id"]) == ("created", "UNIT-1/2024-01/v1")
    # The default command id comes from the input: typing the same command again is safe.
    assert submit(db_url, 1, "--evidence", "lab_report_id=LR-1")["result"] == "exists"
    refused = submit(db_url, 1, "--value", "oil_consumed_t=2", ok=False)
    assert refused["code"] == "record_month_already_submitted"
    corrected = submit(
        db_url, 1, "--value", "oil_consumed_t=2", "--correct", "--reason", "start-up oil missed"
    )
    assert corrected["version"] == 2
    history = cli(db_url, "mrv", "record", "history", "--entity", "E-1", "--year", "2024")
    assert [(r["version"], r["current"]) for r in history["records"]] == [(1, False), (2, True)]
    report = cli(db_url, "mrv", "record", "report", "--entity", "E-1", "--year", "2024")
    # coal: 1,000 × 20.5 × 0.03085 × 0.99 × 44/12 = 2,295.70275 t; oil: 2 t × 41.816 × 0.02110 × 0.98 × 44/12
    #   = 6.340922485 t; total 2,302.043672 t → 2,302 t.
    assert report["emissions_tco2e"] == 2302
    missing = cli(db_url, "mrv", "record", "report", "--entity", "E-2", "--year", "2024", ok=False)
    assert missing["code"] == "record_not_found"


def test_check_prints_problems_without_saving(db_url: str) -> None:
    args = ["mrv", "record", "check", "--entity", "E-1", "--facility", "UNIT-1", "--sector", "power"]
    args += ["--year", "2024", "--month", "2", "--value", "coal_consumed_t=lots"]
    answer = cli(db_url, *args)
    assert answer["valid"] is False
    assert {p["code"] for p in answer["problems"]} >= {
        "record_value_not_a_number",
        "record_missing_parameter",
    }
    history = cli(db_url, "mrv", "record", "history", "--entity", "E-1", "--year", "2024")
    assert history["records"] == []


def test_import_monthly_reads_a_gbk_file_and_is_idempotent(db_url: str, tmp_path: Path) -> None:
    header = "entity_id,facility_id,sector,year,month," + ",".join(v.split("=")[0] for v in VALUES) + ",备注"
    good = "E-1,UNIT-1,power,2024,{m}," + ",".join(v.split("=")[1] for v in VALUES) + ",{note}"
    lines = [header, good.format(m=1, note=""), good.format(m=2, note="检修"), good.format(m=3, note="")]
    path = tmp_path / "月报.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    result = cli(db_url, "import", "monthly", str(path))
    assert (result["result"], result["encoding"], result["accepted"]) == ("created", "gbk", 2)
    assert [(r["row"], r["code"]) for r in result["rejected"]] == [(3, "record_unknown_column")]
    assert cli(db_url, "import", "monthly", str(path))["result"] == "exists"
    missing = cli(db_url, "import", "monthly", str(tmp_path / "nope.csv"), ok=False)
    assert missing["code"] == "record_file_unreadable"
    bad = tmp_path / "bad.csv"
    bad.write_text("facility_id,month\nU,1\n")
    assert cli(db_url, "import", "monthly", str(bad), ok=False)["code"] == "record_columns_invalid"


def test_monitoring_plans_at_the_command_line(db_url: str) -> None:
    base = ["mrv", "record", "plan-set", "--entity", "E-1", "--facility", "UNIT-1", "--sector", "power"]
    plan = cli(
        db_url,
        *base,
        "--from",
        "2024-01",
        "--param",
        "coal_consumed_t=measured",
        "--param",
        "coal_carbon_content_tc_per_gj=measured",
        "--lab",
        "coal_carbon_content_tc_per_gj=CNAS L0001",
        "--meter",
        "coal_consumed_t=BELT-1",
        "--meter",
        "coal_consumed_t=BELT-2",
    )
    assert plan["parameters"]["coal_consumed_t"]["meter_ids"] == ["BELT-1", "BELT-2"]
    assert cli(db_url, *base, "--from", "2024-07", "--param", "oil_consumed_t=guess", ok=False)["code"] == (
        "record_plan_invalid"
    )
    shown = cli(db_url, "mrv", "record", "plan", "--facility", "UNIT-1")
    assert [v["version"] for v in shown["versions"]] == [1]
