"""Users, passwords and tokens: argon2 hashes, audited failures, signed expiring tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from carbonmarket.core.actors import LOCAL_OPERATOR, Permission, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Done, Refused
from carbonmarket.db.tables import audit_log, users
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry

SECRET = "test-secret-0123456789-0123456789-abcdef"


@pytest.fixture
def identity(engine: Engine, registry: Registry) -> Identity:
    registry.add_holder(LOCAL_OPERATOR, "E", "Entity", "entity")
    registry.open_account(LOCAL_OPERATOR, "E-H", "E", "holding")
    service = Identity(engine, SECRET)
    assert isinstance(
        service.add_user(LOCAL_OPERATOR, "rep", "correct horse battery", "entity_representative", "E"), Done
    )
    assert isinstance(service.grant(LOCAL_OPERATOR, "rep", "E-H", "initiate"), Done)
    return service


def test_passwords_are_stored_as_argon2_hashes(identity: Identity, engine: Engine) -> None:
    with engine.connect() as connection:
        stored = connection.execute(
            select(users.c.password_hash).where(users.c.username == "rep")
        ).scalar_one()
    assert stored.startswith("$argon2") and "correct horse" not in stored


def test_login_returns_the_users_role_and_rights(identity: Identity) -> None:
    actor = identity.authenticate("rep", "correct horse battery")
    assert actor.role is Role.ENTITY_REPRESENTATIVE
    assert actor.has_right("E-H", Permission.INITIATE) and not actor.has_right("E-H", Permission.APPROVE)


def test_a_failed_login_is_refused_and_audited_without_the_password(
    identity: Identity, engine: Engine
) -> None:
    with pytest.raises(Refused) as caught:
        identity.authenticate("rep", "wrong password here")
    assert caught.value.refusal.code is Code.BAD_CREDENTIALS
    with pytest.raises(Refused):
        identity.authenticate("nobody", "whatever-password")
    with engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(2)).all()
    payloads = [json.loads(r.payload) for r in rows]
    assert [p["kind"] for p in payloads] == ["auth.login", "auth.login"]
    assert {p["body"]["username"] for p in payloads} == {"rep", "nobody"}
    assert all("wrong password here" not in r.payload and "whatever-password" not in r.payload for r in rows)


def test_tokens_carry_the_user_and_expire(identity: Identity, engine: Engine) -> None:
    actor = identity.authenticate("rep", "correct horse battery")
    assert identity.actor_from_token(identity.token_for(actor)).username == "rep"
    old = Identity(engine, SECRET, lifetime_s=60, clock=FixedClock(datetime.now(UTC) - timedelta(hours=2)))
    with pytest.raises(Refused) as caught:
        identity.actor_from_token(old.token_for(actor))
    assert caught.value.refusal.code is Code.NOT_AUTHENTICATED
    forged = Identity(engine, "another-secret-0123456789-0123456789-xyz").token_for(actor)
    with pytest.raises(Refused):
        identity.actor_from_token(forged)
