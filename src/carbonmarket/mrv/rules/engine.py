"""The validation model on one record: the check a submission gets within its request.

Pure and fast: each rule's tree is compiled once into nested Python closures (no `eval`), and a
record is judged by building one small dictionary of its values and calling each closure. The
semantics — skip on a missing name, null on division by zero, Kleene logic, IEEE doubles — are
those of `model.py`, which `bulk.py` follows column-wise; a test proves the two agree rule by rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from carbonmarket.mrv.model import Finding, MonthlyRecord
from carbonmarket.mrv.rules.catalogue import rules_for
from carbonmarket.mrv.rules.model import (
    Binary,
    Call,
    Compare,
    ContextValue,
    Expr,
    Logic,
    Member,
    Name,
    Num,
    Present,
    Rule,
    Text,
    Unary,
    days_in_month,
    format_message,
    period_of,
)

Value = float | str | bool | None
Env = Mapping[str, Value]
Compiled = Callable[[Env], Value]


def evaluate(
    record: MonthlyRecord,
    previous: Sequence[MonthlyRecord],
    *,
    context: Mapping[str, ContextValue | float | int] | None = None,
    rules: Sequence[Rule] | None = None,
) -> list[Finding]:
    """Judge one monthly record against the catalogue (the validation model, Progress Report §7).

    `previous` are the same facility's earlier accepted records (any order; the latest per month
    counts); `context` carries the facility's roster attributes (`capacity_mw`, `unit_category`,
    `rated_output_t_per_year`, `oxidation_fraction`). A rule whose names have no value is skipped.
    """
    env = environment(record, previous, context)
    findings: list[Finding] = []
    for rule in rules if rules is not None else rules_for(record.sector):
        if verdict(rule, env) is False:
            findings.append(
                Finding(
                    rule.id, rule.category, rule.severity, rule.parameter, format_message(rule.message, env)
                )
            )
    return findings


def verdict(rule: Rule, env: Env) -> bool | None:
    """True (passes), False (a finding) or None (skipped: a name had no value, or 0 division)."""
    for name in rule.needs:
        if env.get(name.key) is None:
            return None
    result = compiled(rule.expression)(env)
    return None if result is None else bool(result)


def environment(
    record: MonthlyRecord,
    previous: Sequence[MonthlyRecord],
    context: Mapping[str, ContextValue | float | int] | None,
) -> dict[str, Value]:
    """The names a check may read, for one record: values, context, calendar, previous month."""
    env: dict[str, Value] = {}
    for key, value in record.values.items():
        env[key] = as_float(value)
    for key, raw in (context or {}).items():
        env[key] = raw if isinstance(raw, str) else as_float(raw)
    env["year"] = float(record.year)
    env["month"] = float(record.month)
    days = days_in_month(record.year, record.month) if 1 <= record.month <= 12 else 0
    env["days_in_month"] = float(days)
    env["hours_in_month"] = float(days * 24)
    here = period_of(record.year, record.month)
    latest: MonthlyRecord | None = None
    latest_period = -1
    for earlier in previous:
        # Later entries win for the same month: callers pass versions in the order they were made.
        period = period_of(earlier.year, earlier.month)
        if earlier.facility_id == record.facility_id and latest_period <= period < here:
            latest, latest_period = earlier, period
    if latest is not None:
        env["months_since_prev"] = float(here - latest_period)
        if here - latest_period == 1:
            for key, value in latest.values.items():
                env["prev." + key] = as_float(value)
    return env


def as_float(value: Decimal | float | int | None) -> float | None:
    """A value as a double; NaN and infinities count as missing (a value that is not a number)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@cache
def compiled(node: Expr) -> Compiled:
    """A closure that evaluates the tree over an environment (compiled once per distinct node)."""
    match node:
        case Num(value=value) | Text(value=value):
            constant: Value = value
            return lambda env: constant
        case Name():
            key = node.key
            return lambda env: env.get(key)
        case Present(name=name):
            key = name.key
            return lambda env: env.get(key) is not None
        case Unary(op="-", operand=operand):
            return _negate(compiled(operand))
        case Unary(op="not", operand=operand):
            return _not(compiled(operand))
        case Binary(op=op, left=left, right=right):
            return _arithmetic(op, compiled(left), compiled(right))
        case Compare(op=op, left=left, right=right):
            return _compare(op, compiled(left), compiled(right))
        case Member(operand=operand, options=options, negate=negate):
            return _member(compiled(operand), frozenset(options), negate)
        case Logic(op=op, operands=operands):
            parts = tuple(compiled(o) for o in operands)
            return _and(parts) if op == "and" else _or(parts)
        case Call(func=func, args=args):
            return _call(func, tuple(compiled(a) for a in args))
    raise AssertionError(f"unknown node {node!r}")


def _negate(inner: Compiled) -> Compiled:
    def run(env: Env) -> Value:
        value = inner(env)
        return None if value is None else -_num(value)

    return run


def _not(inner: Compiled) -> Compiled:
    def run(env: Env) -> Value:
        value = inner(env)
        return None if value is None else not value

    return run


def _arithmetic(op: str, left: Compiled, right: Compiled) -> Compiled:
    def run(env: Env) -> Value:
        a, b = left(env), right(env)
        if a is None or b is None:
            return None
        x, y = _num(a), _num(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        # Division by zero has no value; the rule is skipped rather than failed (model.py).
        return None if y == 0 else x / y

    return run


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _compare(op: str, left: Compiled, right: Compiled) -> Compiled:
    test = _COMPARE[op]

    def run(env: Env) -> Value:
        a, b = left(env), right(env)
        if a is None or b is None:
            return None
        return test(a, b)

    return run


def _member(inner: Compiled, options: frozenset[float | str], negate: bool) -> Compiled:
    def run(env: Env) -> Value:
        value = inner(env)
        if value is None:
            return None
        return (value in options) != negate

    return run


def _and(parts: tuple[Compiled, ...]) -> Compiled:
    def run(env: Env) -> Value:
        unknown = False
        for part in parts:
            value = part(env)
            if value is None:
                unknown = True
            elif not value:
                return False
        return None if unknown else True

    return run


def _or(parts: tuple[Compiled, ...]) -> Compiled:
    def run(env: Env) -> Value:
        unknown = False
        for part in parts:
            value = part(env)
            if value is None:
                unknown = True
            elif value:
                return True
        return None if unknown else False

    return run


def _call(func: str, args: tuple[Compiled, ...]) -> Compiled:
    def run(env: Env) -> Value:
        values = [a(env) for a in args]
        if any(v is None for v in values):
            return None
        numbers = [_num(v) for v in values]
        if func == "abs":
            return abs(numbers[0])
        return min(numbers) if func == "min" else max(numbers)

    return run


def _num(value: Value) -> float:
    """A value the type check already proved numeric."""
    assert isinstance(value, float), "the parser only lets numbers into arithmetic"
    return value


# --- a record from outside (CLI file, API body) -------------------------------------------------------

record_values_max = 64
previous_records_max = 24


def parse_check_request(
    data: Mapping[str, Any],
) -> tuple[MonthlyRecord, list[MonthlyRecord], dict[str, ContextValue]]:
    """Read `{sector, entity_id, facility_id, year, month, values, context, previous}`; refusals raise.

    Numbers may be JSON numbers or decimal strings; `previous` is a list of `{year, month, values}`
    of the same facility. Used by the CLI's `check` and the API's dry run.
    """
    from carbonmarket.core.results import Code, Refused
    from carbonmarket.mrv.model import Sector
    from carbonmarket.mrv.rules.catalogue import to_decimal
    from carbonmarket.mrv.rules.model import FACILITY_CONTEXT, STRING_CONTEXT

    def refuse(message: str) -> Refused:
        return Refused(Code.INVALID_RECORD, message)

    try:
        sector = Sector(str(data.get("sector")))
    except ValueError:
        raise refuse(f"sector must be one of: {', '.join(s.value for s in Sector)}") from None

    def period(item: Mapping[str, Any], what: str) -> tuple[int, int]:
        year, month = item.get("year"), item.get("month")
        if not isinstance(year, int) or not isinstance(month, int) or isinstance(year, bool):
            raise refuse(f"{what}: year and month must be integers")
        return year, month

    def values(item: Mapping[str, Any], what: str) -> dict[str, Decimal]:
        raw = item.get("values", {})
        if not isinstance(raw, Mapping) or len(raw) > record_values_max:
            raise refuse(f"{what}: values must be an object of at most {record_values_max} numbers")
        try:
            return {str(k): to_decimal(v) for k, v in raw.items()}
        except ValueError as error:
            raise refuse(f"{what}: {error}") from None

    entity_id = str(data.get("entity_id", "entity"))[:64]
    facility_id = str(data.get("facility_id", "facility"))[:64]
    year, month = period(data, "record")
    record = MonthlyRecord(entity_id, facility_id, sector, year, month, values(data, "record"))
    previous_raw = data.get("previous", [])
    if not isinstance(previous_raw, list) or len(previous_raw) > previous_records_max:
        raise refuse(f"previous must be a list of at most {previous_records_max} records")
    previous = []
    for index, item in enumerate(previous_raw):
        if not isinstance(item, Mapping):
            raise refuse(f"previous[{index}] must be an object")
        y, m = period(item, f"previous[{index}]")
        previous.append(
            MonthlyRecord(entity_id, facility_id, sector, y, m, values(item, f"previous[{index}]"))
        )
    context: dict[str, ContextValue] = {}
    raw_context = data.get("context", {})
    if not isinstance(raw_context, Mapping):
        raise refuse("context must be an object")
    for key, value in raw_context.items():
        if key not in FACILITY_CONTEXT:
            raise refuse(f"context {key!r} is not one of: {', '.join(FACILITY_CONTEXT)}")
        try:
            context[key] = str(value) if key in STRING_CONTEXT else to_decimal(value)
        except ValueError as error:
            raise refuse(f"context {key}: {error}") from None
    return record, previous, context


def findings_json(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Findings as the CLI and API print them."""
    return [
        {
            "rule_id": f.rule_id,
            "category": f.category.value,
            "severity": f.severity.value,
            "parameter": f.parameter,
            "message": f.message,
        }
        for f in findings
    ]
