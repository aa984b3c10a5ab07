"""`carbonmarket demo`: a small populated registry to browse (issue 7 grows it into a whole market).

Every step uses a fixed command id, so running the demo twice on one database changes nothing
the second time: each command answers `exists`.
"""

from __future__ import annotations

import random
from typing import Any

from rich.progress import Progress

from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Done, Outcome
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry

# Demo users and their passwords, printed in the summary so a visitor can log in.
DEMO_USERS = (
    ("regulator", "regulator-demo-pass", "regulator", "MEE"),
    ("operator", "operator-demo-pass", "registry_operator", "MEE"),
    ("huaneng", "huaneng-demo-pass", "entity_representative", "E-POWER-01"),
)
CENTRAL_ACCOUNTS = ("issuance", "allocation", "reserve", "auction", "surrender", "cancellation", "deletion")
DEMO_ENTITIES = (
    ("E-POWER-01", "Huaneng Shandong Power Plant", "entity"),
    ("E-POWER-02", "Datang Jiangsu Thermal Power", "entity"),
    ("E-POWER-03", "Guodian Inner Mongolia Coal Power", "entity"),
    ("E-POWER-04", "Huadian Guangdong Gas Power", "entity"),
    ("E-STEEL-01", "Baowu Shanghai Steel Works", "entity"),
    ("E-CEMENT-01", "Conch Anhui Cement Line 3", "entity"),
    ("E-ALU-01", "Chalco Yunnan Aluminium Smelter", "entity"),
    ("F-BANK-01", "Industrial Bank Carbon Finance", "financial"),
    ("P-WIND-01", "Jiangsu Dongtai Offshore Wind", "project_owner"),
    ("I-ZHANG", "Zhang Wei", "individual"),
)
DEMO_CCER = "CCER-DT0001-2025"


def build_demo(url: str, progress: bool = True, seed: int = 2024) -> dict[str, Any]:
    """Create (or re-create idempotently) a small registry with real movements in it."""
    upgrade(url)
    engine = make_engine(url)
    registry = Registry(engine)
    settings = Settings()
    identity = Identity(engine, settings.jwt_secret, settings.jwt_lifetime_s)
    outcomes: list[Outcome] = []
    steps = [_setup_holders, _issue_and_allocate, _trade_and_hold, _users]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("building the demo registry", total=len(steps))
        for step in steps:
            outcomes.extend(step(registry, identity, random.Random(seed)))
            bar.advance(task)
    refused = [o.as_json() for o in outcomes if not isinstance(o, Done)]
    if refused:
        raise RuntimeError(f"the demo was refused: {refused[:3]}")
    report = registry.reconcile()
    engine.dispose()
    return {
        "database": url,
        "commands": len(outcomes),
        "created": sum(1 for o in outcomes if isinstance(o, Done) and o.result == "created"),
        "instruments": {i["instrument"]: i["supply"] for i in registry.instruments() if i["issued"]},
        "reconcile_ok": report.ok,
        "users": [{"username": u, "password": p, "role": r} for u, p, r, _ in DEMO_USERS],
        "url": "http://127.0.0.1:8000",
    }


def _setup_holders(registry: Registry, _identity: Identity, _rng: random.Random) -> list[Outcome]:
    """The regulator with its central accounts; entities, a bank, a project owner and a person."""
    out: list[Outcome] = [registry.define_instrument(LOCAL_OPERATOR, DEMO_CCER, 900_000, "demo project")]
    out += [o for o in registry.define_defaults(LOCAL_OPERATOR) if isinstance(o, Done)]
    out.append(
        registry.add_holder(LOCAL_OPERATOR, "MEE", "Ministry of Ecology and Environment", "government")
    )
    out += [
        registry.open_account(LOCAL_OPERATOR, f"MEE-{kind.upper()}", "MEE", kind) for kind in CENTRAL_ACCOUNTS
    ]
    for holder_id, name, kind in DEMO_ENTITIES:
        out.append(registry.add_holder(LOCAL_OPERATOR, holder_id, name, kind))
        out.append(registry.open_account(LOCAL_OPERATOR, f"{holder_id}-H", holder_id, "holding"))
    return out


def _issue_and_allocate(registry: Registry, _identity: Identity, rng: random.Random) -> list[Outcome]:
    """Issue two vintages and the CCER batch, then allocate allowances to the entities."""
    out = [
        registry.issue(LOCAL_OPERATOR, "demo-issue-cea23", "CEA23", 60_000_000, "MEE-ISSUANCE"),
        registry.issue(LOCAL_OPERATOR, "demo-issue-cea24", "CEA24", 62_000_000, "MEE-ISSUANCE"),
        registry.issue(LOCAL_OPERATOR, "demo-issue-ccer", DEMO_CCER, 857_000, "MEE-ISSUANCE"),
        registry.transfer(
            LOCAL_OPERATOR, "demo-ccer-to-owner", "MEE-ISSUANCE", "P-WIND-01-H", DEMO_CCER, 857_000
        ),
    ]
    for holder_id, _name, kind in DEMO_ENTITIES:
        if kind != "entity":
            continue
        for vintage in ("CEA23", "CEA24"):
            amount = rng.randrange(2_000_000, 8_000_000)
            out.append(
                registry.transfer(
                    LOCAL_OPERATOR,
                    f"demo-alloc-{vintage}-{holder_id}",
                    "MEE-ISSUANCE",
                    f"{holder_id}-H",
                    vintage,
                    amount,
                )
            )
    return out


def _trade_and_hold(registry: Registry, _identity: Identity, rng: random.Random) -> list[Outcome]:
    """Bilateral transfers, a surrender, a CCER sale split across serial blocks, a retirement, holds."""
    out = [
        registry.transfer(LOCAL_OPERATOR, "demo-sale-1", "E-POWER-01-H", "E-POWER-02-H", "CEA24", 250_000),
        registry.transfer(LOCAL_OPERATOR, "demo-sale-2", "E-STEEL-01-H", "F-BANK-01-H", "CEA23", 120_000),
        registry.transfer(
            LOCAL_OPERATOR, "demo-ccer-sale", "P-WIND-01-H", "E-POWER-03-H", DEMO_CCER, 150_000
        ),
        registry.transfer(LOCAL_OPERATOR, "demo-ccer-sale-2", "P-WIND-01-H", "I-ZHANG-H", DEMO_CCER, 20),
        registry.surrender(
            LOCAL_OPERATOR, "demo-surrender-1", "E-POWER-04-H", "CEA23", 1_500_000, "MEE-SURRENDER"
        ),
        registry.cancel(
            LOCAL_OPERATOR,
            "demo-retire-1",
            "I-ZHANG-H",
            DEMO_CCER,
            12,
            "MEE-CANCELLATION",
            "Zhang Wei",
            "offsetting the 2025 family flights",
        ),
        registry.freeze(
            LOCAL_OPERATOR, "demo-freeze-1", "E-CEMENT-01-H", "CEA24", 100_000, "court order (demo)"
        ),
        registry.pledge(LOCAL_OPERATOR, "demo-pledge-1", "E-ALU-01-H", "CEA24", 500_000, "F-BANK-01-H"),
    ]
    out.append(
        registry.reverse(LOCAL_OPERATOR, "demo-reverse-sale-2", "demo-sale-2", "wrong vintage chosen (demo)")
    )
    out.append(
        registry.transfer(
            LOCAL_OPERATOR, "demo-sale-2-fixed", "E-STEEL-01-H", "F-BANK-01-H", "CEA24", 120_000
        )
    )
    _ = rng
    return out


def _users(registry: Registry, identity: Identity, _rng: random.Random) -> list[Outcome]:
    """Demo log-ins: a regulator, an operator and the representative of one power plant."""
    out: list[Outcome] = []
    for username, password, role, holder in DEMO_USERS:
        if any(u["username"] == username for u in identity.users()):
            continue
        out.append(identity.add_user(LOCAL_OPERATOR, username, password, role, holder))
    for permission in ("initiate", "approve", "view"):
        out.append(identity.grant(LOCAL_OPERATOR, "huaneng", "E-POWER-01-H", permission))
    _ = registry
    return out
