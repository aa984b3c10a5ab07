"""The validation model's rules and the small, safe expression language their checks are written in.

Pure: standard library, `carbonmarket.core` and `carbonmarket.mrv.model` only.

A rule's check is a Python-looking boolean expression over the monthly parameters of its sector
(`mrv/data/parameters.toml`), the record's context (facility attributes and calendar facts) and
`prev.<parameter>` for the same facility's previous calendar month. It is parsed with `ast` and
then *rebuilt* into our own node types through a whitelist — names, numbers, string literals for
category comparisons, `+ - * /`, comparisons, `and or not`, `abs min max` and `present(...)` —
so nothing a rule file says is ever executed as Python (DESIGN.md rule 13: the rules are data).

The same nodes are evaluated one record at a time (`engine.py`) and compiled to vectorised column
expressions (`bulk.py`). Both follow one set of semantics, fixed here:

- Every name read outside `present(...)` must have a value, else the rule is *skipped* (a missing
  optional parameter, no previous month, an unknown facility attribute): a rule can only fail on
  data it could read. `present(name)` is how a rule speaks about presence itself.
- Arithmetic is IEEE double precision in both paths, so they agree to the bit. Decimal exactness
  belongs to the accounting (house rule 2); screening bands do not need it.
- Division by zero gives "no value" (null), which propagates; `and`/`or` use three-valued (Kleene)
  logic; a check that ends in null is skipped, only a definite `False` is a finding.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from carbonmarket.mrv.model import RuleCategory, Sector, Severity, parameters_of

# Limits on what a rule may say (house rule 12): a rule is a short formula, not a program.
check_length_max_chars = 1000
expression_depth_max = 40

# Facility and monitoring-plan attributes a caller passes as the record's context (roster facts),
# and calendar facts the engine derives itself. Numeric unless listed in STRING_CONTEXT.
FACILITY_CONTEXT = (
    "capacity_mw",  # rated power of a generating unit (roster facility)
    "rated_output_t_per_year",  # rated annual output of a steel, cement or aluminium line (roster)
    "oxidation_fraction",  # oxidation rate used by the monitoring plan for coal (default 0.99)
    "unit_category",  # power unit category of the allocation plan: I, II, III, IV (roster)
)
DERIVED_CONTEXT = (
    "year",
    "month",
    "days_in_month",
    "hours_in_month",
    "months_since_prev",  # months from the facility's latest earlier record to this one
)
STRING_CONTEXT = frozenset({"unit_category"})
# The roster's words (mrv/roster UnitCategory): I conventional coal >= 400 MW, II < 400 MW,
# III unconventional coal, IV gas (2023-2024 power allocation plan, DOMAIN.md §3).
UNIT_CATEGORIES = ("I", "II", "III", "IV")


class ExpressionError(ValueError):
    """A rule's check is not in the expression language (or refers to unknown names)."""


# --- the expression tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A number literal."""

    value: float


@dataclass(frozen=True)
class Text:
    """A string literal; only compared with a string-valued context name (unit_category)."""

    value: str


@dataclass(frozen=True)
class Name:
    """A parameter or context name; `prev` reads the previous month's value of a parameter."""

    name: str
    prev: bool = False

    @property
    def key(self) -> str:
        """The name as written: `coal_consumed_t` or `prev.coal_consumed_t`."""
        return f"prev.{self.name}" if self.prev else self.name


@dataclass(frozen=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary:
    """Arithmetic: `+ - * /`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare:
    """One comparison `< <= > >= == !=` (chains are split into `and`)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Member:
    """`name in ("a", "b")` or `not in` over literals."""

    operand: Expr
    options: tuple[float | str, ...]
    negate: bool


@dataclass(frozen=True)
class Logic:
    """`and` / `or` over two or more operands."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Call:
    """`abs(x)`, `min(a, b, ...)`, `max(a, b, ...)`."""

    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Present:
    """`present(name)`: whether the record (or the previous month) has a value for a name."""

    name: Name


Expr = Num | Text | Name | Unary | Binary | Compare | Member | Logic | Call | Present

_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARISON = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_FUNCTIONS = {"abs": (1, 1), "min": (2, 8), "max": (2, 8)}


def allowed_names(sectors: tuple[Sector, ...]) -> frozenset[str]:
    """Names a check for these sectors may read: parameters common to all of them and the context."""
    common = set.intersection(*({p.name for p in parameters_of(s)} for s in sectors))
    return frozenset(common | set(FACILITY_CONTEXT) | set(DERIVED_CONTEXT))


def parameter_names(sectors: tuple[Sector, ...]) -> frozenset[str]:
    """Monthly parameters common to all these sectors (the ones `prev.` may read)."""
    return frozenset(set.intersection(*({p.name for p in parameters_of(s)} for s in sectors)))


def parse_check(text: str, names: frozenset[str], prev_names: frozenset[str]) -> Expr:
    """Parse a check into the whitelisted tree, refusing anything outside the language."""
    if len(text) > check_length_max_chars:
        raise ExpressionError(f"check is longer than {check_length_max_chars} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"check is not a valid expression: {error.msg}") from None
    parsed = _Builder(names, prev_names).build(tree.body, 0)
    if _kind(parsed) != "bool":
        raise ExpressionError("a check must be a condition (true when the record passes)")
    return parsed


class _Builder:
    """Turns a Python `ast` into our nodes, one whitelisted construct at a time."""

    def __init__(self, names: frozenset[str], prev_names: frozenset[str]) -> None:
        self.names = names
        self.prev_names = prev_names

    def build(self, node: ast.expr, depth: int) -> Expr:
        """One node, or ExpressionError naming what is not allowed."""
        if depth > expression_depth_max:
            raise ExpressionError(f"check nests deeper than {expression_depth_max} levels")
        inner = depth + 1
        match node:
            case ast.Constant(value=bool()):
                raise ExpressionError("True/False literals are not allowed; write the condition itself")
            case ast.Constant(value=int() | float() as number):
                return Num(float(number))
            case ast.Constant(value=str() as string):
                return Text(string)
            case ast.Name(id=name):
                return self._name(name, prev=False)
            case ast.Attribute(value=ast.Name(id="prev"), attr=attr):
                return self._name(attr, prev=True)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return Unary("-", self._number(operand, inner))
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self._number(operand, inner)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return Unary("not", self._condition(operand, inner))
            case ast.BinOp(op=op, left=left, right=right) if type(op) in _ARITHMETIC:
                return Binary(_ARITHMETIC[type(op)], self._number(left, inner), self._number(right, inner))
            case ast.BoolOp(op=op, values=values):
                word = "and" if isinstance(op, ast.And) else "or"
                return Logic(word, tuple(self._condition(v, inner) for v in values))
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self._compare(left, ops, comparators, inner)
            case ast.Call(func=ast.Name(id="present"), args=[argument], keywords=[]):
                built = self.build(argument, inner)
                if not isinstance(built, Name):
                    raise ExpressionError("present(...) takes one parameter name")
                return Present(built)
            case ast.Call(func=ast.Name(id=func), args=args, keywords=[]) if func in _FUNCTIONS:
                low, high = _FUNCTIONS[func]
                if not low <= len(args) <= high:
                    raise ExpressionError(f"{func}() takes {low} to {high} arguments")
                return Call(func, tuple(self._number(a, inner) for a in args))
            case ast.Call():
                raise ExpressionError(f"call not allowed: {ast.unparse(node)} (only abs, min, max, present)")
        raise ExpressionError(f"not allowed in a check: {type(node).__name__} ({ast.unparse(node)})")

    def _name(self, name: str, *, prev: bool) -> Name:
        """A known name; `prev.` only before a monthly parameter."""
        if prev:
            if name not in self.prev_names:
                raise ExpressionError(f"prev.{name}: not a monthly parameter of this rule's sectors")
            return Name(name, prev=True)
        if name not in self.names:
            raise ExpressionError(f"unknown name {name!r} (not a parameter of the sector or a context name)")
        return Name(name)

    def _number(self, node: ast.expr, depth: int) -> Expr:
        built = self.build(node, depth)
        if _kind(built) != "number":
            raise ExpressionError(f"expected a number: {ast.unparse(node)}")
        return built

    def _condition(self, node: ast.expr, depth: int) -> Expr:
        built = self.build(node, depth)
        if _kind(built) != "bool":
            raise ExpressionError(f"expected a condition: {ast.unparse(node)}")
        return built

    def _compare(self, left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr], depth: int) -> Expr:
        """Split `a < b <= c` into `a < b and b <= c`; `in` only over a tuple of literals."""
        parts: list[Expr] = []
        current = self.build(left, depth)
        for op, right in zip(ops, comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.Tuple | ast.List):
                    raise ExpressionError('`in` needs a literal tuple, e.g. unit_category in ("gas",)')
                options = tuple(self.build(e, depth) for e in right.elts)
                if not options or not all(isinstance(o, Num | Text) for o in options):
                    raise ExpressionError("`in` needs a non-empty tuple of literals")
                values = tuple(o.value for o in options if isinstance(o, Num | Text))
                self._check_same_kind(current, options[0])
                parts.append(Member(current, values, negate=isinstance(op, ast.NotIn)))
                continue
            if type(op) not in _COMPARISON:
                raise ExpressionError(f"comparison not allowed: {type(op).__name__}")
            following = self.build(right, depth)
            word = _COMPARISON[type(op)]
            self._check_same_kind(current, following)
            if _kind(current) == "string" and word not in ("==", "!="):
                raise ExpressionError("text can only be compared with == or !=")
            parts.append(Compare(word, current, following))
            current = following
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    @staticmethod
    def _check_same_kind(left: Expr, right: Expr) -> None:
        if _kind(left) != _kind(right) or _kind(left) == "bool":
            raise ExpressionError("a comparison needs two numbers or two texts")


def _kind(node: Expr) -> str:
    """The type of a node: number, string or bool."""
    match node:
        case Num() | Binary() | Call():
            return "number"
        case Unary(op="-"):
            return "number"
        case Text():
            return "string"
        case Name(name=name):
            return "string" if name in STRING_CONTEXT else "number"
        case _:
            return "bool"


def reads(node: Expr) -> frozenset[Name]:
    """The names a check needs a value for (everything outside `present(...)`)."""
    match node:
        case Name():
            return frozenset({node})
        case Unary(operand=operand):
            return reads(operand)
        case Binary(left=left, right=right) | Compare(left=left, right=right):
            return reads(left) | reads(right)
        case Member(operand=operand):
            return reads(operand)
        case Logic(operands=operands) | Call(args=operands):
            return frozenset().union(*(reads(o) for o in operands))
        case _:
            return frozenset()


def mentions(node: Expr) -> frozenset[Name]:
    """Every name a check mentions, `present(...)` included."""
    match node:
        case Present(name=name):
            return frozenset({name})
        case Unary(operand=operand) | Member(operand=operand):
            return mentions(operand)
        case Binary(left=left, right=right) | Compare(left=left, right=right):
            return mentions(left) | mentions(right)
        case Logic(operands=operands) | Call(args=operands):
            return frozenset().union(*(mentions(o) for o in operands))
        case Name():
            return frozenset({node})
        case _:
            return frozenset()


# --- rules ------------------------------------------------------------------------------------------

ContextValue = Decimal | str


@dataclass(frozen=True)
class Example:
    """A record a rule must pass (or fail): its values, the previous month's, its context."""

    values: dict[str, Decimal]
    prev: dict[str, Decimal] | None = None
    context: dict[str, ContextValue] = field(default_factory=dict)
    year: int = 2024
    month: int = 6
    prev_months_ago: int = 1


@dataclass(frozen=True)
class Rule:
    """One rule of the validation model (Progress Report §7 [seed]), as its data file states it."""

    id: str
    category: RuleCategory
    sectors: tuple[Sector, ...]
    parameters: tuple[str, ...]
    check: str
    expression: Expr
    severity: Severity
    parameter: str | None
    message: str
    rationale: str
    source: str
    example_pass: Example
    example_fail: Example
    needs: frozenset[Name]

    @property
    def uses_prev(self) -> bool:
        """Whether the rule compares with the previous month."""
        return any(n.prev for n in mentions(self.expression))

    def as_json(self) -> dict[str, object]:
        """The rule as the CLI and API show it."""
        return {
            "id": self.id,
            "category": self.category.value,
            "sectors": [s.value for s in self.sectors],
            "parameters": list(self.parameters),
            "check": self.check,
            "severity": self.severity.value,
            "parameter": self.parameter,
            "message": self.message,
            "rationale": self.rationale,
            "source": self.source,
        }


class AlertStatus(StrEnum):
    """Where an alert is in the review queue; the review tiers (`mrv/review/`) move it on."""

    OPEN = "open"
    IN_REVIEW = "in_review"
    CONFIRMED = "confirmed"  # the review found a real error
    EXPLAINED = "explained"  # the value is right and the entity explained it
    FALSE_ALERT = "false_alert"  # the rule was wrong for this record
    CORRECTED = "corrected"  # a corrected version of the record was submitted


def days_in_month(year: int, month: int) -> int:
    """Calendar days of a month (Gregorian leap years)."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def period_of(year: int, month: int) -> int:
    """A month as a running number, so that consecutive months differ by one."""
    return year * 12 + month - 1


def format_message(template: str, values: Mapping[str, object]) -> str:
    """Fill `{name}` placeholders of a rule's message with the record's values (unknown ones stay)."""
    out = template
    for key, value in values.items():
        token = "{" + key + "}"
        if token in out:
            out = out.replace(token, _show(value))
    return out


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
