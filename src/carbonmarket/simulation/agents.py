"""The trading agents of the simulator: from the market and each entity's position, the year's plan of
listed orders, bulk agreements, one-way bidding sessions and CCER sales, day by day. Pure and seeded:
no database, the same inputs and seed give the same plan.

The model, in the order `plan_year` builds it:

1. **Needs and offers.** A short entity (verified > allocated) must buy its shortage, less the CCER it
   buys (at most 5% of its obligation, DOMAIN.md §4 [reg]); a `defaulter` buys only part of it and
   fails in part. A long entity that is active this year (`participation`) offers `liquidity` × its
   surplus; hoarders offer nothing.
2. **The fundamental price.** Tightness = compliance demand / surplus offered, as a share
   s = demand / (demand + offers). The price is the emissions-weighted median MAC of the traits ×
   (2s)^`price_elasticity`, within [`price_floor_cny`, `price_cap_cny`]: in a balanced market
   (s = 0.5) allowances cost what abating would at the median; scarcer ones more, plentiful ones less.
3. **Turnover.** The published volume (189 Mt in 2024 [seed]) is six times the deficit (29 Mt
   [seed]): entities reposition holdings, not only cover shortages. Each active non-hoarder does a
   round trip of `turnover_share` × `liquidity` × its allocation (sells half, buys half back).
4. **Pairing.** Buy lots and sell lots are shuffled and merged into (buyer, seller, tonnes) chunks;
   a chunk of at least a bulk lot goes to a bulk agreement with probability `bulk_preference`, else
   it is cut into listed orders under 100,000 t (DOMAIN.md §5 [reg]). From `bidding_from` (July
   2025 [reg]) some bulk lots are sold through one-way bidding sessions instead. Financial
   institutions intermediate a share of tickets: they buy some days earlier and sell on the day.
5. **Timing.** Each ticket falls on a trading day drawn with weight exp(`deadline_urgency` × (t − 1)),
   t the share of the year elapsed: volume gathers before the 31 December deadline (the fourth
   quarter of 2024 carried 79% of the year's volume, Progress Report §4 [seed]). `late` entities
   wait longer (`late_urgency_factor`).
6. **The daily price path.** Log-price mean-reverting (`reversion`) to the fundamental price times
   an expectation that rises with the deadline (`early_discount`), with noise (`volatility`); each
   day's move is bounded by `daily_move_max`, inside the listed ±10% band (DOMAIN.md §5 [reg]).
   Listed buys are limited at or above the day's price, sells at or below, so every pair crosses;
   bulk agreements are negotiated within `bulk_spread` of the day's price (the band is ±30%).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from carbonmarket.simulation.spec import Market, Position, ScenarioError, Traits

# --- market rules the plan respects (DOMAIN.md §4-§5; the exchange enforces them again) -----------
LISTED_ORDER_MAX_T = 99_999  # listed orders "under 100,000 t" [reg]
BULK_MIN_T = 100_000  # bulk agreements "at least 100,000 t" [reg]
LISTED_BAND = 0.10  # listed trades within ±10% of the previous close [reg]
BULK_BAND = 0.30  # bulk agreements within ±30% of the previous close [reg]
CCER_OFFSET_MAX = 0.05  # CCER ≤ 5% of the allowances due (Measures, Art. 29) [reg]
FEN_PER_CNY = 100


@dataclass(frozen=True)
class AgentParams:
    """Behaviour of the agents: every key of the scenario's `[agents]` section, with its default.

    Defaults marked [?] are behavioural assumptions calibrated on the 2024 outcomes (cn-2023), not
    published figures.
    """

    # Share of long entities active in the year (they sell surplus and reposition) [?]; 1,471 of
    # about 2,100 entities traded in 2024 (Progress Report §4 [seed]).
    participation: float = 0.6
    # Round-trip repositioning per active entity, as a share of its allocation × liquidity [?].
    turnover_share: float = 0.03
    # Share of a defaulter's shortage it fails to buy (DOMAIN.md §4: 4 entities failed in full [seed]).
    default_shortfall: float = 0.5
    # Share of the 5% CCER limit a `uses_ccer` entity fills [?].
    ccer_use_share: float = 1.0
    # The fundamental price: median MAC × tightness^elasticity, bounded [?].
    price_elasticity: float = 0.25
    price_floor_cny: float = 20.0
    price_cap_cny: float = 200.0
    # The expected price early in the year is this much below the deadline price [?].
    early_discount: float = 0.3
    # Daily log-price reversion towards the expected price, daily noise, and the largest daily move
    # (inside the ±10% listed band, DOMAIN.md §5 [reg]) [?].
    reversion: float = 0.06
    volatility: float = 0.012
    daily_move_max: float = 0.05
    # Deadline concentration: weight exp(k (t − 1)); k = 6.2 puts 79% of the volume in the fourth
    # quarter, as in 2024 (Progress Report §4 [seed]); `late` entities use k × the factor [?].
    deadline_urgency: float = 6.2
    late_urgency_factor: float = 1.5
    # A holder with at least a bulk lot to trade prefers negotiated blocks with this probability [?];
    # blocks pair among themselves, and every chunk of a bulk lot or more is a bulk agreement, cut
    # into tickets of about `bulk_ticket_t`; listed orders are about `listed_ticket_t`.
    bulk_preference: float = 0.85
    bulk_ticket_t: int = 400_000
    listed_ticket_t: int = 20_000
    # Listed limits within this share above (buys) / below (sells) the day's price; bulk terms
    # within ± `bulk_spread` of it [?].
    listed_spread: float = 0.01
    bulk_spread: float = 0.03
    # Share of tickets financial institutions intermediate, and how many trading days they hold [?].
    institution_share: float = 0.05
    institution_hold_days: int = 5
    # Share of bulk tickets sold through one-way bidding once bidding is open [?]; a session's floor
    # is this share below the day's price (the floor lies within close − 10%, DOMAIN.md §5 [sec]).
    bidding_share: float = 0.1
    bidding_floor_discount: float = 0.02
    # CCER sells at this ratio of the allowance price [?] (first CCER day: CNY 80.45/t [seed]).
    ccer_price_ratio: float = 0.85

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> AgentParams:
        """The `[agents]` section over the defaults; unknown keys and wrong types are refused."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise ScenarioError(f"[agents] has no key {key!r} (known: {', '.join(sorted(known))})")
            default = getattr(cls(), key)
            if isinstance(default, int) and not isinstance(default, bool):
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise ScenarioError(f"[agents] {key} must be a positive whole number")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ScenarioError(f"[agents] {key} must be a number ≥ 0")
            values[key] = type(default)(value)
        params = cls(**values)
        for name in (
            "participation",
            "default_shortfall",
            "ccer_use_share",
            "bulk_preference",
            "institution_share",
            "bidding_share",
            "early_discount",
        ):
            if getattr(params, name) > 1:
                raise ScenarioError(f"[agents] {name} is a share: 0-1")
        if not 0 < params.daily_move_max < LISTED_BAND:
            raise ScenarioError("[agents] daily_move_max must lie inside the ±10% listed band")
        if params.price_floor_cny >= params.price_cap_cny:
            raise ScenarioError("[agents] price_floor_cny must be below price_cap_cny")
        return params


@dataclass(frozen=True)
class ListedOrder:
    holder: str
    side: str  # "buy" | "sell"
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class BulkDeal:
    seller: str
    buyer: str
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class BiddingPlan:
    """A one-way sell session: the initiator's lot, its floor, and the sealed bids (holder, t, fen)."""

    initiator: str
    quantity: int
    floor_fen: int
    bids: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class CcerSale:
    project_id: str
    owner: str
    buyer: str
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class DayPlan:
    day: date
    price_fen: int  # the agents' reference for the day
    listed: tuple[ListedOrder, ...] = ()
    bulk: tuple[BulkDeal, ...] = ()
    bidding: tuple[BiddingPlan, ...] = ()


@dataclass(frozen=True)
class TradingPlan:
    fundamental_fen: int
    tightness: float
    days: tuple[DayPlan, ...]
    ccer_sales: tuple[CcerSale, ...]
    need: dict[str, int]  # allowances each short entity must buy (after CCER, before default)
    buys: dict[str, int] = field(default_factory=dict)  # planned allowance tonnes bought per holder
    sells: dict[str, int] = field(default_factory=dict)  # planned allowance tonnes sold per holder


@dataclass
class _Ticket:
    buyer: str
    seller: str
    quantity: int
    day: int
    kind: str  # "listed" | "bulk" | "bidding"
    fixed: bool = False  # an institution's leg: its day must not move


def plan_year(
    market: Market,
    positions: Mapping[str, Position],
    ccer_supply: Mapping[str, int],
    days: Sequence[date],
    params: AgentParams,
    *,
    opening_fen: int,
    bidding_from: date | None = None,
) -> TradingPlan:
    """The year's trading plan (see the module text). `ccer_supply`: project id → CCER tonnes its owner
    may sell; `days`: the trading days, in order; `opening_fen`: the exchange's reference on day one."""
    if not days:
        raise ValueError("a trading year needs at least one trading day")
    rng = random.Random(f"agents:{market.seed}:{market.year}")
    entities = market.by_id()
    traits = {e: entities[e].traits for e in positions if e in entities}
    ccer_sales, ccer_bought = _ccer_sales(market, positions, traits, ccer_supply, rng, params)
    need = {
        e: max(0, p.verified - p.holdings - ccer_bought.get(e, 0))
        for e, p in positions.items()
        if p.verified > p.holdings
    }
    buys = {
        e: q
        if traits.get(e) is None or traits[e].strategy != "defaulter"
        else int(q * (1 - params.default_shortfall))
        for e, q in need.items()
    }
    active = {e for e in positions if e not in need and rng.random() < params.participation}
    offers = _offers(positions, traits, active, params)
    tightness = sum(buys.values()) / max(sum(offers.values()), 1)
    fundamental = _fundamental_fen(positions, traits, tightness, params)
    # CCERs sell at a discount to allowances (`ccer_price_ratio` of the year's fundamental price).
    ccer_price = max(1, round(fundamental * params.ccer_price_ratio))
    ccer_sales = [replace(sale, price_fen=ccer_price) for sale in ccer_sales]
    sells = _cover(positions, traits, offers, active, sum(buys.values()))
    buys = _scale_down_if_short(buys, sum(sells.values()))
    buy_lots = [(e, q) for e, q in buys.items() if q > 0]
    sell_lots = [(e, q) for e, q in sells.items() if q > 0]
    rng.shuffle(buy_lots)
    rng.shuffle(sell_lots)
    turnover_buys: list[tuple[str, int]] = []
    turnover_sells: list[tuple[str, int]] = []
    for e in sorted(active | set(need)):
        if traits.get(e) is not None and traits[e].strategy == "hoarder":
            continue
        liquidity = traits[e].liquidity if e in traits else 1.0
        half = int(params.turnover_share * liquidity * positions[e].allocated) // 2
        if half > 0:
            turnover_buys.append((e, half))
            turnover_sells.append((e, half))
    rng.shuffle(turnover_buys)
    rng.shuffle(turnover_sells)
    # Compliance lots pair first, so whatever a self-pair leaves unmatched at the end is turnover.
    chunks = _pair(buy_lots + turnover_buys, sell_lots + turnover_sells, params, rng)
    tickets = _tickets(chunks, traits, len(days), days, params, rng, bidding_from)
    tickets = _intermediate(tickets, market.institutions, params, rng)
    _no_self_trades(tickets, len(days))
    path = price_path(len(days), opening_fen, fundamental, params, rng)
    day_plans = _day_plans(days, path, tickets, params, rng)
    bought: dict[str, int] = {}
    sold: dict[str, int] = {}
    for t in tickets:
        bought[t.buyer] = bought.get(t.buyer, 0) + t.quantity
        sold[t.seller] = sold.get(t.seller, 0) + t.quantity
    return TradingPlan(fundamental, tightness, day_plans, tuple(ccer_sales), need, bought, sold)


def _ccer_sales(
    market: Market,
    positions: Mapping[str, Position],
    traits: Mapping[str, Traits],
    supply: Mapping[str, int],
    rng: random.Random,
    params: AgentParams,
) -> tuple[list[CcerSale], dict[str, int]]:
    """Project owners sell to `uses_ccer` entities, each up to its share of the 5% limit [reg]."""
    wants = {
        e: int(CCER_OFFSET_MAX * params.ccer_use_share * p.verified)
        for e, p in sorted(positions.items())
        if e in traits and traits[e].uses_ccer
    }
    wants = {e: q for e, q in wants.items() if q > 0}
    owners = {p.project_id: p.owner_id for p in market.projects}
    lots = [(pid, q) for pid, q in sorted(supply.items()) if q > 0 and pid in owners]
    sales: list[CcerSale] = []
    bought: dict[str, int] = {}
    buyers = list(wants.items())
    rng.shuffle(buyers)
    index = 0
    for pid, left in lots:
        while left > 0 and index < len(buyers):
            buyer, want = buyers[index]
            q = min(left, want)
            sales.append(CcerSale(pid, owners[pid], buyer, q, 0))
            bought[buyer] = bought.get(buyer, 0) + q
            left -= q
            if q == want:
                index += 1
            else:
                buyers[index] = (buyer, want - q)
    return sales, bought


def _offers(
    positions: Mapping[str, Position], traits: Mapping[str, Traits], active: set[str], params: AgentParams
) -> dict[str, int]:
    """What active long entities offer of their surplus: liquidity × surplus; hoarders nothing."""
    offers: dict[str, int] = {}
    for e in sorted(active):
        surplus = positions[e].holdings - positions[e].verified
        t = traits.get(e)
        if surplus <= 0 or (t is not None and t.strategy == "hoarder"):
            continue
        liquidity = 1.0 if t is None else (1.0 if t.strategy == "seller" else t.liquidity)
        offers[e] = int(surplus * liquidity)
    return offers


def _fundamental_fen(
    positions: Mapping[str, Position], traits: Mapping[str, Traits], tightness: float, params: AgentParams
) -> int:
    """Median MAC (emissions-weighted) × tightness^elasticity, within the floor and the cap."""
    macs = sorted((traits[e].mac_cny_per_t, p.verified) for e, p in positions.items() if e in traits)
    total = sum(w for _, w in macs)
    median = params.price_cap_cny / 2
    running = 0
    for mac, weight in macs:
        running += weight
        if running * 2 >= total:
            median = mac
            break
    # Tightness as a share: demand / (demand + offers) is 0.5 in a balanced market, where the price
    # is the median MAC; it rises towards 2^elasticity × MAC as offers vanish.
    share = tightness / (1 + tightness)
    price = median * (2 * share) ** params.price_elasticity
    price = min(max(price, params.price_floor_cny), params.price_cap_cny)
    return round(float(price) * FEN_PER_CNY)


def _cover(
    positions: Mapping[str, Position],
    traits: Mapping[str, Traits],
    offers: dict[str, int],
    active: set[str],
    demand: int,
) -> dict[str, int]:
    """Sales that cover `demand` exactly: offers pro rata; if they fall short, the active sellers'
    whole surplus; if that falls short too, every non-hoarder's (a scarce market recruits the rest)."""

    def surplus(among: Iterable[str]) -> dict[str, int]:
        return {
            e: positions[e].holdings - positions[e].verified
            for e in sorted(among)
            if positions[e].holdings > positions[e].verified
            and (e not in traits or traits[e].strategy != "hoarder")
        }

    pool = dict(offers)
    if sum(pool.values()) < demand:
        pool = surplus(active)
    if sum(pool.values()) < demand:
        pool = surplus(positions)
    total = sum(pool.values())
    if total == 0 or demand == 0:
        return {}
    target = min(demand, total)
    sells = {e: q * target // total for e, q in pool.items()}
    short = target - sum(sells.values())
    for e in sorted(pool, key=lambda k: -pool[k]):
        if short == 0:
            break
        if sells[e] < pool[e]:
            add = min(short, pool[e] - sells[e])
            sells[e] += add
            short -= add
    return sells


def _scale_down_if_short(buys: dict[str, int], supply: int) -> dict[str, int]:
    """A market short overall cannot buy more than is sold: buys shrink pro rata."""
    total = sum(buys.values())
    if total <= supply:
        return buys
    return {e: q * supply // total for e, q in buys.items()}


Lots = list[tuple[str, int]]


def _pair(buys: Lots, sells: Lots, params: AgentParams, rng: random.Random) -> list[tuple[str, str, int]]:
    """Pair lots into chunks: holders with a block's worth who prefer negotiated blocks
    (`bulk_preference`) pair among themselves first, so their chunks reach bulk size; the rest, and
    what the blocks leave over, pair next."""

    def block(lot: tuple[str, int]) -> bool:
        return lot[1] >= BULK_MIN_T and rng.random() < params.bulk_preference

    buy_blocks = [lot for lot in buys if block(lot)]
    sell_blocks = [lot for lot in sells if block(lot)]
    block_set_b, block_set_s = set(map(id, buy_blocks)), set(map(id, sell_blocks))
    # Block holders deal largest with largest, as a big buyer looks for a seller who can fill it in
    # one agreement; a remainder under the bulk minimum waits for the listed pairing below.
    buy_blocks.sort(key=_largest_first)
    sell_blocks.sort(key=_largest_first)
    chunks, left_b, left_s = _merge(buy_blocks, sell_blocks, final=False, minimum=BULK_MIN_T)
    rest_b = [lot for lot in buys if id(lot) not in block_set_b]
    rest_s = [lot for lot in sells if id(lot) not in block_set_s]
    more, _, _ = _merge(left_b + rest_b, left_s + rest_s, final=True)
    return chunks + more


def _largest_first(lot: tuple[str, int]) -> tuple[int, str]:
    return (-lot[1], lot[0])


def _merge(
    buys: Lots, sells: Lots, *, final: bool, minimum: int = 1
) -> tuple[list[tuple[str, str, int]], Lots, Lots]:
    """Buy and sell lots (in the caller's order) walked side by side into (buyer, seller, t) chunks;
    returns the chunks and the lots left on either side. A lot smaller than `minimum` is set aside
    (left over) rather than paired."""
    buys = list(buys)
    sells = list(sells)
    chunks: list[tuple[str, str, int]] = []
    aside_b: Lots = []
    aside_s: Lots = []
    i = j = 0
    while i < len(buys) and j < len(sells):
        buyer, bq = buys[i]
        seller, sq = sells[j]
        if min(bq, sq) < minimum:
            if bq < minimum:
                aside_b.append(buys[i])
                i += 1
            if sq < minimum:
                aside_s.append(sells[j])
                j += 1
            continue
        if buyer == seller:
            # Nobody trades with itself: take the next seller first, if any; at the very end, reroute
            # earlier chunks through this holder (it sells to their buyers and buys from their sellers).
            other = next((k for k in range(j + 1, len(sells)) if sells[k][0] != buyer), None)
            if other is not None:
                sells[j], sells[other] = sells[other], sells[j]
                continue
            if not final:
                break
            _reroute(chunks, buyer, min(bq, sq))
            buys[i] = (buyer, bq - min(bq, sq))
            sells[j] = (seller, sq - min(bq, sq))
            break
        q = min(bq, sq)
        chunks.append((buyer, seller, q))
        buys[i] = (buyer, bq - q)
        sells[j] = (seller, sq - q)
        if bq == q:
            i += 1
        if sq == q:
            j += 1
    left_buys = [lot for lot in aside_b + buys[i:] if lot[1] > 0]
    left_sells = [lot for lot in aside_s + sells[j:] if lot[1] > 0]
    return chunks, left_buys, left_sells


def _reroute(chunks: list[tuple[str, str, int]], holder: str, quantity: int) -> None:
    """`holder` both buys and sells `quantity` more: split earlier chunks b ← s into b ← holder ← s."""
    left = quantity
    for k in range(len(chunks)):
        if left == 0:
            return
        buyer, seller, q = chunks[k]
        if holder in (buyer, seller):
            continue
        t = min(left, q)
        chunks[k] = (buyer, seller, q - t)
        chunks.append((buyer, holder, t))
        chunks.append((holder, seller, t))
        left -= t
    chunks[:] = [c for c in chunks if c[2] > 0]


def deadline_weights(count: int, urgency: float) -> list[float]:
    """Weight of each of `count` trading days: exp(urgency × (t − 1)), t the share of the year elapsed."""
    return [math.exp(urgency * ((d + 1) / count - 1)) for d in range(count)]


def _tickets(
    chunks: list[tuple[str, str, int]],
    traits: Mapping[str, Traits],
    count: int,
    days: Sequence[date],
    params: AgentParams,
    rng: random.Random,
    bidding_from: date | None,
) -> list[_Ticket]:
    """Chunks cut into bulk and listed tickets, each on a day drawn by the buyer's urgency."""
    normal = _cumulative(deadline_weights(count, params.deadline_urgency))
    late = _cumulative(deadline_weights(count, params.deadline_urgency * params.late_urgency_factor))
    # A bidding session is applied for 12 trading days (≥ 10 working days [sec]) before its window.
    first_bidding = None
    if bidding_from is not None:
        open_days = [i for i, d in enumerate(days) if d >= bidding_from and i >= BIDDING_LEAD_DAYS]
        first_bidding = open_days[0] if open_days else None
    tickets: list[_Ticket] = []
    for buyer, seller, q in chunks:
        weights = late if buyer in traits and traits[buyer].strategy == "late" else normal
        if q >= BULK_MIN_T:
            for size in _split(q, params.bulk_ticket_t, BULK_MIN_T, None, rng):
                day = _draw(weights, rng)
                kind = "bulk"
                if first_bidding is not None and day >= first_bidding and rng.random() < params.bidding_share:
                    kind = "bidding"
                tickets.append(_Ticket(buyer, seller, size, day, kind))
        else:
            for size in _split(q, params.listed_ticket_t, 1, LISTED_ORDER_MAX_T, rng):
                tickets.append(_Ticket(buyer, seller, size, _draw(weights, rng), "listed"))
    return tickets


# Trading days between a bidding application and its window: ≥ 10 working days [sec], with margin.
BIDDING_LEAD_DAYS = 12
# ... and between the approval (units held) and the window: ≥ 5 working days [sec].
BIDDING_APPROVAL_DAYS = 6


def _split(q: int, typical: int, minimum: int, maximum: int | None, rng: random.Random) -> list[int]:
    """Cut q into pieces of about `typical` (0.5-1.5×), each ≥ minimum and ≤ maximum."""
    pieces: list[int] = []
    left = q
    while left > 0:
        size = max(minimum, int(typical * (0.5 + rng.random())))
        if maximum is not None:
            size = min(size, maximum)
        if left - size < minimum:
            size = left if maximum is None or left <= maximum else left - minimum
        pieces.append(size)
        left -= size
    return pieces


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _draw(cumulative: list[float], rng: random.Random) -> int:
    from bisect import bisect_left

    return min(bisect_left(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _intermediate(
    tickets: list[_Ticket], institutions: Sequence[str], params: AgentParams, rng: random.Random
) -> list[_Ticket]:
    """A share of listed and bulk tickets goes through an institution: it buys some days earlier and
    sells on the ticket's day, ending flat. An institution never buys and sells on the same day."""
    if not institutions:
        return tickets
    buying: dict[str, set[int]] = {}
    selling: dict[str, set[int]] = {}
    out: list[_Ticket] = []
    for t in tickets:
        lag = rng.randint(1, params.institution_hold_days)
        if t.kind == "bidding" or t.day - lag < 0 or rng.random() >= params.institution_share:
            out.append(t)
            continue
        bank = institutions[rng.randrange(len(institutions))]
        if t.day - lag in selling.get(bank, ()) or t.day in buying.get(bank, ()):
            out.append(t)
            continue
        buying.setdefault(bank, set()).add(t.day - lag)
        selling.setdefault(bank, set()).add(t.day)
        out.append(_Ticket(bank, t.seller, t.quantity, t.day - lag, t.kind, fixed=True))
        out.append(_Ticket(t.buyer, bank, t.quantity, t.day, t.kind, fixed=True))
    return out


def _no_self_trades(tickets: list[_Ticket], count: int) -> None:
    """No holder both buys and sells listed on one day: the exchange would refuse the second order as a
    self-trade. A clashing ticket moves to the nearest day without a clash (later days first)."""
    buyers: dict[int, set[str]] = {}
    sellers: dict[int, set[str]] = {}
    # An institution's tickets keep their days (it buys before it sells); the others move around them.
    for t in tickets:
        if t.kind == "listed" and t.fixed:
            buyers.setdefault(t.day, set()).add(t.buyer)
            sellers.setdefault(t.day, set()).add(t.seller)
    for t in tickets:
        if t.kind != "listed" or t.fixed:
            continue
        for shift in _shifts(count):
            day = t.day + shift
            if not 0 <= day < count:
                continue
            if t.buyer not in sellers.get(day, ()) and t.seller not in buyers.get(day, ()):
                t.day = day
                break
        buyers.setdefault(t.day, set()).add(t.buyer)
        sellers.setdefault(t.day, set()).add(t.seller)


def _shifts(count: int) -> list[int]:
    """0, +1, −1, +2, −2, … up to the length of the year."""
    out = [0]
    for k in range(1, count):
        out += [k, -k]
    return out


def price_path(
    count: int, opening_fen: int, fundamental_fen: int, params: AgentParams, rng: random.Random
) -> list[int]:
    """The agents' daily reference prices: reverting to the expected price, each move bounded."""
    path: list[int] = []
    log_price = math.log(opening_fen)
    bound = math.log(1 + params.daily_move_max)
    for d in range(count):
        elapsed = (d + 1) / count
        expected = math.log(fundamental_fen * (1 - params.early_discount * (1 - elapsed)))
        step = params.reversion * (expected - log_price) + rng.gauss(0.0, params.volatility)
        log_price += min(max(step, -bound), bound)
        path.append(max(1, round(math.exp(log_price))))
    return path


def _day_plans(
    days: Sequence[date], path: list[int], tickets: list[_Ticket], params: AgentParams, rng: random.Random
) -> tuple[DayPlan, ...]:
    """Each day's orders, agreements and sessions at prices around the day's reference."""
    by_day: dict[int, list[_Ticket]] = {}
    for t in tickets:
        by_day.setdefault(t.day, []).append(t)
    plans = []
    for d, day in enumerate(days):
        price = path[d]
        listed: list[ListedOrder] = []
        bulk: list[BulkDeal] = []
        bidding: list[BiddingPlan] = []
        for t in by_day.get(d, []):
            if t.kind == "listed":
                buy = round(price * (1 + params.listed_spread * rng.random()))
                sell = round(price * (1 - params.listed_spread * rng.random()))
                listed.append(ListedOrder(t.seller, "sell", t.quantity, sell))
                listed.append(ListedOrder(t.buyer, "buy", t.quantity, buy))
            elif t.kind == "bulk":
                terms = round(price * (1 + params.bulk_spread * (2 * rng.random() - 1)))
                bulk.append(BulkDeal(t.seller, t.buyer, t.quantity, terms))
            else:
                floor = round(price * (1 - params.bidding_floor_discount))
                bid = round(price * (1 + params.listed_spread * rng.random()))
                bidding.append(BiddingPlan(t.seller, t.quantity, floor, ((t.buyer, t.quantity, bid),)))
        rng.shuffle(listed)
        plans.append(DayPlan(day, price, tuple(listed), tuple(bulk), tuple(bidding)))
    return tuple(plans)
