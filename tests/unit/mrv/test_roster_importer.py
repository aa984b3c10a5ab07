"""Reading roster files without a database: layouts, encodings, Excel, and every bad cell by row."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.roster import importer
from carbonmarket.mrv.roster.importer import Layout, read_roster_file

WIDE = """account_id,2018,2019
A1,30000,26000
A2,12000,25999
A3,Not Reported,Excluded
A4,40000,
A5,50000,-7
A6,60000,lots
"""

LONG = """entity,year,emissions
E1,2019,26000
E1,2020,27000
E2,2019,100
E3,2019,Not Reported
E2,2019,200
,2019,5
E4,twenty,5
"""


def refusal(data: bytes, name: str = "roster.csv") -> Refused:
    with pytest.raises(Refused) as caught:
        read_roster_file(data, name)
    return caught.value


def xlsx(rows: list[list[object]], title_rows: int = 0) -> bytes:
    """An Excel workbook made here, with optional title rows above the header."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for n in range(title_rows):
        sheet.append([f"title line {n + 1}"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- layout detection ---------------------------------------------------------------------------


def test_a_column_per_year_is_the_wide_layout_like_the_eu_file() -> None:
    parsed = read_roster_file(WIDE.encode(), "wide.csv")
    assert (parsed.layout, parsed.encoding, parsed.rows, parsed.years) == (
        Layout.WIDE,
        "utf-8",
        6,
        (2018, 2019),
    )


def test_entity_year_emissions_columns_are_the_long_layout() -> None:
    parsed = read_roster_file(LONG.encode(), "long.csv")
    assert (parsed.layout, parsed.rows, parsed.years) == (Layout.LONG, 7, (2019, 2020))


def test_the_header_is_found_below_title_rows_and_chinese_names_with_units_are_read() -> None:
    text = (
        "2019年重点排放单位名单\n\n"
        "统一社会信用代码,年度,排放量（万吨）\n"
        "91440500X,2019,2.6\n"
        "91440500Y,2019,2.59\n"
    )
    parsed = read_roster_file(text.encode(), "名单.csv")
    assert parsed.layout is Layout.LONG
    assert [(v.row, v.entity, v.emissions_t) for v in parsed.values] == [
        (4, "91440500X", 26000),
        (5, "91440500Y", 25900),
    ]
    assert parsed.summary(2019, 26_000)["included"] == 1


def test_a_unit_we_do_not_read_refuses_the_file() -> None:
    error = refusal(b"entity,year,emissions_mt\nE1,2019,3\n")
    assert error.refusal.code is Code.ROSTER_LAYOUT_UNKNOWN and "emissions_mt" in error.refusal.message


def test_a_file_without_an_entity_column_or_years_is_refused_with_what_it_has() -> None:
    error = refusal(b"name,country,total\nPlant,DE,5\n")
    assert error.refusal.code is Code.ROSTER_LAYOUT_UNKNOWN
    assert "name, country, total" in error.refusal.message


def test_a_header_with_both_layouts_is_refused_as_ambiguous() -> None:
    assert refusal(b"entity,year,emissions,2019\nE1,2019,5,6\n").refusal.code is Code.ROSTER_LAYOUT_UNKNOWN


def test_semicolon_separated_files_are_read() -> None:
    parsed = read_roster_file(b"account_id;2019\nA1;30000\n")
    assert [(v.entity, v.emissions_t) for v in parsed.values] == [("A1", 30000)]


# --- row-by-row problems ------------------------------------------------------------------------


def test_every_unusable_cell_is_reported_by_row_and_the_valid_ones_are_kept() -> None:
    parsed = read_roster_file(WIDE.encode())
    summary = parsed.summary(2019, 26_000)
    assert (summary["rows"], summary["included"], summary["excluded"]) == (6, 1, 1)
    assert summary["rejected"] == [
        {"row": 4, "entity": "A3", "reason": "2019: 'Excluded' is not a number of tonnes"},
        {"row": 5, "entity": "A4", "reason": "2019: blank: no emissions reported"},
        {"row": 6, "entity": "A5", "reason": "2019: negative emissions (-7) are impossible"},
        {"row": 7, "entity": "A6", "reason": "2019: 'lots' is not a number of tonnes"},
    ]
    assert summary["rows"] == summary["included"] + summary["excluded"] + len(summary["rejected"])
    assert summary["included_t"] == 26_000 and summary["reported_t"] == 26_000 + 25_999
    # 2018 has one bad cell of its own; the valid figures of both years are all kept.
    assert [p["entity"] for p in parsed.summary(2018, 26_000)["rejected"]] == ["A3"]
    assert len(parsed.values) == 5 + 2


def test_a_long_file_reports_every_bad_row_whatever_its_year() -> None:
    summary = read_roster_file(LONG.encode()).summary(2019, 26_000)
    assert (summary["included"], summary["excluded"], summary["rows_other_years"]) == (1, 1, 1)
    assert summary["rejected"] == [
        {"row": 5, "entity": "E3", "reason": "2019: 'Not Reported' is not a number of tonnes"},
        {"row": 6, "entity": "E2", "reason": "2019 of E2 appears again (first in row 4)"},
        {"row": 7, "entity": None, "reason": "no entity id"},
        {"row": 8, "entity": "E4", "reason": "year 'twenty' is not a year between 1990 and 2100"},
    ]


def test_a_repeated_entity_in_a_wide_file_is_rejected_once_with_the_first_row() -> None:
    summary = read_roster_file(b"account_id,2019\nA1,30000\nA1,40000\n").summary(2019, 26_000)
    assert summary["included_t"] == 30_000
    assert summary["rejected"] == [
        {"row": 3, "entity": "A1", "reason": "entity A1 appears again (first in row 2)"}
    ]


def test_an_entity_id_that_is_not_an_id_is_reported() -> None:
    summary = read_roster_file(b"account_id,2019\nbad id,30000\n").summary(2019, 26_000)
    assert summary["rejected"][0]["row"] == 2 and "entity id 'bad id'" in summary["rejected"][0]["reason"]


def test_the_summary_year_defaults_to_the_latest_and_a_missing_year_is_refused() -> None:
    parsed = read_roster_file(WIDE.encode())
    assert parsed.check_year(None) == 2019
    with pytest.raises(Refused) as caught:
        parsed.check_year(2021)
    assert (
        caught.value.refusal.code is Code.ROSTER_INVALID_YEAR and "2018–2019" in caught.value.refusal.message
    )


# --- encodings and Excel ------------------------------------------------------------------------


def test_a_gbk_file_is_read_as_gbk_with_its_chinese_text_intact() -> None:
    text = "企业编号,年份,排放量\n粤A,2019,30000\nGD-1,2019,未报告\nGD-2,2019,26000\n"
    parsed = read_roster_file(text.encode("gbk"), "gbk.csv")
    assert parsed.encoding == "gbk"
    summary = parsed.summary(2019, 26_000)
    assert summary["included"] == 1
    assert summary["rejected"] == [
        {
            "row": 2,
            "entity": "粤A",
            "reason": "entity id '粤A' must be 1-64 letters, digits, '.', '_', ':' or '-'",
        },
        {"row": 3, "entity": "GD-1", "reason": "2019: '未报告' is not a number of tonnes"},
    ]


def test_a_utf8_file_with_a_byte_order_mark_is_read_as_utf8() -> None:
    parsed = read_roster_file("\ufeffaccount_id,2019\nA1,30000\n".encode())
    assert (parsed.encoding, parsed.layout, parsed.values[0].entity) == ("utf-8", Layout.WIDE, "A1")


def test_bytes_that_are_neither_utf8_nor_gbk_are_refused() -> None:
    assert refusal(b"\xff\xfe\xff\xfe\x80\x80").refusal.code is Code.ROSTER_FILE_UNREADABLE


def test_an_excel_workbook_in_wide_layout_keeps_spreadsheet_row_numbers() -> None:
    data = xlsx(
        [
            ["account_id", 2018, 2019],
            [100000, 87923.0, "Not Reported"],
            [100001, 60363, 47925],
            [100002, None, 12],
        ],
        title_rows=2,
    )
    parsed = read_roster_file(data, "eu.xlsx")
    assert (parsed.encoding, parsed.layout, parsed.years) == ("xlsx", Layout.WIDE, (2018, 2019))
    summary = parsed.summary(2019, 26_000)
    assert (summary["included"], summary["excluded"]) == (1, 1)
    assert summary["rejected"] == [
        {"row": 4, "entity": "100000", "reason": "2019: 'Not Reported' is not a number of tonnes"}
    ]


def test_an_excel_workbook_in_long_layout_is_read() -> None:
    data = xlsx(
        [["entity", "year", "emissions_t"], ["E1", 2019, 26000], ["E2", 2019.0, -1], ["E3", 2019, 30000.5]]
    )
    summary = read_roster_file(data, "long.xlsx").summary(2019, 26_000)
    assert summary["included"] == 1
    assert [r["reason"] for r in summary["rejected"]] == [
        "2019: negative emissions (-1) are impossible",
        "2019: 30000.5 is not a whole number of tonnes",
    ]


def test_an_old_xls_or_a_broken_xlsx_is_refused_with_advice() -> None:
    assert ".xlsx or CSV" in refusal(b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls").refusal.message
    assert refusal(b"PK\x03\x04 not really a zip", "broken.xlsx").refusal.code is Code.ROSTER_FILE_UNREADABLE
    assert refusal(b"account_id,2019\n", "named.xlsx").refusal.code is Code.ROSTER_FILE_UNREADABLE


# --- limits -------------------------------------------------------------------------------------


def test_files_beyond_the_limits_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(b"").refusal.code is Code.ROSTER_FILE_UNREADABLE
    monkeypatch.setattr(importer, "file_bytes_max", 10)
    assert refusal(WIDE.encode()).refusal.code is Code.ROSTER_FILE_TOO_LARGE
    monkeypatch.setattr(importer, "file_bytes_max", 10**6)
    monkeypatch.setattr(importer, "rows_max", 3)
    assert refusal(WIDE.encode()).refusal.code is Code.ROSTER_FILE_TOO_LARGE
