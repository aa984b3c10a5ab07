"""Login (OAuth2 password flow) and the dependencies that turn a bearer token into an Actor.

`POST /api/auth/token` takes the form fields `username` and `password` and answers
`{"access_token", "token_type": "bearer", "role", "expires_in"}`; a wrong password is refused
with 401 `bad_credentials`, which never says whether the user exists. Routes that act for someone
depend on `current_actor`; public routes use `optional_actor`, which lets anonymous callers in but
still refuses a token that is present and invalid, so a client learns that its session expired.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

from carbonmarket.api.deps import IdentityDep
from carbonmarket.api.errors import ERROR_RESPONSES
from carbonmarket.core.actors import Actor
from carbonmarket.core.results import Code, Refused

TOKEN_PATH = "/api/auth/token"
# auto_error=False: a missing token must come back in the API's error shape, not FastAPI's default.
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_PATH, auto_error=False)

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenOut(BaseModel):
    """A login token (RFC 6749 §5.1) and the role it acts in."""

    access_token: str
    token_type: str
    role: str
    expires_in: int


class Me(BaseModel):
    """Who a token belongs to and which accounts it may act on."""

    ok: bool = True
    username: str
    role: str
    accounts: list[dict[str, Any]]


def current_actor(identity: IdentityDep, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The signed-in actor; refuses with 401 `not_authenticated` when there is no valid token."""
    if not token:
        raise Refused(
            Code.NOT_AUTHENTICATED,
            f"sign in first: POST {TOKEN_PATH}, then send Authorization: Bearer <token>",
        )
    return identity.actor_from_token(token)


def optional_actor(identity: IdentityDep, token: Annotated[str | None, Depends(_bearer)]) -> Actor | None:
    """The signed-in actor if a token was sent, else None (for public routes)."""
    return identity.actor_from_token(token) if token else None


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


@router.post("/token", responses=ERROR_RESPONSES)
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], identity: IdentityDep) -> TokenOut:
    """Exchange a username and password for a bearer token."""
    actor = identity.authenticate(form.username, form.password)
    return TokenOut(
        access_token=identity.token_for(actor),
        token_type="bearer",
        role=actor.role.value,
        expires_in=identity.lifetime_s,
    )


@router.get("/me", responses=ERROR_RESPONSES)
def me(actor: CurrentActor) -> Me:
    """The signed-in user, its role and its rights per account."""
    rights: dict[str, list[str]] = defaultdict(list)
    for account, permission in sorted(actor.rights):
        rights[account].append(permission.value)
    return Me(
        username=actor.username,
        role=actor.role.value,
        accounts=[{"account": account, "rights": granted} for account, granted in rights.items()],
    )
