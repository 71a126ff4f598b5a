"""A referral after it is sent: the partner's answer, the outcome, reversal, and re-offering the lead."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.money import AmountError, parse_amount
from leads.models import Band, Lead, LeadStatus
from leads.services import lead_event_record, lead_transition
from partners import fees, matching
from partners.models import (
    AccrualKind,
    FeeAccrual,
    Partner,
    Referral,
    ReferralMode,
    ReferralStatus,
)
from partners.services.ledger import corrections_notify, item_net, ledger_correct, ledger_post, lock_item
from partners.services.sending import ReferralError, _accrue, _lock_lead, referral_send


def _lock_referral(referral: Referral) -> tuple[Referral, Lead]:
    lead = _lock_lead(referral.lead)
    referral = Referral.objects.select_for_update().select_related("partner").get(pk=referral.pk)
    referral.lead = lead
    return referral, lead


def _day(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y}"


def _require(referral: Referral, *allowed: str, action: str) -> None:
    if referral.status not in allowed:
        when = {
            ReferralStatus.ACCEPTED: referral.accepted_at,
            ReferralStatus.DECLINED: referral.declined_at,
            ReferralStatus.EXPIRED: referral.expired_at,
            ReferralStatus.CONVERTED: referral.converted_at,
            ReferralStatus.LOST: referral.lost_at,
        }.get(referral.status)
        if action == "reversed" and referral.status in (ReferralStatus.SENT, ReferralStatus.ACCEPTED):
            raise ReferralError("This referral cannot be reversed: it has not converted.")
        if referral.status == ReferralStatus.SENT and referral.mode == ReferralMode.INTRODUCE:
            raise ReferralError(f"This referral cannot be {action}: it has not been accepted yet.")
        since = f" on {_day(when)}" if when else ""
        raise ReferralError(
            f"This referral cannot be {action}: it was already {referral.get_status_display().lower()}{since}."
        )


def _record(referral: Referral, verb: str, *, actor, actor_label: str, at: datetime, **data) -> None:
    lead_event_record(
        lead=referral.lead,
        verb=verb,
        actor=actor,
        actor_label=actor_label,
        at=at,
        data={"referral": referral.pk, "partner": referral.partner.name, **data},
    )


@transaction.atomic
def referral_accept(*, referral: Referral, actor=None, actor_label: str = "", now: datetime | None = None) -> Referral:
    now = now or timezone.now()
    referral, _ = _lock_referral(referral)
    _require(referral, ReferralStatus.SENT, action="accepted")
    if referral.mode != ReferralMode.INTRODUCE:  # an accepted signpost could never convert or be lost
        raise ReferralError("A signpost is not accepted by the partner; record whether it converted or was lost.")
    if referral.respond_by is not None and now > referral.respond_by:
        raise ReferralError(
            f"The time to accept this introduction ended on {_day(referral.respond_by)}; "
            "we are offering the customer elsewhere."
        )
    lead = referral.lead
    if lead.do_not_contact or not lead.has_partner_sharing_consent:
        raise ReferralError(
            "The customer has withdrawn their consent since we wrote; please disregard this introduction."
        )
    referral.status, referral.accepted_at = ReferralStatus.ACCEPTED, now
    referral.save(update_fields=["status", "accepted_at", "updated_at"])
    _record(referral, "referral_accepted", actor=actor, actor_label=actor_label, at=now)
    _accrue(referral, "accepted", at=now, user=actor)
    return referral


@transaction.atomic
def referral_decline(
    *, referral: Referral, reason: str, actor=None, actor_label: str = "", now: datetime | None = None
) -> Referral:
    """The partner says no. The lead is re-offered to the next match, or returned to triage."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReferralError("Say why the referral is declined.")
    referral, lead = _lock_referral(referral)
    _require(referral, ReferralStatus.SENT, action="declined")
    if referral.mode != ReferralMode.INTRODUCE:
        raise ReferralError("A signpost is not declined by the partner; record whether it converted or was lost.")
    referral.status, referral.declined_at, referral.decline_reason = ReferralStatus.DECLINED, now, reason[:300]
    referral.save(update_fields=["status", "declined_at", "decline_reason", "updated_at"])
    _record(referral, "referral_declined", actor=actor, actor_label=actor_label, at=now, reason=reason)
    _reoffer_or_return(referral, lead, now=now)
    return referral


@transaction.atomic
def referral_expire(*, referral: Referral, now: datetime | None = None) -> Referral | None:
    """The acceptance window passed without an answer: expire, then re-offer or return to triage.
    Returns None when there was nothing to do (answered meanwhile, or not due)."""
    now = now or timezone.now()
    referral, lead = _lock_referral(referral)
    if referral.status != ReferralStatus.SENT or referral.respond_by is None or referral.respond_by > now:
        return None
    referral.status, referral.expired_at = ReferralStatus.EXPIRED, now
    referral.save(update_fields=["status", "expired_at", "updated_at"])
    _record(referral, "referral_expired", actor=None, actor_label="system", at=now)
    _reoffer_or_return(referral, lead, now=now)
    return referral


def _reoffer_or_return(referral: Referral, lead: Lead, *, now: datetime) -> None:
    """After a decline or expiry: the next-best partner gets the lead (same mode, if still allowed), or,
    when there is none, the lead goes back to the triage queue. Other open referrals: nothing to do."""
    served = [ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.CONVERTED]  # converted: a customer now
    if Referral.objects.filter(lead=lead, status__in=served).exists():
        return
    if lead.status != LeadStatus.REFERRED:
        return
    if settings.REFERRAL_AUTO_REOFFER:
        for match in matching.matches_for_lead(lead, limit=3, now=now).matches:
            partner = Partner.objects.get(pk=match.partner.id)
            try:
                with transaction.atomic():
                    referral_send(
                        lead=lead,
                        partner=partner,
                        mode=referral.mode,
                        actor_label="system:re-offer",
                        note=f"Re-offered after {referral.partner.name} {referral.get_status_display().lower()}.",
                        now=now,
                    )
            except ReferralError:
                continue  # e.g. no consent for an introduction any more, or the partner just filled up
            return
    band = lead.icp_band or Band.NEEDS_REVIEW
    to = LeadStatus.DISQUALIFIED if band == Band.DISQUALIFIED else LeadStatus.NEEDS_REVIEW
    lead_transition(
        lead=lead,
        to=to,
        actor_label="system",
        at=now,
        data={
            "why": f"No other partner to offer it to after {referral.partner.name} "
            f"{referral.get_status_display().lower()}."
        },
    )
    lead_event_record(
        lead=lead,
        verb="returned_to_triage",
        actor_label="system",
        at=now,
        data={"referral": referral.pk, "partner": referral.partner.name},
    )


def parse_deal_value(raw: str | Decimal | None, *, decimal_separator: str = ".") -> Decimal:
    """A deal value: a Decimal (forms read the text in the partner's convention) or text such as "12,000.50"
    read by `common.money.parse_amount` ("12.500,50" with decimal_separator=","); refused when not positive."""
    if isinstance(raw, Decimal):
        value = raw
    else:
        if not (raw or "").strip():
            raise ReferralError("Give the deal value.")
        try:
            value = parse_amount(raw, decimal_separator=decimal_separator)
        except AmountError as exc:
            raise ReferralError(str(exc)) from None
    if not value.is_finite() or value <= 0:
        raise ReferralError("The deal value must be more than zero.")
    if value >= Decimal("1e12"):
        raise ReferralError("The deal value is too large.")
    value = fees.money(value)
    if value <= 0:  # under half a cent rounds to 0.00
        raise ReferralError("The deal value must be more than zero.")
    return value


@transaction.atomic
def referral_convert(
    *,
    referral: Referral,
    deal_value: Decimal | str,
    currency: str = "",
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> Referral:
    """The partner won the customer. Introductions convert after acceptance; signposts (nobody accepts
    them) straight from sent. Accrues the conversion fees by the referral's own terms."""
    now = now or timezone.now()
    value = parse_deal_value(deal_value)
    referral, _ = _lock_referral(referral)
    allowed = (ReferralStatus.ACCEPTED,) if referral.mode == ReferralMode.INTRODUCE else (ReferralStatus.SENT,)
    _require(referral, *allowed, action="marked as converted")
    expected = (referral.fee_terms or {}).get("currency") or ""
    currency = (currency or expected).upper()
    if not currency:
        raise ReferralError("Give the deal's currency.")
    if expected and currency != expected:
        raise ReferralError(f"Give the deal value in {expected}, the currency of the fee agreement.")
    referral.status, referral.converted_at = ReferralStatus.CONVERTED, now
    referral.deal_value, referral.deal_currency = value, currency
    referral.save(update_fields=["status", "converted_at", "deal_value", "deal_currency", "updated_at"])
    _record(
        referral,
        "referral_converted",
        actor=actor,
        actor_label=actor_label,
        at=now,
        deal_value=str(value),
        currency=currency,
    )
    _accrue(referral, "converted", at=now, user=actor, deal_value=value)
    return referral


@transaction.atomic
def referral_lose(
    *, referral: Referral, reason: str, actor=None, actor_label: str = "", now: datetime | None = None
) -> Referral:
    """The partner tried and did not win the customer."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReferralError("Say why the customer was lost.")
    referral, _ = _lock_referral(referral)
    allowed = (ReferralStatus.ACCEPTED,) if referral.mode == ReferralMode.INTRODUCE else (ReferralStatus.SENT,)
    _require(referral, *allowed, action="marked as lost")
    referral.status, referral.lost_at, referral.lost_reason = ReferralStatus.LOST, now, reason[:300]
    referral.save(update_fields=["status", "lost_at", "lost_reason", "updated_at"])
    _record(referral, "referral_lost", actor=actor, actor_label=actor_label, at=now, reason=reason)
    return referral


@transaction.atomic
def referral_conversion_reverse(
    *, referral: Referral, reason: str, actor=None, actor_label: str = "", now: datetime | None = None
) -> list[FeeAccrual]:
    """A conversion that did not stand (refund, cancelled deal): the referral becomes lost and each conversion
    fee gets a negative ledger row. Nothing earlier is changed."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReferralError("Say why the conversion is reversed.")
    referral, _ = _lock_referral(referral)
    _require(referral, ReferralStatus.CONVERTED, action="reversed")
    referral.status, referral.lost_at, referral.lost_reason = ReferralStatus.LOST, now, f"Reversed: {reason}"[:300]
    referral.save(update_fields=["status", "lost_at", "lost_reason", "updated_at"])
    reversed_rows = []
    for accrual in referral.accruals.filter(kind__in=[AccrualKind.CONVERSION, AccrualKind.CONVERSION_PERCENT]):
        item = lock_item(accrual)
        net = item_net(item)  # what the fee stands at after any adjustment or write-off
        if net > 0:
            basis = f"Reverses “{item.get_kind_display()}”: {reason}"
            reversed_rows.append(
                ledger_correct(item=item, kind=AccrualKind.REVERSAL, amount=-net, basis=basis, actor=actor, now=now)
            )
    corrections_notify(reversed_rows, actor=actor, now=now)
    _record(
        referral,
        "conversion_reversed",
        actor=actor,
        actor_label=actor_label,
        at=now,
        reason=reason,
        amount=str(sum((r.amount for r in reversed_rows), Decimal("0.00"))),
    )
    return reversed_rows


@transaction.atomic
def referral_deal_value_correct(
    *,
    referral: Referral,
    deal_value: Decimal | str,
    reason: str,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> list[FeeAccrual]:
    """A converted referral's deal value was wrong. The referral keeps its conversion with the right value; the
    share of the deal is corrected by adjustments — the share on the old value reversed, the share on the new
    value accrued — and nothing earlier is changed. Returns the new ledger rows (none without a share of the deal)."""
    now = now or timezone.now()
    value = parse_deal_value(deal_value)
    reason = (reason or "").strip()
    if not reason:
        raise ReferralError("Say why the deal value is corrected.")
    referral, _ = _lock_referral(referral)
    if referral.status != ReferralStatus.CONVERTED:
        raise ReferralError("Only a converted referral has a deal value to correct.")
    old = referral.deal_value
    if value == old:
        raise ReferralError(f"The deal value is {fees.format_money(value, referral.deal_currency)} already.")
    rows = _reaccrue_share(referral, old, value, reason=reason, actor=actor, now=now)
    referral.deal_value = value
    referral.save(update_fields=["deal_value", "updated_at"])
    _record(
        referral,
        "deal_value_corrected",
        actor=actor,
        actor_label=actor_label,
        at=now,
        old=str(old),
        new=str(value),
        currency=referral.deal_currency,
        reason=reason,
        amount=str(sum((row.amount for row in rows), fees.ZERO)),
    )
    corrections_notify([row for row in rows if row.corrects_id], actor=actor, now=now)
    return rows


def _reaccrue_share(
    referral: Referral, old: Decimal | None, value: Decimal, *, reason: str, actor, now: datetime
) -> list[FeeAccrual]:
    if not referral.fee_terms:
        return []
    terms = fees.Terms.from_snapshot(referral.fee_terms)
    share = next(
        (row for row in fees.accruals_for(terms, "converted", deal_value=value) if row.kind == "conversion_percent"),
        None,
    )
    new = share.amount if share else fees.ZERO
    item = referral.accruals.filter(kind=AccrualKind.CONVERSION_PERCENT).first()
    if item is None:  # the old value earned no share (under half a cent): the new one is the first
        if share is None:
            return []
        row = FeeAccrual(
            referral=referral,
            partner_id=referral.partner_id,
            kind=AccrualKind.CONVERSION_PERCENT,
            amount=new,
            currency=terms.currency,
            basis=f"{share.basis} (deal value corrected: {reason})",
            occurred_at=now,
            due_on=timezone.localdate(now) + timedelta(days=terms.payment_terms_days),
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        return ledger_post([row], day=timezone.localdate(now))
    item = lock_item(item)
    accrued = item.amount + sum(  # what was accrued for the share, before any write-off
        (row.amount for row in item.corrections.filter(kind=AccrualKind.ADJUSTMENT)), fees.ZERO
    )
    written_off = item_net(item) - accrued
    if new + written_off < 0:
        raise ReferralError(
            f"{fees.format_money(-written_off, terms.currency)} of the share of the deal was written off, more than "
            f"the share on the new value ({fees.format_money(new, terms.currency)}); correct the write-off first."
        )
    if new == accrued:
        return []
    was = fees.format_money(old, terms.currency) if old is not None else "none"
    rows = []
    if accrued:
        basis = f"Deal value corrected from {was}: the share on the old value reversed ({reason})"
        rows.append(
            ledger_correct(
                item=item, kind=AccrualKind.ADJUSTMENT, amount=-accrued, basis=basis, actor=actor, now=now, floor=False
            )
        )
    if new:
        basis = f"Deal value corrected from {was}: {share.basis} accrued again ({reason})"
        rows.append(
            ledger_correct(item=item, kind=AccrualKind.ADJUSTMENT, amount=new, basis=basis, actor=actor, now=now)
        )
    return rows
