"""One rule definition, two engines: the bulk (Polars) findings equal the single-record findings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl
import pytest

from carbonmarket.mrv.model import MonthlyRecord, Sector, parameters_of
from carbonmarket.mrv.rules.bulk import evaluate_bulk, scan
from carbonmarket.mrv.rules.catalogue import catalogue
from carbonmarket.mrv.rules.engine import evaluate
from carbonmarket.mrv.rules.generator import generate, inject, records_of
from carbonmarket.mrv.rules.model import FACILITY_CONTEXT, STRING_CONTEXT, Example

Key = tuple[str, int, int, str]


def single_findings(frames: dict[Sector, pl.DataFrame]) -> set[Key]:
    """Every record judged alone, in month order, with its facility's earlier records as history."""
    found: set[Key] = set()
    for sector, frame in frames.items():
        history: dict[str, list[MonthlyRecord]] = defaultdict(list)
        for record, context in records_of(frame.sort("facility_id", "year", "month"), sector):
            for finding in evaluate(record, history[record.facility_id], context=context):
                found.add((record.facility_id, record.year, record.month, finding.rule_id))
            history[record.facility_id].append(record)
    return found


def bulk_findings(frames: dict[Sector, pl.DataFrame]) -> set[Key]:
    result = evaluate_bulk(frames)
    return set(result.findings.select("facility_id", "year", "month", "rule_id").iter_rows())


def example_rows(example: Example, sector: Sector, facility_id: str) -> list[dict[str, Any]]:
    """The example (and its previous month) as table rows of one facility."""
    context: dict[str, Any] = {
        k: (str(v) if k in STRING_CONTEXT else float(v)) for k, v in example.context.items()
    }
    rows = []
    if example.prev is not None:
        period = example.year * 12 + example.month - 1 - example.prev_months_ago
        rows.append(
            {"facility_id": facility_id, "year": period // 12, "month": period % 12 + 1, **context}
            | {k: float(v) for k, v in example.prev.items()}
        )
    rows.append(
        {"facility_id": facility_id, "year": example.year, "month": example.month, **context}
        | {k: float(v) for k, v in example.values.items()}
    )
    return rows


def examples_frames() -> dict[Sector, pl.DataFrame]:
    """Every rule's passing and failing example, for every sector of the rule, as one table per sector."""
    rows: dict[Sector, list[dict[str, Any]]] = defaultdict(list)
    for rule in catalogue():
        for sector in rule.sectors:
            for kind, example in (("pass", rule.example_pass), ("fail", rule.example_fail)):
                rows[sector] += example_rows(example, sector, f"{rule.id}-{kind}")
    frames = {}
    for sector, sector_rows in rows.items():
        schema: dict[str, Any] = {"facility_id": pl.String, "year": pl.Int32, "month": pl.Int32}
        schema |= {p.name: pl.Float64 for p in parameters_of(sector)}
        schema |= {c: (pl.String if c in STRING_CONTEXT else pl.Float64) for c in FACILITY_CONTEXT}
        full = [{name: row.get(name) for name in schema} for row in sector_rows]
        frame = pl.DataFrame(full, schema=schema)
        frames[sector] = frame.with_columns(pl.col("facility_id").alias("entity_id"))
    return frames


def test_every_rule_gives_the_same_verdicts_in_bulk_on_its_examples() -> None:
    frames = examples_frames()
    bulk = bulk_findings(frames)
    assert bulk == single_findings(frames)
    fired = {rule_id for _, _, _, rule_id in bulk}
    assert fired == {r.id for r in catalogue()}, "every rule fails its failing example in bulk too"


@pytest.mark.parametrize("seed", [11, 12])
def test_bulk_and_single_agree_on_generated_records_with_anomalies(seed: int) -> None:
    dataset = inject(generate(1200, seed=seed), rate=0.5, seed=seed + 100)
    frames = dataset.frames()
    assert sum(f.height for f in frames.values()) <= 50_000
    bulk = bulk_findings(frames)
    assert len(bulk) > 300
    assert bulk == single_findings(frames)


def test_bulk_reads_parameters_a_table_lacks_as_missing() -> None:
    frame = pl.DataFrame(
        {"entity_id": ["E"], "facility_id": ["F"], "year": [2024], "month": [6], "clinker_output_t": [-5.0]}
    )
    result = evaluate_bulk({Sector.CEMENT: frame})
    rules = set(result.findings["rule_id"])
    assert "CEM-EXT-001" in rules  # negative clinker
    assert "CEM-LOG-002" in rules  # CaO fraction missing: presence rules fire
    assert "CEM-STD-001" not in rules  # CaO range: skipped, nothing to judge


def test_scan_reads_every_record() -> None:
    frames = generate(100, seed=3).frames()
    rows, seconds = scan(frames)
    assert rows == sum(f.height for f in frames.values()) and seconds >= 0
