"""Reads for finance: the ledger with each row's fee still open, payments with what is left of them, aging, the
audit trail. Every figure is a sum in SQL, per partner and currency (no currency is ever converted), and list pages
run a fixed number of queries whatever the number of rows."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Round

from finance.models import Allocation, AuditEntry, Payment, PaymentKind
from partners import fees
from partners.models import BILLABLE_KINDS, FeeAccrual, LedgerLock, Partner

MONEY = DecimalField(max_digits=16, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def _sum_of(queryset: QuerySet, group: str) -> Subquery:
    """The sum of `amount` over `queryset` rows per `group` value (the outer row's), 0 when there are none."""
    totals = queryset.order_by().values(group).annotate(total=Sum("amount")).values("total")[:1]
    return Coalesce(Subquery(totals, output_field=MONEY), ZERO)


def with_item_open(queryset: QuerySet[FeeAccrual]) -> QuerySet[FeeAccrual]:
    """Each ledger row with its fee (`item_id`: itself, or the fee a correction points at) and what is still open on
    that fee (`item_open`: its amount and corrections, less what payments cover): subqueries, no query per row."""
    return queryset.annotate(
        item_id=Coalesce(F("corrects_id"), F("id")),
        item_amount=Coalesce(F("corrects__amount"), F("amount")),
        item_corrections=_sum_of(FeeAccrual.objects.filter(corrects_id=OuterRef("item_id")), "corrects_id"),
        item_allocated=_sum_of(Allocation.objects.filter(accrual_id=OuterRef("item_id")), "accrual_id"),
    ).annotate(  # rounded to the cent in SQL: SQLite adds decimals as floating point (1.5E-15 is not "open")
        item_net=Round(F("item_amount") + F("item_corrections"), 2, output_field=MONEY),
        item_open=Round(F("item_amount") + F("item_corrections") - F("item_allocated"), 2, output_field=MONEY),
    )


def ledger_list() -> QuerySet[FeeAccrual]:
    return with_item_open(
        FeeAccrual.objects.select_related("partner", "referral", "corrects", "created_by").order_by("-posted_on", "-id")
    )


def ledger_totals(queryset: QuerySet[FeeAccrual]) -> list[tuple[str, Decimal]]:
    """The sum of the rows of `queryset` per currency (the filtered ledger's totals), by currency."""
    rows = queryset.order_by().values_list("currency").annotate(total=Sum("amount")).values_list("currency", "total")
    return sorted((currency, fees.money(total)) for currency, total in rows)


def accrual_detail() -> QuerySet[FeeAccrual]:
    return with_item_open(FeeAccrual.objects.select_related("partner", "referral", "referral__lead", "corrects"))


def accrual_history(*, item: FeeAccrual) -> dict:
    """A fee's corrections and allocations (oldest first), and what it stands at."""
    corrections = list(item.corrections.select_related("created_by").order_by("posted_on", "id"))
    allocations = list(item.allocations.select_related("payment", "created_by").order_by("created_at", "id"))
    net = item.amount + sum((row.amount for row in corrections), fees.ZERO)
    paid = sum((row.amount for row in allocations), fees.ZERO)
    return {"corrections": corrections, "allocations": allocations, "net": net, "paid": paid, "open": net - paid}


def open_items(*, partner: Partner, currency: str | None = None) -> QuerySet[FeeAccrual]:
    """A partner's fees with something still open, oldest due first (`item_net`: due on it, `item_open`: unpaid)."""
    queryset = with_item_open(
        FeeAccrual.objects.filter(partner=partner, kind__in=BILLABLE_KINDS).select_related("referral")
    ).filter(item_open__gt=0)
    if currency:
        queryset = queryset.filter(currency=currency)
    return queryset.order_by("currency", "due_on", "id")


# Payments ------------------------------------------------------------------------------------------------


def with_unallocated(queryset: QuerySet[Payment]) -> QuerySet[Payment]:
    """Each payment with what is allocated of it and what is left (`unallocated`; nothing once it bounced)."""
    return queryset.annotate(
        allocated=_sum_of(Allocation.objects.filter(payment_id=OuterRef("pk")), "payment_id"),
        bounced_amount=_sum_of(Payment.objects.filter(reverses_id=OuterRef("pk")), "reverses_id"),
    ).annotate(unallocated=Round(F("amount") + F("bounced_amount") - F("allocated"), 2, output_field=MONEY))


def payment_list() -> QuerySet[Payment]:
    return with_unallocated(
        Payment.objects.filter(kind=PaymentKind.RECEIVED).select_related("partner", "created_by", "bounced_by")
    ).order_by("-received_on", "-id")


def payment_detail() -> QuerySet[Payment]:
    return with_unallocated(
        Payment.objects.filter(kind=PaymentKind.RECEIVED).select_related("partner", "created_by", "statement")
    )


def payment_allocations(*, payment: Payment) -> QuerySet[Allocation]:
    return payment.allocations.select_related("accrual", "accrual__referral", "created_by").order_by("created_at", "id")


def payment_bounce_row(*, payment: Payment) -> Payment | None:
    return Payment.objects.filter(reverses=payment).select_related("created_by").first()


def partner_credit(*, partner: Partner) -> list[tuple[str, Decimal]]:
    """What the partner paid and is not allocated yet, per currency (money it may use against later fees)."""
    paid = dict(
        Payment.objects.filter(partner=partner).values_list("currency").annotate(total=Sum("amount")).order_by()
    )
    allocated = dict(
        Allocation.objects.filter(payment__partner=partner).values_list("currency").annotate(t=Sum("amount")).order_by()
    )
    credit = {cur: fees.money(total - allocated.get(cur, fees.ZERO)) for cur, total in paid.items()}
    return sorted((cur, amount) for cur, amount in credit.items() if amount)


# Aging ---------------------------------------------------------------------------------------------------

BUCKETS = [
    ("current", "Not yet due"),
    ("d1_30", "1–30 days"),
    ("d31_60", "31–60 days"),
    ("d61_90", "61–90 days"),
    ("d90_plus", "Over 90 days"),
]
LATE_BUCKETS = ("d1_30", "d31_60", "d61_90", "d90_plus")


def _bucket_sums(due, amount, as_of: date) -> dict:
    """Conditional sums of `amount` per aging bucket of the due date `due` (expressions), as of `as_of`."""
    limits = {
        "current": Q(**{f"{due}__gte": as_of}),
        "d1_30": Q(**{f"{due}__lt": as_of, f"{due}__gte": as_of - timedelta(days=30)}),
        "d31_60": Q(**{f"{due}__lt": as_of - timedelta(days=30), f"{due}__gte": as_of - timedelta(days=60)}),
        "d61_90": Q(**{f"{due}__lt": as_of - timedelta(days=60), f"{due}__gte": as_of - timedelta(days=90)}),
        "d90_plus": Q(**{f"{due}__lt": as_of - timedelta(days=90)}),
    }
    return {
        key: Coalesce(Sum(Case(When(condition, then=amount), default=ZERO, output_field=MONEY)), ZERO)
        for key, condition in limits.items()
    }


@dataclass
class AgingRow:
    partner_id: int
    partner_name: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=dict)
    credit: Decimal = fees.ZERO

    @property
    def open_total(self) -> Decimal:
        return sum(self.buckets.values(), fees.ZERO)

    @property
    def late_total(self) -> Decimal:
        return sum((self.buckets[key] for key in LATE_BUCKETS), fees.ZERO)

    @property
    def balance(self) -> Decimal:
        """What the partner owes in this currency: open fees less its unallocated credit."""
        return self.open_total - self.credit

    @property
    def is_late(self) -> bool:
        return self.late_total > 0

    def bucket_list(self) -> list[Decimal]:
        return [self.buckets[key] for key, _ in BUCKETS]


def aging(*, as_of: date, partner: Partner | None = None) -> list[AgingRow]:
    """What each partner owes per currency, by how late it is on its due date, as of `as_of`; and its credit.

    Three grouped queries: ledger rows by partner, currency and bucket of their fee's due date (a correction counts
    where its fee is due), allocations the same way (subtracted), and payments less allocations (credit)."""
    ledger = FeeAccrual.objects.all()
    allocations = Allocation.objects.all()
    payments = Payment.objects.all()
    if partner is not None:
        ledger, allocations = ledger.filter(partner=partner), allocations.filter(accrual__partner=partner)
        payments = payments.filter(partner=partner)
    ledger_rows = (
        ledger.annotate(item_due=Coalesce(F("corrects__due_on"), F("due_on")))
        .values("partner_id", "partner__name", "currency")
        .annotate(**_bucket_sums("item_due", F("amount"), as_of))
        .order_by()
    )
    allocated_rows = (
        allocations.values("accrual__partner_id", "currency")
        .annotate(**_bucket_sums("accrual__due_on", F("amount"), as_of))
        .order_by()
    )
    rows: dict[tuple[int, str], AgingRow] = {}
    for data in ledger_rows:
        key = (data["partner_id"], data["currency"])
        rows[key] = AgingRow(data["partner_id"], data["partner__name"], data["currency"])
        rows[key].buckets = {name: fees.money(data[name]) for name, _ in BUCKETS}
    for data in allocated_rows:
        row = rows.get((data["accrual__partner_id"], data["currency"]))
        if row is not None:  # an allocation always has its fee's ledger row
            row.buckets = {name: row.buckets[name] - fees.money(data[name]) for name, _ in BUCKETS}
    credit_rows = payments.values("partner_id", "partner__name", "currency").annotate(paid=Sum("amount")).order_by()
    allocated_by_payment = dict(
        ((p, c), total)
        for p, c, total in allocations.values_list("payment__partner_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for data in credit_rows:
        key = (data["partner_id"], data["currency"])
        credit = fees.money(data["paid"] - allocated_by_payment.get(key, fees.ZERO))  # to the cent (SQLite: floats)
        if key not in rows:
            rows[key] = AgingRow(data["partner_id"], data["partner__name"], data["currency"])
            rows[key].buckets = {name: fees.ZERO for name, _ in BUCKETS}
        rows[key].credit = credit
    kept = [row for row in rows.values() if row.open_total or row.credit]
    return sorted(kept, key=lambda row: (-row.late_total, row.partner_name, row.currency))


def aging_totals(rows: list[AgingRow]) -> list[tuple[str, list[Decimal], Decimal, Decimal]]:
    """Per currency: the bucket totals, the credit and the balance of `rows`."""
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [fees.ZERO] * (len(BUCKETS) + 2))
    for row in rows:
        values = [*row.bucket_list(), row.credit, row.balance]
        totals[row.currency] = [a + b for a, b in zip(totals[row.currency], values, strict=True)]
    return [(cur, values[: len(BUCKETS)], values[-2], values[-1]) for cur, values in sorted(totals.items())]


# Locks and the audit trail --------------------------------------------------------------------------------


def ledger_lock() -> LedgerLock | None:
    return LedgerLock.objects.select_related("changed_by").filter(pk=1).first()


def audit_list() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("actor", "partner").order_by("-at", "-id")


def audit_for(*, subject_type: str, subject_id: int, limit: int = 50) -> list[AuditEntry]:
    return list(audit_list().filter(subject_type=subject_type, subject_id=subject_id)[:limit])


def partner_choices() -> QuerySet[Partner]:
    return Partner.objects.order_by("name").only("id", "name")
