"""The validation model on millions of records: the same rule trees, compiled to Polars expressions.

The national screening tier (DOMAIN.md §2: big-data screening) runs every rule over a whole
reporting period at once. Each sector's records are one table — key columns `entity_id`,
`facility_id`, `year`, `month`, one Float64 column per monthly parameter, and the facility context
columns — sorted by facility and month so that `prev.<x>` is the row above when it is the
previous calendar month. Each rule becomes one boolean column "failed", computed with the
semantics of `model.py` (skip on missing names, null on division by zero, Kleene logic), so the
findings are exactly those `engine.evaluate` gives record by record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from carbonmarket.mrv.model import Sector, parameters_of
from carbonmarket.mrv.rules.catalogue import rules_for
from carbonmarket.mrv.rules.model import (
    FACILITY_CONTEXT,
    STRING_CONTEXT,
    Binary,
    Call,
    Compare,
    Expr,
    Logic,
    Member,
    Name,
    Num,
    Present,
    Rule,
    Text,
    Unary,
)

KEYS = ("entity_id", "facility_id", "year", "month")
Frame = pl.DataFrame | pl.LazyFrame

# Polars spreads a query over all cores; the rule columns are independent, so one wide `select`
# per sector lets it schedule them in parallel while reading each input column once.


@dataclass(frozen=True)
class BulkResult:
    """What a bulk run found: one row per (record, failed rule), and counts."""

    findings: pl.DataFrame  # entity_id, facility_id, year, month, rule_id
    records: int
    rules: int
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def evaluate_bulk(
    data: Mapping[Sector, Frame],
    *,
    rules: Mapping[Sector, Sequence[Rule]] | None = None,
) -> BulkResult:
    """Run every rule of each sector over that sector's table; return the failures (long form)."""
    started = time.perf_counter()
    parts: list[pl.DataFrame] = []
    records = 0
    used: set[str] = set()
    for sector, frame in data.items():
        sector_rules = tuple(rules[sector]) if rules is not None else rules_for(sector)
        used.update(r.id for r in sector_rules)
        table = prepared(frame, sector, sector_rules)
        checked = table.select(
            *[pl.col(k) for k in KEYS],
            *[failed(rule).alias(rule.id) for rule in sector_rules],
        ).collect()
        records += checked.height
        if not sector_rules:
            continue
        ids = [r.id for r in sector_rules]
        # Most records are clean: keep only rows with a failure before turning columns into rows.
        flagged = checked.filter(pl.any_horizontal(ids))
        if flagged.height:
            long = (
                flagged.unpivot(index=list(KEYS), on=ids, variable_name="rule_id", value_name="failed")
                .filter(pl.col("failed"))
                .drop("failed")
            )
            parts.append(long)
    findings = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={
                "entity_id": pl.String,
                "facility_id": pl.String,
                "year": pl.Int32,
                "month": pl.Int32,
                "rule_id": pl.String,
            }
        )
    )
    counts = findings.group_by("rule_id").len() if findings.height else None
    by_rule = {} if counts is None else dict(zip(counts["rule_id"], counts["len"], strict=True))
    return BulkResult(findings, records, len(used), by_rule, time.perf_counter() - started)


def prepared(frame: Frame, sector: Sector, rules: Sequence[Rule]) -> pl.LazyFrame:
    """The sector table with typed columns, calendar facts and the previous month's values."""
    table = frame.lazy()
    names = set(table.collect_schema().names())
    params = [p.name for p in parameters_of(sector)]
    columns: list[pl.Expr] = [
        pl.col("entity_id").cast(pl.String),
        pl.col("facility_id").cast(pl.String),
        pl.col("year").cast(pl.Int32),
        pl.col("month").cast(pl.Int32),
    ]
    for name in params:
        # Non-finite numbers count as missing, as in the single-record engine.
        source = pl.col(name).cast(pl.Float64) if name in names else pl.lit(None, pl.Float64)
        columns.append(pl.when(source.is_finite()).then(source).otherwise(None).alias(name))
    for name in FACILITY_CONTEXT:
        if name in STRING_CONTEXT:
            columns.append(
                (pl.col(name).cast(pl.String) if name in names else pl.lit(None, pl.String)).alias(name)
            )
        else:
            source = pl.col(name).cast(pl.Float64) if name in names else pl.lit(None, pl.Float64)
            columns.append(pl.when(source.is_finite()).then(source).otherwise(None).alias(name))
    table = table.select(columns).sort("facility_id", "year", "month")
    period = pl.col("year") * 12 + pl.col("month") - 1
    same = pl.col("facility_id") == pl.col("facility_id").shift(1)
    gap = pl.when(same).then(period - period.shift(1)).otherwise(None)
    days = (
        pl.when(pl.col("month").is_between(1, 12))
        .then(pl.date(pl.col("year"), pl.col("month").clip(1, 12), 1).dt.month_end().dt.day())
        .otherwise(0)
        .cast(pl.Float64)
    )
    prev_names = sorted({n.name for r in rules for n in _all_names(r.expression) if n.prev})
    table = table.with_columns(
        gap.cast(pl.Float64).alias("months_since_prev"),
        days.alias("days_in_month"),
        (days * 24).alias("hours_in_month"),
        *[pl.when(gap == 1).then(pl.col(n).shift(1)).otherwise(None).alias("prev." + n) for n in prev_names],
    )
    return table


def failed(rule: Rule) -> pl.Expr:
    """True where the rule definitely fails: every name it needs has a value and the check is false."""
    applicable = (
        pl.all_horizontal([_column(n).is_not_null() for n in rule.needs]) if rule.needs else pl.lit(True)
    )
    return (applicable & compile_expression(rule.expression).not_()).fill_null(False)


def compile_expression(node: Expr) -> pl.Expr:
    """A rule tree as a Polars expression with the null semantics of `model.py`."""
    match node:
        case Num(value=value):
            return pl.lit(value, pl.Float64)
        case Text(value=value):
            return pl.lit(value, pl.String)
        case Name():
            return _column(node)
        case Present(name=name):
            return _column(name).is_not_null()
        case Unary(op="-", operand=operand):
            return -compile_expression(operand)
        case Unary(op="not", operand=operand):
            return compile_expression(operand).not_()
        case Binary(op=op, left=left, right=right):
            a, b = compile_expression(left), compile_expression(right)
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            return pl.when(b != 0).then(a / b).otherwise(None)
        case Compare(op=op, left=left, right=right):
            a, b = compile_expression(left), compile_expression(right)
            return {
                "<": a < b,
                "<=": a <= b,
                ">": a > b,
                ">=": a >= b,
                "==": a == b,
                "!=": a != b,
            }[op]
        case Member(operand=operand, options=options, negate=negate):
            inner = compile_expression(operand)
            test = inner.is_in(pl.lit(pl.Series(list(options))).implode())
            # is_in gives false for a null operand; keep it null as the single engine does.
            test = pl.when(inner.is_null()).then(None).otherwise(test)
            return test.not_() if negate else test
        case Logic(op=op, operands=operands):
            parts = [compile_expression(o) for o in operands]
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if op == "and" else (combined | part)
            return combined
        case Call(func="abs", args=(only,)):
            return compile_expression(only).abs()
        case Call(func=func, args=args):
            parts = [compile_expression(a) for a in args]
            # The horizontal min/max skip nulls; a null argument must make the result null.
            any_null = pl.any_horizontal([p.is_null() for p in parts])
            picked = pl.min_horizontal(parts) if func == "min" else pl.max_horizontal(parts)
            return pl.when(any_null).then(None).otherwise(picked)
    raise AssertionError(f"unknown node {node!r}")


def _column(name: Name) -> pl.Expr:
    return pl.col(name.key)


def _all_names(node: Expr) -> list[Name]:
    """Every Name in a tree, `present(...)` included."""
    match node:
        case Name():
            return [node]
        case Present(name=name):
            return [name]
        case Unary(operand=operand) | Member(operand=operand):
            return _all_names(operand)
        case Binary(left=left, right=right) | Compare(left=left, right=right):
            return _all_names(left) + _all_names(right)
        case Logic(operands=operands) | Call(args=operands):
            return [n for o in operands for n in _all_names(o)]
        case _:
            return []


def scan(data: Mapping[Sector, Frame]) -> tuple[int, float]:
    """Read every column of every table once (sums and lengths): the engine's floor for the data."""
    started = time.perf_counter()
    rows = 0
    for frame in data.values():
        table = frame.lazy()
        schema = table.collect_schema()
        aggregates = [
            pl.col(n).str.len_bytes().sum() if dtype == pl.String else pl.col(n).sum()
            for n, dtype in schema.items()
        ]
        result = table.select(pl.len().alias("__rows"), *aggregates).collect()
        rows += int(result["__rows"][0])
    return rows, time.perf_counter() - started
