"""Reading roster files: CSV (UTF-8 or GBK) or Excel, long or wide layout, detected automatically.

Long layout: one row per entity and year (`entity, year, emissions`). Wide layout: one row per
entity and one column per year, like the EU Transaction Log export. The header may sit below a
title row or two; its column names may be English or Chinese, and an emissions column may name
its unit (`emissions_kt`, `排放量（万吨）`).

A file whose header cannot be read is refused as a whole. Everything below the header is read
cell by cell: a cell that is not a whole, non-negative number of tonnes (`Not Reported`,
`Excluded`, blank, negative, text) becomes a `Problem` with its row number, and every valid
value is kept. Row numbers are those a spreadsheet shows: the file's first line is row 1.
Reading is pure (bytes in, `ParsedRoster` out); storing is the service's job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from carbonmarket.core.ids import check_id
from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.roster.model import BadValue, is_included, read_tonnes, year_max, year_min

# Limits (rule 12): a national roster has a few thousand entities; the EU file has 16,040 rows.
file_bytes_max = 50 * 1024 * 1024
rows_max = 200_000
columns_max = 500
# Title lines above the header that we look past.
header_search_rows_max = 10

ENTITY_COLUMNS = frozenset(
    {
        "entity",
        "entity_id",
        "account_id",
        "installation_id",
        "installation",
        "id",
        "credit_code",
        "unified_social_credit_code",
        "企业编号",
        "单位编号",
        "企业代码",
        "信用代码",
        "统一社会信用代码",
    }
)
YEAR_COLUMNS = frozenset({"year", "reporting_year", "年份", "年度", "报告年度", "核算年度"})
EMISSIONS_COLUMNS = (
    "emissions",
    "verified_emissions",
    "annual_emissions",
    "reported_emissions",
    "排放量",
    "年排放量",
    "年度排放量",
    "排放总量",
    "核查排放量",
)
# Units an emissions column may name, as a factor to whole tonnes CO2e (万吨 = 10^4 t).
UNIT_FACTORS = {
    "t": 1,
    "t_co2": 1,
    "t_co2e": 1,
    "tco2": 1,
    "tco2e": 1,
    "吨": 1,
    "吨co2e": 1,
    "吨二氧化碳当量": 1,
    "kt": 1_000,
    "kt_co2e": 1_000,
    "ktco2e": 1_000,
    "千吨": 1_000,
    "万t": 10_000,
    "万tco2e": 10_000,
    "万吨": 10_000,
    "万吨co2e": 10_000,
    "万吨二氧化碳当量": 10_000,
}
_HEADER_YEAR = re.compile(r"(\d{4})(年|年度)?")
_SEPARATORS = re.compile(r"[\s\-/()（）\[\]【】]+")


class Layout(StrEnum):
    """How a file lays out emissions: a row per entity-year, or a column per year."""

    LONG = "long"
    WIDE = "wide"


@dataclass(frozen=True)
class Reported:
    """One valid figure: an entity's emissions in one year, from one row."""

    row: int
    entity: str
    year: int
    emissions_t: int


@dataclass(frozen=True)
class Problem:
    """A row or cell that was not kept, and why. `year` is None when the whole row is unusable."""

    row: int
    entity: str | None
    year: int | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The problem as the import's `rejected` list shows it."""
        return {"row": self.row, "entity": self.entity, "reason": self.reason}


@dataclass(frozen=True)
class ParsedRoster:
    """Everything read from one file: the valid figures and the problems, in row order."""

    file_name: str
    sha256: str
    encoding: str
    layout: Layout
    rows: int
    years: tuple[int, ...]
    values: tuple[Reported, ...]
    problems: tuple[Problem, ...]

    def check_year(self, year: int | None) -> int | None:
        """The year to summarise: the one asked for if the file has it, else the file's latest."""
        if year is None:
            return self.years[-1] if self.years else None
        if year not in self.years:
            span = f"{self.years[0]}–{self.years[-1]}" if self.years else "none"
            raise Refused(Code.ROSTER_INVALID_YEAR, f"the file has no figures for {year}; its years: {span}")
        return year

    def summary(self, year: int | None, threshold_t: int) -> dict[str, Any]:
        """Rows, included, excluded and rejected for one year and threshold (the import's interface).

        Wide files: each row is one entity, so rows = included + excluded + rejected, where
        rejected are the rows whose cell for `year` (or whose entity id) is unusable. Long files:
        every unusable row is rejected whatever its year; valid rows of other years are counted
        in `rows_other_years`.
        """
        of_year = [v for v in self.values if v.year == year]
        included = [v for v in of_year if is_included(v.emissions_t, threshold_t)]
        rejected = self.rejected(year)
        return {
            "year": year,
            "threshold_t": threshold_t,
            "rows": self.rows,
            "included": len(included),
            "excluded": len(of_year) - len(included),
            "included_t": sum(v.emissions_t for v in included),
            "reported_t": sum(v.emissions_t for v in of_year),
            "rows_other_years": len(self.values) - len(of_year) if self.layout is Layout.LONG else 0,
            "rejected": [p.as_json() for p in rejected],
        }

    def rejected(self, year: int | None) -> list[Problem]:
        """The problems that concern one year, by row: all of them in a long file."""
        found = [p for p in self.problems if self.layout is Layout.LONG or p.year is None or p.year == year]
        return sorted(found, key=lambda p: p.row)


def read_roster_file(data: bytes, file_name: str = "") -> ParsedRoster:
    """Read a roster file's bytes; refuse the whole file only if it cannot be read or has no header."""
    if len(data) > file_bytes_max:
        raise Refused(
            Code.ROSTER_FILE_TOO_LARGE,
            f"the file has {len(data)} bytes; roster files are limited to {file_bytes_max}",
        )
    if not data.strip():
        raise Refused(Code.ROSTER_FILE_UNREADABLE, "the file is empty")
    digest = hashlib.sha256(data).hexdigest()
    rows: list[tuple[int, list[Any]]]
    if data[:4] == b"PK\x03\x04":
        rows, encoding = _excel_rows(data), "xlsx"
    elif data[:4] == b"\xd0\xcf\x11\xe0":
        raise Refused(
            Code.ROSTER_FILE_UNREADABLE,
            "this is an old Excel .xls workbook; save it as .xlsx or CSV and import that",
        )
    elif file_name.lower().endswith((".xlsx", ".xlsm")):
        raise Refused(
            Code.ROSTER_FILE_UNREADABLE, f"{file_name!r} is named like an Excel workbook but is not one"
        )
    else:
        text, encoding = _decode(data)
        rows = _csv_rows(text)
    return _parse(rows, file_name, digest, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    """Text of a CSV file: UTF-8 (with or without BOM) first, then GBK, as Chinese tools save it."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gbk"), "gbk"
    except UnicodeDecodeError:
        raise Refused(
            Code.ROSTER_FILE_UNREADABLE, "the file is neither UTF-8 nor GBK text, nor an .xlsx workbook"
        ) from None


def _csv_rows(text: str) -> list[tuple[int, list[Any]]]:
    """The CSV's rows with their line numbers; the delimiter is the one of , ; tab the first line has most."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    try:
        for row in reader:
            # line_num is the line the record ended on, so rows after a multi-line cell keep their numbers.
            rows.append((reader.line_num, list(row)))
            _check_size(len(rows), len(row))
    except csv.Error as error:
        raise Refused(Code.ROSTER_FILE_UNREADABLE, f"line {reader.line_num}: {error}") from None
    return rows


def _excel_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The first worksheet's rows (cell values, not formulas) with their row numbers."""
    # openpyxl ships no type hints (types-openpyxl is not a dependency).
    from openpyxl import load_workbook  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    rows: list[tuple[int, list[Any]]] = []
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise Refused(Code.ROSTER_FILE_UNREADABLE, f"the workbook cannot be opened: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, list(values)))
            _check_size(len(rows), len(values))
    finally:
        workbook.close()
    return rows


def _check_size(rows: int, columns: int) -> None:
    """Refuse files beyond the row and column limits while reading, before they fill memory."""
    if rows > rows_max + header_search_rows_max:
        raise Refused(Code.ROSTER_FILE_TOO_LARGE, f"roster files are limited to {rows_max} rows")
    if columns > columns_max:
        raise Refused(Code.ROSTER_FILE_TOO_LARGE, f"roster files are limited to {columns_max} columns")


def _blank(cell: object) -> bool:
    """Whether a cell holds nothing but whitespace."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _norm(cell: object) -> str:
    """A header cell as a column name: lower case, spaces and brackets become '_'."""
    return _SEPARATORS.sub("_", str(cell).strip().lower()).strip("_") if cell is not None else ""


def _header_year(cell: object) -> int | None:
    """The year a wide-layout header names (2019, '2019', '2019年'), or None."""
    year: int | None = None
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        year = cell
    elif isinstance(cell, float) and cell.is_integer():
        year = int(cell)
    elif isinstance(cell, str) and (match := _HEADER_YEAR.fullmatch(cell.strip())):
        year = int(match.group(1))
    return year if year is not None and year_min <= year <= year_max else None


def _emissions_unit(name: str) -> tuple[bool, int | None]:
    """Whether a column name is an emissions column, and its factor to tonnes (None: unknown unit)."""
    for base in EMISSIONS_COLUMNS:
        if name == base:
            return True, 1
        if name.startswith(base + "_"):
            return True, UNIT_FACTORS.get(name[len(base) + 1 :])
    return False, None


@dataclass(frozen=True)
class _Header:
    """Where the columns of a header row are."""

    entity: int | None
    year: int | None
    emissions: int | None
    factor: int | None
    year_columns: dict[int, int]
    emissions_name: str

    @property
    def long(self) -> bool:
        """Whether the row has entity, year and emissions columns."""
        return self.entity is not None and self.year is not None and self.emissions is not None

    @property
    def wide(self) -> bool:
        """Whether the row has an entity column and a column per year."""
        return self.entity is not None and bool(self.year_columns)


def _read_header(cells: Sequence[Any]) -> _Header:
    """Find the entity, year and emissions columns, and the year columns, of a candidate header row."""
    entity = year = emissions = None
    factor: int | None = None
    emissions_name = ""
    year_columns: dict[int, int] = {}
    for index, cell in enumerate(cells):
        name = _norm(cell)
        header_year = _header_year(cell)
        if header_year is not None:
            year_columns[index] = header_year
        elif name in ENTITY_COLUMNS and entity is None:
            entity = index
        elif name in YEAR_COLUMNS and year is None:
            year = index
        elif emissions is None:
            found, unit = _emissions_unit(name)
            if found:
                emissions, factor, emissions_name = index, unit, str(cell).strip()
    return _Header(entity, year, emissions, factor, year_columns, emissions_name)


def _find_header(rows: list[tuple[int, list[Any]]]) -> tuple[int, _Header]:
    """The position and reading of the header row among the first non-blank rows."""
    candidates = [(i, cells) for i, (_, cells) in enumerate(rows) if any(not _blank(c) for c in cells)]
    if not candidates:
        raise Refused(Code.ROSTER_FILE_UNREADABLE, "the file has no rows")
    for position, cells in candidates[:header_search_rows_max]:
        header = _read_header(cells)
        if header.long and header.wide:
            raise Refused(
                Code.ROSTER_LAYOUT_UNKNOWN,
                f"row {rows[position][0]} has both year and emissions columns (long layout) and a column "
                "per year (wide layout); keep one of the two",
            )
        if header.long and header.factor is None:
            raise Refused(
                Code.ROSTER_LAYOUT_UNKNOWN,
                f"column {header.emissions_name!r} names a unit we do not read; "
                f"use one of: {', '.join(sorted(UNIT_FACTORS))}",
            )
        if header.long or header.wide:
            return position, header
    first = [str(c).strip() for c in candidates[0][1] if not _blank(c)][:12]
    raise Refused(
        Code.ROSTER_LAYOUT_UNKNOWN,
        "no header found: a roster file needs an entity id column (entity, entity_id, account_id, "
        "统一社会信用代码, ...) and either year and emissions columns (long layout) or one column per "
        f"year (wide layout); the first row has: {', '.join(first) or 'nothing'}",
    )


def _entity_text(cell: object) -> str:
    """An entity id cell as text: spreadsheet numbers lose their '.0'."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _check_entity(row: int, text: str) -> Problem | None:
    """A problem if the row has no usable entity id."""
    if not text:
        return Problem(row, None, None, "no entity id")
    try:
        check_id(text, what="entity id")
    except Refused as refused:
        return Problem(row, text, None, refused.refusal.message)
    return None


def _cell(cells: Sequence[Any], index: int) -> Any:
    """A row's cell, or None past the row's end (spreadsheets drop trailing blanks)."""
    return cells[index] if index < len(cells) else None


def _parse(rows: list[tuple[int, list[Any]]], file_name: str, digest: str, encoding: str) -> ParsedRoster:
    """Read every row below the header into figures and problems."""
    position, header = _find_header(rows)
    data = [(number, cells) for number, cells in rows[position + 1 :] if any(not _blank(c) for c in cells)]
    if len(data) > rows_max:
        raise Refused(Code.ROSTER_FILE_TOO_LARGE, f"roster files are limited to {rows_max} rows")
    reader = _read_wide if header.wide else _read_long
    values, problems, years = reader(data, header)
    return ParsedRoster(
        file_name=file_name,
        sha256=digest,
        encoding=encoding,
        layout=Layout.WIDE if header.wide else Layout.LONG,
        rows=len(data),
        years=tuple(sorted(years)),
        values=tuple(values),
        problems=tuple(problems),
    )


Read = tuple[list[Reported], list[Problem], set[int]]


def _read_wide(data: list[tuple[int, list[Any]]], header: _Header) -> Read:
    """One row per entity, one cell per year column."""
    assert header.entity is not None
    values: list[Reported] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    for number, cells in data:
        entity = _entity_text(_cell(cells, header.entity))
        problem = _check_entity(number, entity)
        if problem is None and entity in first_row:
            problem = Problem(
                number, entity, None, f"entity {entity} appears again (first in row {first_row[entity]})"
            )
        if problem is not None:
            problems.append(problem)
            continue
        first_row[entity] = number
        for index, year in header.year_columns.items():
            read = read_tonnes(_cell(cells, index))
            if isinstance(read, BadValue):
                problems.append(Problem(number, entity, year, f"{year}: {read.reason}"))
            else:
                values.append(Reported(number, entity, year, read))
    return values, problems, set(header.year_columns.values())


def _read_long(data: list[tuple[int, list[Any]]], header: _Header) -> Read:
    """One row per entity and year."""
    assert header.entity is not None and header.year is not None and header.emissions is not None
    assert header.factor is not None
    values: list[Reported] = []
    problems: list[Problem] = []
    years: set[int] = set()
    first_row: dict[tuple[str, int], int] = {}
    for number, cells in data:
        entity = _entity_text(_cell(cells, header.entity))
        problem = _check_entity(number, entity)
        if problem is not None:
            problems.append(problem)
            continue
        year_cell = _cell(cells, header.year)
        year = _header_year(year_cell.strip() if isinstance(year_cell, str) else year_cell)
        if year is None:
            shown = "blank" if _blank(year_cell) else repr(year_cell)
            problems.append(
                Problem(number, entity, None, f"year {shown} is not a year between {year_min} and {year_max}")
            )
            continue
        years.add(year)
        if (entity, year) in first_row:
            problems.append(
                Problem(
                    number,
                    entity,
                    year,
                    f"{year} of {entity} appears again (first in row {first_row[entity, year]})",
                )
            )
            continue
        first_row[entity, year] = number
        read = read_tonnes(_cell(cells, header.emissions), header.factor)
        if isinstance(read, BadValue):
            problems.append(Problem(number, entity, year, f"{year}: {read.reason}"))
        else:
            values.append(Reported(number, entity, year, read))
    return values, problems, years
