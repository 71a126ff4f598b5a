"""Every CSV and XLSX the app writes goes through here: numbers stay numbers, text can never run as a formula.

A spreadsheet treats a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before one) as a
formula, so a lead named `=HYPERLINK("http://evil.example","Click")` or an uploaded header echoed in a report
would run when Finance opens the file ("CSV injection", OWASP). `safe_cell` writes such text with a leading `'`,
which spreadsheets read as "this is text, not a formula"; int, Decimal, float, date and datetime values stay typed
values (a negative amount is a number, not text starting with "-").

    safe_cell(value) -> the value to write (text escaped, numbers and dates unchanged, None -> "")
    write_csv(rows, file) / csv_response(rows, filename, bom=False) -> StreamingHttpResponse
    write_xlsx(rows, file, sheet_title="Sheet1") / xlsx_response(rows, filename) -> HttpResponse

In XLSX a text cell is always stored as text (never as a formula, whatever it starts with) and a dangerous one
carries Excel's own "quote prefix" style — what typing `'=…` in Excel stores — so the text reads back exactly.
"""

import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_TEXT = 32_767  # Excel's limit for one cell; longer text is cut (marked with "…")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

TYPED = (int, float, Decimal, datetime.date, datetime.time)  # bool is an int; datetime is a date


def is_dangerous(text: str) -> bool:
    return text.startswith(DANGEROUS_PREFIXES)


def safe_cell(value: Any) -> Any:
    """The value as it should be written: text that a spreadsheet would run gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, TYPED):
        return value
    text = str(value)
    return f"'{text}" if is_dangerous(text) else text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


# CSV ----------------------------------------------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    value = safe_cell(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"  # never 1E+3
    return value


def write_csv(rows: Iterable[Iterable[Any]], file: IO[str], *, bom: bool = False) -> None:
    """Write every row through `safe_cell` to a text file (opened with newline="")."""
    if bom:
        file.write(BOM)
    writer = csv.writer(file)
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]], *, bom: bool = False) -> Iterator[str]:
    """The CSV text row by row, for a streaming response (nothing is held in memory)."""
    writer = csv.writer(_Line())
    first = True
    for row in rows:
        line = writer.writerow([_csv_value(value) for value in row])
        yield f"{BOM}{line}" if first and bom else line
        first = False
    if first and bom:
        yield BOM


def csv_response(rows: Iterable[Iterable[Any]], filename: str, *, bom: bool = False) -> StreamingHttpResponse:
    """A CSV download streamed row by row. `bom=True` adds a UTF-8 byte order mark, which Excel needs to read
    non-ASCII text correctly when the file is opened by double-click."""
    response = StreamingHttpResponse(csv_lines(rows, bom=bom), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# XLSX ---------------------------------------------------------------------------------------------------------


def _xlsx_cell(sheet, value: Any) -> WriteOnlyCell:
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value).replace(tzinfo=None)  # Excel has no time zones: local time
    if value is None or isinstance(value, TYPED):
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, Decimal) and value.as_tuple().exponent == -2:
            cell.number_format = "#,##0.00"
        elif isinstance(value, datetime.datetime):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(value, datetime.date):
            cell.number_format = "yyyy-mm-dd"
        return cell
    text = _XML_ILLEGAL.sub("\ufffd", str(value))
    if len(text) > XLSX_MAX_TEXT:
        text = text[: XLSX_MAX_TEXT - 1] + "…"
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # text is text: openpyxl would otherwise store "=…" as a formula
    if is_dangerous(text):
        cell.quotePrefix = True
    return cell


def write_xlsx(rows: Iterable[Iterable[Any]], file: IO[bytes] | str, *, sheet_title: str = "Sheet1") -> None:
    """Write the rows to an XLSX workbook with openpyxl's write-only mode (rows are streamed to disk)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    workbook.save(file)


def xlsx_response(rows: Iterable[Iterable[Any]], filename: str, *, sheet_title: str = "Sheet1") -> HttpResponse:
    buffer = io.BytesIO()
    write_xlsx(rows, buffer, sheet_title=sheet_title)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
