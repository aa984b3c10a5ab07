"""A year's allocation for every entity, from loaded inputs: which formula, which data, which lines.

Pure like `model.py` (standard library, `carbonmarket.core` and the model): the service loads the
roster, the activity data, the verified emissions and the plans in force, and this module decides,
per entity, the pre-allocation and the final allocation with every line and term that `trace`
shows. Missing data is not an exception here: it is recorded as the entity's problem (code and
words), so a dry run lists every gap at once and a real run refuses naming them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from carbonmarket.allocation.model import (
    GAS_CATEGORY,
    CapSplit,
    Plan,
    PlanKind,
    PreallocationBasis,
    UnitActivity,
    UnitResult,
    apply_caps,
    cap_correction,
    classify,
    floor_t,
    industry_allocation,
    power_unit,
    preallocation_t,
    solve_balance_value,
    split_cap,
)
from carbonmarket.core.results import Code, Refused

ENTITY_LINE = ""


@dataclass(frozen=True)
class FacilityIn:
    """A running facility as allocation needs it (from the roster)."""

    facility_id: str
    kind: str
    fuel_family: str | None = None
    capacity_mw: Decimal | None = None
    cooling: str | None = None


@dataclass(frozen=True)
class EntityIn:
    """An entity on the roster with its running facilities."""

    entity_id: str
    sector: str
    facilities: tuple[FacilityIn, ...]
    province: str = ""


@dataclass(frozen=True)
class ActivityIn:
    """One unit's (or, with facility '', one industrial entity's) activity data for a year."""

    generated_mwh: Decimal | None = None
    supplied_mwh: Decimal | None = None
    heat_gj: Decimal | None = None
    load_rate: Decimal | None = None
    heat_ratio: Decimal | None = None
    output_t: Decimal | None = None
    verified_t: int | None = None
    source: str = "import"

    def as_json(self) -> dict[str, Any]:
        """The given values as text (None left out), and where they came from."""
        values = {
            "electricity_generated_mwh": self.generated_mwh,
            "electricity_supplied_mwh": self.supplied_mwh,
            "heat_supplied_gj": self.heat_gj,
            "load_rate_fraction": self.load_rate,
            "heat_supply_ratio_fraction": self.heat_ratio,
            "output_t": self.output_t,
            "verified_emissions_t": self.verified_t,
        }
        return {"source": self.source, **{k: str(v) for k, v in values.items() if v is not None}}


@dataclass(frozen=True)
class PlanInForce:
    """A published plan version in force for a sector-year."""

    plan: Plan
    version: int


@dataclass
class YearInputs:
    """Everything a year's allocation is computed from."""

    year: int
    plans: Mapping[str, PlanInForce]
    entities: Sequence[EntityIn]
    activity: Mapping[tuple[str, str], ActivityIn]
    activity_previous: Mapping[tuple[str, str], ActivityIn]
    verified: Mapping[str, int]
    verified_previous: Mapping[str, int]


@dataclass(frozen=True)
class Line:
    """One allocation line: a unit's (facility id) or the entity's ('') figure with its inputs and terms."""

    facility_id: str
    category: str | None
    result_t: int
    inputs: Mapping[str, Any]
    terms: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The line as the interfaces show it."""
        return {
            "facility_id": self.facility_id or None,
            "category": self.category,
            "result_t": self.result_t,
            "inputs": dict(self.inputs),
            "terms": dict(self.terms),
        }


@dataclass(frozen=True)
class Problem:
    """Why an entity's figure cannot be computed: a refusal code and words naming the gap."""

    code: Code
    message: str


@dataclass
class EntityCalc:
    """An entity's pre-allocation and final allocation for a year, or what keeps them from being known."""

    entity_id: str
    sector: str
    province: str
    plan_id: str
    plan_version: int
    vintage: str
    preallocation_t: int | None = None
    pre_lines: list[Line] = field(default_factory=list)
    pre_problem: Problem | None = None
    formula_t: int | None = None
    unit_lines: list[Line] = field(default_factory=list)
    final_t: int | None = None
    final_line: Line | None = None
    final_problem: Problem | None = None


@dataclass
class YearResult:
    """The year for every entity, and the sector-wide figures (cap parts, balance values)."""

    year: int
    entities: list[EntityCalc]
    cap_splits: dict[str, CapSplit] = field(default_factory=dict)
    unallocated_free_t: dict[str, int] = field(default_factory=dict)
    balance_values: dict[str, Decimal] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


# --- power ------------------------------------------------------------------------------------------


def _unit_input(facility: FacilityIn, category: str, activity: ActivityIn) -> UnitActivity:
    return UnitActivity(
        facility_id=facility.facility_id,
        category=category,
        cooling=facility.cooling,
        generated_mwh=activity.generated_mwh,
        supplied_mwh=activity.supplied_mwh,
        heat_gj=activity.heat_gj or Decimal(0),
        load_rate=activity.load_rate,
        heat_ratio=activity.heat_ratio,
    )


def _power_units(
    entity: EntityIn, plan: Plan, activity: Mapping[tuple[str, str], ActivityIn], year: int
) -> tuple[list[tuple[FacilityIn, UnitResult, ActivityIn]], Problem | None]:
    """Each power unit's formula allocation, or the first problem (unknown fuel, missing data)."""
    assert plan.power is not None
    results = []
    units = [f for f in entity.facilities if f.kind == "power_unit"]
    if not units:
        return [], Problem(
            Code.ALLOCATION_MISSING_ACTIVITY, f"entity {entity.entity_id} has no running power unit"
        )
    for facility in units:
        if facility.fuel_family is None or facility.capacity_mw is None:
            return [], Problem(
                Code.ALLOCATION_UNIT_NOT_COVERED, f"unit {facility.facility_id} has no covered fuel or rating"
            )
        found = activity.get((entity.entity_id, facility.facility_id))
        if found is None:
            return [], Problem(
                Code.ALLOCATION_MISSING_ACTIVITY,
                f"unit {facility.facility_id} of {entity.entity_id} has no activity data for {year} "
                "(monthly records or an imported row)",
            )
        try:
            category = classify(facility.fuel_family, facility.capacity_mw, plan.power)
            result = power_unit(plan.power, _unit_input(facility, category, found), plan.id)
        except Refused as refused:
            return [], Problem(refused.refusal.code, refused.refusal.message)
        results.append((facility, result, found))
    return results, None


def _power_final(calc: EntityCalc, entity: EntityIn, plan: Plan, inputs: YearInputs) -> None:
    units, problem = _power_units(entity, plan, inputs.activity, inputs.year)
    if problem is not None:
        calc.final_problem = problem
        return
    calc.unit_lines = [
        Line(f.facility_id, r.category, r.total_t, a.as_json(), dict(r.terms)) for f, r, a in units
    ]
    calc.formula_t = sum(r.total_t for _, r, _ in units)
    verified = inputs.verified.get(entity.entity_id)
    if verified is None:
        calc.final_problem = Problem(
            Code.ALLOCATION_MISSING_VERIFIED,
            f"entity {entity.entity_id} has no verified emissions for {inputs.year}; the true-up needs them",
        )
        return
    gas_units = [u for u in units if u[1].category == GAS_CATEGORY]
    unit_verified: dict[str, int | None] = {f.facility_id: a.verified_t for f, _, a in units}
    if plan.gas_topup and gas_units and any(v is None for v in unit_verified.values()):
        if len(units) == 1:
            unit_verified[units[0][0].facility_id] = verified
        else:
            missing = next(f.facility_id for f, _, _ in units if unit_verified[f.facility_id] is None)
            calc.final_problem = Problem(
                Code.ALLOCATION_MISSING_VERIFIED,
                f"the gas top-up of {entity.entity_id} compares each gas unit with its own verified "
                "emissions; "
                f"unit {missing} has none (import verified_emissions_t per unit)",
            )
            return
    caps = apply_caps(
        [(r.total_t, r.category == GAS_CATEGORY, unit_verified[f.facility_id]) for f, r, _ in units],
        verified,
        plan,
    )
    calc.final_t = caps.final_t
    calc.final_line = Line(
        ENTITY_LINE,
        None,
        caps.final_t,
        {"verified_emissions_t": verified, "units": len(units)},
        {
            **caps.terms(),
            "rule": "gas top-up and 20% gap cap (plan A §五(三))" if plan.gap_share else "sum of units",
        },
    )


# --- industry and absolute caps ---------------------------------------------------------------------


def _output(entity: EntityIn, activity: Mapping[tuple[str, str], ActivityIn]) -> Decimal | None:
    """The entity's output: its entity-level row, else the sum over its facilities' rows."""
    own = activity.get((entity.entity_id, ENTITY_LINE))
    if own is not None and own.output_t is not None:
        return own.output_t
    values = [
        a.output_t
        for f in entity.facilities
        if (a := activity.get((entity.entity_id, f.facility_id))) is not None and a.output_t is not None
    ]
    return sum(values, Decimal(0)) if values else None


def _intensity_members(
    entities: Sequence[EntityIn], inputs: YearInputs
) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Entity → (verified E, output, intensity I) for those with both figures."""
    members = {}
    for entity in entities:
        verified = inputs.verified.get(entity.entity_id)
        output = _output(entity, inputs.activity)
        if verified is not None and output is not None and output > 0:
            members[entity.entity_id] = (verified, output, Decimal(verified) / output)
    return members


def _industry_sector(
    result: YearResult, sector: str, entities: Sequence[EntityIn], inputs: YearInputs
) -> None:
    """Final allocations of an intensity-band sector, with its balance value given or solved."""
    in_force = inputs.plans[sector]
    plan = in_force.plan
    assert plan.industry is not None
    members = _intensity_members(entities, inputs)
    balance = plan.industry.balance.get(sector)
    solved = balance is None
    if balance is None and members:
        balance = solve_balance_value(plan.industry.band, [(e, i) for e, _, i in members.values()])
    if balance is not None:
        result.balance_values[sector] = balance
    for calc in result.entities:
        if calc.sector != sector:
            continue
        member = members.get(calc.entity_id)
        if member is None or balance is None:
            calc.final_problem = _industry_gap(calc.entity_id, inputs, "output for the intensity")
            continue
        verified, output, intensity = member
        done = industry_allocation(plan.industry.band, verified, intensity, balance)
        calc.formula_t = done.allocation_t
        calc.final_t = done.allocation_t
        calc.final_line = Line(
            ENTITY_LINE,
            None,
            done.allocation_t,
            {
                "verified_emissions_t": verified,
                "output_t": str(output),
                "output": plan.industry.intensity_basis[sector],
            },
            {**done.terms, "BP_solved": solved, "rule": "A = E(1 + alpha) (plan B)"},
        )


def _industry_gap(entity_id: str, inputs: YearInputs, what: str) -> Problem:
    if entity_id not in inputs.verified:
        return Problem(
            Code.ALLOCATION_MISSING_VERIFIED,
            f"entity {entity_id} has no verified emissions for {inputs.year}",
        )
    return Problem(Code.ALLOCATION_MISSING_ACTIVITY, f"entity {entity_id} has no {what} for {inputs.year}")


def _cap_sector(result: YearResult, sector: str, entities: Sequence[EntityIn], inputs: YearInputs) -> None:
    """Free allocations of an absolute-cap sector: output × benchmark, scaled into the free share."""
    in_force = inputs.plans[sector]
    plan = in_force.plan
    assert plan.cap is not None
    cap_t = plan.year(inputs.year).cap_t
    assert cap_t is not None
    split = split_cap(cap_t, plan.cap)
    result.cap_splits[sector] = split
    outputs = {e.entity_id: o for e in entities if (o := _output(e, inputs.activity)) is not None}
    demands = {k: o * plan.cap.benchmark_t_per_t for k, o in outputs.items()}
    correction = cap_correction(split.free_t, demands.values())
    allocated = 0
    for calc in result.entities:
        if calc.sector != sector:
            continue
        demand = demands.get(calc.entity_id)
        if demand is None:
            calc.final_problem = _industry_gap(calc.entity_id, inputs, "output")
            continue
        allocation = floor_t(demand * correction)
        allocated += allocation
        calc.formula_t = allocation
        calc.final_t = allocation
        calc.final_line = Line(
            ENTITY_LINE,
            None,
            allocation,
            {"output_t": str(outputs[calc.entity_id]), "output": plan.cap.basis},
            {
                "benchmark_t_per_t": str(plan.cap.benchmark_t_per_t),
                "demand_t": str(demand),
                "correction": str(correction.quantize(Decimal("0.00000001"))),
                "free_share_t": str(split.free_t),
                "A_t": str(allocation),
                "rule": "absolute cap: free share by benchmark",
            },
        )
    result.unallocated_free_t[sector] = split.free_t - allocated


def _verified_final(calc: EntityCalc, entity: EntityIn, inputs: YearInputs) -> None:
    verified = inputs.verified.get(entity.entity_id)
    if verified is None:
        calc.final_problem = _industry_gap(entity.entity_id, inputs, "verified emissions")
        return
    calc.formula_t = verified
    calc.final_t = verified
    calc.final_line = Line(
        ENTITY_LINE,
        None,
        verified,
        {"verified_emissions_t": verified},
        {"rule": "A = verified emissions", "A_t": str(verified)},
    )


# --- pre-allocation -----------------------------------------------------------------------------------


def _preallocation(calc: EntityCalc, entity: EntityIn, plan: Plan, inputs: YearInputs) -> None:
    """Pre-allocation lines: share × previous-year verified emissions per unit (or entity), or × output."""
    share = plan.preallocation_share
    previous = inputs.year - 1
    if share == 0:
        calc.preallocation_t = 0
        return
    if plan.preallocation_basis is PreallocationBasis.PREVIOUS_YEAR_OUTPUT:
        units, problem = _power_units(entity, plan, inputs.activity_previous, previous)
        if problem is not None:
            calc.pre_problem = problem
            return
        calc.pre_lines = [
            Line(
                f.facility_id,
                r.category,
                preallocation_t(share, r.total_t),
                a.as_json(),
                {"share": str(share), "basis": f"{previous} output x benchmark", "basis_t": str(r.total_t)},
            )
            for f, r, a in units
        ]
    else:
        verified = inputs.verified_previous.get(entity.entity_id)
        if verified is None:
            calc.pre_problem = Problem(
                Code.ALLOCATION_MISSING_VERIFIED,
                f"entity {entity.entity_id} has no verified emissions for {previous}; its pre-allocation is "
                f"{share} of them",
            )
            return
        splits = {
            f.facility_id: a.verified_t
            for f in entity.facilities
            if (a := inputs.activity_previous.get((entity.entity_id, f.facility_id))) is not None
            and a.verified_t is not None
        }
        unit_ids = [f.facility_id for f in entity.facilities if f.kind == "power_unit"]
        if unit_ids and len(splits) == len(unit_ids) and sum(splits.values()) == verified:
            calc.pre_lines = [
                Line(
                    facility_id,
                    None,
                    preallocation_t(share, splits[facility_id]),
                    {"verified_emissions_t": splits[facility_id], "year": previous},
                    {"share": str(share), "basis": f"{previous} verified emissions of the unit"},
                )
                for facility_id in unit_ids
            ]
        else:
            calc.pre_lines = [
                Line(
                    ENTITY_LINE,
                    None,
                    preallocation_t(share, verified),
                    {"verified_emissions_t": verified, "year": previous},
                    {"share": str(share), "basis": f"{previous} verified emissions of the entity"},
                )
            ]
    calc.preallocation_t = sum(line.result_t for line in calc.pre_lines)


# --- the year -------------------------------------------------------------------------------------------


def calculate(inputs: YearInputs, entity_id: str | None = None, final: bool = True) -> YearResult:
    """Every covered entity's pre-allocation and final allocation for the year (or one entity's).

    Sector-wide figures (a solved balance value, an absolute cap's correction) are computed over the
    whole sector even when one entity is asked for, so its figure is the one the full run gives.
    `final=False` skips the final allocation (a pre-allocation does not need it).
    """
    result = YearResult(inputs.year, [])
    by_sector: dict[str, list[EntityIn]] = defaultdict(list)
    for entity in inputs.entities:
        if entity.sector not in inputs.plans:
            result.skipped.append(entity.entity_id)
            continue
        by_sector[entity.sector].append(entity)
    for sector, entities in sorted(by_sector.items()):
        in_force = inputs.plans[sector]
        plan = in_force.plan
        vintage = plan.year(inputs.year).vintage
        for entity in entities:
            calc = EntityCalc(entity.entity_id, sector, entity.province, plan.id, in_force.version, vintage)
            result.entities.append(calc)
            _preallocation(calc, entity, plan, inputs)
            if not final:
                continue
            if plan.kind is PlanKind.POWER_BENCHMARK:
                _power_final(calc, entity, plan, inputs)
            elif plan.kind is PlanKind.VERIFIED_EMISSIONS:
                _verified_final(calc, entity, inputs)
        if plan.kind is PlanKind.ABSOLUTE_CAP:
            # The cap's split is needed at pre-allocation too (auction and reserve parts).
            _cap_sector(result, sector, entities, inputs)
        elif not final:
            continue
        elif plan.kind is PlanKind.INDUSTRY_INTENSITY:
            _industry_sector(result, sector, entities, inputs)
    if entity_id is not None:
        result.entities = [c for c in result.entities if c.entity_id == entity_id]
    return result


def summarise(result: YearResult) -> dict[str, Any]:
    """The year by sector and unit category: entities, units, pre-allocation and final totals, gaps."""
    sectors: dict[str, dict[str, Any]] = {}
    for calc in result.entities:
        entry = sectors.setdefault(
            calc.sector,
            {
                "plan": f"{calc.plan_id} v{calc.plan_version}",
                "vintage": calc.vintage,
                "entities": 0,
                "preallocation_t": 0,
                "final_t": 0,
                "missing_preallocation": 0,
                "missing_final": 0,
                "categories": {},
            },
        )
        entry["entities"] += 1
        entry["preallocation_t"] += calc.preallocation_t or 0
        entry["final_t"] += calc.final_t or 0
        entry["missing_preallocation"] += calc.pre_problem is not None
        entry["missing_final"] += calc.final_problem is not None
        for line in calc.unit_lines:
            category = entry["categories"].setdefault(line.category or "-", {"units": 0, "formula_t": 0})
            category["units"] += 1
            category["formula_t"] += line.result_t
    return {
        "year": result.year,
        "sectors": sectors,
        "cap_splits": {
            s: {"free_t": c.free_t, "auction_t": c.auction_t, "reserve_t": c.reserve_t}
            for s, c in result.cap_splits.items()
        },
        "balance_values": {s: str(v) for s, v in result.balance_values.items()},
        "entities": len(result.entities),
        "preallocation_t": sum(c.preallocation_t or 0 for c in result.entities),
        "final_t": sum(c.final_t or 0 for c in result.entities),
    }


def entity_json(calc: EntityCalc) -> dict[str, Any]:
    """One entity's calculation as the interfaces show it."""
    return {
        "entity_id": calc.entity_id,
        "sector": calc.sector,
        "plan": calc.plan_id,
        "plan_version": calc.plan_version,
        "vintage": calc.vintage,
        "preallocation_t": calc.preallocation_t,
        "preallocation_lines": [line.as_json() for line in calc.pre_lines],
        "preallocation_problem": None
        if calc.pre_problem is None
        else {"code": calc.pre_problem.code.value, "message": calc.pre_problem.message},
        "formula_t": calc.formula_t,
        "unit_lines": [line.as_json() for line in calc.unit_lines],
        "final_t": calc.final_t,
        "final_line": None if calc.final_line is None else calc.final_line.as_json(),
        "final_problem": None
        if calc.final_problem is None
        else {"code": calc.final_problem.code.value, "message": calc.final_problem.message},
    }
