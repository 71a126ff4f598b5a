"""Nurture services: enrolling, step scheduling, consent and do-not-contact, re-qualification hand-back
(from a re-qualify step and from an API update), pause/resume, helpful replies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead, LeadStatus
from leads.services import lead_intake
from nurture.models import Enrollment, EnrollmentStatus, NurtureTask, Step, Track
from nurture.services import (
    NurtureError,
    enrollment_create,
    enrollment_pause,
    enrollment_resume,
    helpful_reply_send,
    nurture_run_due,
)
from outbox.models import OutboundMessage
from tests.factories import LeadFactory, UserFactory

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def track(db):
    """Email now, a task two days later, a re-check a week after that."""
    track = Track.objects.create(name="Budget", slug="budget")
    Step.objects.create(track=track, position=1, kind="email", subject="Hi {{ lead.name }}", body="Guides for you.")
    Step.objects.create(track=track, position=2, kind="task", delay_hours=48, body="Call {{ lead.name }}\nAsk.")
    Step.objects.create(track=track, position=3, kind="requalify", delay_hours=24 * 7)
    return track


@pytest.fixture
def later_track(db):
    """The first email a day after enrolling: the lead must have been answered before (no dead ends)."""
    track = Track.objects.create(name="Later", slug="later")
    Step.objects.create(track=track, position=1, kind="email", delay_hours=24, subject="Hi", body="Guides for you.")
    return track


def nurturable(**kwargs):
    defaults = {"status": "disqualified", "marketing_consent_at": T0, "marketing_consent_version": "v1"}
    return LeadFactory(**(defaults | kwargs))


@pytest.mark.django_db
def test_steps_run_when_due_and_in_order(track):
    owner = UserFactory(username="owner", role="Sales Ops")
    lead = nurturable(owner=owner, name="Ana")
    enrollment = enrollment_create(lead=lead, track=track, now=T0)  # its first step, an email now, runs at once

    first = nurture_run_due(now=T0)
    too_early = nurture_run_due(now=T0 + timedelta(hours=47))
    second = nurture_run_due(now=T0 + timedelta(hours=48))

    enrollment.refresh_from_db()
    assert (first["batches"], too_early["batches"], second["tasks"]) == (0, 0, 1)
    assert OutboundMessage.objects.get().subject == "Hi Ana"
    assert NurtureTask.objects.get().assigned_to == owner
    assert (enrollment.next_position, enrollment.next_run_at) == (3, T0 + timedelta(hours=48 + 24 * 7))
    assert enrollment.steps_done == 2


@pytest.mark.django_db
def test_running_the_sweep_twice_sends_nothing_twice(track):
    enrollment_create(lead=nurturable(), track=track, now=T0)

    nurture_run_due(now=T0)
    nurture_run_due(now=T0)

    assert OutboundMessage.objects.count() == 1


@pytest.mark.django_db
def test_an_email_step_answers_the_lead(track):
    lead = nurturable()

    enrollment_create(lead=lead, track=track, now=T0)

    lead.refresh_from_db()
    assert lead.first_response_at == T0
    assert "/u/" in OutboundMessage.objects.get().body  # the unsubscribe link


@pytest.mark.django_db
def test_a_track_that_does_not_write_now_needs_the_lead_answered_first(later_track):
    unanswered, answered = nurturable(), nurturable(first_response_at=T0 - timedelta(hours=1))

    with pytest.raises(NurtureError, match="does not write to them straight away; send a helpful reply first"):
        enrollment_create(lead=unanswered, track=later_track, now=T0)
    enrollment = enrollment_create(lead=answered, track=later_track, now=T0)

    assert list(Enrollment.objects.all()) == [enrollment]
    assert enrollment.next_run_at == T0 + timedelta(hours=24)
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_do_not_contact_stops_the_enrollment_before_any_email(later_track):
    lead = nurturable(first_response_at=T0 - timedelta(hours=1))
    enrollment = enrollment_create(lead=lead, track=later_track, now=T0)
    Lead.objects.filter(pk=lead.pk).update(do_not_contact=True)

    nurture_run_due(now=T0 + timedelta(hours=24))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (EnrollmentStatus.STOPPED, "Do not contact")
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_withdrawn_marketing_consent_stops_at_the_next_email(later_track):
    lead = nurturable(first_response_at=T0 - timedelta(hours=1))
    enrollment = enrollment_create(lead=lead, track=later_track, now=T0)
    Lead.objects.filter(pk=lead.pk).update(marketing_consent_at=None)

    nurture_run_due(now=T0 + timedelta(hours=24))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (EnrollmentStatus.STOPPED, "No marketing consent")
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_an_email_track_needs_marketing_consent_to_enroll(track):
    lead = LeadFactory(status="disqualified")

    with pytest.raises(NurtureError, match="not agreed to marketing emails"):
        enrollment_create(lead=lead, track=track)

    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_one_live_enrollment_per_lead(track):
    lead = nurturable()
    enrollment_create(lead=lead, track=track)

    with pytest.raises(NurtureError, match="already in a nurture track"):
        enrollment_create(lead=lead, track=track)


@pytest.mark.django_db
def test_pause_and_resume_keep_the_time_left(track):
    enrollment = enrollment_create(lead=nurturable(), track=track, now=T0)
    nurture_run_due(now=T0)  # next: the task, due at T0 + 48 h

    enrollment_pause(enrollment=enrollment, now=T0 + timedelta(hours=10))
    paused_run = nurture_run_due(now=T0 + timedelta(hours=60))
    enrollment = enrollment_resume(enrollment=enrollment, now=T0 + timedelta(hours=70))

    assert paused_run["batches"] == 0
    assert enrollment.next_run_at == T0 + timedelta(hours=48 + 60)


@pytest.mark.django_db
def test_requalify_step_hands_a_lead_that_now_fits_back_to_its_owner(track, bank_source):
    owner = UserFactory(username="owner", role="Sales Ops", email="owner@passthrough.example")
    lead = nurturable(source=bank_source, owner=owner, credit_score=550, budget=20000, budget_currency="GBP")
    enrollment = enrollment_create(lead=lead, track=track, now=T0)
    nurture_run_due(now=T0)
    nurture_run_due(now=T0 + timedelta(hours=48))
    Lead.objects.filter(pk=lead.pk).update(credit_score=640)  # their credit got better while we nurtured them

    counts = nurture_run_due(now=T0 + timedelta(hours=48 + 24 * 7))

    enrollment.refresh_from_db()
    lead.refresh_from_db()
    assert counts["requalified"] == 1
    assert enrollment.status == EnrollmentStatus.REQUALIFIED
    assert lead.status == LeadStatus.QUALIFIED
    assert lead.events.filter(verb="requalified_from_nurture").exists()
    assert OutboundMessage.objects.get(kind="owner_handback").to_email == "owner@passthrough.example"


@pytest.mark.django_db
def test_an_api_update_that_qualifies_a_nurtured_lead_hands_it_back(track, bank_source):
    lead = nurturable(source=bank_source, external_id="B-1", credit_score=550, budget=20000, budget_currency="GBP")
    enrollment = enrollment_create(lead=lead, track=track)

    lead_intake(source=bank_source, data={"external_id": "B-1", "credit_score": 700}, actor_label="api")

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REQUALIFIED
    assert lead.events.filter(verb="requalified_from_nurture").count() == 1


@pytest.mark.django_db
def test_helpful_reply_answers_and_marks_the_lead_helped(db):
    lead = LeadFactory(status="disqualified")

    helpful_reply_send(lead=lead, subject="Useful links", body="Here they are.")
    helpful_reply_send(lead=lead, subject="Useful links", body="Here they are.")  # a double click

    lead.refresh_from_db()
    assert lead.status == LeadStatus.HELPED
    assert lead.first_response_at is not None
    assert OutboundMessage.objects.filter(kind="helpful_reply").count() == 1


@pytest.mark.django_db
def test_helpful_reply_needs_a_subject_and_a_body(db):
    with pytest.raises(NurtureError) as refused:
        helpful_reply_send(lead=LeadFactory(status="disqualified"), subject=" ", body="")

    assert set(refused.value.errors) == {"subject", "body"}
