"""The demo's log-ins: a regulator, a registry operator, an exchange operator and the representative
of the market's first power entity, printed in the demo's summary so a visitor can sign in."""

from __future__ import annotations

from carbonmarket.config import Settings
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.db.engine import make_engine
from carbonmarket.identity.service import Identity
from carbonmarket.registry.postings import holding_account, trading_account
from carbonmarket.simulation.stage_allocation import accepted

# (username, password, role): demo passwords, shown to the visitor on purpose.
DEMO_USERS = (
    ("regulator", "regulator-demo-pass", "regulator"),
    ("operator", "operator-demo-pass", "registry_operator"),
    ("exchange", "exchange-demo-pass", "exchange_operator"),
)
REPRESENTATIVE = ("plant", "plant-demo-pass", "entity_representative")


def add_demo_users(url: str, entity: str) -> list[dict[str, str]]:
    """Create the log-ins, the representative for `entity` (an existing user is left as it is)."""
    engine = make_engine(url)
    settings = Settings()
    identity = Identity(engine, settings.jwt_secret, settings.jwt_lifetime_s)
    try:
        existing = {u["username"] for u in identity.users()}
        for username, password, role in DEMO_USERS:
            if username not in existing:
                accepted(identity.add_user(LOCAL_OPERATOR, username, password, role), f"adding {username}")
        username, password, role = REPRESENTATIVE
        if username not in existing:
            accepted(identity.add_user(LOCAL_OPERATOR, username, password, role, entity), "adding the plant")
            for account in (holding_account(entity), trading_account(entity)):
                for permission in ("initiate", "approve", "view"):
                    accepted(identity.grant(LOCAL_OPERATOR, username, account, permission), "granting")
    finally:
        engine.dispose()
    users = [{"username": u, "password": p, "role": r} for u, p, r in DEMO_USERS]
    return [*users, {"username": username, "password": password, "role": f"{role} of {entity}"}]
