"""A small market for the bidding, auction and market-data tests: central accounts, a seller and four
bidders with trading accounts, allowances and funds in place, and a clock the test moves.

Used by tests/integration/exchange/test_sessions*.py and test_marketdata*.py.
"""

from __future__ import annotations

import atexit
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
from carbonmarket.exchange.marketdata import MarketData
from carbonmarket.exchange.sessions import Sessions
from carbonmarket.exchange.settlement import SettlementSpec, settle
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move
from carbonmarket.registry.service import Registry

# Monday 30 June 2025, 09:00 China Standard Time: when the accounts are opened and filled.
SETUP = datetime(2025, 6, 30, 1, 0, tzinfo=UTC)
# Tuesday 1 July 2025, 10:00 China Standard Time: the day the applications are made.
APPLIED = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)
# Wednesday 2 July 2025, 10:00 CST: the exchange publishes the notices.
APPROVED = datetime(2025, 7, 2, 2, 0, tzinfo=UTC)
# Wednesday 16 July 2025 — the day of the first one-way bidding sessions (Progress Report §4 [seed]):
# the window 10:00-11:00 CST, a moment inside it and one after it.
OPENS = "2025-07-16T10:00:00+08:00"
CLOSES = "2025-07-16T11:00:00+08:00"
DURING = datetime(2025, 7, 16, 2, 30, tzinfo=UTC)
AFTER = datetime(2025, 7, 16, 3, 30, tzinfo=UTC)
OPERATOR = Actor("seee-operator", Role.EXCHANGE_OPERATOR)
REGULATOR = Actor("mee-regulator", Role.REGULATOR)
SELLER_UNITS = 400_000
FUNDS_FEN = 5_000_000_000  # CNY 50 million each bidder
BIDDERS = ("B", "C", "D", "E")


def member(name: str, account: str) -> Actor:
    """An exchange member with the initiate right on its trading account."""
    return Actor(name, Role.EXCHANGE_MEMBER, frozenset({(account, Permission.INITIATE)}))


SELLER = member("sam", "S-T")
MEMBERS = {holder: member(holder.lower(), f"{holder}-T") for holder in BIDDERS}


@dataclass
class Market:
    """The engine, its clock, the registry and the sessions and market-data services over them."""

    engine: Engine
    clock: FixedClock
    registry: Registry
    sessions: Sessions
    marketdata: MarketData

    def at(self, moment: datetime) -> None:
        """Move the clock to `moment` (forward only, as time goes)."""
        assert moment >= self.clock.now(), (moment, self.clock.now())
        self.clock.advance(moment - self.clock.now())

    def balance(self, account: str, instrument: str) -> tuple[int, int]:
        """(total, held) of an account's instrument."""
        with self.engine.connect() as connection:
            found = postings.balances(connection, [(account, instrument)])[(account, instrument)]
        return found.total, found.held

    def balances(self) -> dict[str, tuple[int, int]]:
        """Every party's units and funds: what a refusal must leave untouched."""
        keys = [(a, i) for a in ("S-T", *(f"{h}-T" for h in BIDDERS)) for i in ("CEA24", "CNY")]
        keys += [("CN-AUCTION", "CEA24"), ("CN-AUCTION-PROCEEDS", "CNY"), ("CN-FEES", "CNY")]
        return {f"{a}/{i}": self.balance(a, i) for a, i in keys}

    def listed_trade(self, trade_id: str, price_fen: int, quantity: int, buyer: str = "B-T") -> None:
        """A listed trade S-T → buyer settled through B2's settlement now (DvP with fees), for a close."""
        self.trade(trade_id, price_fen, quantity, buyer=buyer)

    def trade(
        self,
        trade_id: str,
        price_fen: int,
        quantity: int,
        modality: str = "listed",
        buyer: str = "B-T",
        instrument: str = "CEA24",
    ) -> None:
        """A trade of any modality S-T → buyer, settled through B2's settlement at the clock's time."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            spec = SettlementSpec(trade_id, modality, instrument, quantity, price_fen, buyer, "S-T")
            return settle(connection, OPERATOR, spec, at)

        done(run_command(self.engine, self.clock, OPERATOR, "test.trade", trade_id, {}, work))


def attach_market(engine: Engine, start: datetime) -> Market:
    """The services over a database that already holds the market, with a clock at `start`."""
    clock = FixedClock(start)
    return Market(engine, clock, Registry(engine, clock), Sessions(engine, clock), MarketData(engine, clock))


def build_market(engine: Engine, start: datetime = SETUP) -> Market:
    """Holders S (the seller, 400,000 t of CEA24 and CEA23; a second account S-T2) and B, C, D, E (bidders,
    50,000 t and CNY 50 million each)."""
    clock = FixedClock(start)
    registry = Registry(engine, clock)
    registry.define_defaults(LOCAL_OPERATOR)
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    for holder in ("S", *BIDDERS):
        done(registry.add_holder(LOCAL_OPERATOR, holder, f"Holder {holder}", "entity"))
        done(registry.open_account(LOCAL_OPERATOR, f"{holder}-T", holder, "trading"))
    done(registry.open_account(LOCAL_OPERATOR, "S-T2", "S", "trading"))

    def setup(connection: Connection, at: str) -> dict[str, Any]:
        postings.issue(connection, LOCAL_OPERATOR, "iss-24", "CEA24", 1_000_000, "CN-ISSUANCE", at)
        postings.issue(connection, LOCAL_OPERATOR, "iss-23", "CEA23", 1_000_000, "CN-ISSUANCE", at)
        moves = [
            Move("CN-ISSUANCE", "S-T", "CEA24", SELLER_UNITS),
            Move("CN-ISSUANCE", "S-T", "CEA23", SELLER_UNITS),
        ]
        moves += [Move("CN-ISSUANCE", f"{h}-T", "CEA24", 50_000) for h in BIDDERS]
        postings.move(connection, LOCAL_OPERATOR, "alloc", "allocation", moves, at)
        for account in ("S-T", *(f"{h}-T" for h in BIDDERS)):
            postings.deposit_funds(connection, OPERATOR, f"dep-{account}", account, FUNDS_FEN, at)
        return {}

    done(run_command(engine, clock, LOCAL_OPERATOR, "test.setup", "setup", {}, setup))
    return attach_market(engine, start)


# --- one prepared database per module, cloned for each test ---------------------------------------
#
# Migrating and filling a PostgreSQL database takes seconds on a shared machine; a copy of a
# prepared one (CREATE DATABASE ... TEMPLATE, or a file copy for SQLite) takes a fraction of that,
# so each test still starts from its own fresh database at a small cost.


MARKET_PASSWORD = "a-long-enough-password"
# Users of the prepared database: two members with the initiate right on their trading accounts and
# the exchange's operator (created once: argon2 hashing is slow by design).
MARKET_USERS: dict[str, tuple[str, str | None, str | None]] = {
    "sam": ("exchange_member", "S", "S-T"),
    "bea": ("exchange_member", "B", "B-T"),
    "ops": ("exchange_operator", None, None),
}
# One prepared database per kind and test process, shared by every module that clones it.
_templates: dict[str, str] = {}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def market_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database holding `build_market`'s accounts and `MARKET_USERS`, prepared once per
    process: a SQLite file or a PostgreSQL template database (dropped when the process exits)."""
    from pgtest import _require_pg, create_pg_database, drop_pg_database

    kind = str(request.param)
    if kind not in _templates:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path_factory.getbasetemp() / 'market-template.db'}"
        else:
            _require_pg()
            url = create_pg_database("cmtmpl")
            atexit.register(drop_pg_database, url)
        _prepare(url, MARKET_USERS)
        _templates[kind] = url
    return _templates[kind]


def _prepare(url: str, users: dict[str, tuple[str, str | None, str | None]]) -> None:
    """Migrate, open the market's accounts and fill them, add the users."""
    from carbonmarket.identity.service import Identity

    upgrade(url)
    engine = make_engine(url)
    build_market(engine)
    identity = Identity(engine, "unused-for-creating-users-0123456789abcdef")
    for username, (role, holder, account) in users.items():
        done(identity.add_user(LOCAL_OPERATOR, username, MARKET_PASSWORD, role, holder))
        if account:
            done(identity.grant(LOCAL_OPERATOR, username, account, "initiate"))
    engine.dispose()


@contextmanager
def cloned(template: str, folder: Path) -> Iterator[Engine]:
    """A fresh copy of a prepared database: a file copy (SQLite) or a template (PostgreSQL)."""
    from pgtest import PG_ADMIN_URL, drop_pg_database

    if template.startswith("sqlite"):
        copy = folder / f"market-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template.removeprefix("sqlite:///"), copy)
        engine = make_engine(f"sqlite:///{copy}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    name = f"cmtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_pg_database(url)


@pytest.fixture
def market_engine(market_template: str, tmp_path: Path) -> Iterator[Engine]:
    """A fresh copy of the prepared market database for one test."""
    with cloned(market_template, tmp_path) as engine:
        yield engine


def done(outcome: Outcome) -> dict[str, Any]:
    """The data of a success; fails the test on a refusal."""
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: str) -> Refusal:
    """The refusal, checked to carry `code`."""
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code.value == code, outcome
    return outcome


# --- the real app over a market database, with the test's clock --------------------------------------

server_start_timeout_s = 15.0


@contextmanager
def serve_market_app(engine: Engine, jwt_secret: str, clock: FixedClock) -> Iterator[str]:
    """The real app over the engine's database with the test's market clock; yields the URL."""
    import socket
    import threading
    import time

    import uvicorn

    from carbonmarket.api.app import create_app
    from carbonmarket.config import Settings

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    app = create_app(engine.url.render_as_string(hide_password=False), Settings(jwt_secret=jwt_secret))
    app.state.market_clock = clock
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + server_start_timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=server_start_timeout_s)
        sock.close()
