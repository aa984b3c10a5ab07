"""User use cases: create users, grant rights, check passwords, issue and read login tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Permission, Role, parse_permission, parse_role, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.db.command import record_refusal, run_command, run_read
from carbonmarket.identity import store
from carbonmarket.identity.model import check_password
from carbonmarket.registry import store as registry_store

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown user like that of a known one.
_DUMMY_HASH = _hasher.hash("carbonmarket-timing-equaliser")
JWT_ALGORITHM = "HS256"


class Identity:
    """Users, rights and tokens over one database."""

    def __init__(
        self, engine: Engine, secret: str, lifetime_s: int = 3600, clock: Clock | None = None
    ) -> None:
        self.engine = engine
        self.secret = secret
        self.lifetime_s = lifetime_s
        self.clock = clock or SystemClock()

    def add_user(
        self, actor: Actor, username: str, password: str, role: str, holder_id: str | None = None
    ) -> Outcome:
        """Create a user with an argon2 password hash; only registry operators and regulators may."""
        body = {"username": username, "role": role, "holder": holder_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, {Role.REGULATOR, Role.REGISTRY_OPERATOR}, "adding a user")
            check_id(username, what="username")
            parsed = parse_role(role)
            check_password(password)
            if store.get_user(connection, username) is not None:
                raise Refused(Code.USER_EXISTS, f"user {username!r} already exists")
            if holder_id is not None and registry_store.get_holder(connection, holder_id) is None:
                raise Refused(Code.UNKNOWN_HOLDER, f"holder {holder_id!r} does not exist")
            store.insert_user(
                connection,
                username=username,
                password_hash=_hasher.hash(password),
                role=parsed.value,
                holder_id=holder_id,
                active=True,
                created_at=at,
            )
            return {"username": username, "role": parsed.value, "holder": holder_id}

        return run_command(self.engine, self.clock, actor, "user.add", username, body, work)

    def grant(self, actor: Actor, username: str, account_id: str, permission: str) -> Outcome:
        """Give a user a right (initiate, approve, view) on one account."""
        body = {"username": username, "account": account_id, "permission": permission}

        def work(connection: Connection, _at: str) -> dict[str, Any]:
            require_role(actor, {Role.REGULATOR, Role.REGISTRY_OPERATOR}, "granting account rights")
            parsed = parse_permission(permission)
            if store.get_user(connection, username) is None:
                raise Refused(Code.UNKNOWN_USER, f"user {username!r} does not exist")
            if registry_store.account_row(connection, account_id) is None:
                raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account_id!r} does not exist")
            if not store.has_right_row(connection, username, account_id, parsed.value):
                store.insert_right(connection, username, account_id, parsed.value)
            return {"username": username, "account": account_id, "permission": parsed.value}

        command_id = derived_id("grant", username, account_id, permission)
        return run_command(self.engine, self.clock, actor, "user.grant", command_id, body, work)

    def authenticate(self, username: str, password: str) -> Actor:
        """The actor behind a username and password, or a refusal that does not say which was wrong.

        A failed log-in is appended to the audit log (never the password), so supervision can see
        guessing; the refusal itself names neither the user nor the password as the problem.
        """
        row = run_read(self.engine, lambda c: store.get_user(c, str(username)[:64]))
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
            if row is None or not row.active:
                raise VerifyMismatchError
        except (VerifyMismatchError, InvalidHashError):
            refused = Refused(Code.BAD_CREDENTIALS, "unknown user or wrong password")
            who = Actor(str(username)[:64] or "?", Role.PUBLIC)
            record_refusal(
                self.engine, self.clock, who, "auth.login", "login", {"username": who.username}, refused
            )
            raise refused from None
        return self.actor(username)

    def actor(self, username: str) -> Actor:
        """Load a user's role and rights as an Actor."""

        def read(connection: Connection) -> Actor:
            row = store.get_user(connection, username)
            if row is None or not row.active:
                raise Refused(Code.NOT_AUTHENTICATED, f"user {username!r} is not active")
            rights = frozenset((a, Permission(p)) for a, p in store.rights_of(connection, username))
            return Actor(username, Role(row.role), rights)

        result: Actor = run_read(self.engine, read)
        return result

    def token_for(self, actor: Actor) -> str:
        """A signed JWT naming the user, valid for `lifetime_s`."""
        now = self.clock.now()
        claims = {
            "sub": actor.username,
            "role": actor.role.value,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_s),
        }
        return jwt.encode(claims, self.secret, algorithm=JWT_ALGORITHM)

    def actor_from_token(self, token: str) -> Actor:
        """Check a token's signature and expiry and load its user's current rights."""
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp"]}
            )
        except jwt.PyJWTError as error:
            raise Refused(Code.NOT_AUTHENTICATED, f"invalid or expired token ({error})") from None
        return self.actor(str(claims["sub"]))

    def users(self) -> list[dict[str, Any]]:
        """Every user with role and holder (never the hash)."""
        rows = run_read(self.engine, store.list_users)
        return [
            {"username": r.username, "role": r.role, "holder": r.holder_id, "active": r.active} for r in rows
        ]
