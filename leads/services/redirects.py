"""What every redirect shares, whichever door opened it (triage, the lead page, bulk, the API, the re-offer task):
telling the lead, and the lead's first response — set here and nowhere else.

- `lead_tell`: an email to the lead through the outbox, which is their answer (their first response, if it is
  the first); when they must not be written to (do-not-contact), nothing is sent and the timeline says why.
- `lead_first_response_record`: the one place `Lead.first_response_at` is set (one lead, or many at once).
- `lead_close` and `lead_override`: the two redirect kinds that belong to leads alone (a non-person closed; a
  person's decision that the lead fits after all). Neither writes to the lead.

The other kinds have their one service in the app that owns them: introduce and signpost in partners
(`referral_send`), enroll and reply in nurture (`enrollment_create`, `helpful_reply_send`).
"""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from common.errors import ServiceError
from leads.models import Lead, LeadStatus
from leads.services.base import lead_event_record, lead_transition
from outbox.models import OutboundMessage
from outbox.services import message_queue

CLOSE_KINDS = {"spam": "Spam", "test": "Test entry", "duplicate": "Duplicate"}


class RedirectError(ServiceError):
    """A redirect of the lead's own (close, override) that is not allowed, or its input is incomplete."""


def lead_first_response_record(*, at: datetime, lead: Lead | None = None, lead_ids: Iterable[int] = ()) -> int:
    """The lead (or the leads) got an answer at `at`: their first response, unless they had one already. The only
    code that sets `first_response_at`. Returns how many leads it set it for."""
    ids = {lead.pk} if lead is not None else set(lead_ids)
    if not ids:
        return 0
    done = Lead.objects.filter(pk__in=ids, first_response_at__isnull=True).update(first_response_at=at)
    if lead is not None and lead.first_response_at is None:
        lead.first_response_at = at
    return done


def lead_tell(
    *,
    lead: Lead,
    key: str,
    kind: str,
    subject: str,
    body: str,
    referral=None,
    now: datetime | None = None,
) -> OutboundMessage | None:
    """Write to the lead about their redirect (through the outbox, `key` making it once only): that is their answer,
    so it records their first response. A lead who asked not to be contacted gets nothing; the timeline says what
    was not sent and why. Returns the email, or None when none may be sent."""
    now = now or timezone.now()
    if lead.do_not_contact:
        lead_event_record(
            lead=lead,
            verb="lead_not_told",
            actor_label="system",
            at=now,
            data={"kind": kind, "subject": subject, "reason": "The lead asked not to be contacted."},
        )
        return None
    message = message_queue(
        key=key,
        kind=kind,
        to_email=lead.email,
        to_name=lead.name,
        subject=subject,
        body=body,
        lead=lead,
        referral=referral,
    )
    lead_first_response_record(lead=lead, at=now)
    return message


def lead_close(*, lead: Lead, kind: str, reason: str, actor=None, now: datetime | None = None) -> Lead:
    """Close a lead that is not a real person: spam, a test entry or a duplicate, with a reason. Nobody is written
    to (there is nobody to answer). The caller holds the lead's row lock (triage_act)."""
    reason = (reason or "").strip()
    errors = {}
    if kind not in CLOSE_KINDS:
        errors["kind"] = [f"Choose one of: {', '.join(CLOSE_KINDS.values()).lower()}."]
    if not reason:
        errors["reason"] = ["Say why (for example: “gibberish message, disposable address”)."]
    if errors:
        raise RedirectError("Closing needs a kind and a reason.", errors)
    lead_transition(lead=lead, to=LeadStatus.CLOSED, actor=actor, data={"kind": kind, "reason": reason}, at=now)
    lead_event_record(lead=lead, verb="closed", actor=actor, data={"kind": kind, "reason": reason}, at=now)
    return lead


def lead_override(*, lead: Lead, note: str, actor=None, now: datetime | None = None) -> Lead:
    """A person decides the lead fits after all: qualified, with the note saying why (kept on the timeline). Its
    owner takes it from here, so the lead is not written to by the system. The caller holds the row lock."""
    note = (note or "").strip()
    if not note:
        raise RedirectError("Say why it qualifies after all.", {"note": ["A note is required for an override."]})
    lead_transition(lead=lead, to=LeadStatus.QUALIFIED, actor=actor, data={"why": "Override", "note": note}, at=now)
    lead_event_record(lead=lead, verb="override_qualified", actor=actor, data={"note": note}, at=now)
    Lead.objects.filter(pk=lead.pk).update(primary_reason=None)
    lead.primary_reason = None
    return lead
