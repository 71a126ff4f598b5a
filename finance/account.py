"""A partner's statement of account for a period: per currency, the balance brought forward, every ledger row and
payment posted in the period (by accounting date) with a running balance, and the balance carried forward. The same
rows make the printable page, the CSV and the XLSX (through the formula-safe writer)."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from finance.models import Payment, PaymentKind
from partners import fees
from partners.models import FeeAccrual, Partner

COLUMNS = ["Date", "Entry", "Type", "Reference", "Description", "Charged", "Paid or credited", "Balance", "Currency"]


@dataclass
class AccountLine:
    posted_on: date
    entry: str
    kind: str
    reference: str
    description: str
    charged: Decimal | None
    credited: Decimal | None
    balance: Decimal = fees.ZERO


@dataclass
class AccountSection:
    currency: str
    opening: Decimal
    lines: list[AccountLine] = field(default_factory=list)

    @property
    def charged(self) -> Decimal:
        return sum((line.charged or fees.ZERO for line in self.lines), fees.ZERO)

    @property
    def credited(self) -> Decimal:
        return sum((line.credited or fees.ZERO for line in self.lines), fees.ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.charged - self.credited


def _fee_line(row: FeeAccrual) -> AccountLine:
    amount = row.amount
    return AccountLine(
        posted_on=row.posted_on,
        entry=f"FEE-{row.pk}",
        kind=row.get_kind_display(),
        reference=row.referral.tracking_code,
        description=row.basis,
        charged=amount if amount > 0 else None,
        credited=-amount if amount < 0 else None,
    )


def _payment_line(row: Payment) -> AccountLine:
    received = row.kind == PaymentKind.RECEIVED
    what = "Payment received" if received else f"Payment PAY-{row.reverses_id} bounced"
    description = f"{what}{': ' + row.note if row.note else ''}"
    return AccountLine(
        posted_on=row.posted_on,
        entry=f"PAY-{row.pk}",
        kind=row.get_kind_display(),
        reference=row.reference,
        description=description,
        charged=-row.amount if not received else None,
        credited=row.amount if received else None,
    )


def statement_of_account(*, partner: Partner, start: date, end: date) -> list[AccountSection]:
    """Per currency (only those with a balance or an entry): opening balance, the period's entries oldest first
    with a running balance, closing balance. Four queries."""
    opening: dict[str, Decimal] = defaultdict(lambda: fees.ZERO)
    for currency, total in (
        FeeAccrual.objects.filter(partner=partner, posted_on__lt=start)
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        opening[currency] += fees.money(total)  # to the cent: SQLite adds decimals as floating point
    for currency, total in (
        Payment.objects.filter(partner=partner, posted_on__lt=start)
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        opening[currency] -= fees.money(total)
    lines: dict[str, list[tuple]] = defaultdict(list)
    fees_in_period = (
        FeeAccrual.objects.filter(partner=partner, posted_on__gte=start, posted_on__lte=end)
        .select_related("referral")
        .order_by("posted_on", "id")
    )
    for row in fees_in_period:
        lines[row.currency].append((row.posted_on, 0, row.pk, _fee_line(row)))
    for row in Payment.objects.filter(partner=partner, posted_on__gte=start, posted_on__lte=end).order_by(
        "posted_on", "id"
    ):
        lines[row.currency].append((row.posted_on, 1, row.pk, _payment_line(row)))
    sections = []
    for currency in sorted(set(lines) | {cur for cur, amount in opening.items() if amount}):
        section = AccountSection(currency=currency, opening=opening[currency])
        balance = section.opening
        for *_, line in sorted(lines[currency], key=lambda entry: entry[:3]):
            balance += (line.charged or fees.ZERO) - (line.credited or fees.ZERO)
            line.balance = balance
            section.lines.append(line)
        sections.append(section)
    return sections


def account_rows(sections: list[AccountSection], *, start: date, end: date) -> Iterator[list]:
    """The statement as table rows for CSV/XLSX: a header, then per currency the opening line, the entries and
    the closing line."""
    yield COLUMNS
    for section in sections:
        cur = section.currency
        yield [start, "", "Balance brought forward", "", "", None, None, section.opening, cur]
        for line in section.lines:
            yield [
                line.posted_on,
                line.entry,
                line.kind,
                line.reference,
                line.description,
                line.charged,
                line.credited,
                line.balance,
                cur,
            ]
        yield [end, "", "Balance carried forward", "", "", section.charged, section.credited, section.closing, cur]
