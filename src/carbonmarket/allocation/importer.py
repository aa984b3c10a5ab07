"""Reading an activity-data CSV: one row per unit (or industrial entity) and year, with per-row errors.

For regulators who hold the allocation data elsewhere (the platform's monthly records are the other
source). Columns, names ending with their unit (rule 12):

    entity_id, facility_id, year,                    -- facility_id blank: the entity as a whole
    electricity_generated_mwh, electricity_supplied_mwh, heat_supplied_gj,
    load_rate_fraction, heat_supply_ratio_fraction,  -- fractions 0-1
    output_t, verified_emissions_t                   -- industrial output; a unit's verified split

Only `entity_id` and `year` are required columns; cells may be blank. A bad cell rejects its row
with the reason (negative, absurd, not a number, supplied above generated...) and never the file; a
file that cannot be read as such a table is refused as a whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from carbonmarket.allocation.model import check_activity, year_max, year_min
from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Refused

file_bytes_max = 64 * 1024 * 1024
rows_max = 1_000_000
problems_shown_max = 200

REQUIRED = ("entity_id", "year")
DECIMAL_COLUMNS = (
    "electricity_generated_mwh",
    "electricity_supplied_mwh",
    "heat_supplied_gj",
    "load_rate_fraction",
    "heat_supply_ratio_fraction",
    "output_t",
)
COLUMNS = (*REQUIRED, "facility_id", *DECIMAL_COLUMNS, "verified_emissions_t")


@dataclass(frozen=True)
class ActivityRow:
    """One accepted row."""

    row: int
    entity_id: str
    facility_id: str
    year: int
    values: dict[str, Decimal]
    verified_t: int | None


@dataclass(frozen=True)
class RowProblem:
    """Why a row was not stored, in words for the person who fixes the file."""

    row: int
    code: Code
    message: str

    def as_json(self) -> dict[str, Any]:
        """The problem as the interfaces show it."""
        return {"row": self.row, "code": self.code.value, "message": self.message}


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Chinese spreadsheets save)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise Refused(
                Code.ALLOCATION_FILE_UNREADABLE, "the file is neither UTF-8 nor GB18030 text"
            ) from None


def read_activity_file(data: bytes) -> tuple[list[ActivityRow], list[RowProblem], int]:
    """The accepted rows, the rejected ones with reasons, and the number of data rows read."""
    if len(data) > file_bytes_max:
        raise Refused(
            Code.ALLOCATION_FILE_TOO_LARGE, f"the file is {len(data)} bytes; the limit is {file_bytes_max}"
        )
    reader = csv.reader(io.StringIO(_decode(data)))
    header = next(reader, None)
    if header is None:
        raise Refused(Code.ALLOCATION_FILE_UNREADABLE, "the file is empty; it needs a header row")
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise Refused(
            Code.ALLOCATION_FILE_UNREADABLE,
            f"unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}",
        )
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise Refused(Code.ALLOCATION_FILE_UNREADABLE, f"the header has no {missing[0]} column")
    if len(set(names)) != len(names):
        raise Refused(Code.ALLOCATION_FILE_UNREADABLE, "a column is named twice in the header")
    accepted: list[ActivityRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str, int], int] = {}
    count = 0
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > rows_max:
            raise Refused(Code.ALLOCATION_FILE_TOO_LARGE, f"the file has more than {rows_max} rows")
        try:
            row = _row(number, names, cells)
        except Refused as refused:
            problems.append(RowProblem(number, refused.refusal.code, refused.refusal.message))
            continue
        key = (row.entity_id, row.facility_id, row.year)
        if key in seen:
            problems.append(
                RowProblem(
                    number,
                    Code.ALLOCATION_ACTIVITY_INVALID,
                    f"row {number}: {row.entity_id} {row.facility_id or '(entity)'} {row.year} "
                    f"repeats row {seen[key]}",
                )
            )
            continue
        seen[key] = number
        accepted.append(row)
    return accepted, problems, count


def _row(number: int, names: Sequence[str], cells: Sequence[str]) -> ActivityRow:
    label = f"row {number}"
    if len(cells) != len(names):
        raise Refused(
            Code.ALLOCATION_ACTIVITY_INVALID, f"{label}: {len(cells)} cells for {len(names)} columns"
        )
    cell = {name: value.strip() for name, value in zip(names, cells, strict=True)}
    entity_id = check_id(cell["entity_id"], what=f"{label}: entity id")
    facility_id = cell.get("facility_id", "")
    if facility_id:
        check_id(facility_id, what=f"{label}: facility id")
    year_text = cell["year"]
    if not year_text.isdigit() or not year_min <= int(year_text) <= year_max:
        raise Refused(
            Code.ALLOCATION_INVALID_YEAR, f"{label}: year {year_text!r} is not in {year_min}-{year_max}"
        )
    values: dict[str, Decimal] = {}
    for name in DECIMAL_COLUMNS:
        text = cell.get(name, "")
        if not text:
            continue
        try:
            number_value = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise Refused(
                Code.ALLOCATION_ACTIVITY_INVALID, f"{label}: {name} {text!r} is not a number"
            ) from None
        values[name] = check_activity(name, number_value, label)
    generated = values.get("electricity_generated_mwh")
    supplied = values.get("electricity_supplied_mwh")
    if generated is not None and supplied is not None and supplied > generated:
        raise Refused(
            Code.ALLOCATION_ACTIVITY_INVALID,
            f"{label}: supplied electricity {supplied} MWh is above generated {generated} MWh (net < gross)",
        )
    verified_t = None
    verified_text = cell.get("verified_emissions_t", "")
    if verified_text:
        if not verified_text.isdigit():
            raise Refused(
                Code.ALLOCATION_ACTIVITY_INVALID,
                f"{label}: verified_emissions_t {verified_text!r} is not whole tonnes (not negative)",
            )
        verified_t = int(check_activity("verified_emissions_t", Decimal(verified_text), label))
    if not values and verified_t is None:
        raise Refused(Code.ALLOCATION_ACTIVITY_INVALID, f"{label}: no activity figure is given")
    return ActivityRow(number, entity_id, facility_id, int(year_text), values, verified_t)
