"""Monthly records and monitoring plans: the rules, pure (standard library and `carbonmarket.core`).

A monthly record is one facility's key parameters of its sector for one month, with evidence
references (the sha256 of an uploaded file, a lab report id). Records are versioned and never
overwritten: the first submission of a month is version 1; a correction is version n + 1 that names
the version it supersedes and says why; the history keeps every version. A second submission of a
month that is not marked as a correction is refused (`record_month_already_submitted`), because a
silent overwrite is how reported data gets "adjusted" after the fact.

Values from outside (a form, a CSV or Excel cell, a JSON body) go through `parse_value`, which turns
them into Decimals exactly or says, in words, why not; `build_record` collects every problem of a
record at once, so a person fixes a form or a file row in one go.

A monitoring plan says, per facility, which parameters are measured and which take defaults, and
with which lab and meters (the data quality control plan of ST §9.1 d)); it is versioned like records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.model import MonthlyRecord, ParameterSpec, Sector, parameters_of

# Reporting years the platform accepts: Chinese pilot markets reported from 2013; anything outside
# the window is a typo (a month in the year field, a two-digit year).
year_min = 2013
year_max = 2100
# Absurdity limits for one monthly value (rule 12): no facility burns 10^12 t of anything in a month,
# and more than 12 decimals is noise. They also keep exact arithmetic on a hostile value cheap.
value_max = Decimal(10) ** 12
value_places_max = 12
evidence_items_max = 20
evidence_text_length_max = 200
reason_length_max = 1000
plan_text_length_max = 200
meter_ids_max = 20

_EVIDENCE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A number with optional thousands separators and an optional unit after it, e.g. "1,234.5 t".
_NUMBER_WITH_UNIT = re.compile(
    r"^(?P<number>[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*(?P<unit>.*)$"
)


@dataclass(frozen=True)
class Problem:
    """One reason a record cannot be accepted as it stands: a code, the parameter, words for a person."""

    code: Code
    parameter: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        """The problem as the API, CLI and entry page show it."""
        return {"code": self.code.value, "parameter": self.parameter, "message": self.message}


@dataclass(frozen=True)
class RawRecord:
    """A monthly record as it arrives from outside: text and numbers not yet checked."""

    entity_id: str
    facility_id: str
    sector: str
    year: object
    month: object
    values: Mapping[str, object]
    evidence: Mapping[str, object] = field(default_factory=dict)

    def as_body(self) -> dict[str, Any]:
        """The record as a command body: plain JSON, so the same input always hashes the same."""
        return {
            "entity_id": self.entity_id,
            "facility_id": self.facility_id,
            "sector": self.sector,
            "year": _plain_json(self.year),
            "month": _plain_json(self.month),
            "values": {k: _plain_json(v) for k, v in sorted(self.values.items())},
            "evidence": {k: _plain_json(v) for k, v in sorted(self.evidence.items())},
        }


def _plain_json(value: object) -> object:
    """A JSON-safe copy of an input value (Decimals and floats as text, exactly as given)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def record_body(record: MonthlyRecord) -> dict[str, Any]:
    """A checked record as a command body and as stored JSON: values as exact decimal text."""
    return {
        "entity_id": record.entity_id,
        "facility_id": record.facility_id,
        "sector": record.sector.value,
        "year": record.year,
        "month": record.month,
        "values": values_text(record.values),
        "evidence": dict(sorted(record.evidence.items())),
    }


def values_text(values: Mapping[str, Decimal]) -> dict[str, str]:
    """Values as exact decimal text, in name order (Decimal('1E+3') → '1000')."""
    return {name: format(value, "f") for name, value in sorted(values.items())}


# --- reading values ---------------------------------------------------------------------------------


def _normalise_unit(unit: str) -> str:
    """A unit for comparison: lower case, no spaces, '^' and '·' dropped (10^4 Nm3 = 104nm3 = 10⁴ Nm³)."""
    table = str.maketrans({"⁴": "4", "³": "3", "·": "", "^": "", " ": "", "\u3000": ""})
    return unit.translate(table).lower()


def parse_value(raw: object, spec: ParameterSpec) -> Decimal:
    """A monthly value from outside as an exact Decimal, or a refusal that says what is wrong.

    Accepted: whole numbers, decimals (also with thousands separators, "1,234.5"), JSON and Excel
    numbers (a float is read by its shortest decimal form, so 0.1 is 0.1), and text followed by the
    parameter's own unit ("1200 t"). Refused: text that is not a number, another unit, negative values,
    NaN and infinities, values beyond `value_max` or with more than `value_places_max` decimals.
    """
    name = spec.name
    if isinstance(raw, bool):
        raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{name}: {raw!r} is not a number")
    try:
        if isinstance(raw, Decimal):
            value = raw
        elif isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            value = Decimal(repr(raw))
        elif isinstance(raw, str):
            value = _parse_text(raw.strip().replace("\u3000", " "), spec)
        else:
            raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{name}: {raw!r} is not a number")
    except InvalidOperation:
        raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{name}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{name}: {raw!r} is not a finite number")
    if value < 0:
        raise Refused(
            Code.RECORD_VALUE_NEGATIVE,
            f"{name} is {format(value, 'f')}: a monthly quantity cannot be negative",
        )
    if value > value_max:
        raise Refused(
            Code.RECORD_VALUE_OUT_OF_RANGE,
            f"{name} is {value:.3E} {spec.unit}, beyond the limit of {value_max:.0E}: check the unit",
        )
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "finite decimals have an integer exponent"
    if exponent < -value_places_max:
        raise Refused(
            Code.RECORD_VALUE_OUT_OF_RANGE, f"{name} has more than {value_places_max} decimals: {raw!r}"
        )
    # Normalise -0 and exponent forms so the same quantity is always stored as the same text.
    return value + 0 if value != 0 else Decimal(0)


def _parse_text(text: str, spec: ParameterSpec) -> Decimal:
    """Read a cell or field: a number, optionally with thousands separators and the parameter's unit."""
    match = _NUMBER_WITH_UNIT.match(text)
    if match is None or not match.group("number") or match.group("number") in "+-.":
        raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{spec.name}: {text!r} is not a number")
    unit = match.group("unit").strip()
    if unit:
        if unit == "%":
            raise Refused(
                Code.RECORD_UNIT_MISMATCH,
                f"{spec.name}: {text!r} is a percentage; the unit of {spec.name} is {spec.unit} "
                "(write 85% as 0.85)",
            )
        if _normalise_unit(unit) != _normalise_unit(spec.unit):
            if not any(c.isalpha() for c in unit):
                raise Refused(Code.RECORD_VALUE_NOT_A_NUMBER, f"{spec.name}: {text!r} is not a number")
            raise Refused(
                Code.RECORD_UNIT_MISMATCH,
                f"{spec.name}: {text!r} is in {unit}, but {spec.name} is in {spec.unit}",
            )
    return Decimal(match.group("number").replace(",", ""))


def parse_whole(raw: object, what: str, low: int, high: int) -> int:
    """A year or month from outside: a whole number within [low, high], or a refusal."""
    number: Decimal | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = Decimal(raw)
    elif isinstance(raw, float) and raw.is_integer():
        number = Decimal(int(raw))
    elif isinstance(raw, str):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise Refused(Code.RECORD_INVALID_PERIOD, f"{what} must be a whole number, not {raw!r}")
    if not low <= number <= high:
        raise Refused(Code.RECORD_INVALID_PERIOD, f"{what} {number} is outside {low}-{high}")
    return int(number)


def parse_sector(raw: str) -> Sector:
    """A sector name, refusing unknown words."""
    try:
        return Sector(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Sector)
        raise Refused(Code.RECORD_UNKNOWN_SECTOR, f"sector {raw!r} is not one of: {allowed}") from None


def check_evidence(evidence: Mapping[str, object]) -> dict[str, str]:
    """Evidence references: short keys, short text; every `*sha256` value a lowercase hex digest."""
    if len(evidence) > evidence_items_max:
        raise Refused(Code.RECORD_INVALID_EVIDENCE, f"at most {evidence_items_max} evidence references")
    checked: dict[str, str] = {}
    for key, raw in evidence.items():
        if not isinstance(key, str) or not _EVIDENCE_KEY.match(key):
            raise Refused(
                Code.RECORD_INVALID_EVIDENCE,
                f"evidence key {key!r} must be 1-64 lower-case letters, digits, '_', '.', '-'",
            )
        if not isinstance(raw, str) or not raw.strip() or len(raw) > evidence_text_length_max:
            raise Refused(
                Code.RECORD_INVALID_EVIDENCE,
                f"evidence {key} must be text of 1-{evidence_text_length_max} characters",
            )
        value = raw.strip()
        if key.endswith("sha256"):
            value = value.lower()
            if not _SHA256.match(value):
                raise Refused(
                    Code.RECORD_INVALID_EVIDENCE, f"evidence {key} must be a sha256 digest (64 hex digits)"
                )
        checked[key] = value
    return checked


def build_record(raw: RawRecord) -> tuple[MonthlyRecord | None, list[Problem]]:
    """Check a record from outside completely: the record if it is acceptable, and every problem found."""
    problems: list[Problem] = []

    def attempt(parameter: str | None, step: Any) -> Any:
        try:
            return step()
        except Refused as refused:
            problems.append(Problem(refused.refusal.code, parameter, refused.refusal.message))
            return None

    attempt(None, lambda: check_id(raw.entity_id, what="entity id"))
    attempt(None, lambda: check_id(raw.facility_id, what="facility id"))
    year = attempt("year", lambda: parse_whole(raw.year, "year", year_min, year_max))
    month = attempt("month", lambda: parse_whole(raw.month, "month", 1, 12))
    sector = attempt(None, lambda: parse_sector(str(raw.sector)))
    evidence = attempt(None, lambda: check_evidence(raw.evidence))
    values: dict[str, Decimal] = {}
    if sector is not None:
        specs = {spec.name: spec for spec in parameters_of(sector)}
        for name, given in raw.values.items():
            spec = specs.get(name)
            if spec is None:
                if not _blank(given):
                    problems.append(_unknown_parameter(name, sector))
                continue
            if _blank(given):
                continue
            parsed = attempt(name, lambda spec=spec, given=given: parse_value(given, spec))
            if parsed is not None:
                values[name] = parsed
        # A value that was given but unreadable is reported once, as unreadable, not also as missing.
        given_names = {name for name, given in raw.values.items() if not _blank(given)}
        problems.extend(p for p in _missing(values, sector) if p.parameter not in given_names)
    if problems:
        return None, problems
    return MonthlyRecord(raw.entity_id, raw.facility_id, sector, year, month, values, evidence), []


def _blank(value: object) -> bool:
    """An empty form field or cell: the parameter was not given."""
    return value is None or (isinstance(value, str) and not value.strip())


def _unknown_parameter(name: str, sector: Sector) -> Problem:
    return Problem(
        Code.RECORD_UNKNOWN_PARAMETER,
        name,
        f"{name} is not a {sector.value} parameter (mrv/data/parameters.toml lists them)",
    )


def _missing(values: Mapping[str, Decimal], sector: Sector) -> list[Problem]:
    return [
        Problem(
            Code.RECORD_MISSING_PARAMETER,
            spec.name,
            f"{spec.name} ({spec.description}) is required every month",
        )
        for spec in parameters_of(sector)
        if spec.required and spec.name not in values
    ]


def problems_of(record: MonthlyRecord) -> list[Problem]:
    """Every problem of a record built in code (the same checks `build_record` applies to raw input)."""
    raw = RawRecord(
        record.entity_id,
        record.facility_id,
        record.sector.value,
        record.year,
        record.month,
        dict(record.values),
        dict(record.evidence),
    )
    return build_record(raw)[1]


def refuse_problems(problems: list[Problem]) -> None:
    """Raise the first problem as the refusal, listing all of them in its details."""
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise Refused(first.code, first.message + more, problems=[p.as_json() for p in problems])


# --- versions ---------------------------------------------------------------------------------------


def record_id(facility_id: str, year: int, month: int, version: int) -> str:
    """The id of one version of one facility-month, readable in a trace: F-1/2024-03/v2."""
    return f"{facility_id}/{year:04d}-{month:02d}/v{version}"


def next_version(latest: int | None, correct: bool, reason: str, where: str) -> int:
    """The version a submission creates: 1 for a new month, latest + 1 for a correction with a reason."""
    if latest is None:
        if correct:
            raise Refused(
                Code.RECORD_NOT_FOUND, f"{where} has no record yet: submit it first, a correction needs one"
            )
        return 1
    if not correct:
        raise Refused(
            Code.RECORD_MONTH_ALREADY_SUBMITTED,
            f"{where} was already submitted (version {latest}); to change it, submit a correction "
            "with a reason",
            version=latest,
        )
    check_reason(reason)
    return latest + 1


def check_reason(reason: str) -> str:
    """A correction's reason: required, and of a readable length."""
    if not reason or not reason.strip():
        raise Refused(
            Code.RECORD_CORRECTION_REASON_REQUIRED, "a correction needs a reason, kept in the history"
        )
    if len(reason) > reason_length_max:
        raise Refused(
            Code.RECORD_CORRECTION_REASON_REQUIRED, f"the reason is limited to {reason_length_max} characters"
        )
    return reason.strip()


def same_content(a: MonthlyRecord, b: MonthlyRecord) -> bool:
    """Whether two versions say the same thing (values compared as numbers: 1.0 equals 1.00)."""
    return a.sector == b.sector and dict(a.values) == dict(b.values) and dict(a.evidence) == dict(b.evidence)


# --- monitoring plans -------------------------------------------------------------------------------


class Method(StrEnum):
    """How a parameter is obtained (ST appendix B.4: 实测值, 计算值, 缺省值)."""

    MEASURED = "measured"
    CALCULATED = "calculated"
    DEFAULT = "default"


@dataclass(frozen=True)
class PlanEntry:
    """How one parameter is monitored: the method, the lab that tests it, the meters that measure it."""

    method: Method
    lab: str | None = None
    meter_ids: tuple[str, ...] = ()
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as stored and shown."""
        return {
            "method": self.method.value,
            "lab": self.lab,
            "meter_ids": list(self.meter_ids),
            "note": self.note,
        }


@dataclass(frozen=True)
class MonitoringPlan:
    """A facility's monitoring plan, in force from a month on."""

    entity_id: str
    facility_id: str
    sector: Sector
    valid_from_year: int
    valid_from_month: int
    parameters: Mapping[str, PlanEntry]


def parse_plan(
    entity_id: str,
    facility_id: str,
    sector: str,
    valid_from_year: object,
    valid_from_month: object,
    parameters: Mapping[str, Mapping[str, Any]],
) -> MonitoringPlan:
    """Check a monitoring plan from outside: known parameters, known methods, required ones not defaulted."""
    check_id(entity_id, what="entity id")
    check_id(facility_id, what="facility id")
    parsed_sector = parse_sector(sector)
    year = parse_whole(valid_from_year, "valid-from year", year_min, year_max)
    month = parse_whole(valid_from_month, "valid-from month", 1, 12)
    specs = {spec.name: spec for spec in parameters_of(parsed_sector)}
    if not parameters:
        raise Refused(
            Code.RECORD_PLAN_INVALID, "a monitoring plan must say how at least one parameter is obtained"
        )
    entries: dict[str, PlanEntry] = {}
    for name, raw in parameters.items():
        spec = specs.get(name)
        if spec is None:
            raise Refused(Code.RECORD_PLAN_INVALID, _unknown_parameter(name, parsed_sector).message)
        entries[name] = _plan_entry(spec, raw)
    return MonitoringPlan(entity_id, facility_id, parsed_sector, year, month, entries)


def _plan_entry(spec: ParameterSpec, raw: Mapping[str, Any]) -> PlanEntry:
    """One parameter's line of a plan."""
    try:
        method = Method(str(raw.get("method", "")))
    except ValueError:
        allowed = ", ".join(m.value for m in Method)
        raise Refused(
            Code.RECORD_PLAN_INVALID, f"{spec.name}: method {raw.get('method')!r} is not one of: {allowed}"
        ) from None
    if method is Method.DEFAULT and spec.required:
        raise Refused(
            Code.RECORD_PLAN_INVALID,
            f"{spec.name} is required every month and has no default: it must be measured or calculated",
        )
    meters = raw.get("meter_ids") or []
    if not isinstance(meters, list | tuple) or len(meters) > meter_ids_max:
        raise Refused(
            Code.RECORD_PLAN_INVALID, f"{spec.name}: meter_ids must be a list of at most {meter_ids_max}"
        )
    for meter in meters:
        check_id(str(meter), what=f"{spec.name} meter id")
    lab = _optional_text(raw.get("lab"), f"{spec.name} lab")
    note = _optional_text(raw.get("note"), f"{spec.name} note")
    return PlanEntry(method, lab, tuple(str(m) for m in meters), note)


def _optional_text(value: object, what: str) -> str | None:
    """Free text of a plan, short, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > plan_text_length_max:
        raise Refused(
            Code.RECORD_PLAN_INVALID, f"{what} must be text of at most {plan_text_length_max} characters"
        )
    return value.strip()


def plan_deviations(plan: MonitoringPlan | None, record: MonthlyRecord) -> list[str]:
    """Where a record departs from the facility's plan: measured parameters missing, defaults reported."""
    if plan is None:
        return []
    deviations = []
    for name, entry in sorted(plan.parameters.items()):
        if entry.method is Method.MEASURED and name not in record.values:
            deviations.append(f"{name} is measured under the monitoring plan but was not reported")
        if entry.method is Method.DEFAULT and name in record.values:
            deviations.append(f"{name} takes the default under the monitoring plan but a value was reported")
    return deviations


def plan_as_json(plan: MonitoringPlan) -> dict[str, Any]:
    """A plan as stored in the database and shown."""
    return {
        "entity_id": plan.entity_id,
        "facility_id": plan.facility_id,
        "sector": plan.sector.value,
        "valid_from": f"{plan.valid_from_year:04d}-{plan.valid_from_month:02d}",
        "parameters": {name: entry.as_json() for name, entry in sorted(plan.parameters.items())},
    }


@dataclass(frozen=True)
class StoredRecord:
    """One version of a facility-month as kept: the record, its id and version, who, when and why."""

    record_id: str
    version: int
    record: MonthlyRecord
    supersedes: str | None
    reason: str | None
    command_id: str
    submitted_by: str
    at: str

    def as_json(self, current: bool | None = None) -> dict[str, Any]:
        """The version as history shows it."""
        out = {
            "record_id": self.record_id,
            "version": self.version,
            **record_body(self.record),
            "supersedes": self.supersedes,
            "reason": self.reason,
            "command_id": self.command_id,
            "submitted_by": self.submitted_by,
            "at": self.at,
        }
        if current is not None:
            out["current"] = current
        return out
