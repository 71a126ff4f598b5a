"""The outbox, in-process: queueing is idempotent, delivery claims the row and sends once with its stable
Message-ID, failures back off and give up after MAX_ATTEMPTS (the lead's timeline and owner are told), a send
that stopped mid-way is held as unknown for a person, the sweep sends what is due, a dead broker is tried once
per pause. Emails land in Django's locmem outbox (a real SMTP server: tests/outbox/).

The on-commit task enqueue never reaches a broker here: callbacks are captured without running, or
`outbox.publish.enqueue` is patched. (Real workers and brokers: tests/outbox/test_worker.py.)
"""

from datetime import timedelta
from smtplib import SMTPException
from unittest import mock

import pytest
from celery import current_app
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from outbox import publish
from outbox.models import MessageStatus, OutboundMessage
from outbox.publish import enqueue
from outbox.services import MAX_ATTEMPTS, STALE_CLAIM, message_deliver, message_queue, outbox_sweep
from outbox.tasks import send_message, sweep
from tests.factories import LeadFactory


@pytest.fixture(autouse=True)
def broker_pause_reset():
    publish.broker_pause_reset()
    yield
    publish.broker_pause_reset()


def queue(key: str = "test:1", **overrides) -> OutboundMessage:
    values = {"kind": "test", "to_email": "ann@example.com", "to_name": "Ann Lee", "subject": "Hello", "body": "Body"}
    return message_queue(key=key, **{**values, **overrides})


def failing_send(error: Exception | None = None):
    return mock.patch("outbox.services.EmailMessage.send", side_effect=error or SMTPException("mail server down"))


# Queueing -------------------------------------------------------------------------------------------------


def test_message_queue_same_key_returns_the_same_row(db, django_capture_on_commit_callbacks):
    lead = LeadFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = queue(lead=lead)
        second = queue(lead=lead, subject="Hello again", to_email="other@example.com")

    assert second.pk == first.pk
    assert list(OutboundMessage.objects.values_list("subject", "to_email")) == [("Hello", "ann@example.com")]
    assert len(callbacks) == 1  # one delivery task, for the first call only
    assert list(lead.events.values_list("verb", "data")) == [
        ("message_queued", {"kind": "test", "to": "ann@example.com", "subject": "Hello"})
    ]


def test_message_queue_stores_the_message_queued_and_due_now(db):
    before = timezone.now()

    message = queue()

    message.refresh_from_db()
    assert (message.status, message.attempts, message.kind, message.to_name, message.body) == (
        "queued",
        0,
        "test",
        "Ann Lee",
        "Body",
    )
    assert before <= message.next_attempt_at <= timezone.now()


def test_message_queue_enqueues_delivery_only_after_commit(db, django_capture_on_commit_callbacks):
    with (
        mock.patch("outbox.publish.enqueue") as enqueue_mock,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = queue()
        assert enqueue_mock.call_count == 0  # not before the transaction commits

    enqueue_mock.assert_called_once_with("outbox.send_message", message_id=message.pk)


def test_message_queue_not_before_leaves_it_to_the_sweep(db, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(days=2)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = queue(not_before=later)

    assert callbacks == []
    assert message.next_attempt_at == later


def test_enqueue_passes_the_ids_without_retrying_the_broker():
    task = mock.Mock()

    assert enqueue(task, message_id=7) is True

    task.apply_async.assert_called_once_with(kwargs={"message_id": 7}, retry=False)


def test_enqueue_by_name_publishes_without_importing_the_task():
    with mock.patch("outbox.publish.current_app") as app:
        assert enqueue("leads.requalify_profile", version_id=3) is True

    app.send_task.assert_called_once_with("leads.requalify_profile", kwargs={"version_id": 3}, retry=False)


def test_enqueue_swallows_broker_errors(caplog):
    task = mock.Mock()
    task.name = "outbox.send_message"
    task.apply_async.side_effect = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    assert enqueue(task, message_id=7) is False

    assert "the outbox sweep will pick it up" in caplog.text


# Delivering -----------------------------------------------------------------------------------------------


def test_message_deliver_sends_the_email_once(db):
    message = queue(key="referral:1:introduction:2")
    now = timezone.now()

    first = message_deliver(message_id=message.pk, now=now)
    second = message_deliver(message_id=message.pk, now=now)

    assert (first, second) == ("sent", "skipped")
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert (email.subject, email.body, email.to, email.from_email) == (
        "Hello",
        "Body",
        ["Ann Lee <ann@example.com>"],
        settings.DEFAULT_FROM_EMAIL,
    )
    assert email.extra_headers == {
        "Message-ID": message.message_id,
        "X-Passthrough-Message": "referral:1:introduction:2",
    }
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_at, message.last_error) == ("sent", 1, None, "")
    assert message.sent_at is not None


def test_message_deliver_without_a_name_addresses_the_email_only(db):
    message = queue(to_name="")

    message_deliver(message_id=message.pk)

    assert mail.outbox[0].to == ["ann@example.com"]


def test_message_deliver_skips_a_message_not_yet_due(db):
    now = timezone.now()
    message = queue(not_before=now + timedelta(minutes=5))

    assert message_deliver(message_id=message.pk, now=now) == "skipped"

    message.refresh_from_db()
    assert (message.status, message.attempts, len(mail.outbox)) == ("queued", 0, 0)


@pytest.mark.parametrize("status", [MessageStatus.SENDING, MessageStatus.FAILED, MessageStatus.CANCELLED])
def test_message_deliver_skips_a_message_that_is_not_queued(db, status):
    message = queue()
    OutboundMessage.objects.filter(pk=message.pk).update(status=status)

    assert message_deliver(message_id=message.pk) == "skipped"

    message.refresh_from_db()
    assert (message.status, message.attempts, len(mail.outbox)) == (status, 0, 0)


def test_message_deliver_failure_goes_back_to_the_queue_with_a_delay(db):
    message = queue()
    now = timezone.now()

    with failing_send():
        outcome = message_deliver(message_id=message.pk, now=now)

    assert outcome == "retry"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_at, message.last_error) == (
        "queued",
        1,
        None,
        "SMTPException: mail server down",
    )
    assert message.next_attempt_at == now + timedelta(seconds=30)
    assert message_deliver(message_id=message.pk, now=now + timedelta(seconds=29)) == "skipped"
    assert message_deliver(message_id=message.pk, now=now + timedelta(seconds=30)) == "sent"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert len(mail.outbox) == 1


def test_message_deliver_backs_off_then_gives_up_after_max_attempts(db):
    message = queue()
    now = timezone.now()
    outcomes, delays = [], []

    with failing_send():
        for _ in range(MAX_ATTEMPTS):
            outcomes.append(message_deliver(message_id=message.pk, now=now))
            message.refresh_from_db()
            delays.append(int((message.next_attempt_at - now).total_seconds()))
            now = message.next_attempt_at

    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert delays[:-1] == [30, 60, 120, 240, 480]
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        MAX_ATTEMPTS,
        "SMTPException: mail server down",
    )
    assert message_deliver(message_id=message.pk, now=now + timedelta(days=1)) == "skipped"
    assert mail.outbox == []


# Sweeping -------------------------------------------------------------------------------------------------


def test_outbox_sweep_sends_due_messages_and_skips_later_ones(db):
    queue("a", to_email="a@example.com")
    queue("b", to_email="b@example.com")
    now = timezone.now()
    later = queue("c", to_email="c@example.com", not_before=now + timedelta(hours=1))

    counts = outbox_sweep(now=now)

    assert counts == {"sent": 2}
    assert sorted(email.to[0] for email in mail.outbox) == ["Ann Lee <a@example.com>", "Ann Lee <b@example.com>"]
    later.refresh_from_db()
    assert later.status == "queued"

    assert outbox_sweep(now=now) == {}
    assert outbox_sweep(now=now + timedelta(hours=1)) == {"sent": 1}
    assert len(mail.outbox) == 3


def test_outbox_sweep_counts_retries(db):
    queue("a")
    queue("b")

    with failing_send():
        counts = outbox_sweep(now=timezone.now())

    assert counts == {"retry": 2}
    assert list(OutboundMessage.objects.values_list("status", flat=True)) == ["queued", "queued"]


def test_outbox_sweep_holds_stale_claims_as_unknown_and_resends_nothing(db):
    lead = LeadFactory()
    stale, busy = queue("stale", to_email="stale@example.com", lead=lead), queue("busy", to_email="busy@example.com")
    now = timezone.now()
    claimed = now - STALE_CLAIM - timedelta(seconds=1)
    OutboundMessage.objects.filter(pk=stale.pk).update(status=MessageStatus.SENDING, claimed_at=claimed, attempts=1)
    OutboundMessage.objects.filter(pk=busy.pk).update(
        status=MessageStatus.SENDING, claimed_at=now - timedelta(minutes=5), attempts=1
    )

    counts = outbox_sweep(now=now)

    assert counts == {"held": 1}
    assert mail.outbox == []
    stale.refresh_from_db()
    busy.refresh_from_db()
    assert (stale.status, stale.attempts, stale.claimed_at) == ("unknown", 1, claimed)
    assert "the mail server may have accepted it" in stale.last_error
    assert (busy.status, busy.attempts) == ("sending", 1)  # its worker may still be sending it
    assert list(lead.events.filter(verb="message_unknown").values_list("data__to", flat=True)) == ["stale@example.com"]
    assert outbox_sweep(now=now + timedelta(minutes=4)) == {}  # held stays held


# Task names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["outbox.send_message", "nurture.send_message"])
def test_send_task_runs_under_its_name_and_the_old_nurture_alias(db, name):
    assert send_message.name == "outbox.send_message"
    message = queue(not_before=timezone.now())

    outcome = current_app.tasks[name].run(message_id=message.pk)

    assert outcome == "sent"
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert [m.subject for m in mail.outbox] == ["Hello"]


@pytest.mark.parametrize("name", ["outbox.sweep", "nurture.outbox_sweep"])
def test_sweep_task_runs_under_its_name_and_the_old_nurture_alias(db, name):
    assert sweep.name == "outbox.sweep"
    queue(key="swept", not_before=timezone.now() - timedelta(minutes=1))

    counts = current_app.tasks[name].run()

    assert counts == {"sent": 1}
