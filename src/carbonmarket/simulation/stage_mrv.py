"""The MRV stage: the roster, a year of monthly records and their verification, through the services.

For a generated market (`generator.generate_market`) this stage lists every entity and facility on
the `Roster`, submits 12 monthly records per facility through `Records` (in monthly batches,
validated by the rules as every submission is), and has qualified bodies verify each entity's
annual report through `Verification` (assign, start, submit, accept). The monthly parameters come
from the physics of `carbonmarket.mrv.rules.generator`, scaled so that each facility makes the
annual output the generator gave it; the emissions are then whatever the accounting engines make
of those parameters — nothing here sets them.

`[mrv]` keys (defaults in `MrvSettings`):

- `bodies` (12): verification bodies; each sits in one of the market's provinces with the most
  entities and verifies the entities there (the others are shared out among all bodies).
- `correction_share` (0.01): the share of entities whose verifier corrects the reported figure.
- `correction_range` ([0.005, 0.03]): the size of a correction, a share of the reported figure,
  up or down with equal odds.
- `batch_records` (2500): monthly records per submission command.
- `records_day` (20): the day of the following month each month's records are submitted.
- `assign_date` ("02-15"), `submit_date` ("05-15"), `accept_date` ("06-20"): month-day in the
  year after the compliance year when verifications are assigned (and started), submitted and
  accepted; the report is due by 31 March and verification by 30 June (DOMAIN.md §2 [reg]).

Command ids come from the scenario's name, the seed and the object, so running the stage again on
the same database answers `exists` everywhere and changes nothing. One market per database: the
roster's ids are the entities' own (`E-PWR-0001`), so a different market on the same database is
refused.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.ids import derived_id
from carbonmarket.core.results import Done, Outcome
from carbonmarket.mrv.model import MonthlyRecord, Sector
from carbonmarket.mrv.records.service import Records
from carbonmarket.mrv.roster.service import Roster
from carbonmarket.mrv.rules import generator as physics
from carbonmarket.mrv.sectors import account
from carbonmarket.mrv.sectors.common import round_once
from carbonmarket.mrv.verification.service import Verification
from carbonmarket.simulation.generator import COAL_SPLIT_MW
from carbonmarket.simulation.spec import Entity, Market, MrvYear, Scenario, ScenarioError, StageProgress, Unit

# Power since 2021; steel, cement and aluminium report from their first compliance year, 2024
# (DOMAIN.md §1 and §3 [seed, reg]).
INCLUSION_YEAR = {"power": 2021, "steel": 2024, "cement": 2024, "aluminium": 2024}
ACTOR: Actor = LOCAL_OPERATOR
# Coal units in the water-scarce north-west are mostly air-cooled [?: the plans' air-cooling factor
# (DOMAIN.md §3) exists for them]; the rest of the fleet, and gas units, water-cooled.
AIR_COOLED_PROVINCES = frozenset({"Inner Mongolia", "Shanxi", "Shaanxi", "Ningxia", "Xinjiang", "Gansu"})


class MrvStageError(RuntimeError):
    """A service refused a step the stage needs (the refusal's code and words are in the message)."""


@dataclass(frozen=True)
class MrvSettings:
    """`[mrv]`, checked. Defaults [?] unless tagged: the shares and sizes are ours."""

    bodies: int = 12  # of 139 verification institutions nationwide [seed: Progress Report §10]
    correction_share: float = 0.01
    correction_range: tuple[float, float] = (0.005, 0.03)
    batch_records: int = 2500
    records_day: int = 20  # monthly data are deposited within 40 days of the month's end [S]
    assign_date: str = "02-15"
    submit_date: str = "05-15"
    accept_date: str = "06-20"


def mrv_settings(scenario: Scenario) -> MrvSettings:
    """`[mrv]` of the scenario over the defaults, refusing unknown keys and values out of range."""
    section = scenario.section("mrv")
    defaults = MrvSettings()
    known = set(MrvSettings.__dataclass_fields__)
    for key in section:
        if key not in known:
            raise ScenarioError(f"[mrv] {key}: unknown key (known: {', '.join(sorted(known))})")
    bodies = _whole(section, "bodies", defaults.bodies, 1, 1000)
    share = section.get("correction_share", defaults.correction_share)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ScenarioError(f"[mrv] correction_share must be a number from 0 to 1, not {share!r}")
    size = section.get("correction_range", list(defaults.correction_range))
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in size)
        or not 0 <= size[0] <= size[1] < 1
    ):
        raise ScenarioError("[mrv] correction_range must be [low, high] with 0 <= low <= high < 1")
    dates = {}
    for key in ("assign_date", "submit_date", "accept_date"):
        value = section.get(key, getattr(defaults, key))
        try:
            datetime.strptime(f"2001-{value}", "%Y-%m-%d")
        except (TypeError, ValueError):
            raise ScenarioError(f"[mrv] {key} must be a month-day such as '05-15', not {value!r}") from None
        dates[key] = value
    if not dates["assign_date"] <= dates["submit_date"] <= dates["accept_date"]:
        raise ScenarioError("[mrv] assign_date, submit_date and accept_date must come in that order")
    return MrvSettings(
        bodies=bodies,
        correction_share=float(share),
        correction_range=(float(size[0]), float(size[1])),
        batch_records=_whole(section, "batch_records", defaults.batch_records, 1, 100_000),
        records_day=_whole(section, "records_day", defaults.records_day, 1, 28),
        **dates,
    )


# --- the monthly parameters (pure) -------------------------------------------------------------------


def unit_category(unit: Unit) -> str:
    """The 2023-2024 plan's category of a power unit, as the roster derives it from fuel and MW."""
    if unit.fuel == "gas":
        return "IV"
    if unit.fuel in ("cfb", "unconventional_coal"):
        return "III"
    return "I" if (unit.capacity_mw or 0) >= COAL_SPLIT_MW else "II"


def cooling_of(entity: Entity, unit: Unit) -> str:
    """A power unit's cooling, from where it is (see AIR_COOLED_PROVINCES)."""
    return "air" if unit.fuel != "gas" and entity.province in AIR_COOLED_PROVINCES else "water"


def monthly_records(market: Market) -> list[MonthlyRecord]:
    """Twelve monthly records per facility, facility by facility, seeded by the market's seed.

    Each sector's facilities go through the physics of `mrv.rules.generator` together, with their
    annual output as the target, so that a facility's months add up to `Unit.output`.
    """
    rng = np.random.default_rng((market.seed, market.year, 1))
    records: list[MonthlyRecord] = []
    for sector in Sector:
        pairs = [(e, u) for e in market.entities if e.sector == sector.value for u in e.units]
        if pairs:
            records.extend(_sector_records(rng, sector, market.year, pairs))
    return records


def _sector_records(
    rng: np.random.Generator, sector: Sector, year: int, pairs: Sequence[tuple[Entity, Unit]]
) -> list[MonthlyRecord]:
    """One sector's facilities through its physics, as monthly records with Decimal values."""
    target = np.array([float(u.output) for _, u in pairs])
    if sector is Sector.POWER:
        category = np.array([unit_category(u) for _, u in pairs])
        capacity = np.array([float(u.capacity_mw or 0) for _, u in pairs])
        values, _context = physics.power_months(
            rng, category, capacity, physics.month_hours(year), target_mwh=target
        )
    elif sector is Sector.STEEL:
        integrated = np.ones(len(pairs), dtype=np.bool_)  # every plant BF-BOF (see generator)
        values = physics.steel_months(rng, integrated, target, 12, target_t=target)
    elif sector is Sector.CEMENT:
        values = physics.cement_months(rng, target, 12, target_t=target)
    else:
        values = physics.aluminium_months(rng, target, 12, target_t=target)
    values = physics.round_values(values)
    names = list(values)
    # Decimal from the shortest repr of each rounded double: the decimal a report would carry.
    matrices = [values[n] for n in names]
    records = []
    for row, (entity, unit) in enumerate(pairs):
        for month in range(12):
            numbers = {}
            for name, matrix in zip(names, matrices, strict=True):
                number = float(matrix[row, month])
                if number == number:  # NaN: not measured (a default applies)
                    numbers[name] = Decimal(repr(number))
            records.append(
                MonthlyRecord(entity.entity_id, unit.facility_id, sector, year, month + 1, numbers)
            )
    return records


def account_records(records: Sequence[MonthlyRecord]) -> dict[str, int]:
    """Each entity's annual emissions from its records, as `Records.annual_report` counts them.

    In memory, no database: the sector engines per facility, summed per entity, rounded once.
    """
    by_facility: dict[str, list[MonthlyRecord]] = defaultdict(list)
    for record in records:
        by_facility[record.facility_id].append(record)
    totals: dict[str, Fraction] = defaultdict(Fraction)
    for group in by_facility.values():
        totals[group[0].entity_id] += account(group[0].sector, group).total
    return {entity: round_once(total) for entity, total in sorted(totals.items())}


def verified_figures(market: Market, reported: Mapping[str, int], settings: MrvSettings) -> dict[str, int]:
    """The verified emissions: the reported figure, corrected by the verifier for a few entities."""
    rng = np.random.default_rng((market.seed, market.year, 2))
    low, high = settings.correction_range
    verified = {}
    for entity in market.entities:
        figure = reported.get(entity.entity_id)
        if figure is None:
            continue
        corrected = rng.random() < settings.correction_share
        size = rng.uniform(low, high)
        sign = 1 if rng.random() < 0.5 else -1
        verified[entity.entity_id] = max(0, round(figure * (1 + sign * size))) if corrected else figure
    return verified


# --- the stage ---------------------------------------------------------------------------------------


def run_mrv(engine: Engine, market: Market, scenario: Scenario, progress: StageProgress) -> MrvYear:
    """List the market on the roster, submit its year of monthly data, verify every entity."""
    settings = mrv_settings(scenario)
    tag = (scenario.name, market.seed, market.year)
    _roster(engine, market, progress)
    records = monthly_records(market)
    stored, warnings = _submit_records(engine, market, records, settings, tag, progress)
    reported = Records(engine).annual_emissions(market.year)
    verified = _verify(engine, market, reported, settings, tag, progress)
    return MrvYear(
        reported={e.entity_id: reported[e.entity_id] for e in market.entities if e.entity_id in reported},
        verified=verified,
        records=stored,
        warnings=warnings,
    )


def _roster(engine: Engine, market: Market, progress: StageProgress) -> None:
    """Every entity and facility on the roster (their ids are the command ids, as the roster wants)."""
    roster = Roster(engine, _clock(market.year, 1, 5))
    progress.start("roster", len(market.entities))
    for entity in market.entities:
        _done(
            roster.add_entity(
                ACTOR,
                entity.entity_id,
                entity.name,
                entity.sector,
                entity.province,
                inclusion_year=INCLUSION_YEAR[entity.sector],
            )
        )
        for unit in entity.units:
            if entity.sector == "power":
                outcome = roster.add_facility(
                    ACTOR,
                    unit.facility_id,
                    entity.entity_id,
                    fuel=unit.fuel,
                    capacity_mw=unit.capacity_mw,
                    cooling=cooling_of(entity, unit),
                )
            else:
                outcome = roster.add_facility(
                    ACTOR, unit.facility_id, entity.entity_id, line_type=unit.line_type
                )
            _done(outcome)
        progress.advance()


def _submit_records(
    engine: Engine,
    market: Market,
    records: Sequence[MonthlyRecord],
    settings: MrvSettings,
    tag: tuple[Any, ...],
    progress: StageProgress,
) -> tuple[int, int]:
    """Each month's records in batches, on the day after the month they are deposited; (stored, warnings)."""
    by_month: dict[int, list[MonthlyRecord]] = defaultdict(list)
    for record in records:
        by_month[record.month].append(record)
    progress.start("monthly data", len(records))
    stored = warnings = 0
    for month in range(1, 13):
        year, deposit = (market.year, month + 1) if month < 12 else (market.year + 1, 1)
        service = Records(engine, _clock(year, deposit, settings.records_day))
        batch = by_month[month]
        for start in range(0, len(batch), settings.batch_records):
            chunk = batch[start : start + settings.batch_records]
            command_id = derived_id("sim-records", *tag, month, start)
            data = _done(service.submit_batch(ACTOR, command_id, chunk))
            stored += int(data["accepted"])
            warnings += int(data["warnings"])
            progress.advance(len(chunk))
    return stored, warnings


class _Reported:
    """The records part's annual reports, read once for the whole market (`Records.annual_emissions`)."""

    def __init__(self, reported: Mapping[str, int]) -> None:
        self.reported = reported

    def reported_emissions(self, entity_id: str, year: int) -> int | None:
        return self.reported.get(entity_id)


def _verify(
    engine: Engine,
    market: Market,
    reported: Mapping[str, int],
    settings: MrvSettings,
    tag: tuple[Any, ...],
    progress: StageProgress,
) -> dict[str, int]:
    """Qualified bodies verify every entity with a report: assign, start, submit, accept."""
    after = market.year + 1
    figures = verified_figures(market, reported, settings)
    bodies = _bodies(engine, market, settings, tag)
    assigning = Verification(engine, _clock_md(after, settings.assign_date), reports=_Reported(reported))
    submitting = Verification(engine, _clock_md(after, settings.submit_date), reports=_Reported(reported))
    accepting = Verification(engine, _clock_md(after, settings.accept_date), reports=_Reported(reported))
    progress.start("verification", len(figures))
    for entity in market.entities:
        if entity.entity_id not in figures:
            continue
        vid = derived_id("sim-verif", *tag, entity.entity_id)
        body = (
            bodies[entity.province] if entity.province in bodies else _shared_body(bodies, entity.entity_id)
        )
        _done(assigning.assign(ACTOR, vid, entity.entity_id, market.year, body))
        _done(assigning.start(ACTOR, derived_id("sim-verif-start", vid), vid))
        _done(submitting.submit(ACTOR, derived_id("sim-verif-submit", vid), vid, figures[entity.entity_id]))
        _done(accepting.accept(ACTOR, derived_id("sim-verif-accept", vid), vid))
        progress.advance()
    return figures


def _bodies(engine: Engine, market: Market, settings: MrvSettings, tag: tuple[Any, ...]) -> dict[str, str]:
    """Qualified bodies, one in each of the provinces with most entities: {province: body id}."""
    service = Verification(engine, _clock(market.year + 1, 1, 10))
    provinces = [p for p, _ in Counter(e.province for e in market.entities).most_common(settings.bodies)]
    located = {}
    for n, province in enumerate(provinces, start=1):
        body_id = f"VB-{n:03d}"
        _done(service.apply_body(ACTOR, body_id, f"{province} Carbon Verification Centre", province))
        _done(service.qualify(ACTOR, derived_id("sim-body-qualify", *tag, body_id), body_id, "qualified"))
        located[province] = body_id
    return located


def _shared_body(bodies: Mapping[str, str], entity_id: str) -> str:
    """A body for an entity whose province has none of its own: spread evenly, the same every run."""
    ordered = sorted(bodies.values())
    return ordered[sum(entity_id.encode()) % len(ordered)]


def _done(outcome: Outcome) -> dict[str, Any]:
    """The outcome's data when it is done (first time or `exists`); a refusal stops the stage."""
    if isinstance(outcome, Done):
        return outcome.data
    raise MrvStageError(f"{outcome.code.value}: {outcome.message}")


def _clock(year: int, month: int, day: int) -> FixedClock:
    return FixedClock(datetime(year, month, day, 2, 0, tzinfo=UTC))


def _clock_md(year: int, month_day: str) -> FixedClock:
    month, day = (int(part) for part in month_day.split("-"))
    return _clock(year, month, day)


def _whole(section: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScenarioError(f"[mrv] {key} must be a whole number {low}..{high}, not {value!r}")
    return value
