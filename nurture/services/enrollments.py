"""Nurture: enrolling, pausing, stopping, unsubscribing, and the hand-back of leads that
qualify while nurtured. Emails go through the outbox."""

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common.errors import ServiceError
from common.text import PlainTextError, compile_plain_text, render_plain_text
from leads.models import Lead, LeadEvent, LeadStatus
from leads.services import lead_event_record, lead_transition
from nurture.models import (
    LIVE_ENROLLMENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Step,
    StepKind,
    Track,
)
from outbox.models import MessageStatus, OutboundMessage
from outbox.services import message_queue


class NurtureError(ServiceError):
    """A nurture action that is not allowed now; `errors` maps a field to messages when input was bad."""


# Emails written to the lead (others about the lead go to partners or owners).
LEAD_FACING_KINDS = ["nurture_email", "helpful_reply", "lead_signpost", "lead_introduced"]
ENROLLABLE = {LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW, LeadStatus.HELPED}
UNSUBSCRIBE_SALT = "nurture.unsubscribe"


def _lock_lead(lead):
    return Lead.objects.select_for_update(of=("self",)).select_related("source", "owner").get(pk=lead.pk)


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def unsubscribe_token(lead_id: int) -> str:
    return signing.dumps(lead_id, salt=UNSUBSCRIBE_SALT, compress=False)


def unsubscribe_url(lead_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("unsubscribe", args=[unsubscribe_token(lead_id)])


def lead_id_from_unsubscribe_token(token: str) -> int | None:
    """The lead an unsubscribe link is for, or None when it was altered. Unsubscribe links never expire."""
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def lead_has_live_enrollment(lead) -> bool:
    return lead.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES).exists()


def step_email_problem(step: Step) -> str:
    """Why an email step's subject or body cannot be compiled as a template ("" when it can)."""
    try:
        compile_plain_text(step.subject)
        compile_plain_text(step.body)
    except PlainTextError as exc:
        return str(exc)
    return ""


def track_refusal(*, lead, track: Track, live: bool | None = None) -> str | None:
    """Why `lead` may not join `track` (consent, do-not-contact, status, an enrollment already live).
    `live`: whether the lead has a live enrollment, when the caller knows (checking many tracks)."""
    if lead.do_not_contact:
        return "This lead asked not to be contacted, so it cannot be nurtured."
    if live is None:
        live = lead_has_live_enrollment(lead)
    if lead.status == LeadStatus.NURTURING or live:
        return "This lead is already in a nurture track; stop that enrollment first."
    if lead.status not in ENROLLABLE:
        return f"A lead that is {LeadStatus(lead.status).label.lower()} cannot be nurtured."
    if not track.active:
        return f"The track “{track}” is not taking new leads."
    kinds = {step.kind for step in track.steps.all()}
    if not kinds:
        return f"The track “{track}” has no steps yet."
    if StepKind.EMAIL in kinds and not lead.has_marketing_consent:
        return (
            f"This lead has not agreed to marketing emails, and “{track}” emails them. "
            "Choose a track without emails, or send a helpful reply instead."
        )
    for step in track.steps.all():
        if step.kind == StepKind.EMAIL and (problem := step_email_problem(step)):
            return f"The email of step {step.position} of “{track}” cannot be sent as it is. {problem} Fix it first."
    return None


def _lock_enrollment(enrollment: Enrollment) -> Enrollment:
    _lock_lead(enrollment.lead)
    return Enrollment.objects.select_for_update(of=("self",)).select_related("lead", "track").get(pk=enrollment.pk)


@transaction.atomic
def enrollment_pause(*, enrollment: Enrollment, actor=None, actor_label: str = "", now: datetime | None = None):
    now = now or timezone.now()
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise NurtureError(
            f"Only an active enrollment can be paused; this one is {enrollment.get_status_display().lower()}."
        )
    enrollment.status, enrollment.paused_at = EnrollmentStatus.PAUSED, now
    enrollment.save(update_fields=["status", "paused_at"])
    lead_event_record(
        lead=enrollment.lead,
        verb="nurture_paused",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"track": enrollment.track.name},
    )
    return enrollment


@transaction.atomic
def enrollment_resume(*, enrollment: Enrollment, actor=None, actor_label: str = "", now: datetime | None = None):
    """Carry on where it stopped: the time left before the next step is kept."""
    now = now or timezone.now()
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.PAUSED:
        raise NurtureError(
            f"Only a paused enrollment can be resumed; this one is {enrollment.get_status_display().lower()}."
        )
    if enrollment.lead.do_not_contact:
        raise NurtureError("This lead asked not to be contacted; the enrollment cannot be resumed.")
    if enrollment.next_run_at is not None and enrollment.paused_at is not None:
        enrollment.next_run_at += now - enrollment.paused_at
    enrollment.status, enrollment.paused_at = EnrollmentStatus.ACTIVE, None
    enrollment.save(update_fields=["status", "paused_at", "next_run_at"])
    lead_event_record(
        lead=enrollment.lead,
        verb="nurture_resumed",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"track": enrollment.track.name},
    )
    return enrollment


@transaction.atomic
def enrollment_stop(
    *, enrollment: Enrollment, reason: str, actor=None, actor_label: str = "", now: datetime | None = None
):
    """End an enrollment by hand; the lead goes back to the triage queue for another redirect."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise NurtureError("Say why the enrollment is stopped.", {"reason": ["This field is required."]})
    enrollment = _lock_enrollment(enrollment)
    if not enrollment.is_live:
        raise NurtureError(f"This enrollment already ended ({enrollment.get_status_display().lower()}).")
    _end(enrollment, EnrollmentStatus.STOPPED, reason, now)
    lead = enrollment.lead
    lead_event_record(
        lead=lead,
        verb="nurture_stopped",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"track": enrollment.track.name, "reason": reason},
    )
    if lead.status == LeadStatus.NURTURING:
        band = lead.icp_band or "needs_review"
        lead_transition(
            lead=lead,
            to=LeadStatus.DISQUALIFIED if band == "disqualified" else LeadStatus.NEEDS_REVIEW,
            actor=actor,
            actor_label=actor_label,
            data={"why": "Nurture stopped: back to triage."},
        )
    return enrollment


def _end(enrollment: Enrollment, status: str, reason: str, now: datetime) -> None:
    enrollment.status, enrollment.end_reason, enrollment.finished_at = status, reason[:300], now
    enrollment.next_position, enrollment.next_run_at = None, None
    enrollment.save(update_fields=["status", "end_reason", "finished_at", "next_position", "next_run_at"])


@transaction.atomic
def lead_unsubscribe(*, lead, via: str = "unsubscribe link", now: datetime | None = None) -> int:
    """The lead asked us to stop: do-not-contact is set, live enrollments end, queued emails to them are
    cancelled. Safe to repeat. Returns how many enrollments ended."""
    now = now or timezone.now()
    lead = _lock_lead(lead)
    live = list(lead.enrollments.select_for_update().filter(status__in=LIVE_ENROLLMENT_STATUSES))
    for enrollment in live:
        _end(enrollment, EnrollmentStatus.UNSUBSCRIBED, f"Unsubscribed ({via})", now)
    cancelled = OutboundMessage.objects.filter(
        lead=lead, kind__in=LEAD_FACING_KINDS, status=MessageStatus.QUEUED
    ).update(status=MessageStatus.CANCELLED, last_error="The lead unsubscribed.")
    if not lead.do_not_contact:
        lead.do_not_contact = True
        lead.save(update_fields=["do_not_contact", "updated_at"])
        lead_event_record(
            lead=lead,
            verb="unsubscribed",
            actor_label="lead",
            at=now,
            data={"via": via, "enrollments_ended": len(live), "emails_cancelled": cancelled},
        )
    return len(live)


def enrollments_handback(*, lead_ids: list[int], now: datetime | None = None) -> int:
    """Leads that re-qualified while in nurture (a re-qualify step, an API update, an edit, a new ICP):
    their enrollments end as re-qualified, the owner is told (email + timeline). Returns how many."""
    if not lead_ids:
        return 0
    now = now or timezone.now()
    ended = 0
    for lead in Lead.objects.filter(pk__in=lead_ids, status=LeadStatus.QUALIFIED).select_related("owner"):
        live = Enrollment.objects.filter(lead=lead, status__in=LIVE_ENROLLMENT_STATUSES).select_related("track")
        tracks = [e.track.name for e in live]
        if not tracks:
            continue
        live.update(
            status=EnrollmentStatus.REQUALIFIED,
            finished_at=now,
            next_position=None,
            next_run_at=None,
            end_reason="Now fits the ICP: handed to the owner.",
        )
        LeadEvent.objects.create(
            lead=lead,
            verb="requalified_from_nurture",
            actor_label="system",
            at=now,
            data={"tracks": tracks, "owner": lead.owner.get_username() if lead.owner else ""},
        )
        if lead.owner and lead.owner.email:
            message_queue(
                key=f"lead:{lead.pk}:handback:{now.isoformat()}",
                kind="owner_handback",
                to_email=lead.owner.email,
                to_name=lead.owner.get_full_name(),
                subject=f"{lead} now qualifies",
                body=render_plain_text(
                    "nurture/email/handback.txt",
                    {"lead": lead, "tracks": tracks, "link": settings.SITE_URL.rstrip("/") + lead.get_absolute_url()},
                ),
                lead=lead,
            )
        ended += 1
    return ended
