"""Posting to the fee ledger: the accounting date under the period lock, and corrections as new rows.

Every row the partners app appends goes through `ledger_post` (billable fees) or `ledger_correct` (reversals,
adjustments, write-offs), so a late conversion reported through the partner's link, a reversal and a correction
honour a closed period the same way finance's own entries do: a row dated on or before the lock is posted on the
first open day, and its basis says so. Rows are never changed or deleted.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from common.errors import ServiceError
from partners import fees
from partners.models import BILLABLE_KINDS, CORRECTION_KINDS, AccrualKind, FeeAccrual, LedgerLock
from partners.services import hooks


class LedgerError(ServiceError):
    """A ledger entry that may not be made; the message says why, for the person who tried."""


def ledger_locked_through(*, for_posting: bool = False) -> date | None:
    """The last closed day, or None when nothing is closed.

    `for_posting=True` (inside the posting's transaction) holds a share lock on the lock row on PostgreSQL: a period
    close (`FOR UPDATE` on the same row) waits for postings in flight, and a posting that waited for a close reads
    the new date. SQLite runs one writing transaction at a time (BEGIN IMMEDIATE), which gives the same order."""
    if for_posting and connection.vendor == "postgresql":
        table = connection.ops.quote_name(LedgerLock._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT locked_through FROM {table} WHERE id = 1 FOR SHARE")  # noqa: S608 - a model's table
            row = cursor.fetchone()
        return row[0] if row else None
    return LedgerLock.objects.filter(pk=1).values_list("locked_through", flat=True).first()


def posting_day(day: date, *, locked_through: date | None) -> date:
    """The accounting date for an entry dated `day`: the day itself, or the first open day after the lock."""
    if locked_through is None or day > locked_through:
        return day
    return locked_through + timedelta(days=1)


def late_note(day: date, posted_on: date) -> str:
    """What an entry posted after its own day says about it ("" when it was posted on its day)."""
    if posted_on == day:
        return ""
    closed = posted_on - timedelta(days=1)
    return f"dated {day:%Y-%m-%d}, posted {posted_on:%Y-%m-%d}: the books are closed through {closed:%Y-%m-%d}"


def _with_note(basis: str, note: str) -> str:
    if not note:
        return basis[:300]
    suffix = f" ({note})"
    return basis[: 300 - len(suffix)] + suffix


def ledger_post(rows: list[FeeAccrual], *, day: date) -> list[FeeAccrual]:
    """Insert new billable rows for an event on `day`, each posted on its accounting date under the lock."""
    if not rows:
        return []
    posted_on = posting_day(day, locked_through=ledger_locked_through(for_posting=True))
    note = late_note(day, posted_on)
    for row in rows:
        row.posted_on = posted_on
        row.basis = _with_note(row.basis, note)
    return FeeAccrual.objects.bulk_create(rows)


def item_net(item: FeeAccrual) -> Decimal:
    """What a billable row stands at now: its amount and every correction of it."""
    corrections = item.corrections.aggregate(total=Sum("amount"))["total"] or fees.ZERO
    return item.amount + fees.money(corrections)  # to the cent: SQLite adds decimals as floating point


def lock_item(accrual: FeeAccrual) -> FeeAccrual:
    """The billable row (itself, or the one a correction points at), locked so corrections of it queue up."""
    item_id = accrual.pk if accrual.corrects_id is None else accrual.corrects_id
    return FeeAccrual.objects.select_for_update(of=("self",)).select_related("referral", "partner").get(pk=item_id)


def ledger_correct(
    *,
    item: FeeAccrual,
    kind: str,
    amount: Decimal,
    basis: str,
    actor=None,
    now: datetime | None = None,
    floor: bool = True,
) -> FeeAccrual:
    """Append one correction of a billable row (locked by the caller with `lock_item`). Refused when it has the
    wrong sign for its kind, when the row is reversed already, or when it would take the row below zero (`floor`;
    False only for the first of two rows written together whose caller checked where they end).
    The caller notifies the hooks once its corrections are all written (`corrections_notify`)."""
    now = now or timezone.now()
    if item.kind not in BILLABLE_KINDS:
        raise LedgerError("Only a fee can be corrected; correct the fee this row belongs to.")
    if kind not in CORRECTION_KINDS:
        raise LedgerError(f"Unknown correction “{kind}”.")
    amount = fees.money(amount)
    if amount == 0:
        raise LedgerError("An amount of zero changes nothing.")
    if kind != AccrualKind.ADJUSTMENT and amount > 0:
        raise LedgerError(f"A {AccrualKind(kind).label.lower()} takes money off: give a negative amount.")
    if kind == AccrualKind.REVERSAL and item.corrections.filter(kind=AccrualKind.REVERSAL).exists():
        raise LedgerError("This fee is reversed already.")
    net = item_net(item)
    if floor and net + amount < 0:
        raise LedgerError(
            f"That would take the fee below zero: it stands at {fees.format_money(net, item.currency)}, "
            f"so the most it can go down by is {fees.format_money(net, item.currency)}."
        )
    day = timezone.localdate(now)
    posted_on = posting_day(day, locked_through=ledger_locked_through(for_posting=True))
    return FeeAccrual.objects.create(
        referral=item.referral,
        partner=item.partner,
        kind=kind,
        amount=amount,
        currency=item.currency,
        basis=_with_note(basis, late_note(day, posted_on)),
        corrects=item,
        occurred_at=now,
        posted_on=posted_on,
        due_on=item.due_on,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


@transaction.atomic
def accrual_correct(
    *, accrual: FeeAccrual, kind: str, amount: Decimal, reason: str, actor=None, now: datetime | None = None
) -> FeeAccrual:
    """A correction of a fee with a reason: an adjustment (either sign), a write-off or a reversal (negative)."""
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError("Say why the fee is corrected.")
    item = lock_item(accrual)
    label = AccrualKind(kind).label if kind in CORRECTION_KINDS else kind
    row = ledger_correct(item=item, kind=kind, amount=amount, basis=f"{label}: {reason}", actor=actor, now=now)
    corrections_notify([row], actor=actor, now=now)
    return row


def corrections_notify(rows: list[FeeAccrual], *, actor=None, now: datetime | None = None) -> None:
    """Tell the listeners (finance: audit trail, over-payment back to credit) about corrections just written."""
    if rows:
        hooks.notify(hooks.LEDGER_CORRECTED, rows=rows, actor=actor, now=now or timezone.now())
