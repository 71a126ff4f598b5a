"""Mail sent once, or said so: a real Celery worker is killed (SIGKILL) while the SMTP server, holding the whole
message, stalls before answering DATA. The person has the email once; the sweep, past the claim timeout, holds
the row as `unknown` (no second copy), the lead's timeline and owner say so; a person resends it from the lead
page and the second copy carries the same Message-ID."""

import os
import signal
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from outbox.models import MessageStatus, OutboundMessage
from outbox.publish import outbox_deferred
from outbox.services import STALE_CLAIM, message_queue, outbox_sweep
from outbox.tasks import send_message
from tests.factories import LeadFactory, UserFactory
from tests.outbox.smtp import StallingHandler, smtp_mailers, smtp_server
from tests.workers import celery_worker


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_the_server_holds_the_message_leaves_it_held_not_sent_twice(client, user_for):
    owner = UserFactory(username="olive", email="olive@passthrough.example", first_name="Olive")
    lead = LeadFactory(name="Zoë O'Brien", company="", email="zoe@example.com", owner=owner, status="disqualified")
    with outbox_deferred():  # this test asks its own worker, on its own queue
        message = message_queue(
            key="stall",
            kind="helpful_reply",
            to_email=lead.email,
            to_name=lead.name,
            subject="Resources",
            body="B",
            lead=lead,
        )
    queue = f"test-unknown-{uuid.uuid4().hex[:8]}"
    handler = StallingHandler()

    with smtp_server(handler) as (port, _):
        env = {"DJANGO_SETTINGS_MODULE": "tests.outbox.worker_settings", "PASSTHROUGH_TEST_SMTP_PORT": str(port)}
        with celery_worker(queue, purge=True, env=env) as worker:
            send_message.apply_async(kwargs={"message_id": message.pk}, queue=queue)
            assert handler.stalled.wait(60), "the worker never reached DATA"
            assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.SENDING
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        handler.release.set()
        to_lead = [r for r in handler.received if r.rcpt_tos == ["zoe@example.com"]]
        assert len(to_lead) == 1  # the server has it: the person will read it once

        with override_settings(MAILERS=smtp_mailers(port)), outbox_deferred():
            assert outbox_sweep() == {}  # within the claim timeout: its worker may still be sending
            later = timezone.now() + STALE_CLAIM + timedelta(seconds=1)
            counts = outbox_sweep(now=later)

        message.refresh_from_db()
        assert counts == {"held": 1, "sent": 1}  # held, and the owner's notice sent
        assert (message.status, message.attempts) == (MessageStatus.UNKNOWN, 1)
        assert "the mail server may have accepted it" in message.last_error
        assert len([r for r in handler.received if r.rcpt_tos == ["zoe@example.com"]]) == 1  # not resent
        [notice] = [r for r in handler.received if r.rcpt_tos == ["olive@passthrough.example"]]
        assert notice.message["Subject"] == "Email to Zoë O'Brien may not have been delivered"
        assert lead.events.filter(verb="message_unknown").count() == 1

        client.force_login(user_for("Sales Ops"))
        page = client.get(reverse("leads:detail", args=[lead.pk])).text
        assert 'data-status="unknown"' in page
        assert "Outcome unknown (held)" in page
        with mock.patch("outbox.publish.enqueue") as enqueue:  # the sweep below stands in for the worker
            response = client.post(
                reverse("outbox:message_action", args=[message.pk, "resend"]),
                {"next": reverse("leads:detail", args=[lead.pk])},
            )
        assert response.status_code == 302
        assert enqueue.call_count == 1
        with override_settings(MAILERS=smtp_mailers(port)):
            assert outbox_sweep(now=later) == {"sent": 1}

    copies = [r.message for r in handler.received if r.rcpt_tos == ["zoe@example.com"]]
    assert [copy["Message-ID"] for copy in copies] == [message.message_id, message.message_id]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert list(lead.events.filter(verb__in=["message_unknown", "message_resent"]).values_list("verb", flat=True)) == [
        "message_unknown",
        "message_resent",
    ]
