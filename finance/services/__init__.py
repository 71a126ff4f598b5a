"""Writes for finance: payments and allocations, corrections, closing months, the audit trail.

- `payments`: record, allocate (by hand, oldest due first), bounce, give back over-payments.
- `corrections`: adjust or write off a fee (rows in the partners ledger). `periods`: close a month.
- `listeners`: what finance does when partners changes an agreement or corrects the ledger (hooks).
"""

from finance.services.base import FinanceError, audit_record, item_open, payment_unallocated
from finance.services.corrections import accrual_adjust, accrual_write_off
from finance.services.payments import (
    allocations_give_back_excess,
    payment_allocate,
    payment_allocate_auto,
    payment_bounce,
    payment_record,
)
from finance.services.periods import month_end, period_lock

__all__ = [
    "FinanceError",
    "accrual_adjust",
    "accrual_write_off",
    "allocations_give_back_excess",
    "audit_record",
    "item_open",
    "month_end",
    "payment_allocate",
    "payment_allocate_auto",
    "payment_bounce",
    "payment_record",
    "payment_unallocated",
    "period_lock",
]
