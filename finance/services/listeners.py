"""What finance does when partners tells it something happened (registered in `FinanceConfig.ready`, called inside
partners' own transaction): the audit trail of fee agreements and ledger corrections, and money paid beyond a
lowered fee given back to the partner's credit."""

from datetime import datetime

from finance.models import AuditAction
from finance.services.base import audit_record, money_text
from finance.services.payments import allocations_give_back_excess
from partners.models import FeeAccrual, FeeAgreement

AGREEMENT_ACTIONS = {
    "created": AuditAction.AGREEMENT_CREATED,
    "changed": AuditAction.AGREEMENT_CHANGED,
    "ended": AuditAction.AGREEMENT_ENDED,
}
FIELD_LABELS = {
    "currency": "currency",
    "per_referral": "per referral sent",
    "per_accepted": "per accepted referral",
    "per_conversion": "per conversion",
    "percent_of_deal": "% of the deal",
    "percent_cap": "cap",
    "payment_terms_days": "payment terms (days)",
    "valid_from": "first day",
    "valid_to": "last day",
    "notes": "notes",
    "tiers": "tiers",
}


def agreement_saved(*, agreement: FeeAgreement, action: str, changes: dict, actor, now: datetime) -> None:
    if action == "created":
        values = {name: new for name, (_, new) in changes.items()}
        summary = (
            f"Fee agreement {agreement.pk} with {agreement.partner.name} created: {values.get('currency')} from "
            f"{values.get('valid_from')} to {values.get('valid_to') or 'open'}"
        )
    else:
        parts = [f"{FIELD_LABELS.get(name, name)} {old or '—'} → {new or '—'}" for name, (old, new) in changes.items()]
        summary = f"Fee agreement {agreement.pk} with {agreement.partner.name} {action}: " + "; ".join(parts)
    audit_record(
        action=AGREEMENT_ACTIONS[action],
        subject_type="agreement",
        subject_id=agreement.pk,
        partner_id=agreement.partner_id,
        summary=summary,
        changes=changes,
        actor=actor,
        at=now,
    )


def ledger_corrected(*, rows: list[FeeAccrual], actor, now: datetime) -> None:
    for row in rows:
        item = row.corrects
        audit_record(
            action=AuditAction.CORRECTION,
            subject_type="accrual",
            subject_id=item.pk,
            partner_id=row.partner_id,
            summary=f"{row.get_kind_display()} of {money_text(row.amount, row.currency)} on "
            f"{item.referral.tracking_code} {item.get_kind_display()} (row {row.pk}): {row.basis}",
            changes={"amount": [None, str(row.amount)], "row": [None, row.pk]},
            actor=actor,
            at=now,
        )
    items = {row.corrects_id: row.corrects for row in rows}
    allocations_give_back_excess(items=list(items.values()), actor=actor, now=now)
