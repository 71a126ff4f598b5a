"""Closing a month: the ledger lock moves forward to the month's last day, never back. Later entries dated in a
closed month are posted on the first open day by whoever posts them (partners' accruals, corrections, payments)."""

import calendar
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from finance.models import AuditAction
from finance.services.base import FinanceError, audit_record, user_or_none
from partners.models import LedgerLock


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@transaction.atomic
def period_lock(*, month: date, actor=None, actor_label: str = "", now: datetime | None = None) -> LedgerLock:
    """Close the month `month` falls in (and every month before it). Only a month that has ended, and only forward."""
    now = now or timezone.now()
    through = month_end(month)
    if through >= timezone.localdate(now):
        raise FinanceError(f"{month:%B %Y} has not ended yet; close it from its last day on.", field="month")
    LedgerLock.objects.get_or_create(pk=1)
    lock = LedgerLock.objects.select_for_update().get(pk=1)  # postings in flight finish first (they share-lock it)
    before = lock.locked_through
    if before is not None and through <= before:
        raise FinanceError(
            f"The books are closed through {before:%Y-%m-%d} already; a lock only moves forward.", field="month"
        )
    lock.locked_through, lock.changed_by, lock.changed_at = through, user_or_none(actor), now
    lock.save(update_fields=["locked_through", "changed_by", "changed_at"])
    audit_record(
        action=AuditAction.PERIOD_LOCKED,
        subject_type="lock",
        subject_id=lock.pk,
        summary=f"Books closed through {through:%Y-%m-%d} ({month:%B %Y})"
        + (f"; before, through {before:%Y-%m-%d}" if before else ""),
        changes={"locked_through": [before.isoformat() if before else None, through.isoformat()]},
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    return lock
