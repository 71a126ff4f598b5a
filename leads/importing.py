"""CSV import of leads: one service behind the import page (a Celery task) and `manage.py import_leads`.

    inspect_file(f)            -> CsvFile (encoding, delimiter, headers) or ImportFileError
    guess_mapping(headers)     -> {header: field} from everyday header spellings
    preview(f, mapping)        -> the first rows parsed, each cell with its value or its problem
    import_file(f, source=...) -> ImportResult: rows = created + updated + duplicates + rejected

Reading: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 (Latin-1 for the bytes it lacks);
`,` `;` or tab, sniffed from the header; quoted newlines; blank lines skipped; extra columns ignored
unless mapped; optional columns may be missing. A file that is not text, is empty or ends inside a
record is refused as a whole with an ImportFileError. Otherwise every data row is either stored or
reported (row number as a spreadsheet shows it, header = 1; column; problem) and the import is one
transaction: a failure leaves what was stored before untouched. A dry run does all of it and rolls back.

Deduplication: a row's key is its external id, or `email:<address in lower case>` when it has none.
A key repeated within the file merges into the first row (later non-blank cells win) and counts as a
duplicate; a key already stored updates that lead (blank cells never erase stored data, do-not-contact
is never cleared) and counts as updated. New and updated leads are evaluated against the source's ICP.

On PostgreSQL new leads are checked against the ICP (the engine's compiled form) and encoded as COPY lines
in the parser thread, then stored with one COPY per table and chunk (`leads/import_pg.py`); leads that
already exist are updated from a temporary staging table in one statement. On SQLite the same checks and
encoding happen before the transaction begins and the rows are stored with one executemany per table
(`leads/import_sqlite.py`), so SQLite's single write lock is held only while they are written. Other databases
use the ORM in batches.

Import jobs (the page's Celery task) hold their job by a token and a lease that a keeper thread renews
(`leads/import_lease.py`); the outcome is recorded in the import's own transaction once the token is checked.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import pickle
import re
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from queue import Full, Queue
from typing import IO, Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.money import CURRENCY_CODES, currency_code
from leads.import_lease import ImportLeaseLost, LeaseKeeper, lease_check, lease_claim
from leads.import_sqlite import KEY_BATCH, NewLeadRows, NewLeadRowWriter, db_value
from leads.models import DisqualificationReason, ImportJob, ImportRowError, ImportStatus, Lead, LeadEvent, LeadSource
from leads.services import published_version
from leads.services.base import date_problem

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
KEY_MAX_LENGTH = 100  # Lead.external_id
PREVIEW_ROWS = 20
SNIFF_BYTES = 64 * 1024
ProgressCallback = Callable[[int, float], None]  # (rows read so far, fraction of the file read)
BeforeCommit = Callable[["ImportResult"], None]  # called inside the import's transaction, just before it ends
StoredCallback = Callable[[int], None]  # (records just stored): after each chunk, inside the transaction


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not text, empty, cut off, bad mapping). Nothing was stored."""


# Fields ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # text, email, int, decimal, bool, datetime, country, currency, latitude, longitude, consent
    max_length: int | None = None
    spellings: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None


def _spec(name, label, kind, max_length=None, spellings=(), low=None, high=None) -> FieldSpec:
    return FieldSpec(name, label, kind, max_length, tuple(spellings), low, high)


FIELDS: tuple[FieldSpec, ...] = (
    _spec(
        "external_id",
        "External id",
        "text",
        100,
        [
            "id",
            "external id",
            "lead id",
            "record id",
            "reference",
            "ref",
            "crm id",
            "contact id",
            "lead reference",
            "lead ref",
        ],
    ),
    _spec(
        "email",
        "Email",
        "email",
        254,
        [
            "email",
            "email address",
            "e mail",
            "e mail address",
            "work email",
            "business email",
            "contact email",
            "mail",
            "emailaddress",
        ],
    ),
    _spec("name", "Name", "text", 200, ["name", "full name", "contact name", "contact", "your name", "lead name"]),
    _spec(
        "first_name",
        "First name (joined into name)",
        "text",
        100,
        ["first name", "firstname", "given name", "forename", "first"],
    ),
    _spec(
        "last_name",
        "Last name (joined into name)",
        "text",
        100,
        ["last name", "lastname", "surname", "family name", "last"],
    ),
    _spec(
        "company",
        "Company",
        "text",
        200,
        [
            "company",
            "company name",
            "organisation",
            "organization",
            "organisation name",
            "organization name",
            "business",
            "business name",
            "account",
            "account name",
            "employer",
            "firm",
            "school",
            "institution",
        ],
    ),
    _spec(
        "title",
        "Role / title",
        "text",
        200,
        ["title", "job title", "role", "position", "job role", "job", "job position"],
    ),
    _spec(
        "is_decision_maker",
        "Decision maker",
        "bool",
        None,
        ["decision maker", "is decision maker", "budget holder", "decision maker yn"],
    ),
    _spec(
        "phone",
        "Phone",
        "text",
        50,
        ["phone", "phone number", "telephone", "tel", "mobile", "mobile number", "cell", "contact number"],
    ),
    _spec("country", "Country", "country", 2, ["country", "country code", "nation", "country region", "country iso"]),
    _spec(
        "postal_code", "Postal code", "text", 20, ["postal code", "postcode", "post code", "zip", "zip code", "zipcode"]
    ),
    _spec("latitude", "Latitude", "latitude", None, ["latitude", "lat"]),
    _spec("longitude", "Longitude", "longitude", None, ["longitude", "lon", "lng", "long"]),
    _spec(
        "employees",
        "Employees",
        "int",
        None,
        [
            "employees",
            "no of employees",
            "no employees",
            "number of employees",
            "num employees",
            "nr of employees",
            "employee count",
            "headcount",
            "head count",
            "company size",
            "staff",
            "no of staff",
            "number of staff",
            "team size",
        ],
        low=0,
        high=10_000_000,
    ),
    _spec(
        "budget",
        "Budget",
        "decimal",
        None,
        [
            "budget",
            "budget amount",
            "annual budget",
            "spend",
            "deal size",
            "estimated budget",
            "monthly budget",
            "amount",
        ],
    ),
    _spec("budget_currency", "Budget currency", "currency", 3, ["currency", "budget currency", "ccy"]),
    _spec("industry", "Industry", "text", 100, ["industry", "sector", "vertical", "line of business"]),
    _spec(
        "product_interest",
        "Product interest",
        "text",
        200,
        [
            "product",
            "product interest",
            "interested in",
            "interest",
            "service",
            "product of interest",
            "service of interest",
            "course",
            "plan",
        ],
    ),
    _spec(
        "timeline",
        "Timeline",
        "text",
        100,
        ["timeline", "timeframe", "time frame", "when", "buying timeline", "purchase timeline", "start date wanted"],
    ),
    _spec("credit_score", "Credit score", "int", None, ["credit score", "credit rating"], low=0, high=1000),
    _spec(
        "message",
        "Message",
        "text",
        10_000,
        [
            "message",
            "comments",
            "comment",
            "notes",
            "note",
            "enquiry",
            "inquiry",
            "description",
            "details",
            "your message",
            "question",
        ],
    ),
    _spec(
        "received_at",
        "Received at",
        "datetime",
        None,
        [
            "received",
            "received at",
            "date",
            "created",
            "created at",
            "created date",
            "submitted",
            "submitted at",
            "timestamp",
            "date received",
            "enquiry date",
            "date submitted",
        ],
    ),
    _spec(
        "marketing_consent",
        "Marketing consent (yes/no or when given)",
        "consent",
        None,
        [
            "marketing consent",
            "marketing opt in",
            "opt in",
            "opted in",
            "newsletter",
            "consent marketing",
            "email opt in",
        ],
    ),
    _spec(
        "marketing_consent_version",
        "Marketing consent wording version",
        "text",
        50,
        ["marketing consent version", "marketing consent wording", "opt in version"],
    ),
    _spec(
        "partner_sharing_consent",
        "Partner-sharing consent (yes/no or when given)",
        "consent",
        None,
        [
            "partner consent",
            "partner sharing consent",
            "share with partners",
            "partner sharing",
            "consent to share",
            "third party consent",
        ],
    ),
    _spec(
        "partner_sharing_consent_version",
        "Partner-sharing consent wording version",
        "text",
        50,
        ["partner consent version", "partner sharing consent version", "partner consent wording"],
    ),
    _spec(
        "do_not_contact",
        "Do not contact",
        "bool",
        None,
        ["do not contact", "dnc", "unsubscribed", "opt out", "opted out", "no contact"],
    ),
)
FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
ATTRIBUTE_PREFIX = "attributes."
DEFAULT_CONSENT_VERSION = "csv-import"
# Columns of Lead an import may write (pseudo-fields map onto them).
LEAD_COLUMNS = (
    "email", "name", "company", "title", "is_decision_maker", "phone", "country", "postal_code", "latitude",
    "longitude", "employees", "budget", "budget_currency", "industry", "product_interest", "timeline",
    "credit_score", "message", "marketing_consent_at", "marketing_consent_version", "partner_sharing_consent_at",
    "partner_sharing_consent_version", "do_not_contact",
)  # fmt: skip


def normalise_header(header: str) -> str:
    text = header.strip().lower().replace("nº", "no").replace("#", " no ")
    text = re.sub(r"\([^)]*\)", " ", text)  # "Budget (£)" -> "budget"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_SPELLINGS = {normalise_header(s): spec.name for spec in FIELDS for s in (spec.name.replace("_", " "), *spec.spellings)}


def guess_mapping(headers: list[str], attribute_keys: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """{header: field or ""}: each field taken by the first header spelled like it; a header named like an
    attribute the ICP tests maps to `attributes.<key>`; anything else is skipped."""
    mapping, taken = {}, set()
    attributes = {normalise_header(key): key for key in attribute_keys}
    for header in headers:
        norm = normalise_header(header)
        guess = _SPELLINGS.get(norm) or _SPELLINGS.get(norm.removeprefix("lead ").removeprefix("contact "))
        if guess is None and norm in attributes:
            guess = ATTRIBUTE_PREFIX + attributes[norm]
        if guess and guess not in taken:
            mapping[header] = guess
            taken.add(guess)
        else:
            mapping[header] = ""
    return mapping


def field_choices() -> list[tuple[str, str]]:
    return [(spec.name, spec.label) for spec in FIELDS]


def validate_mapping(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """The mapping with skipped columns dropped, or ImportFileError naming the column and the problem."""
    problems, used, clean = [], {}, {}
    for header, target in mapping.items():
        target = (target or "").strip()
        if not target:
            continue
        if header not in headers:
            problems.append(f"column “{header}” is not in the file")
        elif target.startswith(ATTRIBUTE_PREFIX):
            key = target.removeprefix(ATTRIBUTE_PREFIX)
            if not re.fullmatch(r"[A-Za-z0-9_]{1,50}", key):
                problems.append(f"column “{header}”: attribute names use letters, digits and _ (got “{key}”)")
        elif target not in FIELDS_BY_NAME:
            problems.append(f"column “{header}”: “{target}” is not a lead field")
        if target in used:
            problems.append(f"columns “{used[target]}” and “{header}” are both mapped to {target}")
        used.setdefault(target, header)
        clean[header] = target
    if "email" not in used:
        problems.append("no column is mapped to email (every lead needs one)")
    if problems:
        raise ImportFileError("Column mapping: " + "; ".join(problems) + ".")
    return clean


# Reading the file -------------------------------------------------------------------------------------------


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


# Values -----------------------------------------------------------------------------------------------------

_TRUE = {"yes", "y", "true", "t", "1", "x", "ja", "oui", "si", "sí", "✓", "✔"}
_FALSE = {"no", "n", "false", "f", "0", "nein", "non", "-"}
_BOOLEANS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}  # exact cells: the short path
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_LABEL}(?:\.{_LABEL})+$")
_CURRENCY_SYMBOLS = {"£": "GBP", "€": "EUR", "$": "USD", "¥": "JPY", "₹": "INR", "CHF": "CHF", "kr": "SEK"}
_NUMBER_JUNK = re.compile(r"[\s'£€$¥₹]|CHF|kr|GBP|EUR|USD", re.IGNORECASE)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%d %b %Y",
    "%d %B %Y",
)
COUNTRY_NAMES = {
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "britain": "GB", "ireland": "IE", "republic of ireland": "IE", "united states": "US",
    "united states of america": "US", "usa": "US", "us": "US", "america": "US", "canada": "CA", "mexico": "MX",
    "brazil": "BR", "argentina": "AR", "chile": "CL", "colombia": "CO", "peru": "PE", "germany": "DE",
    "deutschland": "DE", "france": "FR", "spain": "ES", "espana": "ES", "españa": "ES", "portugal": "PT",
    "italy": "IT", "italia": "IT", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "belgium": "BE",
    "luxembourg": "LU", "switzerland": "CH", "austria": "AT", "denmark": "DK", "sweden": "SE", "norway": "NO",
    "finland": "FI", "iceland": "IS", "poland": "PL", "czech republic": "CZ", "czechia": "CZ", "slovakia": "SK",
    "hungary": "HU", "romania": "RO", "bulgaria": "BG", "greece": "GR", "croatia": "HR", "slovenia": "SI",
    "serbia": "RS", "estonia": "EE", "latvia": "LV", "lithuania": "LT", "ukraine": "UA", "turkey": "TR",
    "turkiye": "TR", "türkiye": "TR", "israel": "IL", "united arab emirates": "AE", "uae": "AE",
    "saudi arabia": "SA", "qatar": "QA", "egypt": "EG", "morocco": "MA", "nigeria": "NG", "kenya": "KE",
    "ghana": "GH", "south africa": "ZA", "india": "IN", "pakistan": "PK", "bangladesh": "BD", "sri lanka": "LK",
    "china": "CN", "hong kong": "HK", "taiwan": "TW", "japan": "JP", "south korea": "KR", "korea": "KR",
    "singapore": "SG", "malaysia": "MY", "indonesia": "ID", "thailand": "TH", "vietnam": "VN", "viet nam": "VN",
    "philippines": "PH", "australia": "AU", "new zealand": "NZ", "cyprus": "CY", "malta": "MT",
}  # fmt: skip


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"“{raw}” is not yes or no")


def _clean_number(raw: str) -> str:
    text = _NUMBER_JUNK.sub("", raw.strip())
    if "," in text and "." in text:  # 1,234.50 or 1.234,50: the last one is the decimal point
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        whole, _, fraction = text.rpartition(",")
        text = f"{whole.replace(',', '')}.{fraction}" if len(fraction) != 3 else text.replace(",", "")
    return text


def _parse_int(raw: str, spec: FieldSpec) -> int:
    stripped = raw.strip()
    text = stripped.replace(".", "") if re.fullmatch(r"\d{1,3}(\.\d{3})+", stripped) else _clean_number(raw)
    try:
        number = Decimal(text)
    except InvalidOperation:
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", raw.strip()):
            raise ValueError(f"“{raw}” is a range; give one number") from None
        raise ValueError(f"“{raw}” is not a whole number") from None
    if number != number.to_integral_value():
        raise ValueError(f"“{raw}” is not a whole number")
    if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
        raise ValueError(f"{raw.strip()} is out of range ({spec.low}–{spec.high:,})")
    return int(number)


def _parse_decimal(raw: str, low: Decimal, high: Decimal, places: int) -> Decimal:
    try:
        number = Decimal(_clean_number(raw))
    except InvalidOperation:
        raise ValueError(f"“{raw}” is not a number") from None
    if not number.is_finite() or not low <= number <= high:
        raise ValueError(f"{raw.strip()} is out of range ({low} to {high})")
    return round(number, places)


def _parse_datetime(raw: str, default_tz) -> datetime:
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"“{raw}” is not a date (use 2026-11-23, 2026-11-23 14:30 or 23/11/2026)") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, default_tz)
    return value


def _as_fragment(sentence: str) -> str:
    """A service's sentence ("Must be from …") as the import words its messages ("must be from …")."""
    return sentence[:1].lower() + sentence[1:].removesuffix(".")


def _parse_country(raw: str) -> str:
    text = raw.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    code = COUNTRY_NAMES.get(" ".join(text.lower().replace(".", "").split()))
    if code is None:
        raise ValueError(f"“{raw}” is not a country we know; use its two-letter code (e.g. GB)")
    return code


def _currency_symbol(raw: str) -> str | None:
    return next((code for symbol, code in _CURRENCY_SYMBOLS.items() if symbol in raw), None)


def _attribute_value(raw: str) -> Any:
    text = raw.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text) and len(text.lstrip("-").replace(".", "").lstrip("0")) <= 15:
        # A JSON number (what ICP number criteria test). With at most 15 significant digits the float
        # carries exactly the decimal written in the file; a longer one stays text rather than be rounded.
        return float(text)
    return text


# Rows -> records --------------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(slots=True)
class Record:
    """One accepted row: Lead column values (only those the file gives), attributes, and its dedupe key."""

    row: int
    key: str
    values: dict[str, Any]
    attributes: dict[str, Any]
    received_at: datetime | None
    repeat: bool = False  # its key was already stored by an earlier chunk of this file
    # Filled by PostgresStore.prepare: the verdict's band, the order of arrival, the COPY lines.
    band: str = ""
    sort_key: datetime | None = None
    lines: tuple[str, str, str] = ()


class RowParser:
    """Turns raw cells into a Record or a list of RowErrors, by the mapping. Built once per file."""

    def __init__(self, csv_file: CsvFile, mapping: dict[str, str]):
        self.mapping = validate_mapping(mapping, csv_file.headers)
        self.width = len(csv_file.headers)
        self.headers = csv_file.headers
        self.columns = [
            (index, header, self.mapping[header])
            for index, header in enumerate(csv_file.headers)
            if self.mapping.get(header)
        ]
        self.tz = timezone.get_current_timezone()
        self.now = timezone.now()
        self.has_external_id = "external_id" in self.mapping.values()
        # (index, header, target, attribute key or None, converter) per mapped column, decided once.
        self.converters = [
            (index, header, target, target.removeprefix(ATTRIBUTE_PREFIX), _attribute_value)
            if target.startswith(ATTRIBUTE_PREFIX)
            else (index, header, target, None, self._converter(FIELDS_BY_NAME[target]))
            for index, header, target in self.columns
        ]
        self._headers = {target: header for _, header, target in self.columns}

    def parse(self, raw: RawRow) -> tuple[Record | None, list[RowError]]:
        cells = raw.cells
        if len(cells) > self.width and any(cell.strip() for cell in cells[self.width :]):
            return None, [
                RowError(
                    raw.row,
                    "",
                    f"{len(cells)} values but the header has {self.width} columns "
                    "(an unquoted delimiter inside a value?)",
                )
            ]
        if len(cells) < self.width:
            return None, [RowError(raw.row, "", f"{len(cells)} values but the header has {self.width} columns")]
        if "\x00" in "".join(cells):  # no database column can hold it
            column = next(h for h, cell in zip(self.headers, cells, strict=False) if "\x00" in cell)
            return None, [RowError(raw.row, column, "contains a NUL character (binary data in a text file?)")]
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        errors: list[RowError] = []
        for index, header, target, key, convert in self.converters:
            cell = cells[index]
            if not cell or cell.isspace():
                continue
            try:
                if key is not None:
                    attributes[key] = convert(cell)
                else:
                    values[target] = convert(cell)
                    if target == "budget" and not cell.isdigit() and (symbol := _currency_symbol(cell)):
                        values["_budget_symbol"] = symbol
            except ValueError as exc:
                errors.append(RowError(raw.row, header, str(exc)))
        self._combine(values, raw.row, errors)
        if errors:
            return None, errors
        email = values["email"]
        external_id = values.pop("external_id", "")
        received_at = values.pop("received_at", None)
        key = external_id or f"email:{email.lower()}"
        if len(key) > KEY_MAX_LENGTH:  # the key is stored as the lead's external id
            message = f"too long to identify the lead by (at most {KEY_MAX_LENGTH - 6} characters without an id)"
            return None, [RowError(raw.row, self._header_of("email"), message)]
        return Record(raw.row, key, values, attributes, received_at), []

    def _combine(self, values: dict[str, Any], row: int, errors: list[RowError]) -> None:
        first, last = values.pop("first_name", ""), values.pop("last_name", "")
        if (first or last) and not values.get("name"):
            values["name"] = f"{first} {last}".strip()[:200]
        if "email" not in values and not any(e.column == self._header_of("email") for e in errors):
            errors.append(RowError(row, self._header_of("email"), "required: every lead needs an email address"))
        received_at = values.get("received_at")
        if received_at is not None and (problem := date_problem("received_at", received_at, self.now)):
            errors.append(RowError(row, self._header_of("received_at"), _as_fragment(problem)))
        if values.get("budget") is not None and not values.get("budget_currency"):
            symbol = values.pop("_budget_symbol", None)
            if symbol:
                values["budget_currency"] = symbol
            else:
                errors.append(RowError(row, self._header_of("budget"), "a budget needs a currency (add a currency "
                                       "column or write it as £12,000)"))  # fmt: skip
        values.pop("_budget_symbol", None)
        if ("latitude" in values) != ("longitude" in values):
            missing = "longitude" if "latitude" in values else "latitude"
            errors.append(RowError(row, self._header_of(missing) or missing, "give latitude and longitude together"))
        for kind in ("marketing", "partner_sharing"):
            given = values.pop(f"{kind}_consent", None)
            if given is True:
                values[f"{kind}_consent_at"] = received_at or self.now
            elif isinstance(given, datetime):
                if problem := date_problem("consent", given, self.now):  # the dates the API and edits accept too
                    errors.append(RowError(row, self._header_of(f"{kind}_consent"), _as_fragment(problem)))
                values[f"{kind}_consent_at"] = given
            if f"{kind}_consent_at" in values:
                values.setdefault(f"{kind}_consent_version", DEFAULT_CONSENT_VERSION)
            else:
                values.pop(f"{kind}_consent_version", None)  # a wording version without consent means nothing

    def _header_of(self, target: str) -> str:
        return self._headers.get(target, "")

    def _converter(self, spec: FieldSpec) -> Callable[[str], Any]:
        """The cell -> value function for a field: the everyday shapes (plain digits, ISO dates, two-letter
        codes) take a short path; anything else goes through `_value`, so both give the same result."""
        kind, slow = spec.kind, (lambda cell: self._value(spec, cell))
        if kind == "int":
            low, high = spec.low, spec.high

            def whole(cell: str) -> int:
                if cell.isdigit() and cell.isascii() and len(cell) < 16:
                    number = int(cell)
                    if (low is None or number >= low) and (high is None or number <= high):
                        return number
                return slow(cell)

            return whole
        if kind == "decimal" or kind in ("latitude", "longitude"):
            low, high, places = {
                "decimal": (Decimal(0), Decimal("999999999999.99"), 2),
                "latitude": (Decimal(-90), Decimal(90), 6),
                "longitude": (Decimal(-180), Decimal(180), 6),
            }[kind]

            def number(cell: str) -> Decimal:
                if _PLAIN_NUMBER.fullmatch(cell):
                    value = Decimal(cell)
                    if low <= value <= high:
                        return round(value, places)
                return slow(cell)

            return number
        tz = self.tz

        def iso(text: str, cell: str) -> datetime:  # what `_parse_datetime` makes of an ISO date, sooner
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                return slow(cell)
            return value if value.utcoffset() is not None else timezone.make_aware(value, tz)

        if kind == "datetime":
            return lambda cell: iso(cell.strip(), cell) if "Z" not in cell else slow(cell)
        if kind == "bool":
            return lambda cell: _BOOLEANS[cell] if cell in _BOOLEANS else slow(cell)
        if kind == "consent":

            def consent(cell: str) -> bool | datetime:
                if cell in _BOOLEANS:
                    return _BOOLEANS[cell]
                return iso(cell, cell) if cell[:1].isdigit() and "Z" not in cell else slow(cell)

            return consent
        if kind == "country":
            return lambda cell: cell.upper() if len(cell) == 2 and cell.isalpha() else slow(cell)
        if kind == "currency":
            return lambda cell: cell if cell in CURRENCY_CODES else slow(cell)
        if kind == "text":
            limit = spec.max_length

            def text(cell: str) -> str:
                value = cell.strip()
                if limit and len(value) > limit:
                    return slow(cell)
                return value

            return text
        return slow

    def _value(self, spec: FieldSpec, cell: str) -> Any:
        kind = spec.kind
        if kind == "text":
            text = cell.strip()
            if spec.max_length and len(text) > spec.max_length:
                raise ValueError(f"too long ({len(text)} characters; at most {spec.max_length})")
            return text
        if kind == "email":
            text = cell.strip()
            if len(text) > 254 or not _EMAIL.match(text):
                raise ValueError(f"“{text}” is not an email address")
            return text
        if kind == "int":
            return _parse_int(cell, spec)
        if kind == "decimal":
            return _parse_decimal(cell, Decimal(0), Decimal("999999999999.99"), 2)
        if kind == "bool":
            return _parse_bool(cell)
        if kind == "datetime":
            return _parse_datetime(cell, self.tz)
        if kind == "country":
            return _parse_country(cell)
        if kind == "currency":
            return currency_code(cell)  # ISO 4217; its AmountError (a ValueError) says why, e.g. "POU" or "pounds"
        if kind == "latitude":
            return _parse_decimal(cell, Decimal(-90), Decimal(90), 6)
        if kind == "longitude":
            return _parse_decimal(cell, Decimal(-180), Decimal(180), 6)
        if kind == "consent":
            try:
                return _parse_bool(cell)
            except ValueError:
                try:
                    return _parse_datetime(cell, self.tz)
                except ValueError:
                    raise ValueError(f"“{cell}” is neither yes/no nor the date consent was given") from None
        raise AssertionError(kind)


# The import -------------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    bands: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    # Seconds by stage (database statements by kind, the parser thread's CPU time): for `bench import`.
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
            "bands": self.bands,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": self.mapping,
            "errors": [error.as_dict() for error in self.errors],
        }


def _chunks(rows: Iterator[RawRow], parser: RowParser, result: ImportResult, size: int) -> Iterator[list[Record]]:
    """Accepted records in chunks, repeats within a chunk merged (later non-blank cells win)."""
    seen: set[str] = set()
    chunk: dict[str, Record] = {}
    for raw in rows:
        result.rows += 1
        record, errors = parser.parse(raw)
        if errors:
            result.rejected += 1
            result.errors.extend(errors)
            continue
        earlier = chunk.get(record.key)
        if earlier is not None:
            earlier.values.update(record.values)
            earlier.attributes.update(record.attributes)
            if record.values.get("do_not_contact") is False and earlier.values.get("do_not_contact"):
                earlier.values["do_not_contact"] = True  # never cleared
            result.duplicates += 1
            continue
        if record.key in seen:  # stored by an earlier chunk of this file: an update, counted as a duplicate
            record.repeat = True
            result.duplicates += 1
        seen.add(record.key)
        chunk[record.key] = record
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def _prefetched(iterator: Iterator[list[Record]], timings: dict[str, float]) -> Iterator[list[Record]]:
    """Parse the next chunk in a thread while the database stores this one (psycopg waits without the GIL).
    The thread's CPU time goes into `timings["parser_cpu"]`, the time the database side waited for it into
    `timings["wait_for_parser"]`."""
    queue: Queue = Queue(maxsize=2)
    done, stop = object(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.2)
                return True
            except Full:
                continue
        return False

    def produce():
        started = time.thread_time()
        try:
            for item in iterator:
                if not put(item):
                    return  # the consumer gave up (the import failed)
            timings["parser_cpu"] = time.thread_time() - started
            put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="csv-import-parser", daemon=True)
    thread.start()
    waited = 0.0
    try:
        while True:
            started = time.perf_counter()
            item = queue.get()
            waited += time.perf_counter() - started
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        timings["wait_for_parser"] = waited
    finally:
        stop.set()
        thread.join(timeout=5)


def import_file(
    f: IO[bytes],
    *,
    source: LeadSource,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    label: str = "",
    actor=None,
    progress: ProgressCallback | None = None,
    chunk_rows: int = CHUNK_ROWS,
    before_commit: BeforeCommit | None = None,
    on_stored: StoredCallback | None = None,
) -> ImportResult:
    """Import a CSV of leads into `source`. ImportFileError (nothing stored) when the file as a whole is
    unusable; otherwise every row is stored or reported in `result.errors`. One transaction; `before_commit`
    runs inside it with the result, `on_stored` after each chunk (an exception in either stores nothing)."""
    from leads.services import icp_attribute_keys

    csv_file = inspect_file(f)
    if mapping is None:
        mapping = guess_mapping(csv_file.headers, icp_attribute_keys(source))
    parser = RowParser(csv_file, mapping)
    result = ImportResult(
        dry_run=dry_run, encoding=csv_file.encoding, delimiter=csv_file.delimiter, mapping=parser.mapping
    )
    label = label or "CSV import"
    actor_label = "" if actor is not None else f"import:{source.slug}"
    store_class = {"postgresql": PostgresStore, "sqlite": SqliteStore}.get(connection.vendor, OrmStore)
    try:
        _run(
            f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows,
            before_commit, on_stored,
        )  # fmt: skip
    except IntegrityError as exc:
        if "unique" not in str(exc).lower():
            raise
        raise ImportFileError(
            "Some of these leads were stored by someone else while the file was importing "
            f"({str(exc).splitlines()[0]}). Nothing was imported; run the import again."
        ) from None
    if progress:
        progress(result.rows, 1.0)
    return result


@contextmanager
def _quick_thread_handoffs() -> Iterator[None]:
    """While the parser thread runs, hand the GIL over sooner. The database thread waits on the server after
    every COPY block and every query, and with Python's default 5 ms switch interval each return from such a
    wait queued behind the busy parser (measured: 20.0 s -> 16.5 s for 200,000 rows). Restored after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _run(
    f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows, before_commit,
    on_stored,
) -> None:  # fmt: skip
    if store_class.prepares_first:
        _run_prepared_first(
            f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows,
            before_commit, on_stored,
        )  # fmt: skip
        return
    threaded = connection.vendor == "postgresql"
    with transaction.atomic(), _quick_thread_handoffs() if threaded else nullcontext():
        store = store_class(source=source, label=label, actor=actor, actor_label=actor_label)
        chunks = _chunks(iter_rows(f, csv_file, progress), parser, result, chunk_rows)
        if hasattr(store, "prepare"):
            chunks = map(store.prepare, chunks)
        feed = _prefetched(chunks, result.timings) if threaded else chunks
        try:
            for chunk in feed:
                _store_chunk(store, chunk, result, on_stored)
        finally:
            feed.close()  # stops the parsing thread when the database side fails
        _finish(store, result, before_commit)


def _run_prepared_first(
    f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows, before_commit,
    on_stored,
) -> None:  # fmt: skip
    """SQLite: read, check and encode the whole file first (spooled to a temporary file, one chunk in memory at a
    time), then store it in one transaction, so the database's write lock is held only while prepared rows are
    written. `timings["db_transaction"]`: how long it was held."""
    store = store_class(source=source, label=label, actor=actor, actor_label=actor_label)
    with _Spool() as spool:
        started = time.perf_counter()
        for chunk in _chunks(iter_rows(f, csv_file, progress), parser, result, chunk_rows):
            spool.add(store.prepare(chunk))
        result.timings["prepare"] = time.perf_counter() - started
        started = time.perf_counter()
        with store.waiting_for_the_lock(), transaction.atomic():
            for chunk in spool.chunks():
                _store_chunk(store, chunk, result, on_stored)
            _finish(store, result, before_commit)
        result.timings["db_transaction"] = time.perf_counter() - started


def _store_chunk(store: _Store, chunk: list[Record], result: ImportResult, on_stored: StoredCallback | None) -> None:
    created, updated = store.write(chunk)
    result.created += created
    result.updated += updated
    if on_stored is not None:
        on_stored(len(chunk))


def _finish(store: _Store, result: ImportResult, before_commit: BeforeCommit | None) -> None:
    """The end of the import's transaction: evaluate what needs it, let the caller check and record (its
    `before_commit`), roll a dry run back."""
    result.bands = store.finish()
    result.timings.update(store.timings)
    if before_commit is not None:
        before_commit(result)
    if result.dry_run:
        transaction.set_rollback(True)


class _Spool:
    """Prepared chunks kept until the transaction stores them: the first in memory, the others in an anonymous
    temporary file (deleted when closed, or by the operating system if the process dies), so a large file never
    sits in memory whole."""

    IN_MEMORY = 1

    def __enter__(self) -> _Spool:
        self.held: list[list[Record]] = []
        self.file: IO[bytes] | None = None
        self.count = 0
        return self

    def __exit__(self, *exc_info) -> None:
        if self.file is not None:
            self.file.close()

    def add(self, chunk: list[Record]) -> None:
        if len(self.held) < self.IN_MEMORY:
            self.held.append(chunk)
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        pickle.dump(chunk, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def chunks(self) -> Iterator[list[Record]]:
        while self.held:
            yield self.held.pop(0)
        if self.file is not None:
            self.file.seek(0)
            for _ in range(self.count):
                yield pickle.load(self.file)  # noqa: S301 - our own records, written by add() in this process


def import_path(path: str | Path, **kwargs) -> ImportResult:
    with open(path, "rb") as f:
        return import_file(f, **kwargs)


class _Store(ABC):
    prepares_first = False  # True: `prepare` every chunk before the transaction begins (SQLite's write lock)

    def __init__(self, *, source: LeadSource, label: str, actor, actor_label: str):
        self.source = source
        self.label = label
        self.actor_id = actor.pk if actor is not None else None
        self.actor_label = actor_label
        self.now = timezone.now()
        self.sla = timedelta(hours=source.sla_hours)
        self.timings: dict[str, float] = {}  # seconds by kind of database work

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[kind] = self.timings.get(kind, 0.0) + time.perf_counter() - started

    @abstractmethod
    def write(self, records: list[Record]) -> tuple[int, int]:
        """Store one chunk of accepted records; returns (created, updated)."""

    @abstractmethod
    def finish(self) -> dict[str, int]:
        """Evaluate what needs it after the last chunk; returns leads per band."""


class OrmStore(_Store):
    """Any database: the ORM in batches, then one set-based evaluation of every lead touched."""

    batch = 500

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.touched: list[int] = []

    def write(self, records: list[Record]) -> tuple[int, int]:
        created = updated = 0
        for start in range(0, len(records), self.batch):
            batch = records[start : start + self.batch]
            existing = {
                lead.external_id: lead
                for lead in Lead.objects.filter(source=self.source, external_id__in=[r.key for r in batch])
            }
            new, changed, events = [], [], []
            for record in batch:
                lead = existing.get(record.key)
                if lead is None:
                    received = record.received_at or self.now
                    lead = Lead(
                        source=self.source,
                        external_id=record.key,
                        received_at=received,
                        respond_by=received + self.sla,
                        attributes=dict(record.attributes),
                        **record.values,
                    )
                    new.append((lead, record))
                else:
                    for name, value in record.values.items():
                        setattr(lead, name, (lead.do_not_contact or value) if name == "do_not_contact" else value)
                    lead.attributes = {**(lead.attributes or {}), **record.attributes}
                    lead.updated_at = self.now
                    changed.append((lead, record))
                    updated += 0 if record.repeat else 1
            Lead.objects.bulk_create([lead for lead, _ in new])
            if changed:
                Lead.objects.bulk_update(
                    [lead for lead, _ in changed], [*LEAD_COLUMNS, "attributes", "updated_at"], batch_size=self.batch
                )
            for lead, record in new:
                events.append(self._event(lead, "received", record, lead.received_at))
            for lead, record in changed:
                events.append(self._event(lead, "updated", record, self.now))
            LeadEvent.objects.bulk_create(events)
            self.touched.extend(lead.pk for lead, _ in (*new, *changed))
            created += len(new)
        return created, updated

    def _event(self, lead: Lead, verb: str, record: Record, at: datetime) -> LeadEvent:
        data: dict[str, Any] = {"import": self.label, "row": record.row}
        if verb == "received":
            data |= {"source": self.source.slug, "external_id": lead.external_id}
        else:
            data["fields"] = sorted([*record.values, *(f"attributes.{k}" for k in record.attributes)])
        return LeadEvent(lead=lead, verb=verb, actor_id=self.actor_id, actor_label=self.actor_label, data=data, at=at)

    def finish(self) -> dict[str, int]:
        from leads.services import leads_evaluate_bulk

        bands: dict[str, int] = {}
        ids = sorted(set(self.touched))
        for start in range(0, len(ids), self.batch):
            queryset = Lead.objects.filter(pk__in=ids[start : start + self.batch])
            for band, n in leads_evaluate_bulk(queryset=queryset, actor_label=self.actor_label or "import").items():
                bands[band] = bands.get(band, 0) + n
        return {band: n for band, n in bands.items() if n}


class PostgresStore(_Store):
    """PostgreSQL: new leads are checked and encoded as COPY lines in the parser thread (`prepare`) and
    stored with one COPY per table (`leads.import_pg`); rows whose lead already exists are COPY'd into a
    temporary staging table and applied in one UPDATE … FROM, then re-evaluated together at the end."""

    COPY_COLUMNS = ("row_no", "repeat", "lead_id", "external_id", "received_at", "attributes", *LEAD_COLUMNS)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from leads.import_pg import NewLeadEncoder, NewLeadWriter, staged_columns_sql
        from leads.models import DisqualificationReason, StagedLead
        from leads.services import published_version

        self.new_bands: dict[str, int] = {}
        self.version = published_version(self.source.icp_profile_id)
        self.lead_t, self.event_t = Lead._meta.db_table, LeadEvent._meta.db_table
        self.staged_t = StagedLead._meta.db_table
        self.encoder = NewLeadEncoder(
            source=self.source,
            version=self.version,
            reason_ids=dict(DisqualificationReason.objects.values_list("code", "id")),
            label=self.label,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            now=self.now,
        )
        self.writer = NewLeadWriter(has_version=self.version is not None)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.staged_t}, import_touched")
            cursor.execute(f"CREATE TEMP TABLE {self.staged_t} ({staged_columns_sql()}) ON COMMIT DROP")
            cursor.execute("CREATE TEMP TABLE import_touched (lead_id bigint PRIMARY KEY) ON COMMIT DROP")

    def prepare(self, records: list[Record]) -> list[Record]:
        """Runs in the parser thread: the verdict and COPY lines of each record, should it be new."""
        for record in records:
            self.encoder.encode(record)
        return records

    def write(self, records: list[Record]) -> tuple[int, int]:
        with connection.cursor() as cursor, self.timed("db_key_lookup"):
            # One probe of the (source, external id) unique index per key, whatever the planner thinks of a
            # table that grew by a million rows inside this transaction (its statistics do not know yet, and
            # a plain `= ANY(…)` then reads every lead of the source for every chunk). LIMIT 1 keeps the
            # subquery a per-key lookup.
            cursor.execute(
                "SELECT l.external_id, l.id FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL "  # noqa: S608
                f"(SELECT id, external_id FROM {self.lead_t} WHERE source_id = %s AND external_id = k.key "
                "AND external_id <> '' LIMIT 1) AS l",
                [[r.key for r in records], self.source.pk],
            )
            existing = dict(cursor.fetchall())
        with connection.cursor() as cursor:
            new = [r for r in records if r.key not in existing] if existing else records
            updated = 0
            if existing:
                with self.timed("db_update"):
                    updated = self._update(cursor, [r for r in records if r.key in existing], existing)
            if new:
                self.writer.write(cursor, new, self.timed)
                for record in new:
                    self.new_bands[record.band] = self.new_bands.get(record.band, 0) + 1
        return len(new), updated

    def _update(self, cursor, records: list[Record], ids: dict[str, int]) -> int:
        from psycopg.types.json import Jsonb

        cursor.execute(f"TRUNCATE {self.staged_t}")
        with cursor.cursor.copy(f"COPY {self.staged_t} ({', '.join(self.COPY_COLUMNS)}) FROM STDIN") as copy:
            for r in records:
                values = r.values
                copy.write_row(
                    (r.row, r.repeat, ids[r.key], r.key, r.received_at, Jsonb(r.attributes) if r.attributes else None,
                     *[values.get(name) for name in LEAD_COLUMNS])
                )  # fmt: skip
        return self._update_existing(cursor)

    def _update_existing(self, cursor) -> int:
        merge = ", ".join(
            "do_not_contact = l.do_not_contact OR COALESCE(s.do_not_contact, false)"
            if name == "do_not_contact"
            else f"{name} = COALESCE(s.{name}, l.{name})"
            for name in LEAD_COLUMNS
        )
        cursor.execute(
            f"WITH u AS (UPDATE {self.lead_t} l SET {merge}, "  # noqa: S608 - identifiers are ours, values bound
            "attributes = l.attributes || COALESCE(s.attributes, '{}'::jsonb), updated_at = %s "
            f"FROM {self.staged_t} s WHERE s.lead_id = l.id RETURNING l.id, s.row_no, s.repeat), "
            f"e AS (INSERT INTO {self.event_t} (lead_id, verb, actor_id, actor_label, data, at) "
            "SELECT u.id, 'updated', %s::bigint, %s, jsonb_build_object('import', %s::text, 'row', u.row_no), %s "
            "FROM u), "
            "t AS (INSERT INTO import_touched SELECT id FROM u ON CONFLICT DO NOTHING) "
            "SELECT COUNT(*) FILTER (WHERE NOT u.repeat) FROM u",
            [self.now, self.actor_id, self.actor_label, self.label, self.now],
        )
        return cursor.fetchone()[0]

    def finish(self) -> dict[str, int]:
        from django.db.models.expressions import RawSQL

        from leads.services import leads_evaluate_bulk

        bands = dict(self.new_bands)
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM import_touched)")
            touched = cursor.fetchone()[0]
        if touched:
            queryset = Lead.objects.filter(pk__in=RawSQL("SELECT lead_id FROM import_touched", ()))
            with self.timed("db_reevaluate"):
                evaluated = leads_evaluate_bulk(queryset=queryset, actor_label=self.actor_label or "import")
            for band, n in evaluated.items():
                bands[band] = bands.get(band, 0) + n
        # Check the deferred foreign keys now (honest timings), then defer again.
        with connection.cursor() as cursor, self.timed("db_foreign_keys"):
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return {band: n for band, n in bands.items() if n}


class SqliteStore(OrmStore):
    """SQLite: new leads are checked against the ICP and encoded before the import's transaction begins
    (`prepare`, `leads.import_sqlite`), then stored with one executemany per table and chunk; rows whose lead
    already exists are updated with one executemany and re-evaluated together at the end (`finish`)."""

    prepares_first = True
    LOCK_WAIT_SECONDS = 60  # how long the import waits for the write lock (others hold it for short writes)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.version = published_version(self.source.icp_profile_id)
        self.rows = NewLeadRows(
            source=self.source,
            version=self.version,
            reason_ids=dict(DisqualificationReason.objects.values_list("code", "id")),
            label=self.label,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            now=self.now,
        )
        self.writer = NewLeadRowWriter(has_version=self.version is not None)
        self.new_bands: dict[str, int] = {}
        self.lead_t, self.event_t = Lead._meta.db_table, LeadEvent._meta.db_table

    @contextmanager
    def waiting_for_the_lock(self) -> Iterator[None]:
        """The import's transaction waits for the write lock longer than a request does, then restores the
        connection's busy timeout."""
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            previous = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA busy_timeout = {self.LOCK_WAIT_SECONDS * 1000}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {previous}")

    def prepare(self, records: list[Record]) -> list[Record]:
        """Before the transaction: the verdict and INSERT parameters of each record, should it be new."""
        for record in records:
            self.rows.encode(record)
        return records

    def write(self, records: list[Record]) -> tuple[int, int]:
        with self.timed("db_key_lookup"):
            existing: dict[str, int] = {}
            keys = [r.key for r in records]
            for start in range(0, len(keys), KEY_BATCH):
                found = Lead.objects.filter(source=self.source, external_id__in=keys[start : start + KEY_BATCH])
                existing.update(found.exclude(external_id="").values_list("external_id", "pk"))
        new = [r for r in records if r.key not in existing] if existing else records
        updated = 0
        with connection.cursor() as cursor:
            if existing:
                with self.timed("db_update"):
                    updated = self._update(cursor, [r for r in records if r.key in existing], existing)
            if new:
                self.writer.write(cursor, new, self.timed)
        for record in new:
            self.new_bands[record.band] = self.new_bands.get(record.band, 0) + 1
        return len(new), updated

    def _update(self, cursor, records: list[Record], ids: dict[str, int]) -> int:
        """Blank cells keep what is stored, do-not-contact is never cleared, attributes are merged."""
        merge = ", ".join(
            "do_not_contact = (do_not_contact OR COALESCE(%s, 0))"
            if name == "do_not_contact"
            else f"{name} = COALESCE(%s, {name})"
            for name in LEAD_COLUMNS
        )
        now = db_value(self.now)
        cursor.executemany(
            f"UPDATE {self.lead_t} SET {merge}, attributes = json_patch(attributes, %s), updated_at = %s "  # noqa: S608 - our identifiers, values bound
            "WHERE id = %s",
            [
                (*[db_value(r.values.get(name)) for name in LEAD_COLUMNS], json.dumps(r.attributes), now, ids[r.key])
                for r in records
            ],
        )
        events = []
        for r in records:
            fields = sorted([*r.values, *(f"attributes.{key}" for key in r.attributes)])
            data = json.dumps({"import": self.label, "row": r.row, "fields": fields})
            events.append((ids[r.key], self.actor_id, self.actor_label, data, now))
        cursor.executemany(
            f"INSERT INTO {self.event_t} (lead_id, verb, actor_id, actor_label, data, at) "  # noqa: S608 - our identifiers
            "VALUES (%s, 'updated', %s, %s, %s, %s)",
            events,
        )
        self.touched.extend(ids[r.key] for r in records)
        return sum(1 for r in records if not r.repeat)

    def finish(self) -> dict[str, int]:
        bands = dict(self.new_bands)
        for band, n in super().finish().items():
            bands[band] = bands.get(band, 0) + n
        return {band: n for band, n in bands.items() if n}


# Import jobs (the page and its Celery task) -----------------------------------------------------------------

PROGRESS_KEY = "leads:import-progress:{}"


def import_job_create(*, upload, source: LeadSource, user) -> tuple[Any, CsvFile]:
    """Store an uploaded file as an ImportJob after checking it can be read (ImportFileError if not)."""
    upload.seek(0)
    csv_file = inspect_file(upload)
    from leads.services import icp_attribute_keys

    job = ImportJob(
        source=source,
        original_name=Path(upload.name).name[:255],
        encoding=csv_file.encoding,
        delimiter=csv_file.delimiter,
        mapping=guess_mapping(csv_file.headers, icp_attribute_keys(source)),
        created_by=user,
    )
    upload.seek(0)
    job.file.save(Path(upload.name).name, upload, save=False)
    job.save()
    return job, csv_file


def import_job_inspect(job) -> CsvFile:
    with job.file.open("rb") as f:
        return inspect_file(f, encoding=job.encoding, delimiter=job.delimiter)


@dataclass
class PreviewRow:
    row: int
    cells: list[tuple[str, str]]  # (text, problem) per file column
    problem: str = ""  # a problem of the row as a whole


def import_job_preview(job, mapping: dict[str, str], limit: int = PREVIEW_ROWS) -> tuple[CsvFile, list[PreviewRow]]:
    """The first rows as they would be read with `mapping`, each problem placed on its cell.
    ImportFileError when the mapping itself is unusable."""
    with job.file.open("rb") as f:
        csv_file = inspect_file(f, encoding=job.encoding, delimiter=job.delimiter)
        parser = RowParser(csv_file, mapping)
        rows = []
        try:
            for raw in iter_rows(f, csv_file):
                _, errors = parser.parse(raw)
                by_column = {e.column: e.message for e in errors if e.column}
                whole = "; ".join(e.message for e in errors if not e.column)
                cells = [
                    (text, by_column.get(header, "")) for header, text in zip(csv_file.headers, raw.cells, strict=False)
                ]
                rows.append(PreviewRow(raw.row, cells, whole))
                if len(rows) >= limit:
                    break
        except ImportFileError:
            if not rows:
                raise  # a cut file says so in full when it is imported; the preview shows what it can
    return csv_file, rows


@transaction.atomic
def import_job_start(*, job, mapping: dict[str, str], dry_run: bool) -> None:
    """Queue the import (or its dry run) with this mapping; ImportFileError if the mapping is unusable."""
    from leads.tasks import import_run

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise ImportFileError("This import is already running.")
    if job.status == ImportStatus.DONE and not job.dry_run:
        raise ImportFileError("This file has already been imported; upload it again to import it again.")
    validate_mapping(mapping, import_job_inspect(job).headers)
    job.row_errors.all().delete()
    job.mapping = mapping
    job.dry_run = dry_run
    job.status = ImportStatus.QUEUED
    job.message = ""
    job.bands = {}
    job.total_rows = job.processed_rows = job.created_count = job.updated_count = 0
    job.duplicate_count = job.rejected_count = job.progress_percent = 0
    job.started_at = job.finished_at = job.lease_expires_at = None
    job.lease_token = ""
    job.save()
    cache.delete(PROGRESS_KEY.format(job.pk))
    transaction.on_commit(lambda: import_run.delay(job_id=job.pk))


@transaction.atomic
def import_job_rerun(*, job) -> None:
    """Run a failed import again: the same job, file, mapping and kind (a dry run stays a dry run)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.FAILED:
        raise ImportFileError(f"Only an import that failed can be run again (this one is {job.get_status_display()}).")
    import_job_start(job=job, mapping=job.mapping, dry_run=job.dry_run)


def import_job_run(job_id: int) -> None:
    """The Celery task's body: claim the job (`lease_claim`), run the import while a LeaseKeeper renews the lease,
    keep progress in the cache, and record the outcome and every rejected row on the job in the import's own
    transaction, after checking the job is still this run's. Returns quietly when the job is gone, finished or
    running under a live lease; a run that loses its lease stores nothing and leaves the job as it finds it."""
    token = lease_claim(job_id=job_id)
    if token is None:
        return  # finished, gone, or another run holds it (a task delivered twice)
    job = ImportJob.objects.select_related("source", "created_by").get(pk=job_id)
    key = PROGRESS_KEY.format(job.pk)
    with LeaseKeeper(job_id=job.pk, token=token) as keeper:
        progress = _JobProgress(key, keeper)

        def seal(result: ImportResult) -> None:  # inside the import's transaction, before it commits
            keeper.stop()
            lease_check(job_id=job.pk, token=token)
            if not result.dry_run:
                _job_outcome_record(job, result)

        try:
            with job.file.open("rb") as f:
                result = import_file(
                    f,
                    source=job.source,
                    mapping=job.mapping,
                    dry_run=job.dry_run,
                    label=job.original_name,
                    actor=job.created_by,
                    progress=progress.read,
                    on_stored=progress.stored,
                    before_commit=seal,
                )
            if result.dry_run:
                with transaction.atomic():
                    lease_check(job_id=job.pk, token=token)
                    _job_outcome_record(job, result)
        except ImportLeaseLost as exc:
            logger.warning("%s Nothing was stored.", exc)
            return
        except ImportFileError as exc:
            _job_fail(job, token, str(exc))
            return
        except Exception as exc:
            _job_fail(job, token, f"The import failed and nothing was stored ({type(exc).__name__}). "
                      "The team has been told.")  # fmt: skip
            raise
    cache.set(key, {"rows": result.rows, "fraction": 1.0}, 3600)


class _JobProgress:
    """A running job's progress as one fraction, half reading the file and half storing what was read (the two
    overlap on PostgreSQL; on SQLite storing follows reading): into the cache for the page, to the keeper for
    the lease (and the sweep's "stopped at N %"). Stops the import once the keeper finds the lease lost."""

    def __init__(self, key: str, keeper: LeaseKeeper):
        self.key, self.keeper = key, keeper
        self.rows, self.fraction_read, self.records_stored = 0, 0.0, 0

    def read(self, rows: int, fraction: float) -> None:  # from whichever thread reads the file
        self.rows, self.fraction_read = rows, fraction
        self._publish()

    def stored(self, records: int) -> None:  # after each chunk, inside the import's transaction
        self.records_stored += records
        self._publish()

    def _publish(self) -> None:
        rows_in_file = self.rows / self.fraction_read if self.fraction_read else 0
        stored = min(self.records_stored / rows_in_file, 1.0) if rows_in_file else 0.0
        fraction = (self.fraction_read + stored) / 2
        cache.set(self.key, {"rows": self.rows, "fraction": round(fraction, 3)}, 3600)
        self.keeper.report(self.rows, fraction)
        if self.keeper.lost:
            raise ImportLeaseLost(f"Import job {self.keeper.job_id} was taken from this run; stopping.")


def _job_outcome_record(job, result: ImportResult) -> None:
    ImportRowError.objects.bulk_create(
        (ImportRowError(job=job, row=e.row, column=e.column[:200], message=e.message[:500]) for e in result.errors),
        batch_size=2000,
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.DONE,
        total_rows=result.rows,
        processed_rows=result.rows,
        progress_percent=100,
        created_count=result.created,
        updated_count=result.updated,
        duplicate_count=result.duplicates,
        rejected_count=result.rejected,
        bands=result.bands,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )


def _job_fail(job, token: str, message: str) -> None:
    """The run failed before it stored anything: say why, unless the job is no longer this run's."""
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, lease_token=token).update(
        status=ImportStatus.FAILED, message=message, finished_at=timezone.now(), lease_expires_at=None
    )


def import_job_progress(job) -> dict:
    return cache.get(PROGRESS_KEY.format(job.pk)) or {"rows": 0, "fraction": 0.0}


def import_job_error_report(job) -> Iterator[list]:
    """Rows of the downloadable report: every rejected row with its column and problem."""
    yield ["row", "column", "problem"]
    for row, column, message in job.row_errors.order_by("row", "id").values_list("row", "column", "message"):
        yield [row, column, message]
