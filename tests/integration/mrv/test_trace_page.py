"""What the trace page reads — `GET /api/mrv/trace/{entity}/{year}`, and `carbonmarket trace` — refuses
a malformed entity id or an absurd year in words, instead of tracing it to an empty chain. SQLite is
enough: the refusal comes before any query."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.mrv.trace import trace_command

SECRET = "trace-page-test-secret-0123456789abcdef01234"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    engine = make_engine(sqlite_url)
    identity = Identity(engine, SECRET)
    assert isinstance(identity.add_user(LOCAL_OPERATOR, "regulator", "regulator-pass", "regulator"), Done)
    headers = {"Authorization": f"Bearer {identity.token_for(identity.actor('regulator'))}"}
    with TestClient(create_app(sqlite_url, Settings(jwt_secret=SECRET))) as http:
        yield http, headers
    engine.dispose()


@pytest.mark.parametrize(
    ("path", "code", "words"),
    [
        ("/api/mrv/trace/E-1/99999", "verification_invalid_year", "year must be between 2013 and 2100"),
        ("/api/mrv/trace/E-1/-5", "verification_invalid_year", "year must be between 2013 and 2100"),
        (f"/api/mrv/trace/{'E' * 65}/2024", "invalid_id", "entity id"),
        ("/api/mrv/trace/E%201/2024", "invalid_id", "must be 1-64 letters, digits"),
    ],
)
def test_the_trace_route_refuses_an_absurd_year_or_a_malformed_id(
    client: tuple[TestClient, dict[str, str]], path: str, code: str, words: str
) -> None:
    http, headers = client
    answer = http.get(path, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["code"] == code and words in answer.json()["message"]


def test_the_trace_route_traces_a_plausible_year_of_an_unknown_entity_to_its_gaps(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, headers = client
    answer = http.get("/api/mrv/trace/E-1/2024", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["parameters"] == [] and any("roster" in gap for gap in answer.json()["gaps"])


def test_the_trace_command_refuses_an_absurd_year_with_exit_1(sqlite_url: str) -> None:
    app = typer.Typer()
    app.command("trace")(trace_command)
    app.command("noop")(lambda: None)  # a second command keeps `trace` a subcommand
    result = CliRunner().invoke(app, ["trace", "E-1", "20240", "--db", sqlite_url, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "ok": False,
        "code": "verification_invalid_year",
        "message": "year must be between 2013 and 2100",
    }
