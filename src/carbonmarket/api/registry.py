"""The registry over HTTP: holders, accounts, instruments, issuance, transfers, holds, queries.

Thin by design (DESIGN.md, `api.py`): each route parses its body with Pydantic, takes the actor
from the bearer token and calls one `Registry` use case, which does every check and refusal.

Conventions of every write route:
- The body carries the client-chosen command id as `id` (rule 4), except where the path names the
  thing acted on: a hold's release and execution use the hold id, approval and rejection the
  transaction id, as the CLI does.
- Success is `{"ok": true, "result": "created", ...}` with **201** the first time, and the first
  result again as `{"ok": true, "result": "exists", ...}` with **200** when the same id and body are
  replayed. The same id with another body is refused with 409 `exists_with_different_fields`.
- Refusals are `{"ok": false, "code", "message"}`: 401 not signed in, 403 `forbidden`, 404 an
  unknown or missing thing, 422 any other business refusal or a malformed body (`invalid_request`).
- Quantities are JSON integers or strings of whole tonnes (fen for CNY). They reach the service
  unchanged, so "1.5", -5, 0 and 10^13 are refused with the service's own codes; a JSON number
  with a fraction is refused as `quantity_not_integer` before it can be rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import RegistryDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, outcome_response
from carbonmarket.core.actors import require_role
from carbonmarket.core.results import Code
from carbonmarket.registry.service import OPERATORS, page_size_max


def _refuse_json_fractions(value: object) -> object:
    """Refuse JSON numbers that are not integers instead of letting them be rounded to one."""
    if isinstance(value, float):
        raise PydanticCustomError(
            Code.QUANTITY_NOT_INTEGER.value,
            "must be a whole number, not {value}",
            {"value": value},
        )
    return value


# Strict: Pydantic must not turn 1.5 into 1 or True into 1; the service parses the raw value.
Quantity = Annotated[StrictInt | StrictStr, BeforeValidator(_refuse_json_fractions)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class HolderIn(Body):
    """A new account holder; `id` is the holder id and the command id."""

    id: StrictStr
    name: StrictStr
    kind: StrictStr = Field(description="entity | financial | individual | project_owner | government")


class AccountIn(Body):
    """A new account; `id` is the account id and the command id."""

    id: StrictStr
    holder: StrictStr
    type: StrictStr = Field(
        description="issuance | allocation | auction | reserve | holding | trading | clearing | "
        "surrender | cancellation | deletion"
    )
    approval_required: StrictBool = Field(False, description="Four-eyes approval of outgoing transfers.")


class AccountStatusIn(Body):
    """Block, unblock or close an account."""

    id: StrictStr = Field(description="Command id.")
    status: StrictStr = Field(description="open | blocked | closed")
    reason: StrictStr


class InstrumentIn(Body):
    """A new instrument; `id` is the instrument id (CEA24, CEA19-20, CCER-<PROJECT>-<YYYY>)."""

    id: StrictStr
    cap: Quantity | None = Field(None, description="Issuance cap in whole tonnes; none for no cap.")
    source: StrictStr | None = None


class IssuanceIn(Body):
    """Units to create in an issuance account."""

    id: StrictStr = Field(description="Command id; becomes the transaction id.")
    instrument: StrictStr
    quantity: Quantity
    to: StrictStr


class TransferIn(Body):
    """Units to move from one account to another."""

    id: StrictStr = Field(description="Command id; becomes the transaction id.")
    from_: StrictStr = Field(alias="from")
    to: StrictStr
    instrument: StrictStr
    quantity: Quantity


class SurrenderIn(TransferIn):
    """Units to move to a surrender account."""


class CancellationIn(TransferIn):
    """Units to retire voluntarily, with the certificate's beneficiary and purpose."""

    beneficiary: StrictStr
    purpose: StrictStr


class FreezeIn(Body):
    """Holdings to freeze; `id` becomes the hold id."""

    id: StrictStr
    account: StrictStr
    instrument: StrictStr
    quantity: Quantity
    reason: StrictStr
    expires: StrictStr | None = Field(None, description="ISO-8601 time the freeze lapses.")


class PledgeIn(Body):
    """Holdings to pledge to a pledgee's account; `id` becomes the hold id."""

    id: StrictStr
    account: StrictStr
    instrument: StrictStr
    quantity: Quantity
    pledgee: StrictStr
    expires: StrictStr | None = Field(None, description="ISO-8601 time the pledge lapses.")


class ReasonIn(Body):
    """A free-text reason, optional."""

    reason: StrictStr = ""


class ExecuteIn(Body):
    """How much of a pledge to execute; all of it when omitted."""

    quantity: Quantity | None = None


class ReversalIn(Body):
    """A completed transaction to reverse, and why."""

    id: StrictStr = Field(description="Command id of the reversing transaction.")
    original: StrictStr = Field(description="Id of the transaction to reverse.")
    reason: StrictStr


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
router = APIRouter(prefix="/api/registry", tags=["registry"])
public_router = APIRouter(prefix="/api/public", tags=["public"])


def _write(path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a write route: 201 on `created`, 200 on `exists`, errors as ERROR_RESPONSES say."""
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


# --- holders, accounts, instruments ------------------------------------------------------------


@_write("/holders")
def add_holder(body: HolderIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Register an account holder (registry operators and regulators)."""
    return outcome_response(registry.add_holder(actor, body.id, body.name, body.kind))


@_write("/accounts")
def open_account(body: AccountIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Open an account for a holder; central account types need a government holder."""
    return outcome_response(
        registry.open_account(actor, body.id, body.holder, body.type, body.approval_required)
    )


@_write("/accounts/{account_id}/status")
def set_account_status(
    account_id: str, body: AccountStatusIn, actor: CurrentActor, registry: RegistryDep
) -> JSONResponse:
    """Block, unblock or close an account (a closing account must be empty)."""
    return outcome_response(registry.set_account_status(actor, body.id, account_id, body.status, body.reason))


@_write("/instruments")
def define_instrument(body: InstrumentIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Define an instrument with its issuance cap (regulators)."""
    # The service types `cap` as int | None but parses it like any quantity, refusing with codes.
    cap: Any = body.cap
    return outcome_response(registry.define_instrument(actor, body.id, cap, body.source))


# --- issuance and movements --------------------------------------------------------------------


@_write("/issuances")
def issue(body: IssuanceIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Issue units into an issuance account (regulators), never above the vintage's cap."""
    return outcome_response(registry.issue(actor, body.id, body.instrument, body.quantity, body.to))


@_write("/transfers")
def transfer(body: TransferIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Move units; needs the initiate right on the sending account."""
    return outcome_response(
        registry.transfer(actor, body.id, body.from_, body.to, body.instrument, body.quantity)
    )


@_write("/cancellations")
def cancel(body: CancellationIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Retire units voluntarily into a cancellation account; a public certificate is kept."""
    return outcome_response(
        registry.cancel(
            actor,
            body.id,
            body.from_,
            body.instrument,
            body.quantity,
            body.to,
            body.beneficiary,
            body.purpose,
        )
    )


@_write("/surrenders")
def surrender(body: SurrenderIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Move units to a surrender account."""
    return outcome_response(
        registry.surrender(actor, body.id, body.from_, body.instrument, body.quantity, body.to)
    )


@_write("/reversals")
def reverse(body: ReversalIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Correct a completed transaction with a reversing one that names it (regulators)."""
    return outcome_response(registry.reverse(actor, body.id, body.original, body.reason))


@_write("/transactions/{transaction_id}/approve")
def approve(
    transaction_id: str, actor: CurrentActor, registry: RegistryDep, body: ReasonIn | None = None
) -> JSONResponse:
    """Approve a transaction awaiting approval (a second person with the approve right)."""
    reason = body.reason if body is not None else ""
    return outcome_response(registry.approve(actor, transaction_id, True, reason))


@_write("/transactions/{transaction_id}/reject")
def reject(
    transaction_id: str, actor: CurrentActor, registry: RegistryDep, body: ReasonIn | None = None
) -> JSONResponse:
    """Reject a transaction awaiting approval; its reserved units are released."""
    reason = body.reason if body is not None else ""
    return outcome_response(registry.approve(actor, transaction_id, False, reason))


# --- holds -------------------------------------------------------------------------------------


@_write("/freezes")
def freeze(body: FreezeIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Freeze holdings (registry operators and regulators); the id becomes the hold id."""
    return outcome_response(
        registry.freeze(
            actor, body.id, body.account, body.instrument, body.quantity, body.reason, body.expires
        )
    )


@_write("/pledges")
def pledge(body: PledgeIn, actor: CurrentActor, registry: RegistryDep) -> JSONResponse:
    """Pledge holdings to a pledgee; needs the initiate right on the account."""
    return outcome_response(
        registry.pledge(
            actor, body.id, body.account, body.instrument, body.quantity, body.pledgee, body.expires
        )
    )


@_write("/holds/{hold_id}/release")
def release(
    hold_id: str, actor: CurrentActor, registry: RegistryDep, body: ReasonIn | None = None
) -> JSONResponse:
    """Release a freeze or a pledge."""
    return outcome_response(registry.release(actor, hold_id, body.reason if body is not None else ""))


@_write("/holds/{hold_id}/execute")
def execute_pledge(
    hold_id: str, actor: CurrentActor, registry: RegistryDep, body: ExecuteIn | None = None
) -> JSONResponse:
    """Move pledged units (all, or `quantity` of them) to the pledgee."""
    return outcome_response(
        registry.execute_pledge(actor, hold_id, body.quantity if body is not None else None)
    )


# --- queries -----------------------------------------------------------------------------------


@router.get("/accounts/{account_id}/balance", responses=ERROR_RESPONSES)
def balance(account_id: str, actor: CurrentActor, registry: RegistryDep) -> dict[str, Any]:
    """An account's balances per instrument, with what is held and what is available."""
    return {"ok": True, **registry.balance(actor, account_id)}


@router.get("/accounts/{account_id}/history", responses=ERROR_RESPONSES)
def history(
    account_id: str,
    actor: CurrentActor,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=page_size_max)] = 100,
    before: Annotated[int | None, Query(description="Page on: entries older than this entry id.")] = None,
) -> dict[str, Any]:
    """An account's movements, newest first, and its pending holds."""
    return {"ok": True, **registry.history(actor, account_id, limit, before)}


@router.get("/transactions", responses=ERROR_RESPONSES)
def transactions(
    actor: CurrentActor,
    registry: RegistryDep,
    status: Annotated[str | None, Query(description="awaiting_approval | completed | rejected")] = None,
    limit: Annotated[int, Query(ge=1, le=page_size_max)] = 100,
) -> dict[str, Any]:
    """Registry transactions, newest first (registry operators and regulators)."""
    # The service's query lists every account's transactions, so only those who see all accounts may call it.
    require_role(actor, OPERATORS, "listing registry transactions")
    return {"ok": True, "transactions": registry.transactions(status, limit)}


@router.get("/reconciliation", responses=ERROR_RESPONSES)
def reconciliation(actor: CurrentActor, registry: RegistryDep) -> dict[str, Any]:
    """Replay the ledger against every cached figure (registry operators and regulators).

    `ok` in the answer is the reconciliation's verdict, not the request's: a failed replay is data.
    """
    require_role(actor, OPERATORS, "reconciling the registry")
    return registry.reconcile().as_json()


# --- public ------------------------------------------------------------------------------------


@public_router.get("/instruments", responses=ERROR_RESPONSES)
def public_instruments(_actor: OptionalActor, registry: RegistryDep) -> dict[str, Any]:
    """Every instrument with its issued, retired and circulating supply; no sign-in needed."""
    return {"ok": True, "instruments": registry.instruments()}


@public_router.get("/certificates/{certificate_id}", responses=ERROR_RESPONSES)
def public_certificate(certificate_id: str, _actor: OptionalActor, registry: RegistryDep) -> dict[str, Any]:
    """A retirement certificate, so anyone can check a claim; no sign-in needed."""
    return {"ok": True, **registry.certificate(certificate_id)}
