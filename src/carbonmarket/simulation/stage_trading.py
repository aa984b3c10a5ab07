"""The trading stage: the agents' plan (`simulation/agents.py`) played through the real exchange on
every trading day of `market.year + 1`, then everything back in the holders' `-H` accounts.

What it does, through the services only (docs/simulation-contract.md):

1. **Set-up** (one command): `-T` trading accounts for the entities (`postings.ensure_entity_accounts`),
   holders and `-H`/`-T` accounts for the financial institutions; the allowances each seller will
   sell move from `-H` to `-T`; buyers' funds are deposited into `-T` (in fen); the CCER the project
   owners sell move from the owner's `-H` into the buyer's `-H`. CCER change hands over the counter
   (the national CCER market trades at CBEEX, not on the allowance exchange, and the exchange has
   no reference price for a CCER that never traded): delivery versus payment in one linked batch of
   the registry, credits one way and the agreed price (fen) from the buyer's `-T` to the owner's `-T`.
2. **Each trading day**, a `FixedClock` walks the day: 09:00 bidding applications and approvals
   (`Sessions`), 10:00 the day's listed orders in one `Exchange.submit_many` batch, 10:30-11:00 a
   bidding window (bids, then `Sessions.close` at 11:05), 13:30 bulk agreements (a direct
   `bulk_post` to the named counterparty, then both `bulk_confirm`), 15:10 `MarketData.close_day`.
   Prices the agents planned are clamped into the day's band around the exchange's own previous close.
3. **The end**: every allowance left in a `-T` account moves back to its holder's `-H`.
4. **The figures** are read back: volume and value by modality and the closes from `MarketData.series`,
   traders from `Exchange.trades`, CCER bought from the entities' `-H` balances.

Every command id derives from the scenario name and the seed, so a rerun on the same database
answers `exists` and moves nothing twice. The acting parties: the simulated participants' trading
desk (an `exchange_member` holding the initiate right on every simulated `-H` and `-T` account), the
exchange operator (`seee-operator`: deposits, approvals, closes) and the registry operator (accounts).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.calendar import CHINA_STANDARD_TIME, MarketCalendar
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.instruments import FUNDS_ID, allowance_vintage
from carbonmarket.core.results import Done, Outcome, Refused
from carbonmarket.db.command import run_command, run_read
from carbonmarket.exchange.marketdata import MarketData
from carbonmarket.exchange.service import Exchange
from carbonmarket.exchange.sessions import Sessions
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Move, holding_account, trading_account
from carbonmarket.simulation.agents import (
    BIDDING_APPROVAL_DAYS,
    BIDDING_LEAD_DAYS,
    BULK_BAND,
    LISTED_BAND,
    AgentParams,
    BiddingPlan,
    BulkDeal,
    DayPlan,
    TradingPlan,
    plan_year,
)
from carbonmarket.simulation.spec import Market, Position, Scenario, ScenarioError, StageProgress, TradingYear

log = logging.getLogger(__name__)
OPERATOR = Actor("seee-operator", Role.EXCHANGE_OPERATOR)
REGISTRY_OPERATOR = Actor("sim-registry-operator", Role.REGISTRY_OPERATOR)
# One-way bidding opens in July 2025 (SEEE notice 沪环境交〔2025〕23号, DOMAIN.md §5 [reg]).
BIDDING_FROM_DEFAULT = date(2025, 7, 1)
# Funds deposited per tonne a holder plans to buy: the highest planned price × this margin, which
# covers a bulk agreement at the top of its ±30% band and the buyer's fee [?].
FUNDS_MARGIN = 1.5
# Moments of a trading day (China Standard Time); the sessions: listed 9:30-11:30 and 13:00-15:00,
# bulk 13:00-15:00 (DOMAIN.md §5 [reg]); the official close after 15:00.
APPLY_AT = time(9, 0)
LISTED_AT = time(10, 0)
WINDOW_OPENS = time(10, 30)
WINDOW_CLOSES = time(11, 0)
BIDS_AT = time(10, 35)
BIDDING_CLOSE_AT = time(11, 5)
BULK_AT = time(13, 30)
CLOSE_AT = time(15, 10)
# Day orders left at the end of the year are cancelled inside the last session, so no hold stays.
LAST_CANCEL_AT = time(14, 55)
END_AT = time(15, 30)
# Orders per `submit_many` batch (the exchange takes up to 20,000; smaller batches keep memory low).
BATCH_ORDERS = 2_000


@dataclass(frozen=True)
class TradingSettings:
    """The `[trading]` section: which days trade and when bidding opens.

    - `days` (default: all): trade only the last N trading days of `year + 1` (a shorter test year
      that still ends at the 31 December deadline).
    - `bidding_from` (default 2025-07-01 [reg]): the first day one-way bidding sessions may run.
    - `institutions` (default 0): financial institutions to add when the market names none.
    """

    days: int | None = None
    bidding_from: date = BIDDING_FROM_DEFAULT
    institutions: int = 0

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TradingSettings:
        unknown = set(section) - {"days", "bidding_from", "institutions"}
        if unknown:
            raise ScenarioError(f"[trading] has no key {sorted(unknown)[0]!r}")
        days = section.get("days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days <= 0):
            raise ScenarioError("[trading] days must be a positive whole number")
        raw = section.get("bidding_from", BIDDING_FROM_DEFAULT.isoformat())
        try:
            bidding_from = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        except ValueError:
            raise ScenarioError("[trading] bidding_from must be a date (YYYY-MM-DD)") from None
        institutions = section.get("institutions", 0)
        if not isinstance(institutions, int) or isinstance(institutions, bool) or institutions < 0:
            raise ScenarioError("[trading] institutions must be a whole number ≥ 0")
        return cls(days, bidding_from, institutions)


class _Run:
    """One trading year's state: services over one clock, ids, the desk's rights."""

    def __init__(
        self, engine: Engine, market: Market, scenario: Scenario, calendar: MarketCalendar, first: date
    ) -> None:
        self.engine = engine
        self.market = market
        self.calendar = calendar
        self.clock = FixedClock(_moment(first, time(8, 0)))
        self.exchange = Exchange(engine, self.clock, calendar)
        self.sessions = Sessions(engine, self.clock, calendar)
        self.marketdata = MarketData(engine, self.clock, calendar)
        digest = hashlib.sha256(f"{scenario.name}:{market.seed}:{market.year}".encode()).hexdigest()
        self.tag = f"T{digest[:10]}"
        self.instrument = allowance_vintage(market.year)
        self.failures: dict[str, int] = {}
        self.last_refusal: dict[str, str] = {}
        self.desk = Actor("sim-trading-desk", Role.EXCHANGE_MEMBER)

    def grant(self, holders: Sequence[str]) -> None:
        """The desk acts for every simulated holder: initiate on its -H and -T accounts."""
        rights = {(holding_account(h), Permission.INITIATE) for h in holders}
        rights |= {(trading_account(h), Permission.INITIATE) for h in holders}
        self.desk = Actor("sim-trading-desk", Role.EXCHANGE_MEMBER, frozenset(rights))

    def at(self, day: date, moment: time) -> None:
        """Move the clock forward to `moment` of `day` (never back)."""
        target = _moment(day, moment)
        if target > self.clock.now():
            self.clock.advance(target - self.clock.now())

    def id(self, *parts: object) -> str:
        text = "-".join([self.tag, *(str(p) for p in parts)])
        return text if len(text) <= 64 else f"{self.tag}-{hashlib.sha256(text.encode()).hexdigest()[:40]}"

    def check(self, outcome: Outcome, what: str) -> bool:
        """Count a refusal (an agent's order the market would not take) instead of stopping the year."""
        if isinstance(outcome, Done):
            return True
        self.failures[what] = self.failures.get(what, 0) + 1
        self.last_refusal[what] = str(outcome)[:300]
        return False


def trading_days(calendar: MarketCalendar, year: int, last: int | None) -> list[date]:
    """The trading days of `year` (the year after the compliance year), or its last `last` ones."""
    days = calendar.trading_days_between(date(year, 1, 1), date(year, 12, 31))
    return days if last is None else days[-last:]


def run_trading(
    engine: Engine,
    market: Market,
    positions: dict[str, Position],
    ccer: dict[str, str],
    scenario: Scenario,
    progress: StageProgress,
) -> TradingYear:
    """Trade the year through the exchange (see the module text) and read its figures back."""
    params = AgentParams.from_section(scenario.section("agents"))
    settings = TradingSettings.from_section(scenario.section("trading"))
    calendar = MarketCalendar.load()
    days = trading_days(calendar, market.year + 1, settings.days)
    run = _Run(engine, market, scenario, calendar, days[0])
    institutions = market.institutions or tuple(f"FI-{n + 1:03d}" for n in range(settings.institutions))
    market_for_plan = Market(market.year, market.seed, market.entities, market.projects, institutions)
    supply, owners = _ccer_supply(engine, market, ccer)
    opening = run.marketdata.reference_close_fen(run.instrument, days[0])
    plan = plan_year(
        market_for_plan,
        positions,
        supply,
        days,
        params,
        opening_fen=opening,
        bidding_from=settings.bidding_from,
    )
    holders = sorted(set(positions) | set(institutions) | set(owners))
    run.grant(holders)
    progress.start("trading: accounts, units and funds", 1)
    _set_up(run, positions, institutions, plan, ccer)
    progress.advance()
    progress.start("trading: trading days", len(days))
    for index, day_plan in enumerate(plan.days):
        _trade_day(run, plan, index, day_plan, last=index == len(days) - 1)
        progress.advance()
    run.at(days[-1], END_AT)
    if run.failures:
        log.info("trading: refusals by kind %s; the last of each: %s", run.failures, run.last_refusal)
    _bring_home(run, [h for h in holders if h not in owners or h in positions])
    return _read_back(run, days, positions, ccer, holders)


def _ccer_supply(engine: Engine, market: Market, ccer: Mapping[str, str]) -> tuple[dict[str, int], set[str]]:
    """Project id → CCER tonnes in its owner's -H, read from the registry; and the owners."""
    owners = {p.project_id: p.owner_id for p in market.projects if p.project_id in ccer}
    keys = [(holding_account(owners[pid]), ccer[pid]) for pid in owners]

    def read(connection: Connection) -> dict[tuple[str, str], Any]:
        return postings.balances(connection, keys)

    found = run_read(engine, read) if keys else {}
    supply = {pid: found[(holding_account(o), ccer[pid])].available for pid, o in owners.items()}
    return supply, set(owners.values())


def _set_up(
    run: _Run,
    positions: Mapping[str, Position],
    institutions: Sequence[str],
    plan: TradingPlan,
    ccer: Mapping[str, str],
) -> None:
    """Accounts, the sellers' units into -T, buyers' funds, the CCER sales (one command)."""
    names = run.market.by_id()
    top_price = max(d.price_fen for d in plan.days)
    # Each CCER sale is delivery versus payment in one linked batch: the credits from the owner's -H
    # to the buyer's -H, the price from the buyer's -T to the owner's -T (all legs or none).
    ccer_moves = [
        leg
        for s in plan.ccer_sales
        for leg in (
            Move(holding_account(s.owner), holding_account(s.buyer), ccer[s.project_id], s.quantity),
            Move(trading_account(s.buyer), trading_account(s.owner), FUNDS_ID, s.quantity * s.price_fen),
        )
    ]
    ccer_cost: dict[str, int] = {}
    for sale in plan.ccer_sales:
        ccer_cost[sale.buyer] = ccer_cost.get(sale.buyer, 0) + sale.quantity * sale.price_fen
    unit_moves = [
        Move(holding_account(h), trading_account(h), run.instrument, q)
        for h, q in sorted(plan.sells.items())
        if q > 0 and h in positions
    ]
    funds = {h: int(q * top_price * FUNDS_MARGIN) + 1 for h, q in sorted(plan.buys.items()) if q > 0}
    for buyer, cost in ccer_cost.items():
        funds[buyer] = funds.get(buyer, 0) + cost

    def work(connection: Connection, at: str) -> dict[str, Any]:
        entities = [(e, names[e].name if e in names else e) for e in sorted(positions)]
        opened = postings.ensure_entity_accounts(connection, REGISTRY_OPERATOR, entities, "trading", at)
        for bank in institutions:
            postings.ensure_holder(
                connection, REGISTRY_OPERATOR, bank, f"Institution {bank}", "financial", at
            )
            for account, kind in ((holding_account(bank), "holding"), (trading_account(bank), "trading")):
                opened += postings.ensure_account(connection, REGISTRY_OPERATOR, account, bank, kind, at)
        if unit_moves:
            postings.move(connection, run.desk, run.id("to-T"), "transfer", unit_moves, at)
        for owner in sorted({sale.owner for sale in plan.ccer_sales}):
            # The owner is paid into its trading account (opened with the owner, or here).
            opened += postings.ensure_account(
                connection, REGISTRY_OPERATOR, trading_account(owner), owner, "trading", at
            )
        for holder, fen in funds.items():
            account = trading_account(holder)
            postings.deposit_funds(connection, OPERATOR, run.id("dep", holder), account, fen, at)
        if ccer_moves:
            postings.move(connection, run.desk, run.id("ccer"), "transfer", ccer_moves, at)
        return {"accounts": opened, "units": len(unit_moves), "ccer": len(ccer_moves), "funded": len(funds)}

    outcome = run_command(
        run.engine,
        run.clock,
        REGISTRY_OPERATOR,
        "simulation.trading.setup",
        run.id("setup"),
        {"tag": run.tag},
        work,
    )
    if not isinstance(outcome, Done):
        raise RuntimeError(f"the trading set-up was refused: {outcome}")


def _trade_day(run: _Run, plan: TradingPlan, index: int, day_plan: DayPlan, *, last: bool) -> None:
    """One trading day: bidding notices, listed orders, a bidding window, bulk agreements, the close."""
    day = day_plan.day
    run.at(day, APPLY_AT)
    _bidding_notices(run, plan, index)
    reference = run.marketdata.reference_close_fen(run.instrument, day)
    run.at(day, LISTED_AT)
    _listed(run, index, day_plan, reference)
    if day_plan.bidding:
        run.at(day, BIDS_AT)
        for n, session in enumerate(day_plan.bidding):
            _bids(run, index, n, session)
        run.at(day, BIDDING_CLOSE_AT)
        for n, _ in enumerate(day_plan.bidding):
            run.check(run.sessions.close(OPERATOR, run.id("bc", index, n), run.id("bs", index, n)), "bidding")
    run.at(day, BULK_AT)
    for n, deal in enumerate(day_plan.bulk):
        _bulk(run, index, n, deal, reference)
    if last:
        run.at(day, LAST_CANCEL_AT)
        _cancel_resting(run, len(plan.days))
    run.at(day, CLOSE_AT)
    run.check(run.marketdata.close_day(OPERATOR, day.isoformat()), "close")


def _band(reference: int, band: float) -> tuple[int, int]:
    """The day's admissible prices around the previous close (rounded inwards to the fen)."""
    # One fen inside each edge, so no rounding of the exchange's own band can refuse it.
    return int(reference * (1 - band)) + 1, int(reference * (1 + band)) - 1


def _clamp(price: int, band: tuple[int, int]) -> int:
    return min(max(price, band[0]), band[1])


def _listed(run: _Run, index: int, day_plan: DayPlan, reference: int) -> None:
    band = _band(reference, LISTED_BAND)
    commands = [
        {
            "type": "new",
            "order_id": run.id("L", index, n),
            "account": trading_account(order.holder),
            "instrument": run.instrument,
            "side": order.side,
            "price_fen": _clamp(order.price_fen, band),
            "quantity": order.quantity,
            "mode": "auto",
        }
        for n, order in enumerate(day_plan.listed)
    ]
    for start in range(0, len(commands), BATCH_ORDERS):
        batch = commands[start : start + BATCH_ORDERS]
        outcome = run.exchange.submit_many(run.desk, run.id("LB", index, start), batch)
        if run.check(outcome, "listed batch") and isinstance(outcome, Done):
            refused = [r for r in outcome.data.get("results", ()) if not r.get("ok")]
            if refused:
                run.failures["listed"] = run.failures.get("listed", 0) + len(refused)
                run.last_refusal["listed"] = str(refused[-1])[:300]


def _bulk(run: _Run, index: int, n: int, deal: BulkDeal, reference: int) -> None:
    """A direct bulk agreement: the seller posts to the named buyer, both confirm (DOMAIN.md §5 [reg])."""
    price = _clamp(deal.price_fen, _band(reference, BULK_BAND))
    intent = run.id("B", index, n)
    seller, buyer = trading_account(deal.seller), trading_account(deal.buyer)
    posted = run.exchange.bulk_post(
        run.desk, intent, seller, run.instrument, "sell", price, deal.quantity, counterparty=buyer
    )
    if not run.check(posted, "bulk"):
        return
    offer = f"{intent}.0"
    if run.check(run.exchange.bulk_confirm(run.desk, run.id("BCb", index, n), offer, buyer), "bulk"):
        run.check(run.exchange.bulk_confirm(run.desk, run.id("BCs", index, n), offer, seller), "bulk")


def _bidding_notices(run: _Run, plan: TradingPlan, index: int) -> None:
    """Apply for the sessions whose window is 12 trading days on; approve those 6 days on."""
    days = plan.days
    apply_for = index + BIDDING_LEAD_DAYS
    if apply_for < len(days):
        reference = run.marketdata.reference_close_fen(run.instrument, days[index].day)
        band = _band(reference, LISTED_BAND)
        window_day = days[apply_for].day
        for n, session in enumerate(days[apply_for].bidding):
            run.check(
                run.sessions.apply(
                    run.desk,
                    run.id("bs", apply_for, n),
                    account=trading_account(session.initiator),
                    side="sell",
                    instrument=run.instrument,
                    quantity=session.quantity,
                    limit_price_fen=_clamp(session.floor_fen, band),
                    opens_at=_moment(window_day, WINDOW_OPENS).isoformat(),
                    closes_at=_moment(window_day, WINDOW_CLOSES).isoformat(),
                ),
                "bidding apply",
            )
    approve_for = index + BIDDING_APPROVAL_DAYS
    if approve_for < len(days):
        for n, _ in enumerate(days[approve_for].bidding):
            run.check(
                run.sessions.approve(
                    OPERATOR, run.id("ba", approve_for, n), run.id("bs", approve_for, n), seed=n
                ),
                "bidding approve",
            )


def _bids(run: _Run, index: int, n: int, session: BiddingPlan) -> None:
    session_id = run.id("bs", index, n)
    try:
        notice = run.sessions.session(session_id, OPERATOR)
    except Refused:
        notice = {}
    if notice.get("status") != "published" or not notice.get("bid_range_fen"):
        # The exchange never published it (refused at application or approval): no bids.
        run.failures["bidding"] = run.failures.get("bidding", 0) + 1
        return
    low, high = (int(x) for x in notice["bid_range_fen"])
    for k, (holder, quantity, price) in enumerate(session.bids):
        run.check(
            run.sessions.bid(
                run.desk,
                run.id("bb", index, n, k),
                session_id,
                account=trading_account(holder),
                price_fen=min(max(price, low), high),
                quantity=quantity,
            ),
            "bidding bid",
        )


def _cancel_resting(run: _Run, count: int) -> None:
    """Cancel what still rests on the book on the year's last day (its holds return)."""
    for page in range(count):
        resting = [
            o["order_id"]
            for o in run.exchange.orders(OPERATOR, status="open", limit=500)
            if str(o["order_id"]).startswith(run.tag)
        ]
        if not resting:
            return
        commands = [{"type": "cancel", "order_id": order_id} for order_id in resting]
        run.check(run.exchange.submit_many(run.desk, run.id("CX", page), commands), "cancel")


def _bring_home(run: _Run, holders: Sequence[str]) -> None:
    """Every allowance left in a -T account goes back to its holder's -H (compliance surrenders from -H)."""
    keys = [(trading_account(h), run.instrument) for h in holders]

    def work(connection: Connection, at: str) -> dict[str, Any]:
        found = postings.balances(connection, keys)
        moves = [
            Move(account, holding_account(account.removesuffix("-T")), instrument, balance.total)
            for (account, instrument), balance in sorted(found.items())
            if balance.total > 0
        ]
        if moves:
            postings.move(connection, run.desk, run.id("to-H"), "transfer", moves, at)
        return {"moves": len(moves)}

    outcome = run_command(
        run.engine, run.clock, run.desk, "simulation.trading.home", run.id("home"), {"tag": run.tag}, work
    )
    if not isinstance(outcome, Done):
        raise RuntimeError(f"bringing the allowances home was refused: {outcome}")


def _read_back(
    run: _Run,
    days: Sequence[date],
    positions: Mapping[str, Position],
    ccer: Mapping[str, str],
    holders: Sequence[str],
) -> TradingYear:
    """The year's figures as the exchange and the registry recorded them."""
    series = run.marketdata.series(run.instrument, days[0].isoformat(), days[-1].isoformat())["series"]
    volume = {"listed": 0, "bulk": 0, "bidding": 0}
    value = {"listed": 0, "bulk": 0, "bidding": 0}
    closes: list[tuple[str, int]] = []
    for row in series:
        for modality in volume:
            volume[modality] += int(row["volume"].get(modality, 0))
            value[modality] += int(row["value_fen"].get(modality, 0))
        if row["close_fen"] is not None:
            closes.append((row["day"], int(row["close_fen"])))
    traders = sum(1 for h in holders if run.exchange.trades(OPERATOR, account=trading_account(h), limit=1))
    instruments = sorted(set(ccer.values()))
    keys = [(holding_account(e), i) for e in positions for i in instruments]

    def read(connection: Connection) -> dict[tuple[str, str], Any]:
        return postings.balances(connection, keys)

    found = run_read(run.engine, read) if keys else {}
    bought: dict[str, int] = {}
    for (account, _), balance in found.items():
        if balance.total > 0:
            entity = account.removesuffix("-H")
            bought[entity] = bought.get(entity, 0) + balance.total
    return TradingYear(len(days), volume, value, closes, bought, traders)


def _moment(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=CHINA_STANDARD_TIME)
