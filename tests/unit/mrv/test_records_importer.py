"""Reading monthly-data files without a database: encodings, Excel, and every kind of bad row."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from carbonmarket.core.results import Code, Refused
from carbonmarket.mrv.records import importer
from carbonmarket.mrv.records.importer import read_monthly_file

HEADER = [
    "entity_id",
    "facility_id",
    "sector",
    "year",
    "month",
    "coal_consumed_t",
    "coal_ncv_gj_per_t",
    "gas_consumed_10k_nm3",
    "electricity_generated_mwh",
    "electricity_supplied_mwh",
    "heat_supplied_gj",
    "operating_hours_h",
    "load_rate_fraction",
    "evidence_lab_report_id",
]


def power_row(month: int, coal: str = "1000", facility: str = "UNIT-1", lab: str = "") -> list[str]:
    return [
        "E-1",
        facility,
        "power",
        "2024",
        str(month),
        coal,
        "20.5",
        "0",
        "3000",
        "2800",
        "0",
        "600",
        "0.7",
        lab,
    ]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def codes(parsed: importer.ParsedFile) -> list[tuple[int, str]]:
    return [(e.row, e.code) for e in parsed.errors]


def test_a_gbk_file_with_chinese_text_is_detected_and_read() -> None:
    data = csv_bytes([power_row(1, lab="华北电科院检测报告-2024-031")], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    parsed = read_monthly_file(data, "月度数据.csv")
    assert (parsed.format, parsed.encoding) == ("csv", "gbk")
    (row,) = parsed.rows
    assert row.row == 2
    assert row.record.evidence == {"lab_report_id": "华北电科院检测报告-2024-031"}
    assert row.record.values["coal_ncv_gj_per_t"] == Decimal("20.5")


def test_utf8_with_a_byte_order_mark_is_read() -> None:
    parsed = read_monthly_file(b"\xef\xbb\xbf" + csv_bytes([power_row(1, lab="实验室")]))
    assert parsed.encoding == "utf-8"
    assert parsed.rows[0].record.evidence["lab_report_id"] == "实验室"


def test_an_excel_workbook_built_here_is_read_with_numbers_and_text() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["E-1", "UNIT-1", "power", 2024, 1, 1000, 20.5, 0, 3000, 2800, 0, 600, 0.7, "LR-1"])
    sheet.append(["E-1", "UNIT-1", "power", 2024.0, 2.0, "1,100", "20.1", 0, 3000, 2800, 0, 600, 0.7, None])
    sheet.append(["E-1", "UNIT-1", "power", 2024, 3, date(2024, 3, 1), 20, 0, 3000, 2800, 0, 600, 0.7, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = read_monthly_file(buffer.getvalue(), "monthly.xlsx")
    assert parsed.format == "xlsx" and parsed.encoding is None
    assert [r.record.values["coal_consumed_t"] for r in parsed.rows] == [Decimal(1000), Decimal(1100)]
    assert parsed.rows[0].record.values["coal_ncv_gj_per_t"] == Decimal("20.5")
    assert parsed.rows[0].record.values["load_rate_fraction"] == Decimal("0.7")
    assert codes(parsed) == [(4, "record_value_not_a_number")]
    assert "a date (2024-03-01" in parsed.errors[0].reason


def test_text_and_negative_numbers_reject_their_rows_and_keep_the_others() -> None:
    parsed = read_monthly_file(
        csv_bytes([power_row(1), power_row(2, coal="Not Reported"), power_row(3, coal="-5"), power_row(4)])
    )
    assert [r.row for r in parsed.rows] == [2, 5]
    assert codes(parsed) == [(3, "record_value_not_a_number"), (4, "record_value_negative")]
    assert parsed.errors[0].parameter == "coal_consumed_t"
    assert parsed.errors[0].facility_id == "UNIT-1" and parsed.errors[0].month == "2"
    assert parsed.rows_total == 4


def test_a_cell_with_another_unit_is_a_unit_mismatch() -> None:
    parsed = read_monthly_file(csv_bytes([power_row(1, coal="1200 kg"), power_row(2, coal="1200 t")]))
    assert codes(parsed) == [(2, "record_unit_mismatch")]
    assert parsed.rows[0].record.values["coal_consumed_t"] == 1200


def test_a_column_whose_unit_suffix_differs_rejects_the_rows_that_use_it() -> None:
    header = [*HEADER, "oil_consumed_kg"]
    parsed = read_monthly_file(csv_bytes([[*power_row(1), "500"], [*power_row(2), ""]], header))
    assert codes(parsed) == [(2, "record_unit_mismatch")]
    assert "oil_consumed_t" in parsed.errors[0].reason and "'kg'" in parsed.errors[0].reason
    assert [r.row for r in parsed.rows] == [3]


def test_a_required_parameter_under_the_wrong_unit_is_reported_once() -> None:
    header = ["coal_consumed_kg" if h == "coal_consumed_t" else h for h in HEADER]
    parsed = read_monthly_file(csv_bytes([power_row(1, coal="1000000")], header))
    assert codes(parsed) == [(2, "record_unit_mismatch")]


def test_an_unknown_column_rejects_the_rows_that_fill_it() -> None:
    header = [*HEADER, "备注"]
    parsed = read_monthly_file(csv_bytes([[*power_row(1), "检修"], [*power_row(2), ""]], header, "gbk"))
    assert codes(parsed) == [(2, "record_unknown_column")]
    assert [r.row for r in parsed.rows] == [3]


def test_every_row_of_a_month_given_twice_is_rejected() -> None:
    parsed = read_monthly_file(
        csv_bytes([power_row(1), power_row(2), power_row(1, coal="900"), power_row(3)])
    )
    assert codes(parsed) == [(2, "record_duplicate_month_in_file"), (4, "record_duplicate_month_in_file")]
    assert "rows 2, 4" in parsed.errors[0].reason
    assert [r.row for r in parsed.rows] == [3, 5]


def test_a_parameter_of_another_sector_and_a_missing_one_are_row_errors() -> None:
    header = [*HEADER, "clinker_output_t"]
    short = power_row(1)
    short[HEADER.index("operating_hours_h")] = ""
    parsed = read_monthly_file(csv_bytes([[*power_row(2), "10"], [*short, ""]], header))
    assert codes(parsed) == [(2, "record_unknown_parameter"), (3, "record_missing_parameter")]


def test_blank_rows_are_skipped_and_row_numbers_match_the_spreadsheet() -> None:
    data = csv_bytes([power_row(1)]) + b",,,,\n" + ",".join(power_row(2, coal="x")).encode() + b"\n"
    parsed = read_monthly_file(data)
    assert codes(parsed) == [(4, "record_value_not_a_number")]


def test_semicolon_separated_files_are_read() -> None:
    lines = [";".join(HEADER), ";".join(power_row(1))]
    assert len(read_monthly_file("\n".join(lines).encode()).rows) == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (csv_bytes([power_row(1)], header=HEADER[1:]), Code.RECORD_COLUMNS_INVALID),
        (csv_bytes([], header=[*HEADER, "month"]), Code.RECORD_COLUMNS_INVALID),
        (b"", Code.RECORD_COLUMNS_INVALID),
        (b"\xff\xfe\xfd" * 3 + b"\xff\xff", Code.RECORD_FILE_UNREADABLE),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, Code.RECORD_FILE_UNREADABLE),
        (b"PK\x03\x04not really a workbook", Code.RECORD_FILE_UNREADABLE),
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_refused(data: bytes, code: Code) -> None:
    with pytest.raises(Refused) as refused:
        read_monthly_file(data)
    assert refused.value.refusal.code is code


def test_files_and_row_counts_have_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "file_bytes_max", 10)
    with pytest.raises(Refused) as refused:
        read_monthly_file(csv_bytes([power_row(1)]))
    assert refused.value.refusal.code is Code.RECORD_FILE_TOO_LARGE
    monkeypatch.setattr(importer, "file_bytes_max", 10**6)
    monkeypatch.setattr(importer, "rows_max", 2)
    with pytest.raises(Refused) as refused:
        read_monthly_file(csv_bytes([power_row(m) for m in (1, 2, 3)]))
    assert refused.value.refusal.code is Code.RECORD_FILE_TOO_LARGE


def test_the_fingerprint_is_the_files_sha256() -> None:
    import hashlib

    data = csv_bytes([power_row(1)])
    assert read_monthly_file(data).file_sha256 == hashlib.sha256(data).hexdigest()
