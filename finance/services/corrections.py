"""Corrections of a fee from finance's pages: an adjustment (either sign) or a write-off of what is still open.
Both append a row to the partners ledger through its one correction path, so the lock, the audit trail and the
give-back of over-payments apply the same way as to a reversal or a corrected deal value."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from finance.services.base import FinanceError, item_open, money_text
from partners import fees
from partners.models import AccrualKind, FeeAccrual
from partners.services.ledger import LedgerError, accrual_correct, corrections_notify, ledger_correct, lock_item


@transaction.atomic
def accrual_adjust(
    *, accrual: FeeAccrual, amount: Decimal, reason: str, actor=None, now: datetime | None = None
) -> FeeAccrual:
    """Raise or lower a fee by `amount` (a new adjustment row). Lowered below what was paid, the difference goes
    back to the partner's credit."""
    try:
        return accrual_correct(
            accrual=accrual, kind=AccrualKind.ADJUSTMENT, amount=amount, reason=reason, actor=actor, now=now
        )
    except LedgerError as exc:
        raise FinanceError(str(exc), field="reason" if "Say why" in str(exc) else "amount") from None


@transaction.atomic
def accrual_write_off(
    *, accrual: FeeAccrual, reason: str, amount: Decimal | None = None, actor=None, now: datetime | None = None
) -> FeeAccrual:
    """Stop expecting (part of) what is still open on a fee: a negative write-off row. `amount` (positive, what
    is written off) defaults to everything still open."""
    reason = (reason or "").strip()
    if not reason:
        raise FinanceError("Say why it is written off.", field="reason")
    item = lock_item(accrual)
    still_open = item_open(item)
    if still_open <= 0:
        raise FinanceError("Nothing is open on this fee: there is nothing to write off.")
    amount = still_open if amount is None else fees.money(amount)
    if amount <= 0:
        raise FinanceError("Write off more than zero.", field="amount")
    if amount > still_open:
        raise FinanceError(
            f"Only {money_text(still_open, item.currency)} is open on this fee; write off at most that.",
            field="amount",
        )
    try:
        row = ledger_correct(
            item=item, kind=AccrualKind.WRITE_OFF, amount=-amount, basis=f"Write-off: {reason}", actor=actor, now=now
        )
    except LedgerError as exc:
        raise FinanceError(str(exc), field="amount") from None
    corrections_notify([row], actor=actor, now=now)
    return row
