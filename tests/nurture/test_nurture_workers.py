"""Nurture with real workers on the configured broker (Redis in CI): two workers, one with Celery beat
running the due-step sweep and the outbox sweep every second, send each due step exactly once."""

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from nurture.models import Enrollment, EnrollmentStatus, Step, Track
from nurture.services import enrollment_create
from nurture.tasks import run_due
from outbox.models import MessageStatus, OutboundMessage
from tests.factories import LeadFactory
from tests.workers import celery_worker, wait_for

LEADS = 30


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_beat_send_each_due_step_exactly_once(tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    queue = f"test-nurture-{uuid.uuid4().hex[:8]}"
    track = Track.objects.create(name="Two emails", slug="two-emails")
    Step.objects.create(track=track, position=1, kind="email", subject="Hello {{ lead.name }}", body="First.")
    Step.objects.create(track=track, position=2, kind="email", subject="Again, {{ lead.name }}", body="Second.")
    consent = timezone.now() - timedelta(days=1)
    with transaction.atomic():
        for _ in range(LEADS):
            lead = LeadFactory(status="disqualified", marketing_consent_at=consent, marketing_consent_version="v1")
            enrollment_create(lead=lead, track=track, now=consent)
    env = {"PASSTHROUGH_TEST_MAIL_DIR": str(mail_dir), "PASSTHROUGH_TEST_QUEUE": queue}

    with celery_worker(queue, env=env, beat=tmp_path / "beat-schedule"), celery_worker(queue, env=env):
        for _ in range(6):  # on top of beat: overlapping sweeps that both workers pick up at once
            run_due.apply_async(queue=queue)
        assert wait_for(
            lambda: (
                Enrollment.objects.filter(status=EnrollmentStatus.COMPLETED).count() == LEADS
                and OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 2 * LEADS
            ),
            seconds=90,
        )

    # The file backend appends each message to a file (two can share one): count the message headers.
    sent = [
        line.split(":", 1)[1].strip()
        for f in mail_dir.iterdir()
        for line in f.read_text().splitlines()
        if line.startswith("X-Passthrough-Message:")
    ]
    assert len(sent) == 2 * LEADS
    assert set(Counter(sent).values()) == {1}
    assert OutboundMessage.objects.count() == 2 * LEADS
