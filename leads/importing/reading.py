"""Reading the file: its encoding, delimiter and header, then its data rows with their spreadsheet row numbers."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from leads.importing.base import SNIFF_BYTES, ImportFileError, ProgressCallback


@dataclass
class CsvFile:
    encoding: str
    delimiter: str
    headers: list[str]
    size: int
    ends_with_newline: bool = True

    @property
    def delimiter_name(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab"}[self.delimiter]


def _binary_kind(head: bytes) -> str | None:
    signatures = {
        b"PK\x03\x04": "a zip archive or an Excel workbook (.xlsx): save it as CSV first",
        b"\xd0\xcf\x11\xe0": "an old Excel/Office file (.xls): save it as CSV first",
        b"%PDF": "a PDF",
        b"\x89PNG": "an image",
        b"\xff\xd8\xff": "an image",
        b"\x1f\x8b": "a gzip archive",
    }
    for signature, kind in signatures.items():
        if head.startswith(signature):
            return kind
    sample = head[:8192]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or (sample and controls / len(sample) > 0.05):
        return "binary data"
    return None


def _detect_encoding(f: IO[bytes]) -> str:
    f.seek(0)
    head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    else:
        encoding = "utf-8"
    for candidate in (encoding, "cp1252"):
        f.seek(0)
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return candidate
        except UnicodeDecodeError:
            continue
    return "latin-1"  # decodes any byte; Windows-1252 lacks five


def _text(f: IO[bytes], encoding: str) -> io.TextIOWrapper:
    f.seek(0)
    return io.TextIOWrapper(f, encoding=encoding, newline="")  # type: ignore[arg-type]


def _first_record_line(f: IO[bytes], encoding: str) -> str:
    text = _text(f, encoding)
    try:
        chunk = text.read(SNIFF_BYTES)
    finally:
        text.detach()
    for line in chunk.splitlines():
        if line.strip():
            return line
    return ""


def inspect_file(f: IO[bytes], *, encoding: str = "", delimiter: str = "") -> CsvFile:
    """Encoding, delimiter and header of a CSV file, or ImportFileError saying why it cannot be read.
    A known encoding and delimiter (an upload inspected before) skip the detection pass."""
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(SNIFF_BYTES)
    if not head.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ImportFileError("The file is empty.")
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and (kind := _binary_kind(head)):
        raise ImportFileError(f"This is not a CSV text file (it looks like {kind}).")
    encoding = encoding or _detect_encoding(f)
    header_line = _first_record_line(f, encoding)
    if not header_line.strip():
        raise ImportFileError("The file is empty.")
    if not delimiter:
        counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    text = _text(f, encoding)
    try:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        headers = next((row for row in reader if any(cell.strip() for cell in row)), [])
    except csv.Error:
        raise ImportFileError("The header row cannot be read: a quote in it is not closed.") from None
    finally:
        text.detach()
    f.seek(max(size - 4, 0))
    ends_with_newline = f.read().rstrip(b"\x00").endswith((b"\n", b"\r"))
    return CsvFile(encoding, delimiter, _unique_headers(headers), size, ends_with_newline)


def _unique_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, header in enumerate(headers, start=1):
        name = header.strip() or f"Column {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


@dataclass(slots=True)
class RawRow:
    row: int  # spreadsheet row number, header = 1
    cells: list[str]


def iter_rows(f: IO[bytes], csv_file: CsvFile, progress: ProgressCallback | None = None) -> Iterator[RawRow]:
    """Data rows after the header with their row numbers, blank rows skipped. ImportFileError when the file
    is cut off: it ends inside a quoted value, or its last row is short and has no line end."""
    text = _text(f, csv_file.encoding)
    reader = csv.reader(text, delimiter=csv_file.delimiter, strict=True)
    number, header_seen, count = 0, False, 0
    pending: RawRow | None = None
    try:
        while True:
            start_line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise ImportFileError(
                        f"The file ends inside a quoted value that starts on line {start_line}: it looks cut off "
                        "(or a quote is never closed). Nothing was imported."
                    ) from None
                raise ImportFileError(
                    f"Line {start_line}: the quoting is broken ({exc}). Quote values that contain the delimiter "
                    "and double any quote inside a quoted value. Nothing was imported."
                ) from None
            number += 1
            if not header_seen:
                header_seen = any(cell.strip() for cell in cells)
                continue
            if len(cells) <= 1 and not (cells and cells[0].strip()):
                continue  # a blank line
            if pending is not None:
                yield pending
            pending = RawRow(number, cells)
            count += 1
            if progress and count % 5000 == 0:
                progress(count, min(f.tell() / csv_file.size, 1.0) if csv_file.size else 1.0)
        if pending is not None:
            if len(pending.cells) < len(csv_file.headers) and not csv_file.ends_with_newline:
                raise ImportFileError(
                    f"The file ends in the middle of row {pending.row}: it has {len(pending.cells)} of the "
                    f"{len(csv_file.headers)} columns and no line end, so it looks cut off. Nothing was imported."
                )
            yield pending
    finally:
        text.detach()
