"""The synthetic generator is seeded and clean; the injector labels every anomaly it makes."""

from __future__ import annotations

import polars as pl

from carbonmarket.mrv.model import Sector, parameters_of
from carbonmarket.mrv.rules.bulk import evaluate_bulk
from carbonmarket.mrv.rules.generator import AnomalyKind, generate, inject

KEYS = ["facility_id", "year", "month"]


def test_the_same_seed_gives_the_same_data_and_labels() -> None:
    first = inject(generate(300, seed=7), rate=0.3, seed=8)
    second = inject(generate(300, seed=7), rate=0.3, seed=8)
    for sector in Sector:
        assert first.frames()[sector].equals(second.frames()[sector])
    assert first.labels == second.labels


def test_every_sector_gets_facilities_with_twelve_months_of_every_required_parameter() -> None:
    frames = generate(400, seed=1).frames()
    assert set(frames) == set(Sector)
    for sector, frame in frames.items():
        assert frame.group_by("facility_id").len()["len"].unique().to_list() == [12]
        for spec in parameters_of(sector):
            assert spec.name in frame.columns
            if spec.required:
                assert frame[spec.name].null_count() == 0, spec.name


def test_clean_generated_records_raise_no_alerts() -> None:
    result = evaluate_bulk(generate(3000, seed=2).frames())
    assert result.records == 36_000
    assert result.findings.height == 0


def test_the_injector_labels_every_kind_and_the_rules_detect_each_label() -> None:
    dataset = inject(generate(3000, seed=4), rate=0.3, seed=5)
    labels = dataset.labels_frame()
    assert set(labels["kind"]) == {k.value for k in AnomalyKind}
    flagged = evaluate_bulk(dataset.frames()).findings.select(KEYS).unique()
    missed = labels.join(flagged, on=KEYS, how="anti")
    assert missed.height == 0, missed.head()


def test_a_missing_month_is_removed_and_its_successor_labelled() -> None:
    dataset = inject(generate(2000, seed=6), rate=0.5, seed=7)
    frames = dataset.frames()
    missing = dataset.labels_frame().filter(pl.col("kind") == AnomalyKind.MISSING_MONTH.value)
    assert missing.height > 0
    present = pl.concat([f.select(KEYS) for f in frames.values()])
    gone = missing.with_columns((pl.col("month") - 1).alias("month")).select(KEYS)
    assert gone.join(present, on=KEYS, how="semi").height == 0
    assert missing.select(KEYS).join(present, on=KEYS, how="semi").height == missing.height


def test_labels_name_what_was_done() -> None:
    dataset = inject(generate(2000, seed=8), rate=0.5, seed=9)
    slips = [i for i in dataset.labels if i.kind is AnomalyKind.UNIT_SLIP]
    swaps = [i for i in dataset.labels if i.kind is AnomalyKind.SWAPPED_FIELDS]
    assert slips and all(i.parameter and "x1000" in i.detail for i in slips)
    assert swaps and all("," in i.parameter for i in swaps)
    touched = {(i.facility_id, i.year, i.month) for i in dataset.labels}
    assert touched <= dataset.touched
