"""Partner statements in: read a file in the partner's conventions, check every row, and store it whole or not at
all. The partner's column mapping, decimal mark, date order and currency are remembered for its next statement.

    statement_read(partner=, data=, name=, …) -> Reading: the sheet, header, mapping, conventions and every line or
        problem, without storing anything (the upload page's preview).
    statement_import(partner=, data=, name=, …) -> PartnerStatement, reconciled: refused whole (StatementRejected,
        every bad row with its row, column and reason) when any row is wrong; the same file twice for a partner is
        refused.
    statement_settings_save(partner=, …): the matching settings (date window, tolerance as money or percent).
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.money import DECIMAL_MARKS, AmountError, currency_code
from finance.models import AuditAction, DateOrder, PartnerStatement, StatementLine, StatementSettings
from finance.services.base import FinanceError, audit_record, user_or_none
from finance.services.reconcile import statement_reconcile
from finance.statements.cells import Conventions
from finance.statements.parsing import (
    Line,
    Parsed,
    RowError,
    guess_mapping,
    looks_like_header,
    mapping_problems,
    parse_rows,
)
from finance.statements.reading import Sheet, StatementFileError, Workbook, choose_sheet, find_header, read_file
from partners.models import Partner

BATCH = 5000
LINE_COLUMNS = (
    "statement_id", "row_number", "tracking_code", "partner_reference", "email_hash", "line_date", "amount",
    "currency", "fee_kind", "description", "raw",
)  # fmt: skip


class StatementRejected(FinanceError):
    """Rows of the statement are wrong: nothing was stored. `rows` lists each problem (row, column, reason)."""

    def __init__(self, message: str, *, rows: list[RowError]):
        super().__init__(message)
        self.rows = rows


@dataclass
class Reading:
    """A statement file as read for one partner: where its lines are, how they were read, and what came of it."""

    workbook: Workbook
    sheet: Sheet
    header_index: int
    headers: list[str]
    mapping: dict[str, str]
    conventions: Conventions
    mapping_remembered: bool
    problems: list[str] = field(default_factory=list)  # the mapping's
    parsed: Parsed = field(default_factory=Parsed)

    @property
    def header_row(self) -> int:
        return self.sheet.rows[self.header_index][0]

    @property
    def data_rows(self) -> list[tuple[int, list]]:
        return self.sheet.rows[self.header_index + 1 :]

    @property
    def ready(self) -> bool:
        return not self.problems and not self.parsed.errors and bool(self.parsed.lines)


def statement_settings(partner: Partner) -> StatementSettings:
    """The partner's remembered statement settings (defaults, unsaved, before its first statement)."""
    found = StatementSettings.objects.filter(partner=partner).first()
    return found or StatementSettings(partner=partner)


def conventions_of(partner: Partner, settings: StatementSettings) -> Conventions:
    return Conventions(
        decimal_separator=settings.decimal_separator or partner.decimal_separator or ".",
        date_order=settings.date_order or DateOrder.DMY,
        default_currency=settings.default_currency,
    )


def check_conventions(*, decimal_separator: str, date_order: str, default_currency: str) -> Conventions:
    """Conventions typed on a form, checked (FinanceError naming the field)."""
    if decimal_separator not in DECIMAL_MARKS:
        raise FinanceError("Choose the decimal mark the partner writes: '.' or ','.", field="decimal_separator")
    if date_order not in DateOrder.values:
        raise FinanceError("Choose the order the partner writes dates in.", field="date_order")
    currency = ""
    if default_currency.strip():
        try:
            currency = currency_code(default_currency)
        except AmountError as exc:
            raise FinanceError(str(exc), field="default_currency") from None
    return Conventions(decimal_separator=decimal_separator, date_order=date_order, default_currency=currency)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def statement_read(
    *,
    partner: Partner,
    data: bytes,
    name: str,
    mapping: dict[str, str] | None = None,
    conventions: Conventions | None = None,
    sheet: str | None = None,
) -> Reading:
    """Read the file as the partner's statement. Without a `mapping`, the remembered one when the file has its
    columns, else one guessed from the headers; without `conventions`, the remembered ones. Stores nothing."""
    try:
        book = read_file(data, name=name)
    except StatementFileError as exc:
        raise FinanceError(str(exc), field="file") from None
    settings = statement_settings(partner)
    remembered = {header: target for header, target in (settings.column_mapping or {}).items() if target}
    known = [] if mapping is not None else list(remembered)
    try:
        if sheet and any(s.name == sheet for s in book.sheets):
            chosen = book.sheet(sheet)
            index = find_header(chosen, known=known, guess=looks_like_header)
            if index is None:
                raise StatementFileError(f"No header row found on the sheet “{sheet}”.")
        else:
            chosen, index = choose_sheet(book, known=known, guess=looks_like_header)
    except StatementFileError as exc:
        raise FinanceError(str(exc), field="file") from None
    headers = chosen.header_cells(index)
    uses_remembered = mapping is None and bool(remembered) and set(remembered) <= set(headers)
    if mapping is None:
        mapping = {header: remembered.get(header, "") for header in headers} if uses_remembered else {}
        mapping = mapping or guess_mapping(headers)
    mapping = {header: mapping.get(header, "") for header in headers}
    reading = Reading(
        workbook=book,
        sheet=chosen,
        header_index=index,
        headers=headers,
        mapping=mapping,
        conventions=conventions or conventions_of(partner, settings),
        mapping_remembered=uses_remembered,
        problems=mapping_problems(mapping, headers),
    )
    if not reading.problems:
        reading.parsed = parse_rows(reading.data_rows, headers, mapping, reading.conventions)
    return reading


def _period(lines: list[Line], start: date | None, end: date | None) -> tuple[date, date]:
    days = [line.line_date for line in lines if line.line_date]
    start = start or (min(days) if days else None)
    end = end or (max(days) if days else None)
    if start is None or end is None:
        raise FinanceError("The lines have no dates: give the period the statement covers.", field="period_start")
    if end < start:
        raise FinanceError("The period ends before it starts.", field="period_end")
    return start, end


def _duplicate_of(partner: Partner, sha: str) -> PartnerStatement | None:
    return PartnerStatement.objects.filter(partner=partner, file_sha256=sha).select_related("imported_by").first()


def duplicate_message(statement: PartnerStatement) -> str:
    who = statement.imported_by.get_username() if statement.imported_by else "the system"
    return (
        f"This file was imported already: statement {statement.pk} ({statement.original_name}, "
        f"{statement.period_start:%Y-%m-%d} to {statement.period_end:%Y-%m-%d}), by {who} on "
        f"{timezone.localtime(statement.imported_at):%Y-%m-%d %H:%M}. The same file is never imported twice."
    )


@transaction.atomic
def statement_import(
    *,
    partner: Partner,
    data: bytes,
    name: str,
    mapping: dict[str, str] | None = None,
    conventions: Conventions | None = None,
    sheet: str | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
    remember: bool = True,
    reconcile: bool = True,
) -> PartnerStatement:
    """Store a partner's statement and its lines, whole or not at all, and reconcile it (`reconcile=False` leaves
    that for later: `statement_reconcile`). Every bad row refuses it (StatementRejected, listing each); the same
    file twice for a partner is refused. The mapping and conventions it was read with are remembered for the
    partner's next statement."""
    now = now or timezone.now()
    sha = file_sha256(data)
    if (earlier := _duplicate_of(partner, sha)) is not None:
        raise FinanceError(duplicate_message(earlier), field="file")
    reading = statement_read(
        partner=partner, data=data, name=name, mapping=mapping, conventions=conventions, sheet=sheet
    )
    if reading.problems:
        raise FinanceError("Column mapping: " + " ".join(reading.problems), field="mapping")
    parsed = reading.parsed
    if parsed.errors:
        count = len({error.row for error in parsed.errors})
        raise StatementRejected(
            f"{count} row{'s' if count != 1 else ''} cannot be read, so nothing was imported: correct "
            f"{'them' if count != 1 else 'it'} (or the conventions) and upload the file again.",
            rows=parsed.errors,
        )
    if not parsed.lines:
        raise FinanceError("The statement has no lines below its header.", field="file")
    start, end = _period(parsed.lines, period_start, period_end)
    statement = PartnerStatement(
        partner=partner,
        period_start=start,
        period_end=end,
        original_name=name[:255],
        file_sha256=sha,
        column_mapping={header: target for header, target in reading.mapping.items() if target},
        decimal_separator=reading.conventions.decimal_separator,
        date_order=reading.conventions.date_order,
        line_count=len(parsed.lines),
        imported_by=user_or_none(actor),
        imported_at=now,
    )
    statement.file.save(name[-100:] or "statement", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            statement.save()
    except IntegrityError:  # the same file, imported by someone else a moment ago
        raise FinanceError(duplicate_message(_duplicate_of(partner, sha)), field="file") from None
    _store_lines(statement, parsed.lines)
    if remember:
        _remember(partner, reading)
    audit_record(
        action=AuditAction.STATEMENT_IMPORTED,
        subject_type="statement",
        subject_id=statement.pk,
        partner_id=partner.pk,
        summary=f"Statement {statement.pk} of {partner.name} imported from {name[:100]}: {len(parsed.lines)} lines, "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
        + (f"; {len(parsed.skipped)} total row(s) skipped" if parsed.skipped else ""),
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    if reconcile:
        statement_reconcile(statement=statement, actor=actor, actor_label=actor_label, now=now)
        statement.refresh_from_db()
    return statement


def _remember(partner: Partner, reading: Reading) -> None:
    settings = statement_settings(partner)
    settings.column_mapping = {header: target for header, target in reading.mapping.items() if target}
    settings.decimal_separator = reading.conventions.decimal_separator
    settings.date_order = reading.conventions.date_order
    settings.default_currency = reading.conventions.default_currency
    settings.save()


def _store_lines(statement: PartnerStatement, lines: list[Line]) -> None:
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(StatementLine._meta.db_table)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy,
        ):
            for line in lines:
                copy.write_row(
                    (
                        statement.pk, line.row_number, line.tracking_code, line.partner_reference, line.email_hash,
                        line.line_date, line.amount, line.currency, line.fee_kind, line.description,
                        json.dumps(line.raw, ensure_ascii=False),
                    )
                )  # fmt: skip
        return
    StatementLine.objects.bulk_create(
        (
            StatementLine(
                statement=statement,
                row_number=line.row_number,
                tracking_code=line.tracking_code,
                partner_reference=line.partner_reference,
                email_hash=line.email_hash,
                line_date=line.line_date,
                amount=line.amount,
                currency=line.currency,
                fee_kind=line.fee_kind,
                description=line.description,
                raw=line.raw,
            )
            for line in lines
        ),
        batch_size=BATCH,
    )


@transaction.atomic
def statement_settings_save(
    *,
    partner: Partner,
    match_window_days: int,
    tolerance_amount: Decimal,
    tolerance_percent: Decimal,
    actor=None,
    now: datetime | None = None,
) -> StatementSettings:
    """How the partner's lines are matched: the date window of the email rule, and the tolerance (money or percent
    of the fee) within which a line's amount counts as the fee's."""
    if not 0 <= match_window_days <= 366:
        raise FinanceError("The window is between 0 and 366 days.", field="match_window_days")
    if tolerance_amount < 0 or tolerance_amount >= Decimal("1e9") or tolerance_amount != round(tolerance_amount, 2):
        raise FinanceError("Give the tolerance in whole cents, zero or more.", field="tolerance_amount")
    if not 0 <= tolerance_percent <= 100 or tolerance_percent != round(tolerance_percent, 2):
        raise FinanceError("Give a percentage between 0 and 100, at most two decimals.", field="tolerance_percent")
    settings = statement_settings(partner)
    before = {
        "match_window_days": settings.match_window_days,
        "tolerance_amount": str(settings.tolerance_amount),
        "tolerance_percent": str(settings.tolerance_percent),
    }
    settings.match_window_days = match_window_days
    settings.tolerance_amount = tolerance_amount
    settings.tolerance_percent = tolerance_percent
    settings.save()
    after = {
        "match_window_days": match_window_days,
        "tolerance_amount": str(tolerance_amount),
        "tolerance_percent": str(tolerance_percent),
    }
    changes = {key: [before[key], value] for key, value in after.items() if str(before[key]) != str(value)}
    if changes:
        audit_record(
            action=AuditAction.STATEMENT_SETTINGS,
            subject_type="statement_settings",
            subject_id=settings.pk,
            partner_id=partner.pk,
            summary=f"Matching settings of {partner.name}: "
            + "; ".join(f"{key.replace('_', ' ')} {old} → {new}" for key, (old, new) in changes.items()),
            changes=changes,
            actor=actor,
            at=now,
        )
    return settings
