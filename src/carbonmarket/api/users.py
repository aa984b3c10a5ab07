"""Users and account rights over HTTP (registry operators and regulators).

Write conventions as in `carbonmarket.api.registry`: 201 `created`, 200 `exists` on a replay,
`{"ok": false, "code", "message"}` on a refusal. The username is the command id of a new user,
and a grant is identified by user, account and right, so neither body carries a separate `id`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from carbonmarket.api.auth import CurrentActor
from carbonmarket.api.deps import IdentityDep
from carbonmarket.api.errors import WRITE_RESPONSES, outcome_response

router = APIRouter(prefix="/api/users", tags=["users"])


class UserIn(BaseModel):
    """A new user; the password is stored only as an argon2 hash."""

    model_config = ConfigDict(extra="forbid")

    username: StrictStr
    password: StrictStr = Field(description="10-200 characters.")
    role: StrictStr = Field(description="regulator | registry_operator | entity_representative | public")
    holder: StrictStr | None = Field(None, description="The holder an entity representative acts for.")


class RightIn(BaseModel):
    """A right on one account."""

    model_config = ConfigDict(extra="forbid")

    account: StrictStr
    right: StrictStr = Field(description="initiate | approve | view")


@router.post("", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def add_user(body: UserIn, actor: CurrentActor, identity: IdentityDep) -> JSONResponse:
    """Create a user with a role."""
    return outcome_response(identity.add_user(actor, body.username, body.password, body.role, body.holder))


@router.post("/{username}/rights", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def grant(username: str, body: RightIn, actor: CurrentActor, identity: IdentityDep) -> JSONResponse:
    """Give a user a right (initiate, approve, view) on one account."""
    return outcome_response(identity.grant(actor, username, body.account, body.right))
