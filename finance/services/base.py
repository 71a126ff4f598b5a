"""What every finance service shares: the one error type, the audit trail, and the sums a service checks under lock."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from common.errors import ServiceError
from finance.models import Allocation, AuditEntry, Payment, PaymentKind
from partners import fees
from partners.models import FeeAccrual
from partners.services.ledger import item_net


class FinanceError(ServiceError):
    """A finance step that is not allowed now. `message` says why; `errors` puts it on form fields when it is
    about one ({field: [messages]})."""

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None):
        super().__init__(message, errors or ({field: [message]} if field else {}))


def user_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def audit_record(
    *,
    action: str,
    subject_type: str,
    subject_id: int,
    summary: str,
    partner_id: int | None = None,
    changes: dict | None = None,
    actor=None,
    actor_label: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    user = user_or_none(actor)
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor=user,
        actor_label="" if user else (actor_label or "system")[:100],
        action=action,
        partner_id=partner_id,
        subject_type=subject_type,
        subject_id=subject_id,
        summary=summary[:500],
        changes=changes or {},
    )


def _sum(queryset) -> Decimal:
    """The rows' amounts added up in SQL, to the cent (SQLite adds decimals as floating point)."""
    return fees.money(queryset.aggregate(total=Sum("amount"))["total"] or fees.ZERO)


def item_allocated(item: FeeAccrual) -> Decimal:
    """What payments cover of a fee now (allocations less what was given back)."""
    return _sum(Allocation.objects.filter(accrual=item))


def item_open(item: FeeAccrual) -> Decimal:
    """What the partner still owes on a fee: its amount and corrections, less what payments cover."""
    return item_net(item) - item_allocated(item)


def payment_unallocated(payment: Payment) -> Decimal:
    """What of a payment is still free to allocate: the partner's credit from it (nothing once it bounced)."""
    if payment.kind != PaymentKind.RECEIVED or Payment.objects.filter(reverses=payment).exists():
        return fees.ZERO
    allocated = _sum(payment.allocations.all())
    return payment.amount - allocated


def allocation_remaining(allocation: Allocation) -> Decimal:
    """What of one allocation still stands (less what was given back from it)."""
    given_back = _sum(allocation.given_back_by.all())
    return allocation.amount + given_back


def money_text(amount: Decimal, currency: str) -> str:
    return fees.format_money(amount, currency)
