"""Statement rows as lines, in the partner's conventions.

    FIELDS: what a column can be mapped to (`tracking_code`, `partner_reference`, `email`, `line_date`, `amount`,
        `currency`, `fee_kind`, `description`); `guess_mapping(headers)` guesses it from everyday headers.
    Conventions(decimal_separator, date_order, default_currency): how the partner writes amounts and dates.
    parse_rows(rows, headers, mapping, conventions) -> Parsed: the lines, every bad row as (row, column, reason),
        and the rows skipped as totals.

Amounts go through `common.money` (the one parser): "1.234,56", "$1,234.56", "(12.00)", "12.00-", "−12.00",
"CHF 1'234.50" in the partner's decimal mark; what does not fit it or is ambiguous is refused with how it would
read. Dates in the partner's order (day/month/year, month/day/year or year-month-day), or ISO, or with the month
spelled out; a two-digit year is refused. A line is matched by its tracking code, the partner's reference or a
hash of the lead's email (the email itself is not kept), so it needs at least one of them.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from common.limits import unstorable_text
from common.money import AmountError, currency_code
from finance.statements.cells import (
    EMAIL,
    CellError,
    Conventions,
    cell_text,
    email_hash,
    parse_amount_cell,
    parse_date_cell,
    parse_kind,
    tracking_code,
)
from leads.importing import normalise_header

KEY_FIELDS = ("tracking_code", "partner_reference", "email")
EMAIL_KEPT_AS = "(kept only as a hash)"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    max_length: int = 0
    spellings: tuple[str, ...] = ()


FIELDS = (
    Field("tracking_code", "Tracking code", 20, ("tracking", "tracking id", "tracking no", "referral code",
          "ref code", "your reference", "your ref", "passthrough code", "code")),
    Field("partner_reference", "Partner's reference", 100, ("reference", "ref", "our reference", "our ref",
          "invoice", "invoice no", "invoice number", "customer id", "client id", "account", "account no",
          "deal id", "id", "partner ref")),
    Field("email", "Lead's email", 254, ("e mail", "email address", "e mail address", "customer email",
          "client email", "lead email", "contact email", "mail")),
    Field("line_date", "Date", 0, ("date", "invoice date", "conversion date", "transaction date", "booking date",
          "booked", "event date", "signed", "signed on", "value date")),
    Field("amount", "Amount", 0, ("amount", "fee", "fees", "commission", "total", "amount due", "value", "net",
          "payable", "referral fee", "amount payable", "sum")),
    Field("currency", "Currency", 0, ("currency", "ccy", "cur", "curr", "currency code")),
    Field("fee_kind", "Fee kind", 0, ("fee type", "type", "kind", "fee kind", "event", "category", "fee for",
          "fee")),
    Field("description", "Description", 300, ("description", "details", "notes", "memo", "customer", "client",
          "name", "text", "narrative")),
)  # fmt: skip
FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
_EXACT = {normalise_header(name): spec.name for spec in FIELDS for name in (spec.name.replace("_", " "), spec.label)}
_CANDIDATES: dict[str, list[str]] = {}
for _spec in FIELDS:
    for _spelling in _spec.spellings:
        _CANDIDATES.setdefault(normalise_header(_spelling), []).append(_spec.name)


def field_choices() -> list[tuple[str, str]]:
    return [(spec.name, spec.label) for spec in FIELDS]


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{header: field or ""}: a header named like a field ("Amount", "Tracking code") takes it first; then each other
    header takes the first field not taken yet that it is an everyday name for ("Commission", "Fee"); the rest
    are skipped."""
    mapping = dict.fromkeys(headers, "")
    taken: set[str] = set()
    for header in headers:
        exact = _EXACT.get(normalise_header(header))
        if exact and exact not in taken:
            mapping[header] = exact
            taken.add(exact)
    for header in headers:
        if mapping[header]:
            continue
        for candidate in _CANDIDATES.get(normalise_header(header), ()):
            if candidate not in taken:
                mapping[header] = candidate
                taken.add(candidate)
                break
    return mapping


def looks_like_header(headers: list[str]) -> bool:
    """A row that names an amount column and a column to match lines by."""
    fields = set(guess_mapping(headers).values())
    return "amount" in fields and bool(fields & set(KEY_FIELDS))


def mapping_problems(mapping: dict[str, str], headers: list[str]) -> list[str]:
    """What is wrong with a column mapping ({header: field or ""}), as sentences; [] when it can be used."""
    problems, used = [], {}
    for header, target in mapping.items():
        if not target:
            continue
        if header not in headers:
            problems.append(f"Column “{header}” is not in the file.")
            continue
        if target not in FIELDS_BY_NAME:
            problems.append(f"Column “{header}”: “{target}” is not a statement field.")
        elif target in used:
            label = FIELDS_BY_NAME[target].label
            problems.append(f"Columns “{used[target]}” and “{header}” are both mapped to {label}.")
        used.setdefault(target, header)
    if "amount" not in used:
        problems.append("No column is mapped to Amount.")
    if not set(used) & set(KEY_FIELDS):
        problems.append(
            "Map at least one column to match lines by: Tracking code, Partner's reference or Lead's email."
        )
    return problems


@dataclass
class Line:
    row_number: int
    tracking_code: str
    partner_reference: str
    email_hash: str
    line_date: date | None
    amount: Decimal
    currency: str
    fee_kind: str
    description: str
    raw: dict[str, str]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # the file's header ("" when the problem is the row as a whole)
    field: str  # our field's label
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column “{self.column}”" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class Parsed:
    lines: list[Line] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # rows read as totals


# Rows ---------------------------------------------------------------------------------------------------------


_TOTAL = re.compile(r"\s*(?:grand\s+|sub\W*)?(?:total|sum|summe|totaal|balance)\b", re.IGNORECASE)


def _is_total_row(cells: list[str], keys: list[str]) -> bool:
    """A row that totals the others: some cell says so ("Total", "Grand total") and no key names a referral."""
    if any(key and not _TOTAL.match(key) for key in keys):
        return False
    return any(_TOTAL.match(cell) for cell in cells if cell)


class _Row:
    """One data row being read: its cells by field, and the problems found so far."""

    def __init__(self, number: int, cells: list, columns: dict[str, int], header_of: dict[str, str]):
        self.number, self.cells, self.columns, self.header_of = number, cells, columns, header_of
        self.texts = [cell_text(cell) for cell in cells]
        self.errors: list[RowError] = []

    def value(self, name: str):
        return self.cells[self.columns[name]] if name in self.columns else None

    def text(self, name: str) -> str:
        return self.texts[self.columns[name]] if name in self.columns else ""

    def fail(self, name: str | None, reason: str) -> None:
        label = FIELDS_BY_NAME[name].label if name else ""
        self.errors.append(RowError(self.number, self.header_of.get(name, "") if name else "", label, reason))


def _storable(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def parse_rows(
    rows: list[tuple[int, list]], headers: list[str], mapping: dict[str, str], conventions: Conventions
) -> Parsed:
    """Each data row (after the header) as a line, or its problems; rows that only total the others are skipped."""
    columns = {target: headers.index(header) for header, target in mapping.items() if target and header in headers}
    header_of = {target: header for header, target in mapping.items() if target}
    email_column = columns.get("email")
    parsed = Parsed()
    for number, cells in rows:
        row = _Row(number, (list(cells) + [None] * (len(headers) - len(cells)))[: len(headers)], columns, header_of)
        texts = row.texts
        if _is_total_row(texts, [row.text(name) for name in KEY_FIELDS]):
            parsed.skipped.append(number)
            continue
        if unstorable_text("".join(texts)):  # rare: then say which cell
            for name, index in columns.items():
                if problem := unstorable_text(texts[index]):
                    row.fail(name, f"the cell {problem}.")
            texts = [_storable(text) for text in texts]  # unused columns are kept as read, less what cannot be
        line = None if row.errors else _parse_line(row, conventions)
        if row.errors:
            parsed.errors.extend(row.errors)
            continue
        if line is not None:
            line.raw = {header: texts[i] for i, header in enumerate(headers) if texts[i]}
            if email_column is not None and headers[email_column] in line.raw:
                line.raw[headers[email_column]] = EMAIL_KEPT_AS
            parsed.lines.append(line)
    return parsed


def _parse_line(row: _Row, conventions: Conventions) -> Line | None:
    currency = conventions.default_currency
    if (raw := row.text("currency")) != "":
        try:
            currency = currency_code(raw)
        except AmountError as exc:
            row.fail("currency", str(exc))
            return None
    amount = None
    if row.text("amount") == "":
        row.fail("amount", "the amount is blank.")
    else:
        try:
            amount, named = parse_amount_cell(row.value("amount"), conventions, currency)
            currency = currency or named
        except CellError as exc:
            row.fail("amount", str(exc))
    code = tracking_code(row.text("tracking_code"))
    reference = row.text("partner_reference")
    email = row.text("email")
    if not (code or reference or email):
        row.fail(None, "nothing to match this line by: the tracking code, the partner's reference and the email are "
                 "all blank.")  # fmt: skip
    for name, text in (("tracking_code", code), ("partner_reference", reference)):
        if len(text) > FIELDS_BY_NAME[name].max_length:
            row.fail(name, f"“{text[:30]}…” is longer than {FIELDS_BY_NAME[name].max_length} characters.")
    if email and not EMAIL.fullmatch(email):
        row.fail("email", f"“{email[:60]}” is not an email address.")
    line_date = None
    if row.text("line_date") != "":
        try:
            line_date = parse_date_cell(row.value("line_date"), conventions.date_order)
        except CellError as exc:
            row.fail("line_date", str(exc))
    kind = ""
    try:
        kind = parse_kind(row.value("fee_kind"))
    except CellError as exc:
        row.fail("fee_kind", str(exc))
    if amount is not None and not currency:
        row.fail("amount", "no currency: the amount names none, no column is mapped to Currency and the statement "
                 "has no default currency.")  # fmt: skip
    if amount is None or not currency:
        return None
    return Line(
        row_number=row.number,
        tracking_code=code,
        partner_reference=reference,
        email_hash=email_hash(email) if email else "",
        line_date=line_date,
        amount=amount,
        currency=currency,
        fee_kind=kind,
        description=row.text("description")[:300],
        raw={},
    )
