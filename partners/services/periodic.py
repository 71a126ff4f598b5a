"""Periodic referral work (Celery beat): expiring unanswered introductions, reminding partners."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from common.text import render_plain_text
from outbox.services import message_queue
from partners import links
from partners.models import (
    Referral,
    ReferralMode,
    ReferralStatus,
)
from partners.services.outcomes import referral_expire


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
                body = render_plain_text(
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
