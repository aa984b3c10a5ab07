"""The exchange's trading over HTTP, under `/api/exchange`: orders, blotter, book depth, funds, bulk.

Thin by design: each route parses its body, takes the actor from the bearer token and calls one
`Exchange` use case. Conventions are the registry API's: writes carry a client-chosen `id` and
answer 201 `created` or 200 `exists`; every error is `{"ok": false, "code", "message"}`. The book
depth, the public tape and the bulk board are public. One `Exchange` (its books in memory) serves
each app. B3's market-data and bidding routes ride along in `extra_routers`.
"""

from __future__ import annotations

import importlib
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import services
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, outcome_response
from carbonmarket.exchange.bulk import price_to_fen
from carbonmarket.exchange.service import Exchange

router = APIRouter(prefix="/api/exchange", tags=["exchange"])
_creating = threading.Lock()


def exchange_service(request: Request) -> Exchange:
    """The app's one Exchange: its books live in memory, so every request must share it."""
    state = request.app.state
    found = getattr(state, "exchange", None)
    if found is None:
        with _creating:
            found = getattr(state, "exchange", None)
            if found is None:
                # Browser tests stand the market's clock inside a session (`app.state.market_clock`).
                found = Exchange(services(request).engine, getattr(state, "market_clock", None))
                state.exchange = found
    assert isinstance(found, Exchange)
    return found


ExchangeDep = Annotated[Exchange, Depends(exchange_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class OrderIn(Body):
    """A listed limit order; `id` is the order id and the command id. Give `price_fen` or `price` (CNY)."""

    id: StrictStr
    account: StrictStr
    instrument: StrictStr
    side: StrictStr = Field(description="buy | sell")
    quantity: StrictInt | StrictStr = Field(description="Whole tonnes.")
    price_fen: StrictInt | None = Field(None, description="Price in fen per tonne.")
    price: StrictStr | None = Field(None, description="Price in CNY per tonne, at most 2 decimals.")
    mode: StrictStr = Field("auto", description="auto (price-time) | pick (SEEE best-5)")
    pick_order_id: StrictStr | None = None


class AmendIn(Body):
    """A new price and/or total quantity for a resting order."""

    id: StrictStr = Field(description="Command id.")
    price_fen: StrictInt | None = None
    price: StrictStr | None = None
    quantity: StrictInt | StrictStr | None = None


class FundsIn(Body):
    """Funds in or out of a trading account, in fen."""

    id: StrictStr = Field(description="Command id.")
    account: StrictStr
    fen: StrictInt | StrictStr


class IntentIn(Body):
    """A bulk agreement intent; `id` is its id and the command id."""

    id: StrictStr
    account: StrictStr
    instrument: StrictStr
    side: StrictStr
    quantity: StrictInt | StrictStr
    price_fen: StrictInt | None = None
    price: StrictStr | None = None
    counterparty: StrictStr | None = Field(None, description="A direct trade: only this account may answer.")


class OfferIn(Body):
    """New terms in a bulk negotiation; `id` is the offer id and the command id."""

    id: StrictStr
    account: StrictStr
    quantity: StrictInt | StrictStr
    price_fen: StrictInt | None = None
    price: StrictStr | None = None
    counterparty: StrictStr | None = Field(None, description="For the intent's poster: the party it answers.")


class ConfirmIn(Body):
    """One party's confirmation of an offer."""

    id: StrictStr = Field(description="Command id.")
    account: StrictStr


class CommandIn(Body):
    """A step that needs only its command id."""

    id: StrictStr = Field(description="Command id.")


class BatchIn(Body):
    """A group commit of order commands (exchange operators): `{type: new|cancel|amend, ...}` each."""

    id: StrictStr
    commands: list[dict[str, Any]]


# A stream's batches are answered together, so a request carries a bounded number of them.
stream_batches_max = 100


class StreamIn(Body):
    """Group commits back to back (`Exchange.submit_stream`): batches, in the order they apply."""

    batches: list[BatchIn] = Field(min_length=1, max_length=stream_batches_max)


def _price(price_fen: int | None, price: str | None) -> object:
    """The price in fen from either field (the CNY text read exactly); None if neither was given."""
    if price is not None:
        return price_to_fen(price)
    return price_fen


# --- orders -------------------------------------------------------------------------------------------


@router.post("/orders", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def place_order(body: OrderIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Place a listed limit order for a trading account the member holds the initiate right on."""
    price = _price(body.price_fen, body.price)
    return outcome_response(
        exchange.place_order(
            actor,
            body.id,
            body.account,
            body.instrument,
            body.side,
            price,
            body.quantity,
            body.mode,
            body.pick_order_id,
        )
    )


@router.delete("/orders/{order_id}", responses=WRITE_RESPONSES, response_model=None)
def cancel_order(
    order_id: str,
    actor: CurrentActor,
    exchange: ExchangeDep,
    command_id: Annotated[
        str | None, Query(alias="id", description="Command id (default: cancel-<order>).")
    ] = None,
) -> JSONResponse:
    """Cancel a resting order; what its hold still reserves is released."""
    return outcome_response(exchange.cancel_order(actor, command_id or f"cancel-{order_id}"[:64], order_id))


@router.patch("/orders/{order_id}", responses=WRITE_RESPONSES, response_model=None)
def amend_order(order_id: str, body: AmendIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Amend a resting order's price and/or total quantity; its reservation follows."""
    price = _price(body.price_fen, body.price)
    return outcome_response(exchange.amend_order(actor, body.id, order_id, price, body.quantity))


@router.post("/batches", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def submit_batch(body: BatchIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Group commit: many order commands in one transaction (the exchange operator's gateway)."""
    return outcome_response(exchange.submit_many(actor, body.id, body.commands))


@router.post("/batch-streams", responses=WRITE_RESPONSES, response_model=None)
def submit_stream(body: StreamIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Batches committed back to back, each planned while the one before it commits; every batch's
    outcome in order, each as `/batches` answers it (`created`, `exists` or a refusal)."""
    outcomes = exchange.submit_stream(actor, [(batch.id, batch.commands) for batch in body.batches])
    return JSONResponse({"outcomes": [outcome.as_json() for outcome in outcomes]})


@router.get("/orders", responses=ERROR_RESPONSES)
def my_orders(
    actor: CurrentActor,
    exchange: ExchangeDep,
    account: str | None = None,
    status: Annotated[str | None, Query(description="open | filled | cancelled")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The signed-in member's orders (the blotter), newest first."""
    return {"ok": True, "orders": exchange.orders(actor, account, status, limit)}


@router.get("/trades", responses=ERROR_RESPONSES)
def trades(
    actor: OptionalActor,
    exchange: ExchangeDep,
    account: str | None = None,
    instrument: str | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Fills of the member's accounts (`mine=true` or `account=`), or the public tape without parties."""
    if mine or account is not None:
        return {"ok": True, "trades": exchange.trades(actor, account, instrument, limit)}
    return {"ok": True, "trades": exchange.trades(None, None, instrument, limit)}


@router.get("/book/{instrument}", responses=ERROR_RESPONSES)
def book(
    instrument: str, exchange: ExchangeDep, levels: Annotated[int, Query(ge=1, le=50)] = 5
) -> dict[str, Any]:
    """The best price levels of each side (public)."""
    return {"ok": True, **exchange.book(instrument, levels)}


@router.get("/book/{instrument}/pickable", responses=ERROR_RESPONSES)
def pickable(
    instrument: str,
    exchange: ExchangeDep,
    side: Annotated[str, Query(description="the taker's side")] = "buy",
) -> dict[str, Any]:
    """Resting orders within the other side's best 5 levels that a PICK taker may name (public)."""
    return {"ok": True, "instrument": instrument, "orders": exchange.pickable(instrument, side)}


# --- funds --------------------------------------------------------------------------------------------


@router.get("/funds/{account}", responses=ERROR_RESPONSES)
def funds(account: str, actor: CurrentActor, exchange: ExchangeDep) -> dict[str, Any]:
    """A trading account's funds and units: total, reserved by orders, available, tradable today."""
    return {"ok": True, **exchange.funds(actor, account)}


@router.post("/funds/deposits", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def deposit(body: FundsIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Funds arrive from the member's settlement bank (exchange operators)."""
    return outcome_response(exchange.deposit(actor, body.id, body.account, body.fen))


@router.post("/funds/withdrawals", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def withdraw(body: FundsIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Funds leave for the member's bank; only what orders do not reserve."""
    return outcome_response(exchange.withdraw(actor, body.id, body.account, body.fen))


# --- bulk agreements ------------------------------------------------------------------------------------


@router.post("/bulk/intents", status_code=201, responses=WRITE_RESPONSES, response_model=None)
def bulk_post(body: IntentIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Post a bulk agreement intent (≥ 100,000 t, ±30% of the previous close, 13:00-15:00)."""
    price = _price(body.price_fen, body.price)
    return outcome_response(
        exchange.bulk_post(
            actor, body.id, body.account, body.instrument, body.side, price, body.quantity, body.counterparty
        )
    )


@router.post(
    "/bulk/intents/{intent_id}/offers", status_code=201, responses=WRITE_RESPONSES, response_model=None
)
def bulk_offer(intent_id: str, body: OfferIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Answer or counter an intent; the negotiation's earlier offer and its confirmations lapse."""
    price = _price(body.price_fen, body.price)
    return outcome_response(
        exchange.bulk_offer(actor, body.id, intent_id, body.account, price, body.quantity, body.counterparty)
    )


@router.post(
    "/bulk/offers/{offer_id}/confirm", status_code=201, responses=WRITE_RESPONSES, response_model=None
)
def bulk_confirm(offer_id: str, body: ConfirmIn, actor: CurrentActor, exchange: ExchangeDep) -> JSONResponse:
    """Confirm an offer for one side; the second confirmation settles it."""
    return outcome_response(exchange.bulk_confirm(actor, body.id, offer_id, body.account))


@router.post(
    "/bulk/intents/{intent_id}/withdraw", status_code=201, responses=WRITE_RESPONSES, response_model=None
)
def bulk_withdraw(
    intent_id: str, body: CommandIn, actor: CurrentActor, exchange: ExchangeDep
) -> JSONResponse:
    """The poster withdraws its intent."""
    return outcome_response(exchange.bulk_withdraw(actor, body.id, intent_id))


@router.get("/bulk/intents", responses=ERROR_RESPONSES)
def bulk_intents(
    exchange: ExchangeDep,
    status: Annotated[str | None, Query(description="open | done | withdrawn")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The public bulk board."""
    return {"ok": True, "intents": exchange.bulk_intents(status, limit)}


@router.get("/bulk/intents/{intent_id}", responses=ERROR_RESPONSES)
def bulk_intent(intent_id: str, exchange: ExchangeDep) -> dict[str, Any]:
    """An intent with its offers."""
    return {"ok": True, **exchange.bulk_intent(intent_id)}


def _extra_routers() -> list[APIRouter]:
    """B3's market data and bidding routes, when its module exists."""
    try:
        module = importlib.import_module("carbonmarket.exchange.market_api")
    except ImportError:
        return []
    found = getattr(module, "router", None)
    return [found] if isinstance(found, APIRouter) else []


extra_routers = _extra_routers()
