"""The acting party of every command: a user with a role and per-account rights."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from carbonmarket.core.results import Code, Refused


class Role(StrEnum):
    """Roles of the registry (issue 2); later contexts add their own (verifier, exchange member)."""

    REGULATOR = "regulator"
    REGISTRY_OPERATOR = "registry_operator"
    ENTITY_REPRESENTATIVE = "entity_representative"
    PUBLIC = "public"
    # MRV review and verification (issue 3): a reviewer acts at one tier of the three-tier review
    # within a province or city (scope kept by mrv/review); a verifier acts for one verification body.
    REVIEWER = "reviewer"
    VERIFIER = "verifier"
    # Allocation and compliance (issue 4): a provincial ecology and environment department orders
    # mandatory compliance and watches its entities' compliance risk.
    PROVINCIAL_AUTHORITY = "provincial_authority"
    # The exchange (issue 5): the exchange's own operator runs sessions, matching and settlement;
    # members (entities, financial institutions) trade through their trading accounts.
    EXCHANGE_OPERATOR = "exchange_operator"
    EXCHANGE_MEMBER = "exchange_member"
    # The voluntary market (issue 6): project owners and validation/verification bodies.
    PROJECT_OWNER = "project_owner"
    VVB = "vvb"


class Permission(StrEnum):
    """What a user may do on one account: propose transactions, approve them, or only look."""

    INITIATE = "initiate"
    APPROVE = "approve"
    VIEW = "view"


@dataclass(frozen=True)
class Actor:
    """Who is acting. `superuser` is the local operator at the CLI, who holds the database file."""

    username: str
    role: Role
    rights: frozenset[tuple[str, Permission]] = field(default_factory=frozenset)
    superuser: bool = False

    def has_right(self, account_id: str, permission: Permission) -> bool:
        """Whether the actor holds `permission` on the account (superusers hold every right)."""
        return self.superuser or (account_id, permission) in self.rights

    def may_view(self, account_id: str) -> bool:
        """Whether the actor may read the account's balances and history."""
        if self.superuser or self.role in (Role.REGULATOR, Role.REGISTRY_OPERATOR):
            return True
        return any(account == account_id for account, _ in self.rights)


# The identity used by the CLI: whoever can open the database file already controls the registry.
LOCAL_OPERATOR = Actor("local-operator", Role.REGULATOR, superuser=True)


def parse_role(value: str) -> Role:
    """Read a role name, refusing unknown words."""
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise Refused(Code.INVALID_ROLE, f"role {value!r} is not one of: {allowed}") from None


def parse_permission(value: str) -> Permission:
    """Read a permission name, refusing unknown words."""
    try:
        return Permission(value)
    except ValueError:
        allowed = ", ".join(p.value for p in Permission)
        raise Refused(Code.INVALID_RIGHT, f"right {value!r} is not one of: {allowed}") from None


def require_role(actor: Actor, allowed: set[Role], action: str) -> None:
    """Refuse unless the actor's role is one of `allowed` (superusers pass)."""
    if actor.superuser or actor.role in allowed:
        return
    names = " or ".join(sorted(r.value for r in allowed))
    raise Refused(
        Code.FORBIDDEN, f"{action} needs the role {names}; {actor.username!r} is {actor.role.value}"
    )


def require_right(actor: Actor, account_id: str, permission: Permission, action: str) -> None:
    """Refuse unless the actor holds `permission` on the account."""
    if not actor.has_right(account_id, permission):
        raise Refused(
            Code.FORBIDDEN,
            f"{action} needs the {permission.value} right on account {account_id!r}, "
            f"which {actor.username!r} does not hold",
        )
