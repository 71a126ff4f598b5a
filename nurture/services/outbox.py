"""The outbox: every email is a row first; a Celery task delivers it.

`message_queue` stores an email as a row (inside the caller's transaction) and, once that commits, asks a
worker to deliver it. If the broker is down the row waits; `outbox_sweep` (Celery beat, every minute)
delivers whatever is due. `message_deliver` claims the row with a conditional update, so a task delivered
twice, or a task racing the sweep, sends the email once.

Addresses are built with the standard library (`email.headerregistry.Address`): a display name is quoted
or RFC 2047-encoded as it needs ("Smith, John", "Dr. Ann Lee", "Zoë O'Brien", "李雷"); line breaks in a name
become spaces. Django 6.1 then hands the header to Python's email policy (its old `sanitize_address` is no
longer on the sending path) and gives the SMTP server only the bare address as the envelope recipient.

A dead broker costs a request nothing: publishing tries the broker once with short timeouts (the settings'
broker transport options), and after a failure this process does not try again for `BROKER_PAUSE` seconds;
the sweep sends what was not queued.

Sent once, or said so. Every message has a `Message-ID`, made when it is queued and sent on every attempt.
SMTP cannot promise exactly once: a sender that stops (worker killed, database lost) after the mail server
accepted the message leaves the row `sending`. Such a row, still `sending` `STALE_CLAIM` (10 minutes, far
beyond an SMTP conversation with its 10-second timeouts) after it was claimed, is **held**, not resent:
its status becomes `unknown`, the lead's timeline says so and the lead's owner is told; a person resends
it (same Message-ID, so mail clients that collapse repeats do) or marks it sent. A send that breaks while
the server holds the whole message (no reply to the end of DATA) is held the same way at once. Resending
blindly was the alternative; it is what made people receive the same email twice.
"""

import logging
import re
import smtplib
import time
import traceback
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from email.headerregistry import Address

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.services import lead_event_record
from nurture.models import MessageStatus, OutboundMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
STALE_CLAIM = timedelta(minutes=10)  # a row still `sending` this long after its claim: its sender stopped
BROKER_PAUSE = 15.0  # seconds this process leaves the broker alone after it could not be reached
OWNER_NOTICE_KINDS = frozenset({"owner_message_failed", "owner_message_unknown"})


class OutboxError(Exception):
    """An outbox action that is not allowed now (the message has moved on)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.errors = errors or {}


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


# Asking a worker ------------------------------------------------------------------------------------------

_broker = {"down_until": 0.0}  # per process (monotonic seconds)


def broker_pause_reset() -> None:
    """Forget that the broker was down (tests; a process that knows it is back)."""
    _broker["down_until"] = 0.0


def enqueue(task, **kwargs) -> bool:
    """Queue a Celery task now; False (logged, never raised) when the broker cannot be reached. One attempt
    (see the broker transport options in settings); after a failure, none for BROKER_PAUSE seconds."""
    if time.monotonic() < _broker["down_until"]:
        log.info("The broker was unreachable moments ago; %s%s is left to the outbox sweep.", task.name, kwargs)
        return False
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:  # broker down: the periodic sweep catches up
        _broker["down_until"] = time.monotonic() + BROKER_PAUSE
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


def _deliver_after_commit(message_id: int) -> None:
    from nurture.tasks import send_message  # tasks import the services

    transaction.on_commit(lambda: enqueue(send_message, message_id=message_id))


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
        lead_event_record(
            lead=lead,
            verb="message_queued",
            actor_label="system",
            data={"kind": kind, "to": to_email, "subject": subject},
        )
    if created and not_before is None and not _deferred.get():
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


def _tell_lead_and_owner(message: OutboundMessage, *, verb: str, reason: str, actor=None) -> None:
    """A timeline event on the message's lead and, for a failure or an unknown outcome, an email to the lead's
    owner (through the outbox). Never for a notice itself, nor to the address that just failed."""
    lead = message.lead
    if lead is None:
        return
    data = {"kind": message.kind, "to": message.to_email, "subject": message.subject}
    lead_event_record(lead=lead, verb=verb, actor=actor, data=data | {"reason": reason})
    owner = lead.owner
    if verb not in ("message_failed", "message_unknown") or message.kind in OWNER_NOTICE_KINDS:
        return
    if owner is None or not owner.email or owner.email.strip().lower() == message.to_email.strip().lower():
        return
    failed = verb == "message_failed"
    what = "could not be delivered" if failed else "may not have been delivered"
    link = settings.SITE_URL.rstrip("/") + lead.get_absolute_url()
    body = (
        f"Hello,\n\nThe email “{message.subject}” to {message.to_email} about {lead} {what}.\n\n"
        f"Why: {reason}\n\n"
        + (
            "Check the address, then resend it from the lead's page (the timeline), or contact them another way."
            if failed
            else "Open the lead's page and choose on its timeline: resend it (the same Message-ID, so most mail "
            "programs show one copy) or mark it as sent."
        )
        + f"\n\n  {link}\n\nPassthrough\n"
    )
    message_queue(
        key=f"outbox:{message.pk}:{verb}:{message.attempts}",
        kind="owner_message_failed" if failed else "owner_message_unknown",
        to_email=owner.email,
        to_name=owner.get_full_name(),
        subject=f"Email to {lead} {what}",
        body=body,
        lead=lead,
    )


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
            _tell_lead_and_owner(message, verb=f"message_{outcome}", reason=reason)
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
            _tell_lead_and_owner(message, verb="message_unknown", reason=reason)
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
    _tell_lead_and_owner(message, verb="message_resent", reason="Sent again by hand (same Message-ID).", actor=actor)
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
    _tell_lead_and_owner(message, verb="message_marked_sent", reason="Marked as sent by hand.", actor=actor)
    return message
