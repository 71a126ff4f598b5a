"""Partner statements as partners send them (CSV or XLSX bytes), imported and reconciled through the real services."""

import io
from datetime import date

from openpyxl import Workbook

from finance.models import DateOrder
from finance.services.statements import statement_import
from finance.statements.cells import Conventions

HEADERS = ["Tracking code", "Reference", "Email", "Date", "Fee", "Amount", "Currency"]


def line(code="", amount="0.00", *, reference="", email="", day: date | str = "", kind="", currency="EUR") -> list:
    """One row under HEADERS; a date is written day/month/year."""
    when = day.strftime("%d/%m/%Y") if isinstance(day, date) else day
    return [code, reference, email, when, kind, amount, currency]


def statement_csv(rows: list[list], *, headers=HEADERS, delimiter: str = ";", title: str = "Statement") -> bytes:
    """A partner's CSV: a title line, a blank line, the header and the rows (UTF-8)."""
    lines = [title, "", delimiter.join(headers), *(delimiter.join(str(cell) for cell in row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def statement_xlsx(rows: list[list], *, headers=HEADERS, title: str = "Statement", sheet: str = "Lines") -> bytes:
    """A partner's workbook: a cover sheet, then the lines on `sheet` below a title and a blank row."""
    book = Workbook()
    book.active.title = "Cover"
    book.active["A1"] = title
    lines = book.create_sheet(sheet)
    lines.append([title])
    lines.append([])
    lines.append(headers)
    for row in rows:
        lines.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


DOT = Conventions(decimal_separator=".", date_order=DateOrder.DMY, default_currency="EUR")


def reconciled_statement(partner, rows: list[list], *, name: str = "statement.csv", reconcile: bool = True, **kwargs):
    """`rows` imported for `partner` (decimal point, day/month/year, EUR) and reconciled (unless `reconcile=False`)."""
    kwargs.setdefault("conventions", DOT)
    return statement_import(partner=partner, data=statement_csv(rows), name=name, reconcile=reconcile, **kwargs)
