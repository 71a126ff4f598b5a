"""Writes for partners, fee agreements, referrals and the fee ledger.

Every referral change locks the lead row first (so two people acting on one lead produce one outcome),
checks the state, writes the referral, appends fee accruals by the terms snapshotted when it was sent,
queues the emails in the outbox and records the step on the lead's timeline.
"""

import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from leads.models import Band, Lead, LeadStatus
from leads.services import lead_event_record, lead_transition
from nurture.services import message_queue
from partners import fees, links, matching
from partners.models import (
    AccrualKind,
    FeeAccrual,
    FeeAgreement,
    FeeTier,
    Partner,
    PartnerStatus,
    Referral,
    ReferralMode,
    ReferralStatus,
)


class ReferralError(Exception):
    """A referral step that is not allowed now; the message says why, for the person who tried."""


class ConsentError(ReferralError):
    """An introduction without the lead's recorded consent to partner sharing."""


class FeeAgreementError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in errors.items()))
        self.errors = errors


# Leads a partner may be offered: not yet decided by sales, or already on another redirect.
REFERRABLE = {
    LeadStatus.DISQUALIFIED,
    LeadStatus.NEEDS_REVIEW,
    LeadStatus.NURTURING,
    LeadStatus.HELPED,
    LeadStatus.REFERRED,
}
TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


# Fee agreements ------------------------------------------------------------------------------------------


def _overlaps(agreement: FeeAgreement) -> bool:
    others = FeeAgreement.objects.filter(partner_id=agreement.partner_id).exclude(pk=agreement.pk)
    if agreement.valid_to is not None:
        others = others.filter(valid_from__lte=agreement.valid_to)
    return others.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=agreement.valid_from)).exists()


@transaction.atomic
def fee_agreement_save(*, agreement: FeeAgreement, tiers: list[dict] | None = None, user=None) -> FeeAgreement:
    """Create or change an agreement (and replace its tiers). One agreement in force per partner per day.

    Referrals already sent keep the terms they were sent under (their snapshot); only later ones change."""
    Partner.objects.select_for_update().get(pk=agreement.partner_id)  # serialises agreement writes per partner
    errors: dict[str, list[str]] = {}
    if agreement.valid_to is not None and agreement.valid_to < agreement.valid_from:
        errors["valid_to"] = ["The last day is before the first day."]
    elif _overlaps(agreement):
        errors["valid_from"] = ["Overlaps another agreement with this partner; end that one first (set its last day)."]
    if agreement.percent_cap is not None and not agreement.percent_of_deal:
        errors["percent_cap"] = ["A cap only applies with a percentage of the deal."]
    if len(agreement.currency) != 3 or not agreement.currency.isalpha():
        errors["currency"] = ["Use a three-letter currency code such as EUR."]
    thresholds = [t["min_monthly_referrals"] for t in tiers or []]
    if len(thresholds) != len(set(thresholds)):
        errors["tiers"] = ["Two tiers start at the same monthly volume."]
    elif any(n is None or n < 2 for n in thresholds):
        errors["tiers"] = ["A tier starts from the 2nd referral of the month or later (the 1st is the base terms)."]
    if errors:
        raise FeeAgreementError(errors)
    agreement.currency = agreement.currency.upper()
    if agreement.pk is None:
        agreement.created_by = user if user is not None and user.is_authenticated else None
    agreement.save()
    if tiers is not None:
        agreement.tiers.all().delete()
        FeeTier.objects.bulk_create(FeeTier(agreement=agreement, **tier) for tier in tiers)
    return agreement


def fee_agreement_in_force(*, partner: Partner, day: date) -> FeeAgreement | None:
    return (
        FeeAgreement.objects.filter(partner=partner, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .prefetch_related("tiers")
        .first()
    )


# Sending -------------------------------------------------------------------------------------------------


def _tracking_code() -> str:
    return "PT-" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))


def _lock_lead(lead: Lead) -> Lead:
    return Lead.objects.select_for_update(of=("self",)).select_related("source", "primary_reason").get(pk=lead.pk)


def _refusal(lead: Lead, partner: Partner, mode: str, now: datetime) -> str | None:
    """Why this referral may not be sent, or None."""
    if lead.status not in REFERRABLE:
        return f"A lead that is {LeadStatus(lead.status).label.lower()} cannot be referred."
    if lead.do_not_contact:
        return "This lead asked not to be contacted, so it cannot be referred."
    if partner.status != PartnerStatus.ACTIVE:
        return f"{partner} is {partner.get_status_display().lower()} and takes no referrals."
    if mode == ReferralMode.INTRODUCE:
        if not lead.has_partner_sharing_consent:
            raise ConsentError(
                "This lead has not agreed to their details being shared with partners, so they cannot be "
                "introduced. Signpost them instead: they get the partner's details and nothing is shared."
            )
        if not partner.contacts.filter(receives_introductions=True).exists():
            return f"{partner} has no contact who receives introductions; add one first."
    elif not (partner.public_email or partner.public_phone or partner.website):
        return f"{partner} has no public email, phone or website to give the lead."
    history = list(Referral.objects.filter(lead=lead, partner=partner).values_list("status", flat=True))
    if ReferralStatus.DECLINED in history or ReferralStatus.EXPIRED in history:
        return f"{partner} turned this lead down before (declined or let it expire); it is not offered again."
    if any(status in (ReferralStatus.DRAFT, ReferralStatus.SENT, ReferralStatus.ACCEPTED) for status in history):
        return f"This lead already has an open referral to {partner}."
    if partner.monthly_capacity is not None:
        volume = Referral.objects.filter(partner=partner, sent_at__gte=matching.month_start(now)).count()
        if volume >= partner.monthly_capacity:
            return f"{partner} has had its {partner.monthly_capacity} referrals for this month."
    return None


def _explanation(lead: Lead, partner: Partner, now: datetime) -> dict:
    cards = [card for card in matching.catalogue(now=now) if card.id == partner.pk]
    if not cards:
        return {}
    result = matching.rank(
        cards,
        matching.engine.lead_values(lead),
        reason_code=lead.primary_reason.code if lead.primary_reason_id else None,
        month_volume=matching.month_volumes(now),
        declined=set(),
        open_referrals=set(),
        limit=1,
    )
    return result.matches[0].explanation() if result.matches else {"suggested": False}


def _accrue(referral: Referral, event: str, *, at: datetime, user=None, deal_value: Decimal | None = None) -> list:
    if not referral.fee_terms:
        return []
    terms = fees.Terms.from_snapshot(referral.fee_terms)
    due_on = timezone.localdate(at) + timedelta(days=terms.payment_terms_days)
    rows = [
        FeeAccrual(
            referral=referral,
            partner_id=referral.partner_id,
            kind=accrual.kind,
            amount=accrual.amount,
            currency=terms.currency,
            basis=accrual.basis,
            occurred_at=at,
            due_on=due_on,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        for accrual in fees.accruals_for(terms, event, deal_value=deal_value)
    ]
    return FeeAccrual.objects.bulk_create(rows)


def _queue_introduction(referral: Referral) -> None:
    partner, lead = referral.partner, referral.lead
    link = links.referral_url(referral)
    for contact in partner.contacts.filter(receives_introductions=True):
        body = render_to_string(
            "partners/email/introduction.txt",
            {"referral": referral, "lead": lead, "partner": partner, "contact": contact, "link": link},
        )
        message_queue(
            key=f"referral:{referral.pk}:introduction:{contact.pk}",
            kind="partner_introduction",
            to_email=contact.email,
            to_name=contact.name,
            subject=f"Introduction: {lead.company or lead.name or 'a new customer'} ({referral.tracking_code})",
            body=body,
            lead=lead,
            referral=referral,
        )


def _queue_signpost(referral: Referral) -> None:
    lead, partner = referral.lead, referral.partner
    body = render_to_string("partners/email/signpost.txt", {"referral": referral, "lead": lead, "partner": partner})
    message_queue(
        key=f"referral:{referral.pk}:signpost",
        kind="lead_signpost",
        to_email=lead.email,
        to_name=lead.name,
        subject=f"{partner.name} may be a better fit for you",
        body=body,
        lead=lead,
        referral=referral,
    )


@transaction.atomic
def referral_send(
    *,
    lead: Lead,
    partner: Partner,
    mode: str,
    actor=None,
    actor_label: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Referral:
    """Refer a lead to a partner: introduce (their details go to the partner, only with consent) or
    signpost (they get the partner's details and a tracking code; nothing about them is shared)."""
    now = now or timezone.now()
    if mode not in ReferralMode.values:
        raise ReferralError(f"Unknown referral mode “{mode}”.")
    lead = _lock_lead(lead)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)  # capacity is checked under the lock
    refusal = _refusal(lead, partner, mode, now)
    if refusal:
        raise ReferralError(refusal)
    agreement = fee_agreement_in_force(partner=partner, day=timezone.localdate(now))
    terms = {}
    if agreement is not None:
        volume = Referral.objects.filter(partner=partner, sent_at__gte=matching.month_start(now)).count()
        terms = matching.agreement_terms(agreement).at_volume(volume + 1).as_snapshot()
    referral = Referral(
        lead=lead,
        partner=partner,
        mode=mode,
        status=ReferralStatus.SENT,
        tracking_code=_tracking_code(),
        link_key=secrets.token_hex(16),
        fee_agreement=agreement,
        fee_terms=terms,
        match=_explanation(lead, partner, now),
        note=note,
        sent_at=now,
        respond_by=now + timedelta(hours=partner.acceptance_window_hours) if mode == ReferralMode.INTRODUCE else None,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    try:
        with transaction.atomic():
            referral.save()
    except IntegrityError:
        raise ReferralError(f"This lead already has an open referral to {partner}.") from None
    if lead.status != LeadStatus.REFERRED:
        lead_transition(lead=lead, to=LeadStatus.REFERRED, actor=actor, actor_label=actor_label, at=now)
    lead_event_record(
        lead=lead,
        verb="referred",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={
            "referral": referral.pk,
            "partner": partner.name,
            "mode": mode,
            "tracking_code": referral.tracking_code,
            "terms": fees.Terms.from_snapshot(terms).describe() if terms else "no fee agreement in force",
        },
    )
    _accrue(referral, "sent", at=now, user=actor)
    if mode == ReferralMode.INTRODUCE:
        _queue_introduction(referral)
    else:
        _queue_signpost(referral)
        if lead.first_response_at is None:  # the lead got a useful answer from us
            lead.first_response_at = now
            lead.save(update_fields=["first_response_at", "updated_at"])
    return referral


# Partner responses and outcomes --------------------------------------------------------------------------


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
    band = lead.evaluation.band if lead.evaluation_id else Band.NEEDS_REVIEW
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


def parse_deal_value(raw: str | Decimal | None) -> Decimal:
    """A deal value from a form or link page: "12000", "12,000.50"; refused when not a positive amount."""
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = (raw or "").strip().replace(",", "").replace(" ", "")
        if not text:
            raise ReferralError("Give the deal value.")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ReferralError(f"“{raw}” is not an amount; write it like 12000 or 12000.50.") from None
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
    for accrual in referral.accruals.filter(
        kind__in=[AccrualKind.CONVERSION, AccrualKind.CONVERSION_PERCENT], reversed_by__isnull=True
    ):
        reversed_rows.append(
            FeeAccrual.objects.create(
                referral=referral,
                partner_id=referral.partner_id,
                kind=AccrualKind.REVERSAL,
                amount=-accrual.amount,
                currency=accrual.currency,
                basis=f"Reverses “{accrual.get_kind_display()}”: {reason}"[:300],
                reverses=accrual,
                occurred_at=now,
                due_on=timezone.localdate(now),
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
        )
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


# Periodic work (Celery beat) -----------------------------------------------------------------------------


def referrals_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire introductions whose acceptance window has passed; each in its own transaction."""
    now = now or timezone.now()
    due = Referral.objects.filter(status=ReferralStatus.SENT, respond_by__lt=now).order_by("respond_by")
    expired = 0
    for referral in due.select_related("lead")[:limit]:
        if referral_expire(referral=referral, now=now) is not None:
            expired += 1
    return expired


REMIND_BEFORE = timedelta(hours=24)


def referrals_remind_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """One reminder per introduction, to each introduction contact, when its window ends within a day."""
    now = now or timezone.now()
    due = Referral.objects.filter(
        status=ReferralStatus.SENT,
        mode=ReferralMode.INTRODUCE,
        reminded_at__isnull=True,
        respond_by__gt=now,
        respond_by__lte=now + REMIND_BEFORE,
    ).select_related("lead", "partner")
    reminded = 0
    for referral in due[:limit]:
        with transaction.atomic():
            if Referral.objects.filter(pk=referral.pk, reminded_at__isnull=True).update(reminded_at=now) != 1:
                continue  # another sweep got it
            link = links.referral_url(referral)
            for contact in referral.partner.contacts.filter(receives_introductions=True):
                body = render_to_string(
                    "partners/email/reminder.txt",
                    {"referral": referral, "partner": referral.partner, "contact": contact, "link": link},
                )
                message_queue(
                    key=f"referral:{referral.pk}:reminder:{contact.pk}",
                    kind="partner_reminder",
                    to_email=contact.email,
                    to_name=contact.name,
                    subject=f"Reminder: please answer introduction {referral.tracking_code}",
                    body=body,
                    lead=referral.lead,
                    referral=referral,
                )
            reminded += 1
    return reminded
