"""A partner's statement file as rows of cells: CSV (UTF-8 with or without BOM, UTF-16, Windows-1252; comma,
semicolon or tab) or XLSX (openpyxl in read-only mode, its XML parsed by defusedxml), on any sheet and with its
header on any of the first rows (a title, an address or blank rows above it are fine).

    read_file(data, name=...) -> Workbook: every sheet's rows, (row number as the spreadsheet shows it, cells)
    find_header(sheet, known=...) -> row index of the header: the first row naming every remembered column, else
        the first row in which `guess` recognises an amount and a key column, else the first row of text cells.

The encoding of a CSV is found by the leads import's `inspect_file` (which also refuses what is not text); the
delimiter is chosen over the first lines rather than the first line alone, since a statement often starts with a
title. XLSX cells keep their types (numbers, dates); CSV cells are text. Blank rows are dropped, their numbers kept.
"""

import codecs
import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openpyxl
import openpyxl.xml
from openpyxl.utils.exceptions import InvalidFileException

from leads.importing import ImportFileError, inspect_file

XLSX_SIGNATURE = b"PK\x03\x04"
HEADER_SEARCH_ROWS = 30
SNIFF_CHARS = 64 * 1024
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024  # what a workbook may unpack to (a "zip bomb" is refused before)
MAX_COMPRESSION_RATIO = 200
MAX_ROWS = 500_000
DELIMITERS = (",", ";", "\t")


class StatementFileError(Exception):
    """The file as a whole cannot be read as a statement; the message says why. Nothing was stored."""


@dataclass
class Sheet:
    name: str  # the sheet's name in a workbook; "" for a CSV
    rows: list[tuple[int, list[Any]]]  # (row number, cells), blank rows left out

    def header_cells(self, index: int) -> list[str]:
        """The header row's cells as column names: trimmed text, "Column N" where blank, repeats numbered."""
        seen: Counter[str] = Counter()
        names = []
        for position, cell in enumerate(self.rows[index][1], start=1):
            name = _text(cell) or f"Column {position}"
            seen[name] += 1
            names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
        return names


@dataclass
class Workbook:
    kind: str  # "csv" or "xlsx"
    sheets: list[Sheet]
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)

    def sheet(self, name: str | None) -> Sheet:
        for sheet in self.sheets:
            if sheet.name == name:
                return sheet
        return self.sheets[0]

    @property
    def description(self) -> str:
        if self.kind == "csv":
            names = {",": "comma", ";": "semicolon", "\t": "tab"}
            return f"CSV, {self.encoding.replace('-sig', '')}, {names[self.delimiter]}-separated"
        return f"XLSX workbook, {len(self.sheets)} sheet{'s' if len(self.sheets) != 1 else ''}"


def _text(cell: Any) -> str:
    return "" if cell is None else str(cell).strip()


def _blank(cells: list[Any]) -> bool:
    return not any(_text(cell) for cell in cells)


def read_file(data: bytes, *, name: str = "") -> Workbook:
    """Every sheet of an uploaded statement, or StatementFileError saying why it cannot be read."""
    if not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise StatementFileError("The file is empty.")
    if data.startswith(XLSX_SIGNATURE):
        return _read_xlsx(data)
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise StatementFileError("The file is named like an Excel workbook (.xlsx) but is not one: it may be damaged.")
    return _read_csv(data)


# CSV ----------------------------------------------------------------------------------------------------------


def _read_csv(data: bytes) -> Workbook:
    try:
        encoding = inspect_file(io.BytesIO(data)).encoding
    except ImportFileError as exc:
        message = str(exc).replace("save it as CSV first", "save it as CSV or XLSX first")
        raise StatementFileError(message.replace("CSV text file", "CSV or XLSX file")) from None
    text = data.decode(encoding, errors="strict") if encoding != "latin-1" else data.decode("latin-1")
    if text.startswith("\ufeff"):
        text = text[1:]
    delimiter = _sniff_delimiter(text[:SNIFF_CHARS], cut=len(text) > SNIFF_CHARS)
    rows: list[tuple[int, list[Any]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    while True:
        start_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise StatementFileError(
                    f"The file ends inside a quoted value that starts on line {start_line}: it looks cut off "
                    "(or a quote is never closed). Nothing was imported."
                ) from None
            raise StatementFileError(
                f"Line {start_line}: the quoting is broken ({exc}). Nothing was imported."
            ) from None
        number += 1
        if number > MAX_ROWS:
            raise StatementFileError(f"The file has more than {MAX_ROWS:,} rows; split it into several statements.")
        if not _blank(cells):
            rows.append((number, cells))
    if not rows:
        raise StatementFileError("The file is empty.")
    return Workbook(kind="csv", sheets=[Sheet(name="", rows=rows)], encoding=encoding, delimiter=delimiter)


def _sniff_delimiter(sample: str, *, cut: bool) -> str:
    """The delimiter that splits the most of the first lines into the same number (more than one) of columns
    (`cut`: the sample ends inside the file, so its last line may be partial and is left out)."""
    lines = sample.splitlines()
    lines = [line for line in (lines[:-1] if cut and len(lines) > 1 else lines) if line.strip()][:50]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(cells) for cells in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        common = Counter(width for width in widths if width > 1).most_common(1)
        score = (common[0][1], common[0][0]) if common else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# XLSX ---------------------------------------------------------------------------------------------------------


def _check_archive(data: bytes) -> None:
    """Refuse a workbook that would unpack to far more than it weighs, before any XML is parsed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise StatementFileError("The file starts like an XLSX workbook but is not a readable one.") from None
    unpacked = sum(member.file_size for member in members)
    packed = max(sum(member.compress_size for member in members), 1)
    if unpacked > MAX_UNCOMPRESSED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
        raise StatementFileError(
            f"The workbook unpacks to {unpacked / 1024 / 1024:,.0f} MB from {len(data) / 1024 / 1024:,.1f} MB; "
            "that is not a statement we will open. Save it again, or as CSV."
        )
    if "xl/workbook.xml" not in {member.filename for member in members}:
        raise StatementFileError("This is a zip archive, not an Excel workbook (.xlsx).")


def _unreadable(exc: Exception) -> str:
    return f"The workbook cannot be read ({type(exc).__name__}): save it again, or as CSV."


def _read_xlsx(data: bytes) -> Workbook:
    if not openpyxl.xml.DEFUSEDXML:  # openpyxl parses the workbook's XML with defusedxml when it is installed
        raise StatementFileError("Workbooks cannot be read safely here (defusedxml is missing); upload a CSV.")
    _check_archive(data)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise StatementFileError(_unreadable(exc)) from None
    sheets, total = [], 0
    try:
        for worksheet in book.worksheets:
            worksheet.reset_dimensions()  # some programs write a wrong size; read what is there
            rows = []
            for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
                total += 1
                if total > MAX_ROWS:
                    raise StatementFileError(
                        f"The workbook has more than {MAX_ROWS:,} rows; split it into several statements."
                    )
                cells = list(cells)
                if not _blank(cells):
                    rows.append((number, cells))
            sheets.append(Sheet(name=worksheet.title, rows=rows))
    except StatementFileError:
        raise
    except Exception as exc:  # a damaged workbook fails in many ways inside openpyxl
        raise StatementFileError(_unreadable(exc)) from None
    finally:
        book.close()
    if not any(sheet.rows for sheet in sheets):
        raise StatementFileError("The workbook is empty: no sheet has any cells filled in.")
    return Workbook(kind="xlsx", sheets=sheets)


# The header row ------------------------------------------------------------------------------------------------


def find_header(sheet: Sheet, *, known: list[str], guess: Callable[[list[str]], bool]) -> int | None:
    """Index (into `sheet.rows`) of the header row among the first rows: the first naming every `known` column
    (the partner's remembered mapping), else the first `guess` accepts, else the first row of two or more text
    cells. None when the sheet has no such row."""
    first = sheet.rows[:HEADER_SEARCH_ROWS]
    if known:
        wanted = set(known)
        for index, _ in enumerate(first):
            if wanted <= set(sheet.header_cells(index)):
                return index
    for index, _ in enumerate(first):
        if guess(sheet.header_cells(index)):
            return index
    for index, (_, cells) in enumerate(first):
        filled = [cell for cell in cells if _text(cell)]
        if len(filled) >= 2 and all(isinstance(cell, str) for cell in filled):
            return index
    return None


def choose_sheet(book: Workbook, *, known: list[str], guess: Callable[[list[str]], bool]) -> tuple[Sheet, int]:
    """The sheet that holds the statement and its header row: the first sheet whose header names the remembered
    columns or is recognised, else the first sheet with any header row at all."""
    fallback = None
    for sheet in book.sheets:
        if not sheet.rows:
            continue
        index = find_header(sheet, known=known, guess=guess)
        if index is None:
            continue
        headers = sheet.header_cells(index)
        if (known and set(known) <= set(headers)) or guess(headers):
            return sheet, index
        fallback = fallback or (sheet, index)
    if fallback is None:
        raise StatementFileError(
            f"No header row found in the first {HEADER_SEARCH_ROWS} rows of "
            + ("any sheet" if book.kind == "xlsx" else "the file")
            + ": a row naming the columns (amount, tracking code …)."
        )
    return fallback
