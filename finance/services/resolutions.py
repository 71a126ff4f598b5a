"""Resolving what reconciliation found, one item at a time, and paying from a reconciled statement.

    item_resolve(item=, action=, …) -> Resolution. What each category allows:
        amount mismatch: accept the partner's amount (adjustment rows through the ledger's correction service),
            write off the shortfall, dispute, link to another referral by hand;
        unknown referral: link by hand, dispute;  duplicate line: dismiss, dispute, link by hand;
        missing from statement: write off what is open, dispute.
    A dispute (a note and a day to follow up) leaves the item open and visible until a final resolution follows.
    Linking by hand learns the partner's reference for the next statement and adds an item for the line matched to
    that referral (rule "linked by hand"), matched or mismatched like any other.

The item's row is locked first, so two people resolving it at once queue up; the second finds the first one's
resolution and is refused with who did what and when (ResolutionConflict). A unique constraint (one final
resolution, one dispute per item) holds it even without the lock.

    statement_pay(statement=, amount=, …) -> Payment: record the partner's payment for the statement and allocate it
        (oldest due first) to the fees the statement settled: matched lines and accepted amounts.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from finance.models import (
    Allocation,
    AuditAction,
    MatchCategory,
    MatchRule,
    PartnerReference,
    PartnerStatement,
    Payment,
    ReconciliationItem,
    Resolution,
    ResolutionAction,
    StatementSettings,
)
from finance.services.base import FinanceError, audit_record, item_open, money_text, user_or_none
from finance.services.corrections import accrual_adjust, accrual_write_off
from finance.services.payments import payment_allocate_auto, payment_record
from finance.services.reconcile import day_start, item_compare, item_fees
from partners import fees
from partners.models import BILLABLE_KINDS, FeeAccrual, Referral

A = ResolutionAction
ALLOWED = {
    MatchCategory.MATCHED: (),
    MatchCategory.AMOUNT_MISMATCH: (A.ACCEPT_PARTNER_AMOUNT, A.WRITE_OFF, A.DISPUTE, A.LINK),
    MatchCategory.UNKNOWN_REFERRAL: (A.LINK, A.DISPUTE),
    MatchCategory.DUPLICATE_LINE: (A.DISMISS_DUPLICATE, A.DISPUTE, A.LINK),
    MatchCategory.MISSING: (A.WRITE_OFF, A.DISPUTE),
}
FINAL = tuple(action for action in A if action != A.DISPUTE)


class ResolutionConflict(FinanceError):
    """Someone resolved (or disputed) the item first; the message says who, what and when."""

    def __init__(self, message: str, *, resolution: Resolution):
        super().__init__(message)
        self.resolution = resolution


@dataclass
class Outcome:
    resolution: Resolution
    rows: list[FeeAccrual]  # ledger rows appended (adjustments, write-offs)
    new_item: ReconciliationItem | None = None  # linked by hand: the line as matched to the referral


def who(resolution: Resolution) -> str:
    user = resolution.resolved_by
    return (user.get_full_name() or user.get_username()) if user else "the system"


def conflict_message(resolution: Resolution) -> str:
    at = timezone.localtime(resolution.resolved_at)
    if resolution.action == A.DISPUTE:
        return (
            f"{who(resolution)} disputed this item already on {at:%Y-%m-%d %H:%M} (follow up on "
            f"{resolution.follow_up_on:%Y-%m-%d}): “{resolution.note}”."
        )
    what = A(resolution.action).label.lower()
    note = f": “{resolution.note}”" if resolution.note else ""
    return f"{who(resolution)} resolved this item already on {at:%Y-%m-%d %H:%M} — {what}{note}."


def _locked(item: ReconciliationItem) -> ReconciliationItem:
    return (
        ReconciliationItem.objects.select_for_update(of=("self",))
        .select_related("statement", "statement__partner", "line", "line__statement", "accrual", "referral")
        .get(pk=item.pk)
    )


@transaction.atomic
def item_resolve(
    *,
    item: ReconciliationItem,
    action: str,
    note: str = "",
    follow_up_on: date | None = None,
    referral: Referral | None = None,
    actor=None,
    now: datetime | None = None,
) -> Outcome:
    now = now or timezone.now()
    item = _locked(item)
    earlier = item.resolutions.select_related("resolved_by").filter(action__in=FINAL).first()
    if earlier is not None:
        raise ResolutionConflict(conflict_message(earlier), resolution=earlier)
    if action not in A.values:
        raise FinanceError("Choose what to do with the item.", field="action")
    if action not in ALLOWED[item.category]:
        allowed = ", ".join(A(choice).label.lower() for choice in ALLOWED[item.category]) or "nothing to resolve"
        raise FinanceError(
            f"An item that is “{item.get_category_display().lower()}” cannot be {A(action).label.lower()}: {allowed}.",
            field="action",
        )
    note = (note or "").strip()
    rows: list[FeeAccrual] = []
    new_item = None
    if action == A.DISPUTE:
        _check_dispute(item, note, follow_up_on, now)
    elif action == A.ACCEPT_PARTNER_AMOUNT:
        rows = _accept(item, note, actor, now)
    elif action == A.WRITE_OFF:
        rows = _write_off(item, note, actor, now)
    elif action == A.LINK:
        new_item = _link(item, referral, actor, now)
    resolution = Resolution(
        item=item,
        action=action,
        note=note[:2000],
        follow_up_on=follow_up_on if action == A.DISPUTE else None,
        accrual=rows[0] if rows else None,
        referral=referral if action == A.LINK else None,
        resolved_by=user_or_none(actor),
        resolved_at=now,
    )
    try:
        with transaction.atomic():
            resolution.save()
    except IntegrityError:  # resolved a moment ago by someone whose transaction the lock did not see
        winner = item.resolutions.select_related("resolved_by").filter(
            action__in=FINAL if action != A.DISPUTE else (A.DISPUTE,)
        )
        raise ResolutionConflict(conflict_message(winner.first()), resolution=winner.first()) from None
    _audit(item, resolution, rows, new_item, actor, now)
    return Outcome(resolution=resolution, rows=rows, new_item=new_item)


def _check_dispute(item, note: str, follow_up_on: date | None, now: datetime) -> None:
    disputed = item.resolutions.select_related("resolved_by").filter(action=A.DISPUTE).first()
    if disputed is not None:
        raise ResolutionConflict(conflict_message(disputed), resolution=disputed)
    if not note:
        raise FinanceError("Say what is disputed (it is kept with the item).", field="note")
    if follow_up_on is None:
        raise FinanceError("Give the day to follow it up with the partner.", field="follow_up_on")
    if follow_up_on < timezone.localdate(now):
        raise FinanceError("The follow-up day is in the past.", field="follow_up_on")
    if follow_up_on > timezone.localdate(now) + timedelta(days=366):
        raise FinanceError("Follow it up within a year.", field="follow_up_on")


def _basis(item: ReconciliationItem, what: str, note: str) -> str:
    where = f"statement {item.statement_id}" + (f" row {item.line.row_number}" if item.line_id else "")
    return f"{what} ({where})" + (f": {note}" if note else "")


def _accept(item: ReconciliationItem, note: str, actor, now) -> list[FeeAccrual]:
    """The fee (or fees) move to what the partner says: an adjustment row each, newest fee first when lowering."""
    covered = item_fees(item)
    if not covered:
        raise FinanceError(
            f"This referral has no fee in {item.currency} to adjust: record the event on the referral's page, or "
            "dispute the line.",
            field="action",
        )
    difference = item.statement_amount - sum((fee.net for fee in _with_net(covered)), fees.ZERO)
    if difference == 0:
        raise FinanceError("The fee already stands at the partner's amount: nothing to accept.", field="action")
    reason = _basis(item, f"Accepted the partner's amount {money_text(item.statement_amount, item.currency)}", note)
    if difference > 0:
        return [accrual_adjust(accrual=covered[-1], amount=difference, reason=reason, actor=actor, now=now)]
    rows, remaining = [], -difference
    for fee in reversed(_with_net(covered)):
        part = min(fee.net, remaining)
        if part > 0:
            rows.append(accrual_adjust(accrual=fee, amount=-part, reason=reason, actor=actor, now=now))
            remaining -= part
    if remaining > 0:
        raise FinanceError("The partner's amount is below zero for these fees; dispute it instead.", field="action")
    return rows


def _with_net(covered: list[FeeAccrual]) -> list[FeeAccrual]:
    for fee in covered:
        if not hasattr(fee, "net"):
            fee.net = fees.money(fee.amount + sum((c.amount for c in fee.corrections.all()), fees.ZERO))
    return covered


def _write_off(item: ReconciliationItem, note: str, actor, now) -> list[FeeAccrual]:
    """Missing: what is still open on the fee. Mismatch: the shortfall (the fee less what the partner says)."""
    if not note:
        raise FinanceError("Say why it is written off.", field="note")
    covered = _with_net(item_fees(item))
    if item.category == MatchCategory.MISSING:
        return [accrual_write_off(accrual=item.accrual, reason=_basis(item, "Missing from statement", note),
                                  actor=actor, now=now)]  # fmt: skip
    shortfall = sum((fee.net for fee in covered), fees.ZERO) - item.statement_amount
    if shortfall <= 0:
        raise FinanceError(
            "The partner says it owes more than the fee: accept its amount, or dispute it.", field="action"
        )
    rows, remaining = [], shortfall
    reason = _basis(item, f"Shortfall on the statement ({money_text(item.statement_amount, item.currency)})", note)
    for fee in reversed(covered):
        part = min(item_open(fee), remaining)
        if part > 0:
            rows.append(accrual_write_off(accrual=fee, amount=part, reason=reason, actor=actor, now=now))
            remaining -= part
    if remaining > 0:
        raise FinanceError(
            f"Only {money_text(shortfall - remaining, item.currency)} of the shortfall is still open on the fees "
            "(the rest is paid): dispute it instead.",
            field="action",
        )
    return rows


def _link(item: ReconciliationItem, referral: Referral | None, actor, now) -> ReconciliationItem:
    if referral is None:
        raise FinanceError("Choose the referral this line is about.", field="referral")
    partner = item.statement.partner
    if referral.partner_id != partner.pk:
        raise FinanceError(f"{referral.tracking_code} is another partner's referral.", field="referral")
    if item.referral_id == referral.pk and item.category != MatchCategory.UNKNOWN_REFERRAL:
        raise FinanceError(f"The line is matched to {referral.tracking_code} already.", field="referral")
    line = item.line
    settings = StatementSettings.objects.filter(partner=partner).first() or StatementSettings(partner=partner)
    result = item_compare(line=line, referral=referral, settings=settings)
    if line.partner_reference:
        PartnerReference.objects.get_or_create(
            partner=partner, reference=line.partner_reference, defaults={"referral": referral, "created_at": now}
        )
    new_item = ReconciliationItem.objects.create(
        statement=item.statement,
        line=line,
        referral=referral,
        accrual=result["accrual"],
        category=result["category"],
        rule=MatchRule.HAND,
        expected_amount=result["expected_amount"],
        statement_amount=line.amount,
        currency=line.currency,
        created_at=now,
    )
    _cover_missing(new_item, result["fees"], actor, now)
    return new_item


def _cover_missing(new_item: ReconciliationItem, covered: list[FeeAccrual], actor, now) -> None:
    """Fees of the statement found missing that the hand-linked line covers are not missing after all."""
    missing = (
        ReconciliationItem.objects.filter(
            statement_id=new_item.statement_id, category=MatchCategory.MISSING, accrual__in=covered
        )
        .exclude(resolutions__action__in=FINAL)
        .select_for_update(of=("self",))
    )
    for item in missing:
        try:
            with transaction.atomic():
                Resolution.objects.create(
                    item=item,
                    action=A.LINK,
                    referral=new_item.referral,
                    note=f"Covered by row {new_item.line.row_number}, linked by hand",
                    resolved_by=user_or_none(actor),
                    resolved_at=now,
                )
        except IntegrityError:
            continue  # someone resolved it a moment ago: theirs stands


def _audit(item, resolution: Resolution, rows, new_item, actor, now) -> None:
    where = f"statement {item.statement_id}" + (f" row {item.line.row_number}" if item.line_id else "")
    code = item.referral.tracking_code if item.referral_id else "no referral"
    parts = [f"{resolution.get_action_display()}: {item.get_category_display().lower()} item {item.pk} ({where}, "
             f"{code})"]  # fmt: skip
    if rows:
        parts.append("ledger rows " + ", ".join(f"{row.pk} ({row.amount:+} {row.currency})" for row in rows))
    if new_item is not None:
        parts.append(f"linked to {new_item.referral.tracking_code}: {new_item.get_category_display().lower()}")
    if resolution.follow_up_on:
        parts.append(f"follow up on {resolution.follow_up_on:%Y-%m-%d}")
    if resolution.note:
        parts.append(f"“{resolution.note[:200]}”")
    audit_record(
        action=AuditAction.RESOLUTION,
        subject_type="statement",
        subject_id=item.statement_id,
        partner_id=item.statement.partner_id,
        summary="; ".join(parts),
        changes={"item": [None, item.pk], "action": [None, resolution.action]},
        actor=actor,
        at=now,
    )


# Paying from a reconciled statement --------------------------------------------------------------------------


def statement_fees(statement: PartnerStatement):
    """The fees a reconciled statement settled: those of matched items (any rule, by hand too) and of mismatches
    whose partner's amount was accepted."""
    settled = statement.items.filter(
        Q(category=MatchCategory.MATCHED)
        | Q(category=MatchCategory.AMOUNT_MISMATCH, resolutions__action=A.ACCEPT_PARTNER_AMOUNT)
    )
    return FeeAccrual.objects.filter(
        Q(pk__in=settled.filter(accrual__isnull=False).values("accrual_id"))
        | Q(
            referral_id__in=settled.filter(accrual__isnull=True, referral__isnull=False).values("referral_id"),
            kind__in=BILLABLE_KINDS,
            occurred_at__lt=day_start(statement.period_end + timedelta(days=1)),
        ),
        partner_id=statement.partner_id,
    )


@transaction.atomic
def statement_pay(
    *,
    statement: PartnerStatement,
    amount: Decimal,
    currency: str,
    received_on: date,
    reference: str = "",
    payment: Payment | None = None,
    actor=None,
    now: datetime | None = None,
) -> tuple[Payment, list[Allocation]]:
    """The partner paid for this statement: record the payment (or take one recorded already, `payment`) and allocate
    what is free of it to the fees the statement settled, oldest due first. What is left is the partner's credit."""
    now = now or timezone.now()
    if statement.status != PartnerStatement.Status.RECONCILED:
        raise FinanceError("Reconcile the statement first: its lines decide which fees the payment settles.")
    if payment is None:
        payment = payment_record(
            partner=statement.partner,
            amount=amount,
            currency=currency,
            received_on=received_on,
            reference=reference,
            note=f"For statement {statement.pk} ({statement.period_start:%Y-%m-%d} to {statement.period_end:%Y-%m-%d})",
            statement=statement,
            actor=actor,
            now=now,
        )
    elif payment.partner_id != statement.partner_id:
        raise FinanceError("That payment is another partner's.", field="payment")
    allocations = payment_allocate_auto(
        payment=payment, accruals=list(statement_fees(statement)), source=Allocation.Source.STATEMENT, actor=actor,
        now=now,
    )  # fmt: skip
    return payment, allocations
