"""The outbox: every email is a row first; a Celery task delivers it.

`message_queue` stores an email as a row (inside the caller's transaction) and, once that commits, asks a
worker to deliver it. If the broker is down the row waits; `outbox_sweep` (Celery beat, every minute)
delivers whatever is due. `message_deliver` claims the row with a conditional update, so a task delivered
twice, or a task racing the sweep, sends the email once.

Addresses are built with the standard library (`email.headerregistry.Address`): a display name is quoted
or RFC 2047-encoded as it needs ("Smith, John", "Dr. Ann Lee", "Zoë O'Brien", "李雷"); line breaks in a name
become spaces. Django 6.1 then hands the header to Python's email policy (its old `sanitize_address` is no
longer on the sending path) and gives the SMTP server only the bare address as the envelope recipient.

A dead broker costs a request nothing (`outbox.publish.enqueue`): the sweep sends what was not queued.

The outbox is the bottom layer: it imports no app above it. What happens to an email about a lead (queued,
failed, held, resent, marked sent) is reported through `outbox.hooks.MESSAGE_CHANGED`; leads registers the
listener that writes the lead's timeline and tells the lead's owner.

Sent once, or said so. Every message has a `Message-ID`, made when it is queued and sent on every attempt.
SMTP cannot promise exactly once: a sender that stops (worker killed, database lost) after the mail server
accepted the message leaves the row `sending`. Such a row, still `sending` `STALE_CLAIM` (10 minutes, far
beyond an SMTP conversation with its 10-second timeouts) after it was claimed, is **held**, not resent:
its status becomes `unknown`, the lead's timeline says so and the lead's owner is told (the hook); a person resends
it (same Message-ID, so mail clients that collapse repeats do) or marks it sent. A send that breaks while
the server holds the whole message (no reply to the end of DATA) is held the same way at once. Resending
blindly was the alternative; it is what made people receive the same email twice.
"""

import logging
import re
import smtplib
import traceback
from datetime import datetime, timedelta
from email.headerregistry import Address

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from common.errors import ServiceError
from outbox import hooks
from outbox.models import MessageStatus, OutboundMessage
from outbox.publish import enqueue_on_commit, is_deferred

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
STALE_CLAIM = timedelta(minutes=10)  # a row still `sending` this long after its claim: its sender stopped
SEND_TASK = "outbox.send_message"  # published by name: outbox.tasks imports this module


class OutboxError(ServiceError):
    """An outbox action that is not allowed now (the message has moved on)."""


# Addresses ------------------------------------------------------------------------------------------------


def format_address(name: str, address: str) -> str:
    """`"Smith, John" <john@example.com>`: the display name quoted (or, when not ASCII, encoded on the wire)
    as the standard library does it; none when `name` is blank. Raises ValueError for an unusable address."""
    username, at, domain = address.strip().rpartition("@")
    if not at or not username or not domain:
        raise ValueError(f"Invalid address {address!r}: no user@domain")
    return str(Address(display_name=" ".join((name or "").split()), username=username, domain=domain))


_NAMED = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<address>[^<>]+)>\s*$", re.DOTALL)


def sender_address() -> str:
    """DEFAULT_FROM_EMAIL, re-built: `Acme, Inc. <hello@acme.example>` written unquoted in the environment
    still becomes one address."""
    value = settings.DEFAULT_FROM_EMAIL
    match = _NAMED.match(value)
    if match is None:
        return format_address("", value)
    name = match["name"]
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return format_address(name, match["address"])


def _deliver_after_commit(message_id: int) -> None:
    if not is_deferred():
        enqueue_on_commit(SEND_TASK, message_id=message_id)


# Queueing -------------------------------------------------------------------------------------------------


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
        hooks.notify(hooks.MESSAGE_CHANGED, message=message, verb="message_queued", reason="", actor=None)
    if created and not_before is None:
        _deliver_after_commit(message.pk)
    return message


# Delivering -----------------------------------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _email(message: OutboundMessage) -> EmailMessage:
    return EmailMessage(
        subject=" ".join(message.subject.split()),
        body=message.body,
        from_email=sender_address(),
        to=[format_address(message.to_name, message.to_email)],
        headers={"Message-ID": message.message_id, "X-Passthrough-Message": message.idempotency_key},
    )


def _handed_over(exc: BaseException) -> bool:
    """Whether the send broke while the mail server may hold the whole message: inside SMTP's DATA, with no
    answer from the server (an answer, even a refusal, is an SMTPResponseException: not delivered)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return False
    return any(frame.f_code is smtplib.SMTP.data.__code__ for frame, _ in traceback.walk_tb(exc.__traceback__))


def _refused_for_good(exc: BaseException) -> bool:
    """An address that cannot be written, or a 5xx answer for every recipient: trying again will not help."""
    if isinstance(exc, ValueError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _tell(message: OutboundMessage, *, verb: str, reason: str, actor=None) -> None:
    """Report what happened to an email about a lead to the apps above (its timeline, its owner)."""
    if message.lead_id is not None:
        hooks.notify(hooks.MESSAGE_CHANGED, message=message, verb=verb, reason=reason, actor=actor)


def _after_failure(message: OutboundMessage, exc: BaseException, now: datetime) -> str:
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    if _handed_over(exc):
        status, outcome = MessageStatus.UNKNOWN, "unknown"
        reason = f"The mail server stopped answering after it was given the whole message ({reason})."[:2000]
    elif message.attempts >= MAX_ATTEMPTS or _refused_for_good(exc):
        status, outcome = MessageStatus.FAILED, "failed"
    else:
        status, outcome = MessageStatus.QUEUED, "retry"
    with transaction.atomic():
        moved = OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=status,
            next_attempt_at=now + _backoff(message.attempts),
            last_error=reason,
            claimed_at=message.claimed_at if status == MessageStatus.UNKNOWN else None,
        )
        if moved and outcome != "retry":
            _tell(message, verb=f"message_{outcome}", reason=reason)
    log.warning("Sending message %s failed (attempt %s, %s): %s", message.pk, message.attempts, outcome, exc)
    return outcome


def message_deliver(*, message_id: int, now: datetime | None = None) -> str:
    """Send one queued message if it is due and nobody else holds it. Returns what happened:
    "sent", "skipped" (not queued, not due, or claimed elsewhere), "retry", "failed" (gave up: a 5xx for
    every recipient, a bad address, or MAX_ATTEMPTS reached) or "unknown" (held, see the module's doc)."""
    now = now or timezone.now()
    claimed = OutboundMessage.objects.filter(
        pk=message_id, status=MessageStatus.QUEUED, next_attempt_at__lte=now
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return "skipped"
    message = OutboundMessage.objects.select_related("lead__owner").get(pk=message_id)
    try:
        _email(message).send()
    except Exception as exc:  # SMTP down, refused, a bad address…
        return _after_failure(message, exc, now)
    OutboundMessage.objects.filter(pk=message_id).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error="", claimed_at=None
    )
    return "sent"


# Sweeping -------------------------------------------------------------------------------------------------


def outbox_hold_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Messages still `sending` STALE_CLAIM after their claim: their sender stopped, maybe after the mail
    server took the message. Each becomes `unknown` (once, whoever sweeps), with a timeline event and a note to
    the lead's owner; nothing is resent. Returns how many."""
    now = now or timezone.now()
    held = 0
    stale = OutboundMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    for message in stale.select_related("lead__owner").order_by("claimed_at", "id")[:limit]:
        reason = (
            f"Sending started {timezone.localtime(message.claimed_at):%Y-%m-%d %H:%M} and never finished (its "
            "worker stopped); the mail server may have accepted it. Held: resend it or mark it as sent."
        )
        with transaction.atomic():
            if (
                OutboundMessage.objects.filter(
                    pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
                ).update(status=MessageStatus.UNKNOWN, last_error=reason)
                != 1
            ):
                continue  # finished or held meanwhile
            _tell(message, verb="message_unknown", reason=reason)
        held += 1
    return held


def outbox_due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Queued messages that are due, oldest first."""
    now = now or timezone.now()
    return list(
        OutboundMessage.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Hold stale sends, then deliver every due message (the broker-was-down and retry path). Safe to run
    anywhere, any number of times at once: each message is claimed before it is sent."""
    counts: dict[str, int] = {}
    if held := outbox_hold_stale(now=now):
        counts["held"] = held
    for message_id in outbox_due_ids(now=now):
        outcome = message_deliver(message_id=message_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# A person decides -----------------------------------------------------------------------------------------


def _refuse(message: OutboundMessage, allowed: tuple[str, ...], doing: str) -> None:
    current = OutboundMessage.objects.filter(pk=message.pk).values_list("status", flat=True).first()
    if current not in allowed:
        label = MessageStatus(current).label.lower() if current else "gone"
        raise OutboxError(f"This email cannot be {doing}: it is {label} now.")


@transaction.atomic
def message_resend(*, message: OutboundMessage, actor=None, now: datetime | None = None) -> OutboundMessage:
    """Send a held (unknown) or failed email again, with the same Message-ID: it goes back to the queue with a
    fresh set of attempts, and the timeline says who chose to."""
    now = now or timezone.now()
    lead = message.lead
    if lead is not None and lead.do_not_contact and message.to_email.strip().lower() == lead.email.strip().lower():
        raise OutboxError("This lead asked not to be contacted; the email is not sent again.")
    allowed = (MessageStatus.UNKNOWN, MessageStatus.FAILED)
    moved = OutboundMessage.objects.filter(pk=message.pk, status__in=allowed).update(
        status=MessageStatus.QUEUED, attempts=0, next_attempt_at=now, claimed_at=None, last_error=""
    )
    if moved != 1:
        _refuse(message, allowed, "resent")
    message = OutboundMessage.objects.select_related("lead__owner").get(pk=message.pk)
    _tell(message, verb="message_resent", reason="Sent again by hand (same Message-ID).", actor=actor)
    _deliver_after_commit(message.pk)
    return message


@transaction.atomic
def message_mark_sent(*, message: OutboundMessage, actor=None, now: datetime | None = None) -> OutboundMessage:
    """A person knows a held (unknown) email arrived (the recipient answered it): it is sent, as of when its
    sending started."""
    now = now or timezone.now()
    moved = OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.UNKNOWN).update(
        status=MessageStatus.SENT, sent_at=Coalesce("claimed_at", Value(now)), last_error="", claimed_at=None
    )
    if moved != 1:
        _refuse(message, (MessageStatus.UNKNOWN,), "marked as sent")
    message = OutboundMessage.objects.select_related("lead__owner").get(pk=message.pk)
    _tell(message, verb="message_marked_sent", reason="Marked as sent by hand.", actor=actor)
    return message
