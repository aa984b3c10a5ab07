"""A small market for the exchange's trading tests: central accounts, three members with trading
accounts, allowances and funds in place, and a clock inside a listed session.

Used by tests/integration/exchange/test_trading*.py, test_settlement*.py, test_bulk*.py,
test_replay*.py and tests/property/test_exchange_settlement.py.

Building the market means migrating a database (seconds on PostgreSQL) and a dozen registry
commands, so the `market` fixture builds it once per backend as a template and gives each test a
copy: a copied SQLite file, or a PostgreSQL database created from the template
(`CREATE DATABASE ... TEMPLATE`). Every test still runs on both real databases, from a clean state.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Done, Outcome, Refusal
from carbonmarket.db.command import run_command
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.exchange.service import Exchange
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from carbonmarket.registry.service import Registry

# Tuesday 4 March 2025, 10:00 China Standard Time (02:00 UTC): the morning listed session is open.
MORNING = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
# The same day at 13:30 CST: both the listed and the bulk session are open.
AFTERNOON = datetime(2025, 3, 4, 5, 30, tzinfo=UTC)
# The listing reference price of every vintage that never traded (bidding.toml [reference_prices]).
REFERENCE_FEN = 9_749
OPERATOR = Actor("seee-operator", Role.EXCHANGE_OPERATOR)
# Starting positions: A sells, B and C buy.
A_UNITS = 200_000
B_UNITS = 10_000
FUNDS_FEN = 50_000_000_000  # CNY 500 million each, enough for a bulk agreement


def member(name: str, account: str) -> Actor:
    """An exchange member with the initiate right on its trading account."""
    return Actor(name, Role.EXCHANGE_MEMBER, frozenset({(account, Permission.INITIATE)}))


ALICE = member("alice", "A-T")
BOB = member("bob", "B-T")
CAROL = member("carol", "C-T")


@dataclass
class Market:
    """The engine, its clock, the registry and an Exchange over them."""

    engine: Engine
    clock: FixedClock
    registry: Registry
    exchange: Exchange

    def fresh_exchange(self) -> Exchange:
        """Another Exchange over the same database, as a restarted process would build it."""
        return Exchange(self.engine, self.clock)

    def balance(self, account: str, instrument: str) -> tuple[int, int]:
        """(total, held) of an account's instrument."""
        with self.engine.connect() as connection:
            found = postings.balances(connection, [(account, instrument)])[(account, instrument)]
        return found.total, found.held


def build_market(engine: Engine, start: datetime = MORNING) -> Market:
    """Central accounts, holders A, B (entities) and C (financial) with -H and -T accounts; A-T holds
    200,000 t and B-T 10,000 t of CEA24; every -T account holds CNY 500 million."""
    clock = FixedClock(start)
    registry = Registry(engine, clock)
    registry.define_defaults(LOCAL_OPERATOR)
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    for holder, kind in (("A", "entity"), ("B", "entity"), ("C", "financial")):
        done(registry.add_holder(LOCAL_OPERATOR, holder, f"Holder {holder}", kind))
        done(registry.open_account(LOCAL_OPERATOR, f"{holder}-H", holder, "holding"))
        done(registry.open_account(LOCAL_OPERATOR, f"{holder}-T", holder, "trading"))

    def setup(connection: Connection, at: str) -> dict[str, Any]:
        postings.issue(connection, LOCAL_OPERATOR, "iss-24", "CEA24", 1_000_000, "CN-ISSUANCE", at)
        postings.issue(connection, LOCAL_OPERATOR, "iss-23", "CEA23", 1_000_000, "CN-ISSUANCE", at)
        postings.move(
            connection,
            LOCAL_OPERATOR,
            "alloc",
            "allocation",
            [
                Move("CN-ISSUANCE", "A-T", "CEA24", A_UNITS),
                Move("CN-ISSUANCE", "B-T", "CEA24", B_UNITS),
                Move("CN-ISSUANCE", "A-T", "CEA23", A_UNITS),
            ],
            at,
        )
        return {}

    done(run_command(engine, clock, LOCAL_OPERATOR, "test.setup", "setup", {}, setup))
    exchange = Exchange(engine, clock)
    for account in ("A-T", "B-T", "C-T"):
        done(exchange.deposit(OPERATOR, f"dep-{account}", account, FUNDS_FEN))
    return Market(engine, clock, registry, exchange)


def done(outcome: Outcome) -> dict[str, Any]:
    """The data of a success; fails the test on a refusal."""
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: str) -> Refusal:
    """The refusal, checked to carry `code`."""
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code.value == code, outcome
    return outcome


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def market_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database holding the built market, once per module and backend."""
    from pgtest import _require_pg, create_pg_database, drop_pg_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('market') / 'template.db'}"
        upgrade(url)
        _build_template(url)
        yield url
        return
    _require_pg()
    url = create_pg_database("cmxtmpl")
    try:
        upgrade(url)
        _build_template(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def market(market_template: str, tmp_path: Path) -> Iterator[Market]:
    """A fresh copy of the built market for one test, with its clock at MORNING."""
    from pgtest import PG_ADMIN_URL, drop_pg_database

    if market_template.startswith("sqlite"):
        copy = tmp_path / "carbonmarket.db"
        shutil.copyfile(market_template.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
    else:
        name = f"cmx_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(
                text(f'CREATE DATABASE "{name}" TEMPLATE "{market_template.rsplit("/", 1)[1]}"')
            )
        admin.dispose()
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    clock = FixedClock(MORNING)
    try:
        yield Market(engine, clock, Registry(engine, clock), Exchange(engine, clock))
    finally:
        engine.dispose()
        if not url.startswith("sqlite"):
            drop_pg_database(url)


def _build_template(url: str) -> None:
    engine = make_engine(url)
    try:
        build_market(engine)
    finally:
        engine.dispose()


def refuse_command_row(engine: Engine, key: str) -> None:
    """Make the database itself refuse the command row with this key (a trigger, either database):
    the last statement of that command fails, after everything else of it was sent."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION test_refuse_command() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'test: command row refused'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER test_refuse BEFORE INSERT ON commands FOR EACH ROW "
                    f"WHEN (NEW.id = '{key}') EXECUTE FUNCTION test_refuse_command()"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE TRIGGER test_refuse BEFORE INSERT ON commands WHEN NEW.id = '{key}' "
                    "BEGIN SELECT RAISE(ABORT, 'test: command row refused'); END"
                )
            )


def accept_command_rows(engine: Engine) -> None:
    """Undo `refuse_command_row`."""
    drop = "DROP TRIGGER test_refuse" + (" ON commands" if engine.dialect.name == "postgresql" else "")
    with engine.begin() as connection:
        connection.execute(text(drop))
