"""The journal for accounting: every ledger row and payment posted in a date range, as one double entry each, in
stable, documented columns (docs/finance.md). Accounts come from settings.FINANCE_ACCOUNTS; amounts are always
positive, the debit and credit accounts say which way the money goes. Rows stream from two ordered queries."""

import heapq
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Subquery

from finance.models import Payment, PaymentKind, Resolution
from partners.models import AccrualKind, FeeAccrual
from partners.services.ledger import late_note

COLUMNS = [
    "entry_id",
    "posted_on",
    "occurred_at",
    "partner",
    "tracking_code",
    "kind",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
    "reverses",
    "statement",
    "payment",
    "description",
]


def accounts_for_fee(kind: str, amount: Decimal) -> tuple[str, str]:
    """(debit, credit) for a ledger row: a fee or a raise is owed to us (receivable / revenue), a reversal or a
    lowering takes it back, a write-off moves what is owed to the bad-debt account."""
    accounts = settings.FINANCE_ACCOUNTS
    if kind == AccrualKind.WRITE_OFF:
        return accounts["write_off"], accounts["receivable"]
    if amount >= 0:
        return accounts["receivable"], accounts["revenue"]
    return accounts["revenue"], accounts["receivable"]


def accounts_for_payment(kind: str) -> tuple[str, str]:
    accounts = settings.FINANCE_ACCOUNTS
    if kind == PaymentKind.RECEIVED:
        return accounts["bank"], accounts["receivable"]
    return accounts["receivable"], accounts["bank"]


def _fee_rows(start: date, end: date) -> Iterator[tuple]:
    statement = Resolution.objects.filter(accrual=OuterRef("pk")).values("item__statement_id")[:1]
    rows = (
        FeeAccrual.objects.filter(posted_on__gte=start, posted_on__lte=end)
        .select_related("partner", "referral")
        .annotate(statement_id=Subquery(statement))
        .order_by("posted_on", "id")
    )
    for row in rows.iterator(chunk_size=2000):
        debit, credit = accounts_for_fee(row.kind, row.amount)
        yield (
            (row.posted_on, 0, row.pk),
            [
                f"FEE-{row.pk}",
                row.posted_on,
                row.occurred_at,
                row.partner.name,
                row.referral.tracking_code,
                row.kind,
                debit,
                credit,
                abs(row.amount),
                row.currency,
                f"FEE-{row.corrects_id}" if row.corrects_id else "",
                row.statement_id or "",
                "",
                row.basis,
            ],
        )


def _payment_rows(start: date, end: date) -> Iterator[tuple]:
    rows = (
        Payment.objects.filter(posted_on__gte=start, posted_on__lte=end)
        .select_related("partner")
        .order_by("posted_on", "id")
    )
    for row in rows.iterator(chunk_size=2000):
        debit, credit = accounts_for_payment(row.kind)
        received = row.kind == PaymentKind.RECEIVED
        what = "Payment received" if received else "Payment bounced"
        parts = [what + (f", reference {row.reference}" if row.reference else ""), row.note]
        late = late_note(row.received_on, row.posted_on)
        description = ": ".join(part for part in parts if part) + (f" ({late})" if late else "")
        yield (
            (row.posted_on, 1, row.pk),
            [
                f"PAY-{row.pk}",
                row.posted_on,
                row.received_on,
                row.partner.name,
                "",
                "payment" if received else "bounce",
                debit,
                credit,
                abs(row.amount),
                row.currency,
                f"PAY-{row.reverses_id}" if row.reverses_id else "",
                row.statement_id or "",
                row.pk,
                description,
            ],
        )


def journal_rows(*, start: date, end: date, header: bool = True) -> Iterator[list]:
    """The header, then every entry posted from `start` to `end` (inclusive): by accounting date, ledger rows before
    payments on the same day, each by id."""
    if header:
        yield COLUMNS
    for _, row in heapq.merge(_fee_rows(start, end), _payment_rows(start, end), key=lambda pair: pair[0]):
        yield row


def journal_count(*, start: date, end: date) -> int:
    """How many entries `journal_rows` yields for the range (two counts)."""
    fees_count = FeeAccrual.objects.filter(posted_on__gte=start, posted_on__lte=end).count()
    return fees_count + Payment.objects.filter(posted_on__gte=start, posted_on__lte=end).count()
