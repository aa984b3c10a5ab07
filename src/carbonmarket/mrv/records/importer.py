"""Reading monthly-data files: CSV (UTF-8 or GBK, detected) and Excel (.xlsx), one row per facility-month.

Layout: a header row, then one row per facility-month. Columns `entity_id, facility_id, sector, year,
month`, then parameter columns named exactly as in the catalogue (mrv/data/parameters.toml:
`coal_consumed_t`, `clinker_cao_fraction`, ...), and optional evidence columns `evidence_<key>`
(`evidence_file_sha256`, `evidence_lab_report_id`). Headers match case-insensitively. One file may mix
sectors: a row leaves the columns of other sectors empty.

Nothing bad is dropped silently (rule 7): a problem with the whole file (unreadable, too large, no
id columns) refuses it; a problem with a row — a wrong unit in its column header or its cell, text
in a number field, a negative value, a missing parameter, the same facility-month twice in the file —
rejects that row with its reason, and the other rows go on. Row numbers are those a spreadsheet
shows: the header is row 1, the first data row is row 2.

This module only reads: `Records.import_records` stores the valid rows in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.model import MonthlyRecord, Sector, parameters_of
from carbonmarket.mrv.records.model import RawRecord, build_record

# Limits (rule 12): a province's monthly file is a few thousand rows; anything far beyond is a mistake.
file_bytes_max = 20 * 1024 * 1024
rows_max = 100_000
columns_max = 200

ID_COLUMNS = ("entity_id", "facility_id", "sector", "year", "month")
EVIDENCE_PREFIX = "evidence_"
# How the catalogue's units are spelt at the end of parameter names (house rule 12: unit last). A
# header with a known stem and another ending (coal_consumed_kg) is a unit mismatch, not an unknown column.
UNIT_SUFFIXES = {
    "t": "t",
    "GJ/t": "gj_per_t",
    "tC/GJ": "tc_per_gj",
    "10^4 Nm3": "10k_nm3",
    "MWh": "mwh",
    "GJ": "gj",
    "h": "h",
    "1": "fraction",
    "min/(cell·day)": "minutes_per_cell_day",
}

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


@dataclass(frozen=True)
class RowError:
    """Why one row (or one cell of it) was rejected."""

    row: int
    code: str
    reason: str
    entity_id: str | None = None
    facility_id: str | None = None
    year: str | None = None
    month: str | None = None
    parameter: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The rejection as the import result lists it."""
        return {
            "row": self.row,
            "entity_id": self.entity_id,
            "facility_id": self.facility_id,
            "year": self.year,
            "month": self.month,
            "parameter": self.parameter,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ParsedRow:
    """A row that reads as a complete, well-formed monthly record."""

    row: int
    record: MonthlyRecord

    def rejection(self, code: str, reason: str) -> dict[str, Any]:
        """The row rejected later (by the database state or the validation model), as the result lists it."""
        return RowError(
            self.row,
            code,
            reason,
            self.record.entity_id,
            self.record.facility_id,
            str(self.record.year),
            str(self.record.month),
        ).as_json()


@dataclass(frozen=True)
class ParsedFile:
    """A file read: its fingerprint, the well-formed rows and every rejected one."""

    format: str
    encoding: str | None
    file_sha256: str
    rows_total: int
    rows: tuple[ParsedRow, ...]
    errors: tuple[RowError, ...]


@dataclass(frozen=True)
class _Column:
    """What a header names: an id column, a parameter, an evidence key, or a problem."""

    index: int
    header: str
    kind: str  # "id" | "parameter" | "evidence" | "bad"
    name: str
    code: Code | None = None
    reason: str | None = None


def read_monthly_file(data: bytes, filename: str | None = None) -> ParsedFile:
    """Read a CSV or .xlsx monthly-data file into well-formed rows and per-row errors; refuse bad files."""
    if len(data) > file_bytes_max:
        raise Refused(
            Code.RECORD_FILE_TOO_LARGE, f"the file has {len(data)} bytes; the limit is {file_bytes_max}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(_XLS_MAGIC):
        raise Refused(
            Code.RECORD_FILE_UNREADABLE, "old .xls workbooks are not read: save the file as .xlsx or CSV"
        )
    if data.startswith(_XLSX_MAGIC) or (filename or "").lower().endswith((".xlsx", ".xlsm")):
        table = _xlsx_rows(data)
        fmt, encoding = "xlsx", None
    else:
        text, encoding = _decode(data)
        table = _csv_rows(text)
        fmt = "csv"
    return _parse(table, fmt, encoding, digest)


# --- decoding ---------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and its encoding: UTF-8 (with or without BOM), UTF-16 with BOM, else GBK."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", "utf-8")]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", "utf-16")]
    else:
        # GB18030 is the superset of GBK that Chinese Excel writes; it decodes every GBK file the same.
        candidates = [("utf-8", "utf-8"), ("gb18030", "gbk")]
    for codec, name in candidates:
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    raise Refused(
        Code.RECORD_FILE_UNREADABLE, "the file is neither UTF-8 nor GBK text, nor an .xlsx workbook"
    )


def _csv_rows(text: str) -> list[list[object]]:
    """Rows of a CSV text; the delimiter (comma, semicolon or tab) is the one the header uses most."""
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as error:
        raise Refused(Code.RECORD_FILE_UNREADABLE, f"the CSV cannot be read: {error}") from None


def _xlsx_rows(data: bytes) -> list[list[object]]:
    """Rows of the first worksheet (or the one named 'monthly') of an .xlsx workbook, as cell values."""
    # Imported here: only imports of Excel files pay for loading openpyxl (which ships no type stubs).
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign file
        raise Refused(Code.RECORD_FILE_UNREADABLE, f"the workbook cannot be read: {error}") from None
    try:
        sheet = workbook["monthly"] if "monthly" in workbook.sheetnames else workbook.worksheets[0]
        rows: list[list[object]] = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > rows_max + 1:
                break
        return rows
    finally:
        workbook.close()


# --- columns ----------------------------------------------------------------------------------------


def _stems() -> dict[str, tuple[str, str]]:
    """Parameter stems across sectors: stem → (parameter name, unit suffix)."""
    stems: dict[str, tuple[str, str]] = {}
    for sector in Sector:
        for spec in parameters_of(sector):
            suffix = UNIT_SUFFIXES.get(spec.unit)
            if suffix and spec.name.endswith("_" + suffix):
                stems[spec.name[: -len(suffix) - 1]] = (spec.name, suffix)
    return stems


def _columns(header: list[object]) -> list[_Column]:
    """Classify the header row; refuse a file whose id columns are missing or whose headers repeat."""
    if len(header) > columns_max:
        raise Refused(
            Code.RECORD_COLUMNS_INVALID, f"the file has {len(header)} columns; the limit is {columns_max}"
        )
    names = {spec.name for sector in Sector for spec in parameters_of(sector)}
    stems = _stems()
    columns: list[_Column] = []
    seen: set[str] = set()
    for index, raw in enumerate(header):
        text = _cell_text(raw).strip().lstrip("\ufeff")
        key = text.lower()
        if not key:
            columns.append(_Column(index, text, "blank", ""))
            continue
        if key in seen:
            raise Refused(Code.RECORD_COLUMNS_INVALID, f"column {text!r} appears twice in the header")
        seen.add(key)
        if key in ID_COLUMNS:
            columns.append(_Column(index, text, "id", key))
        elif key in names:
            columns.append(_Column(index, text, "parameter", key))
        elif key.startswith(EVIDENCE_PREFIX) and len(key) > len(EVIDENCE_PREFIX):
            columns.append(_Column(index, text, "evidence", key[len(EVIDENCE_PREFIX) :]))
        else:
            columns.append(_bad_column(index, text, key, stems))
    missing = [name for name in ID_COLUMNS if name not in seen]
    if missing:
        raise Refused(
            Code.RECORD_COLUMNS_INVALID,
            f"the header lacks {', '.join(missing)}; it needs {', '.join(ID_COLUMNS)} and parameter columns",
            missing=missing,
        )
    return columns


def _bad_column(index: int, text: str, key: str, stems: dict[str, tuple[str, str]]) -> _Column:
    """A header that is not a parameter: a known quantity in another unit, or unknown."""
    for stem in sorted(stems, key=len, reverse=True):
        if key.startswith(stem + "_"):
            name, suffix = stems[stem]
            given = key[len(stem) + 1 :]
            return _Column(
                index,
                text,
                "bad",
                name,
                Code.RECORD_UNIT_MISMATCH,
                f"column {text!r} gives {stem} in '{given}', but the catalogue's unit is '{suffix}' "
                f"(column {name}): convert the values and rename the column",
            )
    return _Column(
        index,
        text,
        "bad",
        key,
        Code.RECORD_UNKNOWN_COLUMN,
        f"column {text!r} is not an id column, a parameter of any sector, or evidence_<key>",
    )


# --- rows -------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """A cell as text (ids, sector): whole numbers without '.0', blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class _DateCell:
    """A spreadsheet date where a number belongs; `parse_value` refuses it by this name."""

    value: datetime | date | time

    def __repr__(self) -> str:
        return f"a date ({self.value.isoformat()})"


def _cell_value(value: object) -> object:
    """A cell as a value for `parse_value`: dates are not numbers, blank strings are absent."""
    if isinstance(value, datetime | date | time):
        return _DateCell(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _parse(table: list[list[object]], fmt: str, encoding: str | None, digest: str) -> ParsedFile:
    """Turn a table of cells into well-formed rows and row errors."""
    if not table or not any(_cell_text(c) for c in table[0]):
        raise Refused(Code.RECORD_COLUMNS_INVALID, "the file is empty: the first row must be the header")
    columns = _columns(table[0])
    body = [
        (number, cells)
        for number, cells in enumerate(table[1:], start=2)
        if any(_cell_text(c) for c in cells)
    ]
    if len(body) > rows_max:
        raise Refused(Code.RECORD_FILE_TOO_LARGE, f"the file has more than {rows_max} data rows")
    errors: list[RowError] = []
    parsed: list[ParsedRow] = []
    for number, cells in body:
        row_errors, record = _parse_row(number, cells, columns)
        errors.extend(row_errors)
        if record is not None and not row_errors:
            parsed.append(ParsedRow(number, record))
    kept, duplicates = _without_duplicate_months(parsed)
    errors.extend(duplicates)
    errors.sort(key=lambda e: (e.row, e.code, e.parameter or ""))
    return ParsedFile(fmt, encoding, digest, len(body), tuple(kept), tuple(errors))


def _parse_row(
    number: int, cells: list[object], columns: list[_Column]
) -> tuple[list[RowError], MonthlyRecord | None]:
    """One data row: its record if well-formed, and every problem found in it."""
    padded = cells + [None] * (len(columns) - len(cells))
    ids: dict[str, object] = {}
    values: dict[str, object] = {}
    evidence: dict[str, object] = {}
    problems: list[tuple[str, str, str | None]] = []
    for column in columns:
        cell = padded[column.index]
        if column.kind == "id":
            ids[column.name] = cell
        elif column.kind == "parameter":
            values[column.name] = _cell_value(cell)
        elif column.kind == "evidence":
            if _cell_text(cell):
                evidence[column.name] = _cell_text(cell)
        elif _cell_text(cell):
            code = column.code.value if column.code else Code.RECORD_UNKNOWN_COLUMN.value
            reason = column.reason or f"column {column.index + 1} has a value but no header"
            problems.append((code, reason, column.name or None))
    for extra in padded[len(columns) :]:
        if _cell_text(extra):
            problems.append(
                (Code.RECORD_UNKNOWN_COLUMN.value, "the row has more cells than the header", None)
            )
            break
    raw = RawRecord(
        entity_id=_cell_text(ids.get("entity_id")),
        facility_id=_cell_text(ids.get("facility_id")),
        sector=_cell_text(ids.get("sector")),
        year=_cell_text(ids.get("year")) if isinstance(ids.get("year"), str) else ids.get("year"),
        month=_cell_text(ids.get("month")) if isinstance(ids.get("month"), str) else ids.get("month"),
        values=values,
        evidence=evidence,
    )
    record, found = build_record(raw)
    context = {
        "entity_id": raw.entity_id or None,
        "facility_id": raw.facility_id or None,
        "year": _cell_text(raw.year) or None,
        "month": _cell_text(raw.month) or None,
    }
    errors = [
        RowError(number, code, reason, parameter=parameter, **context) for code, reason, parameter in problems
    ]
    # A parameter given in a column with the wrong unit is reported once, as that, not also as missing.
    misplaced = {
        parameter for code, _reason, parameter in problems if code == Code.RECORD_UNIT_MISMATCH.value
    }
    errors.extend(
        RowError(number, p.code.value, p.message, parameter=p.parameter, **context)
        for p in found
        if not (p.code is Code.RECORD_MISSING_PARAMETER and p.parameter in misplaced)
    )
    return errors, record


def _without_duplicate_months(rows: list[ParsedRow]) -> tuple[list[ParsedRow], list[RowError]]:
    """Reject every row of a facility-month that appears more than once: which one is right is unknowable."""
    groups: dict[tuple[str, int, int], list[ParsedRow]] = defaultdict(list)
    for row in rows:
        groups[(row.record.facility_id, row.record.year, row.record.month)].append(row)
    kept: list[ParsedRow] = []
    errors: list[RowError] = []
    for (facility, year, month), group in groups.items():
        if len(group) == 1:
            kept.append(group[0])
            continue
        numbers = ", ".join(str(r.row) for r in group)
        for row in group:
            errors.append(
                RowError(
                    row.row,
                    Code.RECORD_DUPLICATE_MONTH_IN_FILE.value,
                    f"{facility} {year}-{month:02d} is in rows {numbers}: keep the right one, then import",
                    row.record.entity_id,
                    facility,
                    str(year),
                    str(month),
                )
            )
    kept.sort(key=lambda r: r.row)
    return kept, errors
