"""The lead and its emails: what the outbox reports about an email to or about a lead lands on the lead's
timeline, and the lead's owner hears about one that failed or may not have arrived.

`message_changed` is the listener `LeadsConfig.ready` registers on `outbox.hooks.MESSAGE_CHANGED` (the outbox
sits below leads and never imports it).
"""

from django.conf import settings

from leads.services.base import lead_event_record
from outbox.models import OutboundMessage
from outbox.services import message_queue

OWNER_NOTICE_KINDS = frozenset({"owner_message_failed", "owner_message_unknown"})


def message_changed(*, message: OutboundMessage, verb: str, reason: str, actor=None) -> None:
    """A timeline event on the message's lead and, for a failure or an unknown outcome, an email to the lead's
    owner (through the outbox). Never for a notice itself, nor to the address that just failed."""
    lead = message.lead
    if lead is None:
        return
    data = {"kind": message.kind, "to": message.to_email, "subject": message.subject}
    if verb == "message_queued":
        lead_event_record(lead=lead, verb=verb, actor_label="system", data=data)
        return
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
