"""`carbonmarket demo` and `carbonmarket simulate` (issue 7); `cli.py` registers both commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from carbonmarket.simulation.spec import Scenario, ScenarioError, load_scenario

console = Console(stderr=True)
demo_database = "carbonmarket-demo.db"


def fail(message: str, as_json: bool, code: str = "invalid_request") -> NoReturn:
    """A refusal of the command itself: a JSON error or a sentence, exit 1, nothing run."""
    if as_json:
        sys.stdout.write(json.dumps({"ok": False, "code": code, "message": message}) + "\n")
    else:
        console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


def check_entities(entities: int | None, as_json: bool) -> None:
    if entities is not None and not 1 <= entities <= 200_000:
        fail(f"--entities must be between 1 and 200,000, not {entities}", as_json)


def demo_database_url(db: str | None, keep: bool) -> tuple[str, bool]:
    """The database the demo uses and whether to build it: `--db` (built into), else the demo SQLite
    file — rebuilt each run, or served as it is with `--keep` when it exists."""
    if db:
        return db, True
    path = Path(demo_database)
    if keep and path.is_file() and path.stat().st_size > 0:
        return f"sqlite:///{path}", False
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}", True


def demo_command(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL; default ./carbonmarket-demo.db, rebuilt.")
    ] = None,
    entities: Annotated[
        int | None, typer.Option("--entities", help="Entities (default: the scenario's ~3,500).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the generated market.")] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="Packaged scenario or TOML file.")] = "demo",
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the year; do not serve.")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Serve an existing demo database as it is.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object, last.")
    ] = False,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Generate a national market, run its compliance year through the platform, then serve it."""
    from carbonmarket.simulation.demo_users import add_demo_users
    from carbonmarket.simulation.year import run_year

    check_entities(entities, as_json)
    chosen = _scenario(scenario, as_json)
    url, build = demo_database_url(db, keep)
    if build:
        summary = run_year(url, chosen, entities=entities, seed=seed, progress=not as_json)
        summary["users"] = add_demo_users(url, summary["sample_entity"])
        summary["url"] = f"http://{host}:{port}"
        _print_summary(summary, as_json)
    if not no_serve:
        from carbonmarket.cli import serve

        serve(db=url, host=host, port=port)


def simulate_command(
    scenario: Annotated[
        str, typer.Argument(help="cn-2023 (calibration), a packaged what-if, or a TOML file.")
    ],
    db: Annotated[
        str | None, typer.Option("--db", help="Database for a platform run (default: a scratch SQLite file).")
    ] = None,
    entities: Annotated[int | None, typer.Option("--entities", help="Entities of a platform run.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of a platform run.")] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Monte Carlo seeds of a what-if.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the what-if report (HTML + CSV).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A calibration run (a scenario with published figures) or a policy what-if (policy levers)."""
    check_entities(entities, as_json)
    if seeds is not None and not 1 <= seeds <= 1_000:
        fail(f"--seeds must be between 1 and 1,000, not {seeds}", as_json)
    chosen = _scenario(scenario, as_json)
    if chosen.section("published"):
        _calibrate(chosen, db, entities, seed, as_json)
    elif chosen.section("policy"):
        _what_if(chosen, seeds, entities, out, as_json)
    else:
        fail(f"scenario {chosen.name!r} has neither [published] figures nor [policy] levers", as_json)


def _scenario(name: str, as_json: bool) -> Scenario:
    try:
        return load_scenario(name)
    except ScenarioError as error:
        fail(str(error), as_json, "invalid_scenario")


def _calibrate(
    scenario: Scenario, db: str | None, entities: int | None, seed: int | None, as_json: bool
) -> None:
    import tempfile

    from carbonmarket.simulation.calibration import calibration_table
    from carbonmarket.simulation.year import run_year

    try:
        if db:
            summary = run_year(db, scenario, entities=entities, seed=seed, progress=not as_json)
        else:
            with tempfile.TemporaryDirectory(prefix="carbonmarket-calibration-") as folder:
                url = f"sqlite:///{Path(folder) / 'calibration.db'}"
                summary = run_year(url, scenario, entities=entities, seed=seed, progress=not as_json)
        table = calibration_table(scenario, summary)
    except ScenarioError as error:
        fail(str(error), as_json, "invalid_scenario")
    if as_json:
        sys.stdout.write(json.dumps(table, default=str) + "\n")
        return
    grid = Table(
        title=f"calibration of {scenario.name} (within ±{table['tolerance']:.0%}: {table['within']})"
    )
    for column in ("figure", "published", "simulated", "error"):
        grid.add_column(column, justify="left" if column == "figure" else "right")
    for row in table["figures"]:
        shown = "" if row["error"] is None else f"{row['error']:+.2%}"
        grid.add_row(row["name"], _number(row["published"]), _number(row["simulated"]), shown)
    Console().print(grid)


def _what_if(
    scenario: Scenario, seeds: int | None, entities: int | None, out: Path | None, as_json: bool
) -> None:
    from carbonmarket.simulation.policy import run_policy

    try:
        result = run_policy(scenario, seeds=seeds, entities=entities, out_dir=out)
    except ScenarioError as error:
        fail(str(error), as_json, "invalid_scenario")
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    brief = {k: result[k] for k in ("levers", "headline", "comparison", "report") if k in result}
    Console().print_json(json.dumps(brief, default=str))


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    grid = Table(title=f"{summary['scenario']}: compliance year {summary['year']}")
    grid.add_column("figure")
    grid.add_column("value", justify="right")
    for key, value in summary.items():
        if key in ("users", "stage_seconds", "entities_by_sector"):
            continue
        grid.add_row(key, _number(value))
    Console().print(grid)
    Console().print("stage seconds: " + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()))
    for user in summary.get("users", []):
        Console().print(f"log in as {user['username']} / {user['password']} ({user['role']})")


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


# Issue 7's targets: the demo year for 3,500 entities on SQLite within 5 minutes, 100 entities in 30 s.
demo_targets_s = {3_500: 300.0, 100: 30.0}


def bench_demo(
    entities: Annotated[list[int] | None, typer.Option("--entities", help="Sizes to run (repeat).")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="PostgreSQL server URL (default: scratch SQLite).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The demo year end to end per size on a scratch database, seconds per stage beside the target."""
    from carbonmarket.benchmarks.scratch import is_sqlite, parse_url, postgres_database, sqlite_file, url_text
    from carbonmarket.simulation.year import run_year

    sizes = entities or [100, 3_500]
    for size in sizes:
        check_entities(size, as_json)
    server = parse_url(db or "sqlite:///bench-demo.db")
    runs = []
    for size in sizes:
        scratch = sqlite_file(server) if is_sqlite(server) else postgres_database(server, "demo")
        with scratch as scratch_url:
            summary = run_year(
                url_text(scratch_url), load_scenario("demo"), entities=size, progress=not as_json
            )
        target = demo_targets_s.get(size)
        runs.append(
            {
                "entities": size,
                "seconds": summary["seconds"],
                "stage_seconds": summary["stage_seconds"],
                "target_s": target,
                "ratio": None if target is None else round(summary["seconds"] / target, 3),
                "reconcile_ok": summary["reconcile_ok"],
            }
        )
    result = {"benchmark": "demo", "database": "sqlite" if is_sqlite(server) else "postgresql", "runs": runs}
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for run in runs:
        Console().print(
            f"{run['entities']:>7,} entities: {run['seconds']:.1f} s (target {run['target_s']} s, "
            f"ratio {run['ratio']}); stages {run['stage_seconds']}"
        )


bench_commands = {"demo": bench_demo}
