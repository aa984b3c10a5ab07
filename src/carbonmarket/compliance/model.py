"""The rules of compliance: which units settle which year, the offset limit, the deadline, status,
penalties, banking, mandatory compliance and the risk level. Pure: standard library and core only.

The numbers are data (`data/cycles.toml`, each with its DOMAIN.md tag and source); this module only
interprets them. Every check raises `Refused` with a `compliance_*` code and words naming the rule.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from importlib import resources
from typing import Any

from carbonmarket.core.instruments import InstrumentId, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Refused

# Prices of the penalty and the risk monitor are fen per tonne; CNY 100,000/t is a thousand times
# any price the national market has seen (69-106 CNY/t in 2024, DOMAIN.md §5), so above it is a typo.
price_max_fen = 10_000_000
# One surrender names at most this many instruments (an entity holds a handful of vintages and
# CCER project-vintages); a bulk surrender carries at most this many items.
items_per_surrender_max = 50
items_per_batch_max = 200_000


class Status(StrEnum):
    """An entity's compliance for a year (Progress Report §5: met, partly, not met)."""

    MET = "met"
    PARTLY = "partly"
    NOT_MET = "not_met"


class YearState(StrEnum):
    """A compliance year: opened for surrender by the regulator, then closed and published."""

    OPEN = "open"
    CLOSED = "closed"


class RiskLevel(StrEnum):
    """How likely an entity is to miss its obligation, from its cover (thresholds are data)."""

    NONE = "none"  # nothing owed
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SurrenderMode(StrEnum):
    """Who made a surrender: the entity itself, the registry on an order, or from a provincial account."""

    ENTITY = "entity"
    MANDATORY = "mandatory"
    DIFFERENTIATED = "differentiated"


# --- the rules as data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearRule:
    """One compliance year: deadline, eligible vintages, CCER registration bound, penalty price month."""

    year: int
    deadline: date
    vintages: tuple[str, ...]
    ccer_registered_after: date | None
    penalty_price_month: tuple[int, int]
    source: str


@dataclass(frozen=True)
class OffsetRule:
    """The CCER offset limit and eligibility (M Art. 29; DOMAIN.md §4, §6)."""

    ratio_percent: int
    old_registered_before: date
    old_usable_until: date
    excluded_sectors: frozenset[str]
    article6_authorised_usable: bool
    source: str


@dataclass(frozen=True)
class PenaltyRule:
    """Interim Regulations Art. 24: fine multiples and the allocation cut."""

    multiple_min: int
    multiple_max: int
    cut_share_percent: int
    source: str


@dataclass(frozen=True)
class BankingRule:
    """Conversion of old vintages (A 附5): T = base + R × NS, NS window, vintages, eligibility."""

    base_t: int
    multiple_tenths: int
    net_sold_from: date
    net_sold_until: date
    from_vintages: tuple[str, ...]
    to_vintage: str
    requires_compliance_in: tuple[int, ...]
    applications_until: date
    source: str


@dataclass(frozen=True)
class RiskRule:
    """Risk thresholds on cover (percent of what is still owed) and the alert lead time."""

    low_cover_percent: int
    medium_cover_percent: int
    high_cover_percent: int
    alert_days: int
    source: str


@dataclass(frozen=True)
class Rules:
    """Everything `cycles.toml` says."""

    years: Mapping[int, YearRule]
    offsets: OffsetRule
    penalty: PenaltyRule
    banking: BankingRule
    risk: RiskRule
    deadline_offset_hours: int

    def year(self, year: object) -> YearRule:
        """The rule of a compliance year, refusing a year the data does not configure."""
        if isinstance(year, bool) or not isinstance(year, int) or year not in self.years:
            known = ", ".join(str(y) for y in sorted(self.years))
            raise Refused(
                Code.COMPLIANCE_UNKNOWN_YEAR,
                f"compliance year {year!r} is not configured (cycles.toml has {known})",
            )
        return self.years[year]

    def cutoff(self, year: int) -> datetime:
        """The first instant (UTC) after the deadline day, in China time: surrenders must come before it."""
        rule = self.year(year)
        zone = timezone(timedelta(hours=self.deadline_offset_hours))
        return datetime.combine(rule.deadline + timedelta(days=1), time(0), zone).astimezone(UTC)


def _date(value: str) -> date:
    return date.fromisoformat(value)


def _month(value: str) -> tuple[int, int]:
    year_text, month_text = value.split("-")
    month = int(month_text)
    if not 1 <= month <= 12:
        raise ValueError(f"cycles: month {value!r} is not YYYY-MM")
    return int(year_text), month


def parse_rules(text: str) -> Rules:
    """Read and check a cycles file (its schema is `data/cycles.toml`)."""
    data = tomllib.loads(text)
    if data.get("schema_version") != 1:
        raise ValueError("cycles: unsupported schema_version")
    years = {int(y["year"]): _year_rule(y) for y in data["year"]}
    offsets, penalty, banking, risk = data["offsets"], data["penalty"], data["banking"], data["risk"]
    rules = Rules(
        years=years,
        offsets=OffsetRule(
            ratio_percent=int(offsets["ratio_percent"]),
            old_registered_before=_date(offsets["old_registered_before"]),
            old_usable_until=_date(offsets["old_usable_until"]),
            excluded_sectors=frozenset(s.lower() for s in offsets["excluded_sectors"]),
            article6_authorised_usable=bool(offsets["article6_authorised_usable"]),
            source=offsets["ratio_source"],
        ),
        penalty=PenaltyRule(
            multiple_min=int(penalty["multiple_min"]),
            multiple_max=int(penalty["multiple_max"]),
            cut_share_percent=int(penalty["cut_share_of_shortfall_percent"]),
            source=penalty["source"],
        ),
        banking=BankingRule(
            base_t=int(banking["base_t"]),
            multiple_tenths=int(banking["net_sold_multiple_tenths"]),
            net_sold_from=_date(banking["net_sold_from"]),
            net_sold_until=_date(banking["net_sold_until"]),
            from_vintages=tuple(parse_instrument(v).text for v in banking["from_vintages"]),
            to_vintage=parse_instrument(banking["to_vintage"]).text,
            requires_compliance_in=tuple(int(y) for y in banking["requires_compliance_in"]),
            applications_until=_date(banking["applications_until"]),
            source=banking["source"],
        ),
        risk=RiskRule(
            low_cover_percent=int(risk["low_cover_percent"]),
            medium_cover_percent=int(risk["medium_cover_percent"]),
            high_cover_percent=int(risk["high_cover_percent"]),
            alert_days=int(risk["alert_days_before_deadline"]),
            source=risk["source"],
        ),
        deadline_offset_hours=int(data["deadline_utc_offset_hours"]),
    )
    _check_rules(rules)
    return rules


def _year_rule(row: Mapping[str, Any]) -> YearRule:
    after = row.get("ccer_registered_after") or ""
    return YearRule(
        year=int(row["year"]),
        deadline=_date(row["deadline"]),
        vintages=tuple(parse_instrument(v).text for v in row["vintages"]),
        ccer_registered_after=_date(after) if after else None,
        penalty_price_month=_month(row["penalty_price_month"]),
        source=f"{row['deadline_source']}; {row['vintages_source']}",
    )


def _check_rules(rules: Rules) -> None:
    """A broken data file is a bug of the release, not a refusal: fail loudly at load."""
    for rule in rules.years.values():
        for vintage in rule.vintages:
            parsed = parse_instrument(vintage)
            if parsed.kind is not InstrumentKind.ALLOWANCE:
                raise ValueError(f"cycles {rule.year}: {vintage} is not an allowance vintage")
            if parsed.vintage is not None and parsed.vintage.first_year > rule.year:
                raise ValueError(f"cycles {rule.year}: {vintage} would be borrowing")
    if not 0 < rules.offsets.ratio_percent <= 100:
        raise ValueError("cycles: offsets.ratio_percent must be in 1..100")
    if not 0 < rules.penalty.multiple_min <= rules.penalty.multiple_max:
        raise ValueError("cycles: penalty multiples must satisfy 0 < min <= max")
    risk = rules.risk
    if not risk.low_cover_percent >= risk.medium_cover_percent >= risk.high_cover_percent > 0:
        raise ValueError("cycles: risk thresholds must fall: low >= medium >= high > 0")


@functools.cache
def rules() -> Rules:
    """The packaged compliance rules (compliance/data/cycles.toml)."""
    text = (resources.files("carbonmarket.compliance") / "data" / "cycles.toml").read_text("utf-8")
    return parse_rules(text)


# --- eligibility of units ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CcerFacts:
    """What the offset rules need to know of a CCER (from the voluntary part's CreditFacts)."""

    registered_on: date | None
    sector: str | None
    article6_authorised: bool
    # The voluntary registry's own finding that the project's sector is under mandatory obligations.
    in_mandatory_sector: bool = False


def check_vintage(rule: YearRule, instrument: InstrumentId) -> None:
    """An allowance settles a year only if its vintage is listed for it (A §六: no borrowing; A 附5)."""
    if instrument.text in rule.vintages:
        return
    assert instrument.vintage is not None, "allowances carry a vintage"
    if instrument.vintage.first_year > rule.year:
        reason = f"it is a later vintage than {rule.year} and the market allows no borrowing (A §六)"
    else:
        reason = (
            f"only {', '.join(rule.vintages)} settle {rule.year}; older vintages count from 2025 only "
            "after conversion by banking (A 附5)"
        )
    raise Refused(
        Code.COMPLIANCE_VINTAGE_NOT_ELIGIBLE,
        f"{instrument.text} cannot be surrendered for {rule.year}: {reason}",
        instrument=instrument.text,
        year=rule.year,
    )


def check_ccer(
    offsets: OffsetRule, rule: YearRule, instrument: str, facts: CcerFacts | None, on: date
) -> None:
    """A CCER settles a year only if its project is eligible (M Art. 29; DOMAIN.md §4, §6; B)."""

    def refuse(reason: str) -> None:
        raise Refused(
            Code.COMPLIANCE_CCER_NOT_ELIGIBLE,
            f"{instrument} cannot offset {rule.year}: {reason}",
            instrument=instrument,
            year=rule.year,
        )

    if facts is None:
        refuse("the voluntary registry has no project facts for it, so its eligibility cannot be checked")
        return
    if facts.registered_on is None:
        refuse("its project's registration date is unknown")
        return
    if facts.registered_on < offsets.old_registered_before and on > offsets.old_usable_until:
        refuse(
            f"its project was registered on {facts.registered_on} (before {offsets.old_registered_before}), "
            f"and such CCERs were usable until {offsets.old_usable_until} only"
        )
    if rule.ccer_registered_after is not None and facts.registered_on <= rule.ccer_registered_after:
        refuse(
            f"for {rule.year} only CCERs of projects registered after {rule.ccer_registered_after} count "
            f"(B); its project was registered on {facts.registered_on}"
        )
    if facts.in_mandatory_sector or (
        facts.sector is not None and facts.sector.lower() in offsets.excluded_sectors
    ):
        refuse(
            f"its project is in the {facts.sector} sector, which is under allowance management (M Art. 29)"
        )
    if facts.article6_authorised and not offsets.article6_authorised_usable:
        refuse("it is authorised for international transfer under Article 6")


def offset_cap(obligation: int, ratio_percent: int) -> int:
    """The most CCER a year's obligation may be settled with: ⌊obligation × ratio⌋ (M Art. 29, vector 12)."""
    return obligation * ratio_percent // 100


# --- positions, surrender checks, status ---------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """An entity's standing for a year: the obligation and what it surrendered so far."""

    obligation: int
    surrendered: int
    ccer: int

    @property
    def owed(self) -> int:
        """What is still to surrender (never negative: surrenders stop at the obligation)."""
        return max(self.obligation - self.surrendered, 0)

    @property
    def status(self) -> Status:
        """Met, partly or not met (Progress Report §5)."""
        return status_of(self.obligation, self.surrendered)


def status_of(obligation: int, surrendered: int) -> Status:
    """Met when everything owed is surrendered (an obligation of 0 is met), partly, or not met."""
    if surrendered >= obligation:
        return Status.MET
    return Status.PARTLY if surrendered > 0 else Status.NOT_MET


def check_surrender(position: Position, allowances: int, ccer: int, ratio_percent: int) -> Position:
    """A surrender never exceeds what is owed, nor the cumulative CCER cap; returns the new position."""
    wanted = allowances + ccer
    if wanted <= 0:
        raise Refused(Code.QUANTITY_NOT_POSITIVE, "a surrender needs at least one tonne")
    if position.owed == 0:
        raise Refused(
            Code.COMPLIANCE_NOTHING_OWED,
            f"nothing is owed: the obligation of {position.obligation} t is already surrendered",
        )
    if wanted > position.owed:
        raise Refused(
            Code.COMPLIANCE_BEYOND_OBLIGATION,
            f"{wanted} t is more than the {position.owed} t still owed "
            f"(obligation {position.obligation} t, surrendered {position.surrendered} t)",
            owed=position.owed,
        )
    cap = offset_cap(position.obligation, ratio_percent)
    if position.ccer + ccer > cap:
        raise Refused(
            Code.COMPLIANCE_OFFSET_LIMIT_EXCEEDED,
            f"CCER may settle at most {ratio_percent}% of the obligation, {cap} t (M Art. 29); "
            f"{position.ccer} t already used, {ccer} t more would make {position.ccer + ccer} t",
            cap=cap,
            used=position.ccer,
        )
    return Position(position.obligation, position.surrendered + wanted, position.ccer + ccer)


def parse_items(items: object, maximum: int = items_per_surrender_max) -> list[tuple[str, int]]:
    """Surrender lines `[(instrument, quantity), ...]`: canonical ids, whole positive tonnes, no repeats."""
    from carbonmarket.core.units import parse_quantity

    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise Refused(Code.INVALID_REQUEST, "a surrender names at least one instrument and quantity")
    if len(items) > maximum:
        raise Refused(Code.QUANTITY_TOO_LARGE, f"a surrender names at most {maximum} instruments")
    parsed: dict[str, int] = {}
    for item in items:
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise Refused(Code.INVALID_REQUEST, f"a surrender line is (instrument, quantity), not {item!r}")
        instrument = parse_instrument(str(item[0])).text
        if instrument in parsed:
            raise Refused(Code.INVALID_REQUEST, f"{instrument} appears twice; give one line per instrument")
        parsed[instrument] = parse_quantity(item[1])
    return list(parsed.items())


# --- close: penalties and the national rate -------------------------------------------------------------


@dataclass(frozen=True)
class Penalty:
    """Art. 24 for one shortfall: the fine range in fen, the chosen fine and the allocation cut."""

    shortfall: int
    price_fen: int | None
    fine_min_fen: int | None
    fine_max_fen: int | None
    fine_fen: int | None
    allocation_cut: int


def check_price(value: object, what: str = "price") -> int:
    """A price in fen per tonne: a whole positive number up to the absurdity limit."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= price_max_fen:
        raise Refused(
            Code.COMPLIANCE_INVALID_PRICE,
            f"{what} must be a whole number of fen per tonne from 1 to {price_max_fen}, not {value!r}",
        )
    return value


def check_multiple(rule: PenaltyRule, value: object) -> int:
    """The fine multiple an authority chooses, within Art. 24's range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(
            Code.COMPLIANCE_INVALID_MULTIPLE, f"the fine multiple must be a whole number, not {value!r}"
        )
    if not rule.multiple_min <= value <= rule.multiple_max:
        raise Refused(
            Code.COMPLIANCE_INVALID_MULTIPLE,
            f"the fine multiple must be {rule.multiple_min} to {rule.multiple_max} (R Art. 24), not {value}",
        )
    return value


def penalty(rule: PenaltyRule, shortfall: int, price_fen: int | None, multiple: int) -> Penalty:
    """Art. 24 (R): fine = shortfall × month-before-deadline average price × 5-10; cut = shortfall."""
    cut = shortfall * rule.cut_share_percent // 100
    if shortfall == 0:
        return Penalty(0, price_fen, 0, 0, 0, 0)
    if price_fen is None:
        # No price for the month: the cut still applies; the fine waits for a price.
        return Penalty(shortfall, None, None, None, None, cut)
    base = shortfall * price_fen
    return Penalty(
        shortfall, price_fen, base * rule.multiple_min, base * rule.multiple_max, base * multiple, cut
    )


@dataclass(frozen=True)
class Rate:
    """The national compliance rate: share of the obligation surrendered, and entities in full."""

    entities: int
    entities_met: int
    obligation: int
    surrendered: int

    @property
    def rate_ppm(self) -> int:
        """Surrendered / obligation in parts per million, rounded down (1,000,000 when nothing was due)."""
        return 1_000_000 if self.obligation == 0 else self.surrendered * 1_000_000 // self.obligation

    def as_json(self) -> dict[str, Any]:
        """The rate with its percent text (e.g. '99.98')."""
        ppm = self.rate_ppm
        return {
            "entities": self.entities,
            "entities_met": self.entities_met,
            "entities_not_met": self.entities - self.entities_met,
            "obligation_t": self.obligation,
            "surrendered_t": self.surrendered,
            "shortfall_t": self.obligation - self.surrendered,
            "rate_ppm": ppm,
            "rate_percent": f"{ppm // 10_000}.{ppm % 10_000 // 100:02d}",
        }


def national_rate(positions: Iterable[Position]) -> Rate:
    """Progress Report §5's compliance rate over the positions of every covered entity."""
    entities = met = obligation = surrendered = 0
    for position in positions:
        entities += 1
        met += position.status is Status.MET
        obligation += position.obligation
        surrendered += min(position.surrendered, position.obligation)
    return Rate(entities, met, obligation, surrendered)


# --- mandatory compliance --------------------------------------------------------------------------------


def plan_mandatory(owed: int, holdings: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """What the registry surrenders on an order: eligible holdings, oldest first, up to what is owed.

    `holdings` are (instrument, available) in the order they should go; DOMAIN.md §4 [seed].
    """
    plan: list[tuple[str, int]] = []
    left = owed
    for instrument, available in holdings:
        if left == 0:
            break
        take = min(left, available)
        if take > 0:
            plan.append((instrument, take))
            left -= take
    return plan


@dataclass(frozen=True)
class Differentiated:
    """Allowances held for an entity in a provincial account (A §五(四)): surrendered, released, owed."""

    surrendered: int
    released: int
    still_owed: int


def plan_differentiated(owed: int, held: int) -> Differentiated:
    """B (vector 9): held 1.2 Mt, owed 1.0 → surrender 1.0, release 0.2; held 0.8 → 0.2 still owed."""
    surrendered = min(owed, held)
    return Differentiated(surrendered, held - surrendered, owed - surrendered)


def vintage_order(instrument: str) -> tuple[int, int, str]:
    """Oldest vintage first; CCERs after allowances (mandatory surrender uses allowances only)."""
    parsed = parse_instrument(instrument)
    first = parsed.vintage.first_year if parsed.vintage else 0
    return (0 if parsed.kind is InstrumentKind.ALLOWANCE else 1, first, parsed.text)


# --- banking -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankingLimit:
    """T for one entity (A 附5): the formula's value, the holdings cap, and T itself."""

    net_sold: int
    formula_t: int
    holdings_t: int
    limit_t: int


def banking_limit(rule: BankingRule, net_sold: int, holdings: int) -> BankingLimit:
    """T = ⌊B + R × max(NS, 0)⌋, at most the holdings (A 附5; vector 6: 300k sold, 100k bought → 310,000)."""
    ns = max(net_sold, 0)
    formula = rule.base_t + ns * rule.multiple_tenths // 10
    return BankingLimit(net_sold, formula, holdings, max(min(formula, holdings), 0))


def check_banking_quantity(limit: BankingLimit, already: int, quantity: int) -> None:
    """Applications may add up to T, no more (A 附5: several applications, their sum ≤ T)."""
    if already + quantity > limit.limit_t:
        raise Refused(
            Code.COMPLIANCE_BANKING_ABOVE_LIMIT,
            f"{quantity} t more would convert {already + quantity} t, above the limit T = {limit.limit_t} t "
            f"(T = min({limit.formula_t} = 10,000 + 1.5 × net sold {max(limit.net_sold, 0)}, "
            f"holdings {limit.holdings_t}); A 附5",
            limit=limit.limit_t,
            already=already,
        )


# --- risk ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    """An entity's cover of what it still owes and the level it puts it at."""

    owed: int
    holdings: int
    funds_fen: int
    price_fen: int | None
    funds_t: int
    cover_percent: int | None
    level: RiskLevel


def risk_of(rule: RiskRule, owed: int, holdings: int, funds_fen: int, price_fen: int | None) -> Risk:
    """Cover = (eligible holdings + funds ÷ price) ÷ owed, graded by the data's thresholds."""
    funds_t = funds_fen // price_fen if price_fen else 0
    if owed == 0:
        return Risk(0, holdings, funds_fen, price_fen, funds_t, None, RiskLevel.NONE)
    cover = (holdings + funds_t) * 100 // owed
    if cover >= rule.low_cover_percent:
        level = RiskLevel.LOW
    elif cover >= rule.medium_cover_percent:
        level = RiskLevel.MEDIUM
    elif cover >= rule.high_cover_percent:
        level = RiskLevel.HIGH
    else:
        level = RiskLevel.CRITICAL
    return Risk(owed, holdings, funds_fen, price_fen, funds_t, cover, level)


def days_to_deadline(rules_: Rules, year: int, now: datetime) -> int:
    """Whole days from now until the cutoff (0 on the deadline day, negative after it)."""
    return (rules_.cutoff(year) - now).days
