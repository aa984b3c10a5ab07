"""A seeded synthetic monthly-data generator for the four sectors, and an anomaly injector that labels.

The generator draws facilities (power units by category and capacity; steel, cement and aluminium
lines by rated output) and then, month by month, physically consistent key parameters: fuel from
output through a heat rate, supply from generation through an auxiliary rate, coke and sinter per
tonne of hot metal, kiln coal per tonne of clinker, anode per tonne of aluminium, all within the
bands that the guidelines and engineering practice give (the same bands the rules cite), so a clean
record raises no alert and the accounting engines see plausible inputs. Names are exactly those of
`mrv/data/parameters.toml`.

The injector then corrupts a share of facilities, one anomaly each, of the kinds the review meets
in practice — unit slips (x1000), swapped fields, impossible values, drifting carbon content,
missing months, copy-pasted months — and returns a label for every record it made anomalous, plus
the records it touched without making them anomalous (a drift still inside the band, the month
after an anomaly, which month-on-month rules compare with it), so detection quality is measured
on labelled records (recall) and on untouched records (false alerts) only.

Everything is vectorised with NumPy so that millions of records take seconds; the result is one
Polars table per sector, the input `bulk.evaluate_bulk` takes.

The physics of each sector (`power_months`, `steel_months`, `cement_months`, `aluminium_months`)
is public so that the market simulator (`carbonmarket.simulation`) gives its own facilities the
same monthly parameters, optionally scaled to an annual output it chose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

from carbonmarket.mrv.model import MonthlyRecord, Sector, parameters_of
from carbonmarket.mrv.rules.model import days_in_month

# Limits: the generator is for tests and benchmarks, not a data warehouse.
facilities_max = 2_000_000
months_max = 120

# Entities' sector mix: power dominates the national market's roster (DOMAIN.md §1).
SECTOR_SHARES = {Sector.POWER: 0.55, Sector.STEEL: 0.15, Sector.CEMENT: 0.20, Sector.ALUMINIUM: 0.10}
GAS_NCV_GJ_PER_10K_NM3 = 389.31  # steel guideline A.1 default (DOMAIN.md §2)

Matrix = np.ndarray[Any, np.dtype[np.float64]]
Vector = np.ndarray[Any, np.dtype[Any]]


class AnomalyKind(StrEnum):
    """The anomalies the injector makes (issue 3)."""

    UNIT_SLIP = "unit_slip"
    SWAPPED_FIELDS = "swapped_fields"
    IMPOSSIBLE_VALUE = "impossible_value"
    DRIFTING_CARBON_CONTENT = "drifting_carbon_content"
    MISSING_MONTH = "missing_month"
    COPIED_MONTH = "copied_month"


@dataclass
class SectorBlock:
    """One sector's facilities x months, as arrays; NaN is a missing value, `present` a missing record."""

    sector: Sector
    facility_ids: list[str]
    entity_ids: list[str]
    years: Vector  # per month index
    months: Vector
    values: dict[str, Matrix]
    context: dict[str, Vector]
    present: np.ndarray[Any, np.dtype[np.bool_]]

    @property
    def shape(self) -> tuple[int, int]:
        """(facilities, months)."""
        rows, columns = self.present.shape
        return int(rows), int(columns)


@dataclass
class Dataset:
    """Generated tables per sector, and what the injector did to them."""

    blocks: dict[Sector, SectorBlock]
    labels: list[Injection] = field(default_factory=list)
    touched: set[tuple[str, int, int]] = field(default_factory=set)

    def frames(self) -> dict[Sector, pl.DataFrame]:
        """One table per sector: keys, parameter columns (Float64), context columns."""
        return {sector: to_frame(block) for sector, block in self.blocks.items()}

    def labels_frame(self) -> pl.DataFrame:
        """The labels as a table: facility_id, year, month, kind, parameter, detail."""
        return pl.DataFrame(
            {
                "facility_id": [i.facility_id for i in self.labels],
                "year": [i.year for i in self.labels],
                "month": [i.month for i in self.labels],
                "kind": [i.kind.value for i in self.labels],
                "parameter": [i.parameter for i in self.labels],
                "detail": [i.detail for i in self.labels],
            },
            schema={
                "facility_id": pl.String,
                "year": pl.Int32,
                "month": pl.Int32,
                "kind": pl.String,
                "parameter": pl.String,
                "detail": pl.String,
            },
        )

    def touched_frame(self) -> pl.DataFrame:
        """Records changed or affected by an injection (excluded from the clean set)."""
        rows = sorted(self.touched)
        return pl.DataFrame(
            {
                "facility_id": [r[0] for r in rows],
                "year": [r[1] for r in rows],
                "month": [r[2] for r in rows],
            },
            schema={"facility_id": pl.String, "year": pl.Int32, "month": pl.Int32},
        )


@dataclass(frozen=True)
class Injection:
    """One labelled anomalous record: where, what kind, which parameter(s), what was done."""

    entity_id: str
    facility_id: str
    year: int
    month: int
    kind: AnomalyKind
    parameter: str
    detail: str


def generate(facilities: int, *, start_year: int = 2024, months: int = 12, seed: int = 0) -> Dataset:
    """Clean monthly records for `facilities` facilities across the four sectors, seeded."""
    if not 1 <= facilities <= facilities_max:
        raise ValueError(f"facilities must be 1..{facilities_max}")
    if not 1 <= months <= months_max:
        raise ValueError(f"months must be 1..{months_max}")
    rng = np.random.default_rng(seed)
    counts = _split(facilities)
    period = np.arange(months) + start_year * 12
    years, month_numbers = period // 12, period % 12 + 1
    hours = np.array([days_in_month(int(y), int(m)) * 24 for y, m in zip(years, month_numbers, strict=True)])
    blocks = {
        Sector.POWER: _power(rng, counts[Sector.POWER], hours),
        Sector.STEEL: _steel(rng, counts[Sector.STEEL], months),
        Sector.CEMENT: _cement(rng, counts[Sector.CEMENT], months),
        Sector.ALUMINIUM: _aluminium(rng, counts[Sector.ALUMINIUM], months),
    }
    for block in blocks.values():
        block.years, block.months = years, month_numbers
        _round(block)
    return Dataset({s: b for s, b in blocks.items() if b.shape[0] > 0})


def _split(facilities: int) -> dict[Sector, int]:
    """Facilities per sector by the sector shares, adding up exactly."""
    counts = {s: int(facilities * share) for s, share in SECTOR_SHARES.items()}
    counts[Sector.POWER] += facilities - sum(counts.values())
    return counts


def _ids(prefix: str, count: int, group: Vector | None = None) -> tuple[list[str], list[str]]:
    """Facility ids, and entity ids (facilities of one group share an entity: units of a plant)."""
    facility_ids = [f"{prefix}{i:07d}" for i in range(count)]
    owners = group if group is not None else np.arange(count)
    entity_ids = [f"E{prefix}{int(o):07d}" for o in owners]
    return facility_ids, entity_ids


def _noise(rng: np.random.Generator, shape: tuple[int, int], spread: float) -> Matrix:
    """Multiplicative monthly noise around 1."""
    return rng.uniform(1 - spread, 1 + spread, size=shape)


def _power(rng: np.random.Generator, count: int, hours: Vector) -> SectorBlock:
    """Generating units: categories of the 2023-2024 plan, heat rates by category, CHP for some."""
    categories = np.array(["I", "II", "III", "IV"])  # the roster's unit categories
    category = rng.choice(categories, size=count, p=[0.40, 0.35, 0.10, 0.15])
    capacity = np.select(
        [category == "I", category == "II", category == "III"],
        [
            rng.choice([600.0, 630.0, 660.0, 1000.0, 1050.0], size=count),
            rng.choice([135.0, 200.0, 300.0, 330.0, 350.0], size=count),
            rng.choice([135.0, 150.0, 300.0, 330.0], size=count),
        ],
        rng.choice([180.0, 390.0, 460.0, 480.0], size=count),
    )
    values, context = power_months(rng, category, capacity, hours)
    group = np.cumsum(rng.random(count) < 0.55) - 1  # plants of 1-3 units share an entity
    facility_ids, entity_ids = _ids("P", count, np.maximum(group, 0))
    return _block(Sector.POWER, facility_ids, entity_ids, values, context, (count, len(hours)))


def _scaled_to(target: Vector | None, monthly: Matrix) -> Vector:
    """Per facility, the factor that makes the months' sum equal the annual target (1 without one)."""
    if target is None:
        return np.ones(monthly.shape[0])
    total = monthly.sum(axis=1)
    return np.where(total > 0, np.asarray(target, dtype=np.float64) / np.where(total > 0, total, 1.0), 0.0)


def power_months(
    rng: np.random.Generator,
    category: Vector,
    capacity: Vector,
    hours: Vector,
    *,
    target_mwh: Vector | None = None,
) -> tuple[dict[str, Matrix], dict[str, Vector]]:
    """Monthly key parameters of given units (category I-IV, rated MW), and their facility context.

    With `target_mwh` each unit's load is scaled so that its months generate that much in the year
    (load capped at 1: a unit asked for more than it can make makes what it can); everything else
    (fuel, supply, heat) follows from the generation as without a target.
    """
    count, months = len(category), len(hours)
    shape = (count, months)
    gas = category == "IV"
    # Gross heat rates (GJ fuel per MWh): ~290-340 gce/kWh for conventional coal, more for CFB
    # and gangue units, 47-57% efficiency for combined-cycle gas.
    low = np.select([category == "I", category == "II", category == "III"], [8.4, 9.0, 9.5], 6.3)
    high = np.select([category == "I", category == "II", category == "III"], [9.4, 9.9, 10.3], 7.6)
    heat_rate = rng.uniform(low, high)[:, None] * _noise(rng, shape, 0.02)
    state = rng.random(shape)
    running_share = np.where(
        state < 0.93,
        rng.uniform(0.85, 1.0, shape),
        np.where(state < 0.99, rng.uniform(0.25, 0.6, shape), 0.0),
    )
    operating = hours[None, :] * running_share
    load = np.where(gas[:, None], rng.uniform(0.4, 0.85, shape), rng.uniform(0.5, 0.9, shape))
    load = np.where(operating > 0, load, 0.0)
    if target_mwh is not None:
        unscaled = capacity[:, None] * np.round(operating, 1) * load
        load = np.minimum(load * _scaled_to(target_mwh, unscaled)[:, None], 1.0)
    generated = capacity[:, None] * np.round(operating, 1) * load
    aux = np.where(gas[:, None], rng.uniform(0.015, 0.04, shape), rng.uniform(0.04, 0.08, shape))
    supplied = generated * (1 - aux)
    chp = rng.random(count) < np.where(gas, 0.2, 0.4)
    heat_per_mwh = np.where(gas, rng.uniform(0.5, 2.0, count), rng.uniform(1.0, 6.0, count)) * chp
    season = np.where(np.isin(np.arange(months) % 12, [0, 1, 2, 10, 11]), 1.0, 0.35)
    heat = generated * heat_per_mwh[:, None] * season[None, :] * _noise(rng, shape, 0.05)
    boiler = rng.uniform(0.85, 0.92, count)[:, None]
    fuel_gj = generated * heat_rate + heat / boiler
    ncv_mean = np.where(category == "III", rng.uniform(13.0, 16.0, count), rng.uniform(18.0, 24.0, count))
    ncv = np.where(gas[:, None], 0.0, ncv_mean[:, None] * _noise(rng, shape, 0.04))
    coal = np.where(gas[:, None], 0.0, fuel_gj / np.where(ncv > 0, ncv, 1.0))
    gas_used = np.where(gas[:, None], fuel_gj / GAS_NCV_GJ_PER_10K_NM3, 0.0)
    carbon = rng.uniform(0.0255, 0.0280, count)[:, None] * _noise(rng, shape, 0.015)
    # Smaller emitters may use default values (Progress Report §7): a fifth report no carbon content.
    carbon = np.where((gas | (rng.random(count) < 0.2))[:, None], np.nan, carbon)
    oil = np.where(operating > 0, rng.uniform(0.0, 60.0, shape), 0.0)
    oil = np.where((gas | (rng.random(count) < 0.5))[:, None], np.nan, oil)
    purchased = capacity[:, None] * rng.uniform(1.0, 5.0, shape)
    purchased = np.where((rng.random(count) < 0.3)[:, None], np.nan, purchased)
    values = {
        "coal_consumed_t": coal,
        "coal_ncv_gj_per_t": ncv,
        "coal_carbon_content_tc_per_gj": carbon,
        "gas_consumed_10k_nm3": gas_used,
        "oil_consumed_t": oil,
        "electricity_generated_mwh": generated,
        "electricity_supplied_mwh": supplied,
        "heat_supplied_gj": heat,
        "purchased_electricity_mwh": purchased,
        "operating_hours_h": operating,
        "load_rate_fraction": load,
    }
    context: dict[str, Vector] = {
        "capacity_mw": capacity,
        "unit_category": category,
        "oxidation_fraction": np.full(count, 0.99),
    }
    return values, context


def _steel(rng: np.random.Generator, count: int, months: int) -> SectorBlock:
    """Steel plants: 85% blast furnace - converter, 15% electric arc furnace (no ironmaking)."""
    integrated = rng.random(count) < 0.85
    rated = np.where(integrated, rng.uniform(2e6, 15e6, count), rng.uniform(0.5e6, 2e6, count))
    values = steel_months(rng, integrated, rated, months)
    facility_ids, entity_ids = _ids("S", count)
    context = {"rated_output_t_per_year": rated}
    return _block(Sector.STEEL, facility_ids, entity_ids, values, context, (count, months))


def steel_months(
    rng: np.random.Generator,
    integrated: Vector,
    rated: Vector,
    months: int,
    *,
    target_t: Vector | None = None,
) -> dict[str, Matrix]:
    """Monthly key parameters of steel plants (integrated BF-BOF or EAF, rated t crude steel a year).

    With `target_t` each plant's crude steel of the year is that many tonnes; the other inputs follow.
    """
    count = len(rated)
    shape = (count, months)
    steel = rated[:, None] / 12 * rng.uniform(0.75, 1.0, shape)
    steel = steel * _scaled_to(target_t, steel)[:, None]
    bf = integrated[:, None]
    hot_metal = np.where(bf, steel * rng.uniform(0.82, 0.95, count)[:, None] * _noise(rng, shape, 0.02), 0.0)
    sinter = hot_metal * rng.uniform(1.1, 1.5, count)[:, None] * _noise(rng, shape, 0.03)
    coke = hot_metal * rng.uniform(0.32, 0.40, count)[:, None] * _noise(rng, shape, 0.02)
    injected = hot_metal * rng.uniform(0.12, 0.17, count)[:, None] * _noise(rng, shape, 0.03)
    gas_used = steel * rng.uniform(0.0005, 0.002, count)[:, None] * _noise(rng, shape, 0.05)
    limestone = sinter * rng.uniform(0.05, 0.12, count)[:, None] * _noise(rng, shape, 0.05)
    dolomite = sinter * rng.uniform(0.02, 0.06, count)[:, None] * _noise(rng, shape, 0.05)
    exported = hot_metal * rng.uniform(0.005, 0.05, count)[:, None] * _noise(rng, shape, 0.1)
    values = {
        "crude_steel_output_t": steel,
        "hot_metal_output_t": hot_metal,
        "sinter_output_t": sinter,
        "coke_consumed_t": coke,
        "coal_injected_t": injected,
        "gas_consumed_10k_nm3": gas_used,
        "limestone_consumed_t": limestone,
        "dolomite_consumed_t": dolomite,
        "carbon_products_exported_t": exported,
    }
    return values


def _cement(rng: np.random.Generator, count: int, months: int) -> SectorBlock:
    """Clinker lines: Portland clinker CaO 63-67%, some with carbide-slag or other non-carbonate CaO."""
    rated = rng.uniform(1.0e6, 4.5e6, count)
    values = cement_months(rng, rated, months)
    facility_ids, entity_ids = _ids("C", count)
    context = {"rated_output_t_per_year": rated}
    return _block(Sector.CEMENT, facility_ids, entity_ids, values, context, (count, months))


def cement_months(
    rng: np.random.Generator, rated: Vector, months: int, *, target_t: Vector | None = None
) -> dict[str, Matrix]:
    """Monthly key parameters of clinker lines (rated t clinker a year); `target_t` as for steel."""
    count = len(rated)
    shape = (count, months)
    running = rng.random(shape) >= 0.05  # staggered (off-peak) production stops a kiln some months
    clinker = np.where(running, rated[:, None] / 12 * rng.uniform(0.6, 1.0, shape), 0.0)
    clinker = clinker * _scaled_to(target_t, clinker)[:, None]
    cao = rng.uniform(0.63, 0.67, count)[:, None] + rng.uniform(-0.008, 0.008, shape)
    substitutes = rng.random(count) < 0.15
    non_carbonate = np.where(
        substitutes[:, None],
        np.clip(rng.uniform(0.05, 0.3, count)[:, None] + rng.uniform(-0.02, 0.02, shape), 0.0, 1.0),
        0.0,
    )
    coal = clinker * rng.uniform(0.11, 0.16, count)[:, None] * _noise(rng, shape, 0.03)
    return {
        "clinker_output_t": clinker,
        "clinker_cao_fraction": cao,
        "non_carbonate_cao_fraction": non_carbonate,
        "kiln_coal_consumed_t": coal,
    }


def _aluminium(rng: np.random.Generator, count: int, months: int) -> SectorBlock:
    """Prebake smelters: continuous output, 0.40-0.45 t net anode per tonne, few anode effects."""
    rated = rng.uniform(150e3, 600e3, count)
    values = aluminium_months(rng, rated, months)
    facility_ids, entity_ids = _ids("A", count)
    context = {"rated_output_t_per_year": rated}
    return _block(Sector.ALUMINIUM, facility_ids, entity_ids, values, context, (count, months))


def aluminium_months(
    rng: np.random.Generator, rated: Vector, months: int, *, target_t: Vector | None = None
) -> dict[str, Matrix]:
    """Monthly key parameters of smelters (rated t aluminium a year); `target_t` as for steel."""
    count = len(rated)
    shape = (count, months)
    output = rated[:, None] / 12 * rng.uniform(0.92, 1.02, shape)
    output = output * _scaled_to(target_t, output)[:, None]
    anode = output * (rng.uniform(0.40, 0.45, count)[:, None] + rng.uniform(-0.005, 0.005, shape))
    effect = rng.uniform(0.01, 0.15, count)[:, None] * _noise(rng, shape, 0.3)
    effect = np.where((rng.random(count) < 0.3)[:, None], np.nan, effect)
    return {
        "molten_aluminium_output_t": output,
        "net_anode_consumed_t": anode,
        "anode_effect_minutes_per_cell_day": effect,
    }


def _block(
    sector: Sector,
    facility_ids: list[str],
    entity_ids: list[str],
    values: dict[str, Matrix],
    context: dict[str, Vector],
    shape: tuple[int, int],
) -> SectorBlock:
    assert set(values) == {p.name for p in parameters_of(sector)}, "generator names follow parameters.toml"
    empty = np.zeros(0, dtype=np.int64)
    return SectorBlock(
        sector, facility_ids, entity_ids, empty, empty, values, context, np.ones(shape, dtype=np.bool_)
    )


# Decimal places kept per parameter, as a meter or a lab report would give them.
_DIGITS = {
    "coal_ncv_gj_per_t": 3,
    "coal_carbon_content_tc_per_gj": 6,
    "operating_hours_h": 1,
    "load_rate_fraction": 4,
    "clinker_cao_fraction": 4,
    "non_carbonate_cao_fraction": 4,
    "anode_effect_minutes_per_cell_day": 4,
}


def _round(block: SectorBlock) -> None:
    """Round to the decimals a report carries, so values are exact decimals in text."""
    block.values = round_values(block.values)


def round_values(values: dict[str, Matrix]) -> dict[str, Matrix]:
    """The parameters rounded to the decimals a report carries (a meter's or a lab report's)."""
    return {name: np.round(matrix, _DIGITS.get(name, 3)) for name, matrix in values.items()}


def month_hours(year: int, months: int = 12) -> Vector:
    """Hours in each month of a year from January (the calendar `power_months` runs units on)."""
    return np.array([days_in_month(year, m) * 24 for m in range(1, months + 1)], dtype=np.float64)


# --- the injector -----------------------------------------------------------------------------------

# Parameters a unit slip may hit, per sector: those the catalogue can judge within the record.
_SLIPPABLE = {
    Sector.POWER: (
        "coal_consumed_t",
        "coal_ncv_gj_per_t",
        "coal_carbon_content_tc_per_gj",
        "gas_consumed_10k_nm3",
        "electricity_generated_mwh",
        "electricity_supplied_mwh",
        "heat_supplied_gj",
        "purchased_electricity_mwh",
        "operating_hours_h",
        "load_rate_fraction",
    ),
    Sector.STEEL: tuple(p.name for p in parameters_of(Sector.STEEL)),
    Sector.CEMENT: tuple(p.name for p in parameters_of(Sector.CEMENT)),
    Sector.ALUMINIUM: tuple(p.name for p in parameters_of(Sector.ALUMINIUM)),
}
_SWAPS = {
    Sector.POWER: (
        ("electricity_generated_mwh", "electricity_supplied_mwh"),
        ("coal_consumed_t", "coal_ncv_gj_per_t"),
        ("gas_consumed_10k_nm3", "electricity_generated_mwh"),
    ),
    Sector.STEEL: (
        ("coke_consumed_t", "hot_metal_output_t"),
        ("sinter_output_t", "limestone_consumed_t"),
        ("coal_injected_t", "coke_consumed_t"),
        ("crude_steel_output_t", "gas_consumed_10k_nm3"),
    ),
    Sector.CEMENT: (
        ("clinker_cao_fraction", "non_carbonate_cao_fraction"),
        ("clinker_output_t", "kiln_coal_consumed_t"),
    ),
    Sector.ALUMINIUM: (("molten_aluminium_output_t", "net_anode_consumed_t"),),
}
_OUTPUT = {
    Sector.POWER: "electricity_generated_mwh",
    Sector.STEEL: "crude_steel_output_t",
    Sector.CEMENT: "clinker_output_t",
    Sector.ALUMINIUM: "molten_aluminium_output_t",
}


def inject(dataset: Dataset, *, rate: float = 0.05, seed: int = 1) -> Dataset:
    """Give a share `rate` of facilities one anomaly each, labelling what was done (in place)."""
    if not 0 <= rate <= 1:
        raise ValueError("rate must be within [0, 1]")
    rng = np.random.default_rng(seed)
    for block in dataset.blocks.values():
        count, months = block.shape
        if months < 4:
            continue  # month-on-month anomalies need a month before and after
        chosen = np.flatnonzero(rng.random(count) < rate)
        kinds = rng.choice(list(AnomalyKind), size=len(chosen))
        for f, kind in zip(chosen.tolist(), kinds.tolist(), strict=True):
            _inject_one(dataset, block, int(f), AnomalyKind(kind), rng)
    return dataset


def _inject_one(
    dataset: Dataset, block: SectorBlock, f: int, kind: AnomalyKind, rng: np.random.Generator
) -> None:
    """One anomaly in facility `f`; falls back to a unit slip when the kind does not fit it."""
    _, months = block.shape
    output = block.values[_OUTPUT[block.sector]][f]
    # Pick a month with output in it and the month before, so the anomaly is a real change.
    candidates = [m for m in range(1, months - 1) if output[m] > 0 and output[m - 1] > 0]
    if not candidates:
        return
    m = int(rng.choice(candidates))
    values = block.values
    label = _labeller(dataset, block, f)
    if kind is AnomalyKind.DRIFTING_CARBON_CONTENT:
        carbon = values.get("coal_carbon_content_tc_per_gj")
        if carbon is not None and not np.isnan(carbon[f]).any() and values["coal_consumed_t"][f].min() > 0:
            start = int(rng.integers(1, max(2, months - 6)))
            step = rng.uniform(0.03, 0.06)
            for k, month in enumerate(range(start, months), start=1):
                carbon[f, month] = round(carbon[f, month] * (1 + step * k), 6)
                dataset.touched.add(_key(block, f, month))
                if carbon[f, month] > 0.031:
                    label(month, kind, "coal_carbon_content_tc_per_gj", f"drift +{step:.1%}/month, month {k}")
            return
        kind = AnomalyKind.UNIT_SLIP
    if kind is AnomalyKind.MISSING_MONTH:
        block.present[f, m] = False
        dataset.touched.add(_key(block, f, m))
        label(m + 1, kind, "", f"month {int(block.months[m])} not reported")
        return
    if kind is AnomalyKind.COPIED_MONTH:
        for matrix in values.values():
            matrix[f, m] = matrix[f, m - 1]
        label(m, kind, "", "every value copied from the previous month")
        return
    if kind is AnomalyKind.SWAPPED_FIELDS:
        pairs = [
            (a, b)
            for a, b in _SWAPS[block.sector]
            if _positive(values[a][f, m]) and _positive(values[b][f, m])
        ]
        if pairs:
            a, b = pairs[int(rng.integers(len(pairs)))]
            values[a][f, m], values[b][f, m] = values[b][f, m], values[a][f, m]
            label(m, kind, f"{a},{b}", f"{a} and {b} swapped")
            return
        kind = AnomalyKind.UNIT_SLIP
    if kind is AnomalyKind.IMPOSSIBLE_VALUE:
        name, value, detail = _impossible(block, f, m, rng)
        values[name][f, m] = value
        label(m, kind, name, detail)
        return
    names = [n for n in _SLIPPABLE[block.sector] if _positive(values[n][f, m])]
    name = names[int(rng.integers(len(names)))]
    values[name][f, m] = round(float(values[name][f, m]) * 1000, 3)
    label(m, AnomalyKind.UNIT_SLIP, name, "x1000 (kg for t, kWh for MWh)")


def _impossible(block: SectorBlock, f: int, m: int, rng: np.random.Generator) -> tuple[str, float, str]:
    """A value no physical plant can report: negative, a fraction above 1, more hours than the month."""
    values = block.values
    choice = int(rng.integers(3))
    if block.sector is Sector.POWER and choice == 1:
        hours = days_in_month(int(block.years[m]), int(block.months[m])) * 24
        return "operating_hours_h", float(hours + int(rng.integers(1, 49))), "more hours than the month has"
    if block.sector is Sector.POWER and choice == 2 and values["load_rate_fraction"][f, m] > 0:
        return (
            "load_rate_fraction",
            round(float(values["load_rate_fraction"][f, m]) * 100, 2),
            "load rate in percent",
        )
    if block.sector is Sector.CEMENT and choice == 1:
        return (
            "clinker_cao_fraction",
            round(float(values["clinker_cao_fraction"][f, m]) * 100, 2),
            "CaO in percent",
        )
    if block.sector is Sector.ALUMINIUM and choice == 1:
        output = float(values["molten_aluminium_output_t"][f, m])
        return "net_anode_consumed_t", round(output * rng.uniform(0.1, 0.3), 3), "anode below stoichiometry"
    if block.sector is Sector.STEEL and choice == 1 and values["hot_metal_output_t"][f, m] > 0:
        hot_metal = float(values["hot_metal_output_t"][f, m])
        return "coke_consumed_t", round(hot_metal * rng.uniform(1.1, 2.0), 3), "more coke than hot metal"
    names = [n for n in _SLIPPABLE[block.sector] if _positive(values[n][f, m])]
    name = names[int(rng.integers(len(names)))]
    return name, -float(values[name][f, m]), "negative"


def _positive(value: float) -> bool:
    return bool(np.isfinite(value) and value > 0)


def _key(block: SectorBlock, f: int, m: int) -> tuple[str, int, int]:
    return block.facility_ids[f], int(block.years[m]), int(block.months[m])


def _labeller(dataset: Dataset, block: SectorBlock, f: int) -> Any:
    """A function that labels month m of facility f (and marks it and the next month as touched)."""

    def label(m: int, kind: AnomalyKind, parameter: str, detail: str) -> None:
        dataset.labels.append(
            Injection(
                block.entity_ids[f],
                block.facility_ids[f],
                int(block.years[m]),
                int(block.months[m]),
                kind,
                parameter,
                detail,
            )
        )
        dataset.touched.add(_key(block, f, m))
        if m + 1 < block.shape[1]:
            # The next month's month-on-month rules compare with the anomaly; not a clean record.
            dataset.touched.add(_key(block, f, m + 1))

    return label


# --- output -----------------------------------------------------------------------------------------


def to_frame(block: SectorBlock) -> pl.DataFrame:
    """The block as one table of present records: keys, Float64 parameters, context columns."""
    count, months = block.shape
    mask = block.present.reshape(-1)
    facility = np.repeat(np.arange(count), months)[mask]
    month_index = np.tile(np.arange(months), count)[mask]
    ids = pl.Series("facility_id", block.facility_ids, dtype=pl.String)
    owners = pl.Series("entity_id", block.entity_ids, dtype=pl.String)
    columns: dict[str, Any] = {
        "entity_id": owners.gather(facility),
        "facility_id": ids.gather(facility),
        "year": pl.Series(block.years[month_index], dtype=pl.Int32),
        "month": pl.Series(block.months[month_index], dtype=pl.Int32),
    }
    for name, matrix in block.values.items():
        columns[name] = pl.Series(name, matrix.reshape(-1)[mask], dtype=pl.Float64, nan_to_null=True)
    for name, vector in block.context.items():
        dtype = pl.String if vector.dtype.kind in "US" else pl.Float64
        columns[name] = pl.Series(name, vector, dtype=dtype).gather(facility)
    return pl.DataFrame(columns)


def records_of(
    frame: pl.DataFrame, sector: Sector
) -> Iterator[tuple[MonthlyRecord, dict[str, Decimal | str]]]:
    """The table's rows as monthly records with Decimal values, and each one's facility context."""
    params = [p.name for p in parameters_of(sector)]
    context_names = [
        c
        for c in ("capacity_mw", "unit_category", "rated_output_t_per_year", "oxidation_fraction")
        if c in frame.columns
    ]
    for row in frame.iter_rows(named=True):
        values = {p: Decimal(repr(row[p])) for p in params if row.get(p) is not None}
        context: dict[str, Decimal | str] = {}
        for name in context_names:
            raw = row[name]
            if raw is not None:
                context[name] = raw if isinstance(raw, str) else Decimal(repr(raw))
        yield (
            MonthlyRecord(row["entity_id"], row["facility_id"], sector, row["year"], row["month"], values),
            context,
        )
