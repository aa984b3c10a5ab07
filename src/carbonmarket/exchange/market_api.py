"""Market data, the live feed, one-way bidding and auctions over HTTP.

Public reads under `/api/market` (the Information Network's market figures, DOMAIN.md §5): the day's
overview, series, recent trades (prices and sizes, never the parties), the monthly average price,
the sessions' notices and published results, and `GET /api/market/stream`, a server-sent events
feed of trades and official closes as they happen. Writes under `/api/exchange/bidding`,
`/api/exchange/auctions` and `/api/exchange/closes` follow the API's conventions: a client-chosen
`id`, 201 `created` or 200 `exists`, errors as `{"ok": false, "code", "message"}`; the services
check roles (exchange operator, regulator) and per-account rights (the member's initiate right).

B2's `exchange/api.py` lists this module's `router` in its `extra_routers`. The clock is the
system's unless the app carries another as `app.state.market_clock` (browser tests set one, so a
session's window is open when the test says it is).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from carbonmarket.api.auth import CurrentActor, OptionalActor
from carbonmarket.api.deps import ServicesDep
from carbonmarket.api.errors import ERROR_RESPONSES, WRITE_RESPONSES, error_response, outcome_response
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.results import Code, Outcome
from carbonmarket.db.command import run_read, timestamp
from carbonmarket.exchange import sessions_store as store
from carbonmarket.exchange.marketdata import MarketData, public_trade, recent_trades_max
from carbonmarket.exchange.sessions import Sessions

# The live feed (rule 12: limits on everything): a few dozen portal pages at once, each stream ends
# after five minutes (the browser's EventSource reconnects by itself), polled twice a second.
stream_clients_max = 64
stream_duration_max_s = 300.0
stream_poll_interval_s = 0.5
stream_batch_max = 200
stream_keepalive_s = 15.0
stream_retry_ms = 3_000


def market_clock(request: Request) -> Clock:
    """The app's clock for market rules: `app.state.market_clock` when set, else the system's."""
    found = getattr(request.app.state, "market_clock", None)
    return found if found is not None else SystemClock()


ClockDep = Annotated[Clock, Depends(market_clock)]


def sessions_service(services: ServicesDep, clock: ClockDep) -> Sessions:
    """Bidding sessions and auctions over the app's database."""
    return Sessions(services.engine, clock)


def marketdata_service(services: ServicesDep, clock: ClockDep) -> MarketData:
    """Market data over the app's database."""
    return MarketData(services.engine, clock)


SessionsDep = Annotated[Sessions, Depends(sessions_service)]
MarketDataDep = Annotated[MarketData, Depends(marketdata_service)]


class Body(BaseModel):
    """Every request body refuses unknown fields: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ApplicationIn(Body):
    """An application for a one-way bidding session; `id` is the session id and the command id."""

    id: StrictStr
    account: StrictStr = Field(description="The initiator's trading account (<holder>-T).")
    side: StrictStr = Field("sell", description="sell (bidders buy) or buy (bidders sell)")
    instrument: StrictStr
    quantity: StrictInt | StrictStr = Field(description="Whole tonnes, at least 100,000.")
    limit_price_fen: StrictInt = Field(description="The floor (sell) or cap (buy), fen per tonne.")
    opens_at: StrictStr = Field(description="ISO-8601; a naive time is China Standard Time.")
    closes_at: StrictStr
    price_mode: StrictStr = Field("uniform", description="uniform or pay_as_bid")
    bidder_cap_t: StrictInt | None = None
    minimum_t: StrictInt | None = None
    note: StrictStr | None = None


class ApprovalIn(Body):
    """Publish a notice; `seed` fixes the tie-break draw (default: a secret draw)."""

    id: StrictStr = Field(description="Command id.")
    seed: StrictInt | None = None


class RejectionIn(Body):
    """Refuse an application, saying why."""

    id: StrictStr = Field(description="Command id.")
    reason: StrictStr


class BidIn(Body):
    """A sealed bid; `id` is the bid id and the command id."""

    id: StrictStr
    account: StrictStr
    price_fen: StrictInt
    quantity: StrictInt | StrictStr


class CommandIn(Body):
    """A step that needs only its command id."""

    id: StrictStr = Field(description="Command id.")


class AuctionIn(Body):
    """A primary auction; `id` is the auction id and the command id."""

    id: StrictStr
    instrument: StrictStr
    quantity: StrictInt | StrictStr
    reserve_price_fen: StrictInt
    opens_at: StrictStr
    closes_at: StrictStr
    issue: StrictBool = False
    bidder_cap_t: StrictInt | None = None
    seed: StrictInt | None = None


class CloseDayIn(Body):
    """Strike the official close of a trading day (the command id is `close-<day>`)."""

    day: StrictStr = Field(description="YYYY-MM-DD")


router = APIRouter(tags=["market data, bidding and auctions"])


def _write(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(path, status_code=201, responses=WRITE_RESPONSES, response_model=None)


def _read(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.get(path, responses=ERROR_RESPONSES, response_model=None)


def _outcome(outcome: Outcome) -> JSONResponse:
    return outcome_response(outcome)


# --- one-way bidding -----------------------------------------------------------------------------------


@_write("/api/exchange/bidding")
def apply(body: ApplicationIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """Apply for a one-way bidding session (a member with the initiate right on the account)."""
    return _outcome(
        service.apply(
            actor,
            body.id,
            account=body.account,
            side=body.side,
            instrument=body.instrument,
            quantity=body.quantity,
            limit_price_fen=body.limit_price_fen,
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            price_mode=body.price_mode,
            bidder_cap_t=body.bidder_cap_t,
            minimum_t=body.minimum_t,
            note=body.note,
        )
    )


@_write("/api/exchange/bidding/{session_id}/approve")
def approve(session_id: str, body: ApprovalIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """Approve and publish the notice; the initiator's units or funds are held (exchange operator)."""
    return _outcome(service.approve(actor, body.id, session_id, body.seed))


@_write("/api/exchange/bidding/{session_id}/reject")
def reject(session_id: str, body: RejectionIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """Reject an application (exchange operator)."""
    return _outcome(service.reject(actor, body.id, session_id, body.reason))


@_write("/api/exchange/bidding/{session_id}/bids")
def bid(session_id: str, body: BidIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """A sealed bid in an open session (a member with the initiate right on the account)."""
    return _outcome(
        service.bid(
            actor, body.id, session_id, account=body.account, price_fen=body.price_fen, quantity=body.quantity
        )
    )


@_write("/api/exchange/bidding/{session_id}/close")
def close(session_id: str, body: CommandIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """Clear the session after its window, settle the awards, publish the result (exchange operator)."""
    return _outcome(service.close(actor, body.id, session_id))


@_read("/api/market/bidding")
def sessions(
    actor: OptionalActor,
    service: SessionsDep,
    status: Annotated[
        str | None, Query(description="applied | published | rejected | cleared | cancelled")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Sessions, latest window first, with published results; a signed-in member also sees its own bids."""
    return {"ok": True, "sessions": service.sessions(status, actor, limit)}


@_read("/api/market/bidding/{session_id}")
def session(session_id: str, actor: OptionalActor, service: SessionsDep) -> dict[str, Any]:
    """A session's notice and, once cleared, its published result (public)."""
    return {"ok": True, "session": service.session(session_id, actor)}


# --- primary auctions ----------------------------------------------------------------------------------


@_write("/api/exchange/auctions")
def create_auction(body: AuctionIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """Offer allowances from CN-AUCTION with a reserve price (regulator)."""
    return _outcome(
        service.create_auction(
            actor,
            body.id,
            instrument=body.instrument,
            quantity=body.quantity,
            reserve_price_fen=body.reserve_price_fen,
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            issue=body.issue,
            bidder_cap_t=body.bidder_cap_t,
            seed=body.seed,
        )
    )


@_write("/api/exchange/auctions/{auction_id}/bids")
def auction_bid(auction_id: str, body: BidIn, actor: CurrentActor, service: SessionsDep) -> JSONResponse:
    """A sealed bid in an open auction (a member with the initiate right on the account)."""
    return _outcome(
        service.auction_bid(
            actor, body.id, auction_id, account=body.account, price_fen=body.price_fen, quantity=body.quantity
        )
    )


@_write("/api/exchange/auctions/{auction_id}/close")
def close_auction(
    auction_id: str, body: CommandIn, actor: CurrentActor, service: SessionsDep
) -> JSONResponse:
    """Clear an auction after its window (exchange operator)."""
    return _outcome(service.close_auction(actor, body.id, auction_id))


@_read("/api/market/auctions")
def auctions(actor: OptionalActor, service: SessionsDep) -> dict[str, Any]:
    """Auctions, latest window first, with results (public)."""
    return {"ok": True, "auctions": service.auctions(actor)}


@_read("/api/market/auctions/{auction_id}")
def auction(auction_id: str, actor: OptionalActor, service: SessionsDep) -> dict[str, Any]:
    """An auction's terms and, once closed, its result (public)."""
    return {"ok": True, "auction": service.auction(auction_id, actor)}


# --- market data ---------------------------------------------------------------------------------------


@_write("/api/exchange/closes")
def close_day(body: CloseDayIn, actor: CurrentActor, service: MarketDataDep) -> JSONResponse:
    """Strike the official close of a day per instrument and the composite (exchange operator)."""
    return _outcome(service.close_day(actor, body.day))


@_read("/api/market/overview")
def overview(
    _actor: OptionalActor,
    service: MarketDataDep,
    day: Annotated[str | None, Query(description="YYYY-MM-DD")] = None,
) -> dict[str, Any]:
    """Per instrument: the latest close, its change and the day's volume by modality (public)."""
    return {"ok": True, **service.overview(day)}


@_read("/api/market/series")
def series(
    _actor: OptionalActor,
    service: MarketDataDep,
    instrument: Annotated[str, Query(description="A vintage, or CEA for the composite.")],
    first: Annotated[str, Query(alias="from", description="YYYY-MM-DD")],
    last: Annotated[str, Query(alias="to", description="YYYY-MM-DD")],
    period: Annotated[str, Query(description="day | month | year")] = "day",
) -> dict[str, Any]:
    """Open, high, low, close, volume and value by modality per day, month or year (public)."""
    return {"ok": True, **service.series(instrument, first, last, period)}


@_read("/api/market/day")
def day(
    _actor: OptionalActor,
    service: MarketDataDep,
    instrument: str,
    day: Annotated[str, Query(description="YYYY-MM-DD")],
) -> dict[str, Any]:
    """One instrument's day: official once closed, else as it stands (public)."""
    return {"ok": True, "day": service.day(instrument, day)}


@_read("/api/market/trades")
def trades(
    _actor: OptionalActor,
    service: MarketDataDep,
    instrument: str | None = None,
    limit: Annotated[int, Query(ge=1, le=recent_trades_max)] = 50,
) -> dict[str, Any]:
    """The latest trades of every modality, newest first (public: price, size, time; no parties)."""
    return {"ok": True, **service.recent_trades(instrument, limit)}


@_read("/api/market/monthly-average")
def monthly_average(
    _actor: OptionalActor,
    service: MarketDataDep,
    year: Annotated[int, Query(ge=2021, le=2099)],
    month: Annotated[int, Query(ge=1, le=12)],
) -> dict[str, Any]:
    """The month's volume-weighted average price of listed and bulk CEA trades (Art. 24's penalty price)."""
    return {
        "ok": True,
        "year": year,
        "month": month,
        "average_price_fen": service.monthly_average_price_fen(year, month),
    }


# --- the live feed -------------------------------------------------------------------------------------


class _Clients:
    """How many streams are open, so a flood of clients is refused instead of exhausting the server."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0

    def full(self) -> bool:
        return self.open >= stream_clients_max

    def enter(self) -> bool:
        with self.lock:
            if self.open >= stream_clients_max:
                return False
            self.open += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.open -= 1


clients = _Clients()


def _event(kind: str, event_id: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\nid: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class _Cursor:
    """Where a stream stands in a table ordered by a timestamp: the last time sent and the rows sent at it."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.sent: set[str] = set()

    def fresh(self, rows: list[Any], moment: Callable[[Any], str], key: Callable[[Any], str]) -> list[Any]:
        """The rows not sent yet; advances the cursor past them."""
        new = [r for r in rows if moment(r) > self.at or (moment(r) == self.at and key(r) not in self.sent)]
        for row in new:
            if moment(row) > self.at:
                self.at, self.sent = moment(row), set()
            self.sent.add(key(row))
        return new


@router.get(
    "/api/market/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`trade` and `close` events"},
        503: {},
    },
)
async def stream(
    request: Request,
    services: ServicesDep,
    clock: ClockDep,
    since: Annotated[
        str | None, Query(description="Send trades and closes from this ISO time on (default: now).")
    ] = None,
    duration_s: Annotated[float, Query(gt=0, le=stream_duration_max_s)] = stream_duration_max_s,
) -> Any:
    """Server-sent events: each trade (`event: trade`) and official close (`event: close`) as it lands.

    Public. The stream polls the trades and closes tables twice a second and ends after `duration_s`; the
    browser's EventSource reconnects, sending the last event id, from which the stream resumes.
    """
    resume = request.headers.get("last-event-id") or since
    start = resume if resume else timestamp(clock)
    if clients.full():
        return error_response(
            Code.EXCHANGE_MARKETDATA_STREAM_BUSY.value,
            f"the live feed serves at most {stream_clients_max} clients at once; try again shortly",
            503,
        )
    return StreamingResponse(
        _events(request, services.engine, start, duration_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(request: Request, engine: Any, start: str, duration_s: float) -> AsyncIterator[str]:
    # Counted here, not in the route: a client that leaves before the stream starts never held a place.
    if not clients.enter():
        yield f"retry: {stream_retry_ms}\n: the live feed is full; reconnecting later\n\n"
        return
    trades = _Cursor(start)
    closes = _Cursor(start)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    quiet_since = loop.time()
    try:
        yield f"retry: {stream_retry_ms}\n: carbonmarket live feed\n\n"
        while loop.time() < deadline and not await request.is_disconnected():

            def poll() -> tuple[list[Any], list[Any]]:
                def read(connection: Any) -> tuple[list[Any], list[Any]]:
                    return (
                        store.trades_since(connection, trades.at, stream_batch_max),
                        store.closes_since(connection, closes.at, stream_batch_max),
                    )

                found: tuple[list[Any], list[Any]] = run_read(engine, read)
                return found

            trade_rows, close_rows = await run_in_threadpool(poll)
            sent = False
            for row in trades.fresh(trade_rows, lambda r: r.at, lambda r: r.trade_id):
                yield _event("trade", row.at, public_trade(row))
                sent = True
            for row in closes.fresh(close_rows, lambda r: r.computed_at, lambda r: f"{r.instrument}/{r.day}"):
                yield _event("close", row.computed_at, _close_event(row))
                sent = True
            if sent:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= stream_keepalive_s:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            await asyncio.sleep(stream_poll_interval_s)
    finally:
        clients.leave()


def _close_event(row: Any) -> dict[str, Any]:
    change = None if row.previous_close_fen is None else int(row.close_fen) - int(row.previous_close_fen)
    return {
        "instrument": row.instrument,
        "day": row.day,
        "close_fen": int(row.close_fen),
        "previous_close_fen": row.previous_close_fen,
        "change_fen": change,
        "carried": bool(row.carried),
    }
