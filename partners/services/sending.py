"""Sending a referral: the checks (consent first), the terms snapshot, the first fee, the emails.

`referral_send` is the one service of the two referral redirects, introduce and signpost, whichever door opens it:
triage (one lead or its claim), the lead's matches page, and the re-offer after a partner declines or lets an
introduction expire. It always tells the lead (`leads.services.lead_tell`): a signpost is the partner's details
and a tracking code; an introduction says who will contact them. That answer is the lead's first response."""

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import ServiceError
from common.text import render_plain_text
from leads.models import Lead, LeadStatus
from leads.services import lead_event_record, lead_tell, lead_transition
from outbox.services import message_queue
from partners import fees, links, matching
from partners.models import (
    FeeAccrual,
    Partner,
    PartnerStatus,
    Referral,
    ReferralMode,
    ReferralStatus,
)
from partners.services.agreements import fee_agreement_in_force
from partners.services.ledger import ledger_post


class ReferralError(ServiceError):
    """A referral step that is not allowed now; the message says why, for the person who tried."""


class ConsentError(ReferralError):
    """An introduction without the lead's recorded consent to partner sharing."""


# Leads a partner may be offered: not yet decided by sales, or already on another redirect.
REFERRABLE = {
    LeadStatus.DISQUALIFIED,
    LeadStatus.NEEDS_REVIEW,
    LeadStatus.NURTURING,
    LeadStatus.HELPED,
    LeadStatus.REFERRED,
}
TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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
    return ledger_post(rows, day=timezone.localdate(at))


def _queue_introduction(referral: Referral) -> None:
    partner, lead = referral.partner, referral.lead
    link = links.referral_url(referral)
    for contact in partner.contacts.filter(receives_introductions=True):
        body = render_plain_text(
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


def _tell_lead(referral: Referral, *, now: datetime) -> None:
    """The lead's answer: a signpost (the partner's details and a tracking code, nothing shared) or, for an
    introduction, who will be in touch and their reference."""
    lead, partner = referral.lead, referral.partner
    context = {"referral": referral, "lead": lead, "partner": partner}
    if referral.mode == ReferralMode.INTRODUCE:
        key, kind, subject = "introduced-note", "lead_introduced", f"We have put you in touch with {partner.name}"
        body = render_plain_text("partners/email/introduced.txt", context)
    else:
        key, kind, subject = "signpost", "lead_signpost", f"{partner.name} may be a better fit for you"
        body = render_plain_text("partners/email/signpost.txt", context)
    lead_tell(
        lead=lead,
        key=f"referral:{referral.pk}:{key}",
        kind=kind,
        subject=subject,
        body=body,
        referral=referral,
        now=now,
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
    _tell_lead(referral, now=now)
    return referral
