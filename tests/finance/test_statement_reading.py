"""Statement files read as rows: CSV in UTF-8, UTF-16 and Windows-1252 with comma, semicolon or tab; XLSX on any sheet
with the header on any of the first rows; files that cannot be read are refused as a whole, with the reason."""

import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from finance.statements.parsing import looks_like_header
from finance.statements.reading import StatementFileError, choose_sheet, read_file

ROWS = [
    ["Tracking code", "Amount", "Client"],
    ["PT-ABCD2345", "1234.56", "Zoë Müller"],
    ["PT-ABCD2346", "7.00", "Ørsted"],
]


def csv_bytes(rows, delimiter: str, encoding: str, title: str = "") -> bytes:
    text = (title + "\r\n\r\n" if title else "") + "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    return text.encode(encoding)


def header_and_rows(data: bytes, name: str = "statement.csv"):
    book = read_file(data, name=name)
    sheet, index = choose_sheet(book, known=[], guess=looks_like_header)
    return book, sheet, index


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expected_encoding"),
    [
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ";", "utf-8-sig"),
        ("utf-16", "\t", "utf-16"),
        ("cp1252", ";", "cp1252"),
    ],
)
def test_csv_encodings_and_delimiters_are_found(encoding, delimiter, expected_encoding):
    data = csv_bytes(ROWS, delimiter, encoding, title=f"Statement{delimiter}January 2026")

    book, sheet, index = header_and_rows(data)

    assert (book.kind, book.encoding, book.delimiter) == ("csv", expected_encoding, delimiter)
    assert sheet.header_cells(index) == ["Tracking code", "Amount", "Client"]
    assert sheet.rows[index][0] == 3  # a title and a blank line above the header
    assert [cells for _, cells in sheet.rows[index + 1 :]] == ROWS[1:]


def test_quoted_delimiters_and_newlines_inside_cells_are_kept():
    data = b'Tracking code,Amount,Note\nPT-ABCD2345,"1,234.56","two\nlines"\n'

    _, sheet, index = header_and_rows(data)

    assert sheet.rows[index + 1] == (2, ["PT-ABCD2345", "1,234.56", "two\nlines"])


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "a.csv", "The file is empty."),
        (b"  \r\n\r\n", "a.csv", "The file is empty."),
        (b"%PDF-1.4 binary", "a.pdf", "This is not a CSV or XLSX file (it looks like a PDF)."),
        (b"\xd0\xcf\x11\xe0 old office", "a.xls", "an old Excel/Office file (.xls): save it as CSV or XLSX first"),
        (
            b'Tracking code,Amount\nPT-ABCD2345,"12.00\n',
            "a.csv",
            "The file ends inside a quoted value that starts on line 2",
        ),
        (b"Tracking code,Amount\n", "a.xlsx", "named like an Excel workbook (.xlsx) but is not one"),
    ],
)
def test_files_that_cannot_be_read_are_refused_whole(data, name, reason):
    with pytest.raises(StatementFileError) as caught:
        read_file(data, name=name)

    assert reason in str(caught.value)


def xlsx_bytes(sheets: dict[str, list[tuple[int, list]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for number, cells in rows:
            for column, value in enumerate(cells, start=1):
                sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_statement_on_a_later_sheet_below_a_title_keeps_typed_cells():
    data = xlsx_bytes(
        {
            "Summary": [(1, ["Acme Lending — statement"]), (2, ["Total", 1241.56])],
            "Lines": [
                (2, ["Commission statement, January 2026"]),
                (4, [None, "Your ref", "Date", "Commission"]),
                (5, [None, "PT-ABCD2345", datetime(2026, 1, 31), 1234.56]),
                (7, [None, "PT-ABCD2346", "31/01/2026", "7,00"]),
            ],
        }
    )

    book, sheet, index = header_and_rows(data, "statement.xlsx")

    assert (book.kind, sheet.name, sheet.rows[index][0]) == ("xlsx", "Lines", 4)
    assert sheet.header_cells(index) == ["Column 1", "Your ref", "Date", "Commission"]
    assert sheet.rows[index + 1 :] == [
        (5, [None, "PT-ABCD2345", datetime(2026, 1, 31), 1234.56]),
        (7, [None, "PT-ABCD2346", "31/01/2026", "7,00"]),
    ]


def test_a_remembered_mapping_finds_its_header_even_with_unusual_names():
    data = xlsx_bytes({"Sheet": [(1, ["Foo", "Bar"]), (3, ["Ref X", "Betrag"]), (4, ["PT-ABCD2345", 12])]})
    book = read_file(data, name="s.xlsx")

    sheet, index = choose_sheet(book, known=["Ref X", "Betrag"], guess=looks_like_header)

    assert sheet.rows[index][0] == 3


def test_a_zip_bomb_is_refused_before_any_xml_is_parsed():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024 * 1024))

    with pytest.raises(StatementFileError) as caught:
        read_file(buffer.getvalue(), name="bomb.xlsx")

    assert "that is not a statement we will open" in str(caught.value)


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(StatementFileError, match=r"This is a zip archive, not an Excel workbook \(\.xlsx\)\."):
        read_file(buffer.getvalue(), name="statement.xlsx")


def test_a_damaged_workbook_is_refused():
    data = xlsx_bytes({"Sheet": [(1, ["Tracking code", "Amount"])]})
    damaged = data[: len(data) // 2]

    with pytest.raises(StatementFileError, match=r"is not a readable one|cannot be read"):
        read_file(damaged, name="statement.xlsx")


def test_a_file_without_a_header_row_is_refused():
    data = xlsx_bytes({"Sheet": [(1, [1, 2]), (2, [3, 4])]})

    with pytest.raises(StatementFileError, match="No header row found in the first 30 rows of any sheet"):
        header_and_rows(data, "numbers.xlsx")
