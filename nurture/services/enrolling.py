"""Enrolling: the one service of the "enroll" redirect, whichever door opens it (triage, the lead's nurture page,
bulk, the API).

No dead ends: a lead joins a track only if it answers them now (its first step is an email sent at once, run
here: that email is the lead's first response) or if they were answered already (a helpful reply, a signpost…).
Otherwise the service refuses and says to reply first. Consent, do-not-contact and one live enrollment per lead
are `track_refusal`'s rules.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_event_record, lead_transition
from nurture.models import Enrollment, StepKind, Track
from nurture.services.enrollments import NurtureError, _lock_lead, _user, track_refusal
from nurture.services.steps import nurture_run_due


def track_writes_now(track: Track) -> bool:
    """Whether the track's first step is an email sent at once (uses prefetched steps when there are some)."""
    steps = sorted(track.steps.all(), key=lambda step: step.position)
    return bool(steps) and steps[0].kind == StepKind.EMAIL and steps[0].delay_hours == 0


def enrollment_refusal(*, lead, track: Track, live: bool | None = None) -> str | None:
    """Why `lead` may not join `track` now: the enrollment rules (`track_refusal`), then "no dead ends" (the track
    must answer them now, or they were answered already). None when it may."""
    refusal = track_refusal(lead=lead, track=track, live=live)
    if refusal is None and not track_writes_now(track) and lead.first_response_at is None:
        refusal = f"“{track}” does not write to them straight away; send a helpful reply first, so nobody waits."
    return refusal


@transaction.atomic
def enrollment_create(*, lead, track: Track, actor=None, actor_label: str = "", now: datetime | None = None):
    """Put a lead on a track: one live enrollment per lead. A track whose first step is an email at once runs it
    now (the lead's answer, through the outbox); any other first step runs after its delay."""
    now = now or timezone.now()
    lead = _lock_lead(lead)
    refusal = enrollment_refusal(lead=lead, track=track)
    if refusal:
        raise NurtureError(refusal)
    first = track.steps.order_by("position").first()
    enrollment = Enrollment.objects.create(
        lead=lead,
        track=track,
        next_position=first.position,
        next_run_at=now + timedelta(hours=first.delay_hours),
        enrolled_by=_user(actor),
        started_at=now,
    )
    lead_transition(lead=lead, to=LeadStatus.NURTURING, actor=actor, actor_label=actor_label, at=now)
    lead_event_record(
        lead=lead,
        verb="enrolled",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"track": track.name, "enrollment": enrollment.pk},
    )
    if track_writes_now(track):  # its first email is the lead's answer: sent now, not at the next sweep
        nurture_run_due(now=now, enrollment_ids=[enrollment.pk])
        enrollment.refresh_from_db()
        lead.refresh_from_db(fields=["first_response_at", "status"])
    return enrollment
