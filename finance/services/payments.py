"""Money received: recording it, allocating it to fees (by hand, or oldest due first), bounces, and giving back
what a lowered fee no longer needs. Nothing is edited: a bounce is a reversing payment row, a give-back is a
negative allocation row. Per payment, allocations never exceed the payment; per fee, never what is due on it."""

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from finance.models import Allocation, AuditAction, PartnerStatement, Payment, PaymentKind
from finance.services.base import (
    FinanceError,
    allocation_remaining,
    audit_record,
    item_allocated,
    item_open,
    money_text,
    payment_unallocated,
    user_or_none,
)
from partners import fees
from partners.models import BILLABLE_KINDS, FeeAccrual, Partner
from partners.services.ledger import item_net, late_note, ledger_locked_through, posting_day

MAX_AMOUNT = Decimal("1e12")
EARLIEST = date(2000, 1, 1)


def _check_amount(amount: Decimal, *, field: str = "amount") -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise FinanceError("Give an amount.", field=field)
    if amount != fees.money(amount):
        raise FinanceError("Give the amount in whole cents.", field=field)
    if amount <= 0:
        raise FinanceError("The amount must be more than zero.", field=field)
    if amount >= MAX_AMOUNT:
        raise FinanceError("The amount is too large.", field=field)
    return amount


@transaction.atomic
def payment_record(
    *,
    partner: Partner,
    amount: Decimal,
    currency: str,
    received_on: date,
    reference: str = "",
    note: str = "",
    statement: PartnerStatement | None = None,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> Payment:
    """Record money a partner paid. Dated in a closed period, it is posted on the first open day (and says so).
    Nothing is allocated yet: until it is, the whole payment is the partner's credit."""
    now = now or timezone.now()
    amount = _check_amount(amount)
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise FinanceError("Use a three-letter currency code such as EUR.", field="currency")
    if received_on > timezone.localdate(now):
        raise FinanceError("The day it was received is in the future.", field="received_on")
    if received_on < EARLIEST:
        raise FinanceError(f"The day it was received is before {EARLIEST:%Y-%m-%d}.", field="received_on")
    reference, note = reference.strip()[:100], note.strip()[:300]
    if statement is not None and statement.partner_id != partner.pk:
        raise FinanceError("That statement is another partner's.", field="statement")
    if reference:
        twin = Payment.objects.filter(
            partner=partner, kind=PaymentKind.RECEIVED, currency=currency, amount=amount, received_on=received_on,
            reference=reference,
        ).first()  # fmt: skip
        if twin is not None:
            raise FinanceError(
                f"This payment is recorded already (payment {twin.pk}: {money_text(amount, currency)} on "
                f"{received_on:%Y-%m-%d}, reference {reference}).",
                field="reference",
            )
    posted_on = posting_day(received_on, locked_through=ledger_locked_through(for_posting=True))
    payment = Payment.objects.create(
        partner=partner,
        kind=PaymentKind.RECEIVED,
        amount=amount,
        currency=currency,
        received_on=received_on,
        posted_on=posted_on,
        reference=reference,
        note=note,
        statement=statement,
        created_by=user_or_none(actor),
    )
    late = late_note(received_on, posted_on)
    audit_record(
        action=AuditAction.PAYMENT_RECORDED,
        subject_type="payment",
        subject_id=payment.pk,
        partner_id=partner.pk,
        summary=f"{money_text(amount, currency)} from {partner.name} received {received_on:%Y-%m-%d}"
        + (f", reference {reference}" if reference else "")
        + (f" ({late})" if late else ""),
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    return payment


def _lock_payment(payment: Payment) -> Payment:
    payment = Payment.objects.select_for_update(of=("self",)).select_related("partner").get(pk=payment.pk)
    if payment.kind != PaymentKind.RECEIVED:
        raise FinanceError("A bounce is not allocated; allocate the payment itself.")
    if Payment.objects.filter(reverses=payment).exists():
        raise FinanceError("This payment bounced; nothing of it can be allocated.")
    return payment


def _lock_items(payment: Payment, item_ids: list[int]) -> dict[int, FeeAccrual]:
    items = {
        item.pk: item
        for item in FeeAccrual.objects.select_for_update(of=("self",))
        .select_related("referral")
        .filter(pk__in=item_ids)
        .order_by("pk")  # one order everywhere: two allocations never wait for each other in a circle
    }
    for pk in item_ids:
        item = items.get(pk)
        if item is None or item.kind not in BILLABLE_KINDS:
            raise FinanceError(f"Fee {pk} is not a fee that can be paid.", field="allocations")
        if item.partner_id != payment.partner_id or item.currency != payment.currency:
            raise FinanceError(
                f"Fee {pk} ({item.referral.tracking_code}) is not {payment.partner.name}'s in {payment.currency}.",
                field="allocations",
            )
    return items


@transaction.atomic
def payment_allocate(
    *,
    payment: Payment,
    allocations: list[tuple[FeeAccrual | int, Decimal]],
    source: str = Allocation.Source.HAND,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> list[Allocation]:
    """Set parts of a payment against fees: [(fee, amount)]. Each amount at most what is still due on its fee, all
    together at most what is left of the payment. Refused whole when any part is wrong."""
    now = now or timezone.now()
    payment = _lock_payment(payment)
    wanted: dict[int, Decimal] = defaultdict(lambda: fees.ZERO)
    for accrual, amount in allocations:
        pk = accrual if isinstance(accrual, int) else accrual.pk
        wanted[pk] += _check_amount(amount, field="allocations")
    if not wanted:
        raise FinanceError("Say how much goes to which fee.", field="allocations")
    items = _lock_items(payment, sorted(wanted))
    for pk, amount in wanted.items():
        still_due = item_open(items[pk])
        if amount > still_due:
            raise FinanceError(
                f"{money_text(amount, payment.currency)} is more than is due on fee {pk} "
                f"({items[pk].referral.tracking_code}, {items[pk].get_kind_display()}): "
                f"{money_text(still_due, payment.currency)}.",
                field="allocations",
            )
    free = payment_unallocated(payment)
    total = sum(wanted.values(), fees.ZERO)
    if total > free:
        raise FinanceError(
            f"{money_text(total, payment.currency)} is more than is left of the payment: "
            f"{money_text(free, payment.currency)}.",
            field="allocations",
        )
    return _allocate(payment, [(items[pk], amount) for pk, amount in wanted.items()], source, actor, actor_label, now)


def _allocate(payment, parts, source, actor, actor_label, now) -> list[Allocation]:
    rows = Allocation.objects.bulk_create(
        Allocation(
            payment=payment,
            accrual=item,
            amount=amount,
            currency=payment.currency,
            source=source,
            created_by=user_or_none(actor),
            created_at=now,
        )
        for item, amount in parts
    )
    if rows:
        total = sum((row.amount for row in rows), fees.ZERO)
        audit_record(
            action=AuditAction.ALLOCATED,
            subject_type="payment",
            subject_id=payment.pk,
            partner_id=payment.partner_id,
            summary=f"{money_text(total, payment.currency)} of payment {payment.pk} "
            f"({Allocation.Source(source).label.lower()}) to "
            + ", ".join(f"{item.referral.tracking_code} {item.get_kind_display()} {amount}" for item, amount in parts),
            changes={"allocations": [[item.pk, str(amount)] for item, amount in parts]},
            actor=actor,
            actor_label=actor_label,
            at=now,
        )
    return rows


@transaction.atomic
def payment_allocate_auto(
    *,
    payment: Payment,
    accruals: list[FeeAccrual] | None = None,
    source: str = Allocation.Source.AUTOMATIC,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> list[Allocation]:
    """Allocate what is left of a payment to the partner's open fees in its currency, oldest due first (then
    oldest row), each up to what is due on it, until the money runs out. `accruals` limits it to those fees (the
    reconciliation passes the fees of a reconciled statement). Returns the allocations made (maybe none)."""
    now = now or timezone.now()
    payment = _lock_payment(payment)
    candidates = FeeAccrual.objects.filter(
        partner_id=payment.partner_id, currency=payment.currency, kind__in=BILLABLE_KINDS
    )
    if accruals is not None:
        candidates = candidates.filter(pk__in=[a.pk for a in accruals])
    items = _lock_items(payment, list(candidates.order_by("pk").values_list("pk", flat=True)))
    free = payment_unallocated(payment)
    parts = []
    for item in sorted(items.values(), key=lambda i: (i.due_on, i.pk)):
        if free <= 0:
            break
        due = item_open(item)
        if due > 0:
            amount = min(due, free)
            parts.append((item, amount))
            free -= amount
    return _allocate(payment, parts, source, actor, actor_label, now)


def _give_back(allocations: list[tuple[Allocation, Decimal]], source: str, actor, now) -> list[Allocation]:
    return Allocation.objects.bulk_create(
        Allocation(
            payment_id=allocation.payment_id,
            accrual_id=allocation.accrual_id,
            amount=-amount,
            currency=allocation.currency,
            source=source,
            gives_back=allocation,
            created_by=user_or_none(actor),
            created_at=now,
        )
        for allocation, amount in allocations
        if amount > 0
    )


@transaction.atomic
def payment_bounce(
    *,
    payment: Payment,
    reason: str,
    bounced_on: date | None = None,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> Payment:
    """The money did not arrive after all: a reversing payment row (posted on its day, or the first open day), and
    every allocation of it given back, so the fees it paid are open again."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise FinanceError("Say why the payment bounced.", field="reason")
    payment = Payment.objects.select_for_update(of=("self",)).select_related("partner").get(pk=payment.pk)
    if payment.kind != PaymentKind.RECEIVED:
        raise FinanceError("This is a bounce already.")
    earlier = Payment.objects.filter(reverses=payment).first()
    if earlier is not None:
        raise FinanceError(f"This payment bounced already, on {earlier.received_on:%Y-%m-%d}.")
    bounced_on = bounced_on or timezone.localdate(now)
    if bounced_on < payment.received_on or bounced_on > timezone.localdate(now):
        raise FinanceError("A payment bounces after it arrived, and not in the future.", field="bounced_on")
    posted_on = posting_day(bounced_on, locked_through=ledger_locked_through(for_posting=True))
    bounce = Payment.objects.create(
        partner=payment.partner,
        kind=PaymentKind.BOUNCED,
        amount=-payment.amount,
        currency=payment.currency,
        received_on=bounced_on,
        posted_on=posted_on,
        reference=payment.reference,
        note=reason[:300],
        reverses=payment,
        statement=payment.statement,
        created_by=user_or_none(actor),
    )
    standing = [(a, allocation_remaining(a)) for a in payment.allocations.filter(amount__gt=0).select_for_update()]
    given = _give_back(standing, Allocation.Source.BOUNCE, actor, now)
    late = late_note(bounced_on, posted_on)
    audit_record(
        action=AuditAction.PAYMENT_BOUNCED,
        subject_type="payment",
        subject_id=payment.pk,
        partner_id=payment.partner_id,
        summary=f"Payment {payment.pk} of {money_text(payment.amount, payment.currency)} bounced on "
        f"{bounced_on:%Y-%m-%d}: {reason}; {len(given)} allocation(s) given back" + (f" ({late})" if late else ""),
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    return bounce


def allocations_give_back_excess(
    *, items: list[FeeAccrual], actor=None, now: datetime | None = None
) -> list[Allocation]:
    """After a fee was lowered (a correction), give back what payments cover beyond what is now due on it, newest
    allocation first: that money becomes the partner's credit again. Runs inside the correction's transaction."""
    now = now or timezone.now()
    given: list[Allocation] = []
    for item in items:
        excess = item_allocated(item) - max(item_net(item), fees.ZERO)
        if excess <= 0:
            continue
        parts = []
        for allocation in item.allocations.filter(amount__gt=0).select_for_update().order_by("-created_at", "-id"):
            if excess <= 0:
                break
            amount = min(allocation_remaining(allocation), excess)
            if amount > 0:
                parts.append((allocation, amount))
                excess -= amount
        rows = _give_back(parts, Allocation.Source.CORRECTION, actor, now)
        for row in rows:
            audit_record(
                action=AuditAction.GIVEN_BACK,
                subject_type="payment",
                subject_id=row.payment_id,
                partner_id=item.partner_id,
                summary=f"{money_text(-row.amount, row.currency)} of payment {row.payment_id} given back from "
                f"{item.referral.tracking_code} {item.get_kind_display()}: the fee was lowered; it is credit again",
                actor=actor,
                at=now,
            )
        given.extend(rows)
    return given
