"""Helpful replies: a template per reason, rendered for the lead, edited, sent through the outbox.

`helpful_reply_send` is the one service of the "reply" redirect, whichever door opens it (triage, the lead's
reply page, bulk): the reply is the lead's answer (`leads.services.lead_tell`, which records their first
response)."""

import hashlib
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from common.text import PlainTextError, compile_plain_text, render_plain_text
from leads.models import LeadStatus
from leads.services import lead_event_record, lead_tell, lead_transition
from nurture.models import HelpfulReply
from nurture.services.enrollments import NurtureError, _lock_lead
from outbox.models import OutboundMessage


def helpful_reply_render(*, reply: HelpfulReply, lead) -> tuple[str, str]:
    """The reply's subject and body for this lead as plain text, ready to edit before sending. A template that
    cannot be rendered (saved with an error) raises NurtureError saying which one and what is wrong."""
    context = {"lead": lead}
    try:
        subject = render_plain_text(compile_plain_text(reply.subject), context)
        body = render_plain_text(compile_plain_text(reply.body), context)
    except PlainTextError as exc:
        raise NurtureError(
            f"The reply template “{reply.title}” cannot be used. {exc} Fix it in the admin, or write the reply here."
        ) from exc
    return " ".join(subject.split()), body.strip()


def helpful_reply_preview(*, reply: HelpfulReply, lead) -> tuple[str, str, str]:
    """What a page shows to edit: (subject, body, problem). When the template cannot be rendered, the subject
    and body are empty, to write by hand, and `problem` says why; otherwise `problem` is empty."""
    try:
        return (*helpful_reply_render(reply=reply, lead=lead), "")
    except NurtureError as exc:
        return "", "", str(exc)


def helpful_replies_for(lead) -> list[HelpfulReply]:
    """Templates for the lead's reason first, then the others."""
    replies = list(HelpfulReply.objects.filter(active=True).select_related("reason"))
    return sorted(replies, key=lambda r: (r.reason_id != lead.primary_reason_id, r.reason.position, r.position))


@transaction.atomic
def helpful_reply_send(
    *,
    lead,
    subject: str,
    body: str,
    reply: HelpfulReply | None = None,
    actor=None,
    actor_label: str = "",
    now: datetime | None = None,
) -> OutboundMessage:
    """Answer the lead with useful resources. Records the first response; an undecided lead becomes helped.
    The same text sent twice (a double click) is one email."""
    now = now or timezone.now()
    subject, body = " ".join((subject or "").split()), (body or "").strip()
    errors = {}
    if not subject:
        errors["subject"] = ["Write a subject."]
    if not body:
        errors["body"] = ["Write the reply."]
    if errors:
        raise NurtureError("The reply is incomplete.", errors)
    lead = _lock_lead(lead)
    if lead.do_not_contact:
        raise NurtureError("This lead asked not to be contacted; no reply can be sent.")
    if lead.status in (LeadStatus.QUALIFIED, LeadStatus.CLOSED, LeadStatus.NEW):
        raise NurtureError(f"A lead that is {LeadStatus(lead.status).label.lower()} is not answered from here.")
    digest = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:16]
    message = lead_tell(
        lead=lead, key=f"lead:{lead.pk}:reply:{digest}", kind="helpful_reply", subject=subject, body=body, now=now
    )
    lead_event_record(
        lead=lead,
        verb="helpful_reply_sent",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"subject": subject, "template": reply.title if reply else ""},
    )
    if lead.status in (LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW):
        lead_transition(lead=lead, to=LeadStatus.HELPED, actor=actor, actor_label=actor_label, at=now)
    return message
