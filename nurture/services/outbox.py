"""The outbox: every email is a row first; a Celery task delivers it.

`message_queue` stores an email as a row (inside the caller's transaction) and, once that commits, asks a
worker to deliver it. If the broker is down the row waits; `outbox_sweep` (Celery beat, every minute)
delivers whatever is due. `message_deliver` claims the row with a conditional update, so a task delivered
twice, or a task racing the sweep, sends the email once.
"""

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from nurture.models import MessageStatus, OutboundMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
STALE_CLAIM = timedelta(minutes=10)  # a worker that died mid-send: the sweep takes the row back


def enqueue(task, **kwargs) -> bool:
    """Queue a Celery task now; False (logged, never raised) when the broker cannot be reached."""
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:  # broker down: the periodic sweep catches up
        log.warning("Could not queue %s%s; the outbox sweep will pick it up.", task.name, kwargs, exc_info=True)
        return False
    return True


_deferred = ContextVar("outbox_deferred", default=False)


@contextmanager
def outbox_deferred():
    """Store emails without asking a worker for each (seeding, bulk jobs): the sweep sends them."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def is_deferred() -> bool:
    return _deferred.get()


def message_queue(
    *,
    key: str,
    kind: str,
    to_email: str,
    subject: str,
    body: str,
    to_name: str = "",
    lead=None,
    referral=None,
    not_before: datetime | None = None,
) -> OutboundMessage:
    """Store an email to send; the same `key` again returns the existing row (nothing is sent twice)."""
    message, created = OutboundMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "kind": kind,
            "to_email": to_email,
            "to_name": to_name,
            "subject": subject,
            "body": body,
            "lead": lead,
            "referral": referral,
            "next_attempt_at": not_before or timezone.now(),
        },
    )
    if created and lead is not None:
        from leads.services import lead_event_record

        lead_event_record(
            lead=lead,
            verb="message_queued",
            actor_label="system",
            data={"kind": kind, "to": to_email, "subject": subject},
        )
    if created and not_before is None and not _deferred.get():
        from nurture.tasks import send_message

        transaction.on_commit(lambda: enqueue(send_message, message_id=message.pk))
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def message_deliver(*, message_id: int, now: datetime | None = None) -> str:
    """Send one queued message if it is due and nobody else holds it. Returns what happened:
    "sent", "skipped" (not queued, not due, or claimed elsewhere), "retry" or "failed"."""
    now = now or timezone.now()
    claimed = OutboundMessage.objects.filter(
        pk=message_id, status=MessageStatus.QUEUED, next_attempt_at__lte=now
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return "skipped"
    message = OutboundMessage.objects.get(pk=message_id)
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[f"{message.to_name} <{message.to_email}>" if message.to_name else message.to_email],
        headers={"X-Passthrough-Message": message.idempotency_key},
    )
    try:
        email.send()
    except Exception as exc:  # SMTP down, refused…: try again later, give up after MAX_ATTEMPTS
        gave_up = message.attempts >= MAX_ATTEMPTS
        OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED if gave_up else MessageStatus.QUEUED,
            next_attempt_at=now + _backoff(message.attempts),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            claimed_at=None,
        )
        log.warning("Sending message %s failed (attempt %s): %s", message_id, message.attempts, exc)
        return "failed" if gave_up else "retry"
    OutboundMessage.objects.filter(pk=message_id).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error="", claimed_at=None
    )
    return "sent"


def outbox_due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Queued messages that are due, and messages whose sender died mid-send (taken back first)."""
    now = now or timezone.now()
    OutboundMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM).update(
        status=MessageStatus.QUEUED, claimed_at=None
    )
    return list(
        OutboundMessage.objects.filter(Q(status=MessageStatus.QUEUED) & Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Deliver every due message (the broker-was-down and retry path). Safe to run anywhere, any number of
    times at once: each message is claimed before it is sent."""
    counts: dict[str, int] = {}
    for message_id in outbox_due_ids(now=now):
        outcome = message_deliver(message_id=message_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
