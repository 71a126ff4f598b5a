"""The outbox's outcomes, in-process: addresses as the standard library writes them, one Message-ID per message
across attempts, refusals that give up at once, a send that broke inside DATA held as unknown, the lead's
timeline and owner told (never about a notice itself), a person's resend / mark-as-sent, the broker pause."""

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from leads.selectors import lead_timeline
from outbox import publish
from outbox.models import MessageStatus, OutboundMessage
from outbox.publish import BROKER_PAUSE, enqueue
from outbox.services import (
    MAX_ATTEMPTS,
    OutboxError,
    format_address,
    message_deliver,
    message_mark_sent,
    message_queue,
    message_resend,
    sender_address,
)
from tests.factories import LeadFactory, UserFactory


@pytest.fixture(autouse=True)
def broker_pause_reset():
    publish.broker_pause_reset()
    yield
    publish.broker_pause_reset()


@pytest.fixture
def owner(db):
    return UserFactory(username="olive", email="olive@passthrough.example", first_name="Olive", last_name="Owner")


@pytest.fixture
def lead(owner):
    return LeadFactory(name="Zoë O'Brien", company="Acme", email="zoe@example.com", owner=owner)


def queue(key: str = "test:1", **overrides) -> OutboundMessage:
    values = {"kind": "lead_signpost", "to_email": "zoe@example.com", "subject": "Hello", "body": "Body"}
    return message_queue(key=key, **{**values, **overrides})


def sending(error: BaseException):
    return mock.patch("outbox.services.EmailMessage.send", side_effect=error)


def broken_inside_data():
    """What smtplib raises when the connection breaks inside DATA (raised from smtplib's own `data`)."""
    smtplib.SMTP().data("the whole message")  # not connected: SMTPServerDisconnected from inside data()


def broken_before_data():
    smtplib.SMTP().ehlo()  # not connected: the same exception, before any message was given


def notices() -> list[tuple[str, str, str]]:
    return list(
        OutboundMessage.objects.filter(kind__startswith="owner_message").values_list("kind", "to_email", "subject")
    )


# Addresses ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Smith, John", '"Smith, John" <j@example.com>'),
        ("Dr. Ann Lee", '"Dr. Ann Lee" <j@example.com>'),
        ("J. Smith", '"J. Smith" <j@example.com>'),
        ("Zoë O'Brien", "Zoë O'Brien <j@example.com>"),
        ("李雷", "李雷 <j@example.com>"),
        ('Ann "The Boss" Lee', '"Ann \\"The Boss\\" Lee" <j@example.com>'),
        ("back\\slash", '"back\\\\slash" <j@example.com>'),
        ("two\r\nlines\ttab", "two lines tab <j@example.com>"),
        ("", "j@example.com"),
        ("   ", "j@example.com"),
    ],
)
def test_format_address_quotes_what_needs_quoting(name, expected):
    assert format_address(name, "j@example.com") == expected


@pytest.mark.parametrize("address", ["no-at-sign", "@example.com", "ann@"])
def test_format_address_refuses_an_address_without_user_and_domain(address):
    with pytest.raises(ValueError, match="no user@domain"):
        format_address("Ann", address)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("Acme, Inc. <hello@acme.example>", '"Acme, Inc." <hello@acme.example>'),
        ('"Acme, Inc." <hello@acme.example>', '"Acme, Inc." <hello@acme.example>'),
        ("Passthrough <passthrough@localhost>", "Passthrough <passthrough@localhost>"),
        ("hello@acme.example", "hello@acme.example"),
    ],
)
def test_sender_address_rebuilds_default_from_email(setting, expected):
    with override_settings(DEFAULT_FROM_EMAIL=setting):
        assert sender_address() == expected


def test_message_deliver_writes_a_comma_in_a_name_as_one_recipient(db):
    message = queue(to_name="Smith, John", to_email="john@example.com")

    assert message_deliver(message_id=message.pk) == "sent"

    assert mail.outbox[0].to == ['"Smith, John" <john@example.com>']
    assert mail.outbox[0].recipients() == ['"Smith, John" <john@example.com>']


# Message-ID -----------------------------------------------------------------------------------------------


def test_message_queue_gives_each_message_its_own_message_id(db):
    with override_settings(DEFAULT_FROM_EMAIL="Acme <hello@acme.example>"):
        first, second = queue("a"), queue("b")

    assert first.message_id != second.message_id
    assert first.message_id.startswith("<")
    assert first.message_id.endswith("@acme.example>")
    assert OutboundMessage.objects.get(pk=first.pk).message_id == first.message_id


def test_message_deliver_sends_the_same_message_id_on_every_attempt(db):
    message = queue()
    now = timezone.now()
    tried = []

    def fail_once(email):
        tried.append(email.extra_headers["Message-ID"])
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    with mock.patch("outbox.services.EmailMessage.send", autospec=True, side_effect=fail_once):
        assert message_deliver(message_id=message.pk, now=now) == "retry"
    assert message_deliver(message_id=message.pk, now=now + timedelta(minutes=1)) == "sent"

    assert tried == [message.message_id]
    assert mail.outbox[0].message()["Message-ID"] == message.message_id


# Giving up ------------------------------------------------------------------------------------------------


def test_message_deliver_gives_up_at_once_when_every_recipient_is_refused_for_good(lead):
    message = queue(lead=lead, to_name=lead.name)

    with sending(smtplib.SMTPRecipientsRefused({"zoe@example.com": (550, b"5.1.1 No such user")})):
        outcome = message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome, message.status, message.attempts) == ("failed", "failed", 1)
    assert message.last_error == "SMTPRecipientsRefused: {'zoe@example.com': (550, b'5.1.1 No such user')}"


def test_message_deliver_retries_a_temporary_refusal(lead):
    message = queue(lead=lead)

    with sending(smtplib.SMTPRecipientsRefused({"zoe@example.com": (451, b"4.3.0 Try again later")})):
        outcome = message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome, message.status) == ("retry", "queued")
    assert list(lead.events.filter(verb="message_failed")) == []


def test_message_deliver_gives_up_on_an_address_it_cannot_write(db):
    message = queue()
    OutboundMessage.objects.filter(pk=message.pk).update(to_email="not-an-address")

    assert message_deliver(message_id=message.pk) == "failed"

    message.refresh_from_db()
    assert (message.status, message.last_error) == (
        "failed",
        "ValueError: Invalid address 'not-an-address': no user@domain",
    )


def test_final_failure_goes_on_the_timeline_and_to_the_owner(lead, owner):
    message = queue(lead=lead, to_name=lead.name, subject="A better fit")
    now = timezone.now()

    with sending(smtplib.SMTPServerDisconnected("Connection unexpectedly closed")):
        for _ in range(MAX_ATTEMPTS):
            outcome = message_deliver(message_id=message.pk, now=now)
            now += timedelta(hours=2)

    assert outcome == "failed"
    assert list(lead.events.filter(verb="message_failed").values_list("data", flat=True)) == [
        {
            "kind": "lead_signpost",
            "to": "zoe@example.com",
            "subject": "A better fit",
            "reason": "SMTPServerDisconnected: Connection unexpectedly closed",
        }
    ]
    assert notices() == [
        ("owner_message_failed", "olive@passthrough.example", "Email to Zoë O'Brien (Acme) could not be delivered")
    ]
    notice = OutboundMessage.objects.get(kind="owner_message_failed")
    assert (notice.to_name, notice.lead_id) == ("Olive Owner", lead.pk)
    assert "“A better fit” to zoe@example.com" in notice.body
    assert "Why: SMTPServerDisconnected: Connection unexpectedly closed" in notice.body
    assert f"/leads/{lead.pk}/" in notice.body


def test_a_failed_owner_notice_tells_nobody_else(lead):
    message = queue(lead=lead)
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"No such user")})
    with sending(refused):
        message_deliver(message_id=message.pk)
    notice = OutboundMessage.objects.get(kind="owner_message_failed")

    with sending(refused):
        outcome = message_deliver(message_id=notice.pk)

    assert outcome == "failed"
    assert len(notices()) == 1  # no notice about the notice
    assert lead.events.filter(verb="message_failed").count() == 2  # both on the timeline


def test_no_notice_when_the_failed_email_was_to_the_owner(lead, owner):
    message = queue(kind="owner_handback", to_email="Olive@Passthrough.example", lead=lead)

    with sending(smtplib.SMTPRecipientsRefused({"olive@passthrough.example": (550, b"No such user")})):
        message_deliver(message_id=message.pk)

    assert notices() == []
    assert lead.events.filter(verb="message_failed").count() == 1


def test_failure_without_a_lead_changes_only_the_row(db):
    message = queue()

    with sending(smtplib.SMTPRecipientsRefused({"zoe@example.com": (550, b"No such user")})):
        assert message_deliver(message_id=message.pk) == "failed"

    assert notices() == []


# Unknown outcome ------------------------------------------------------------------------------------------


def test_a_send_that_breaks_inside_data_is_held_not_retried(lead):
    message = queue(lead=lead)
    now = timezone.now()

    with mock.patch("outbox.services.EmailMessage.send", side_effect=broken_inside_data):
        outcome = message_deliver(message_id=message.pk, now=now)

    message.refresh_from_db()
    assert (outcome, message.status, message.claimed_at) == ("unknown", "unknown", now)
    assert message.last_error.startswith("The mail server stopped answering after it was given the whole message")
    assert message_deliver(message_id=message.pk, now=now + timedelta(days=1)) == "skipped"
    assert list(lead.events.filter(verb="message_unknown").values_list("data__to", flat=True)) == ["zoe@example.com"]
    assert [kind for kind, _, _ in notices()] == ["owner_message_unknown"]


def test_the_same_disconnect_before_data_is_retried(lead):
    message = queue(lead=lead)

    with mock.patch("outbox.services.EmailMessage.send", side_effect=broken_before_data):
        assert message_deliver(message_id=message.pk) == "retry"


def test_a_refusal_of_data_is_a_failure_not_unknown(lead):
    message = queue(lead=lead)

    with sending(smtplib.SMTPDataError(554, b"5.7.1 Message rejected")):
        assert message_deliver(message_id=message.pk) == "failed"


# A person decides -----------------------------------------------------------------------------------------


def held(message: OutboundMessage, *, claimed_at=None) -> OutboundMessage:
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.UNKNOWN, attempts=1, claimed_at=claimed_at or timezone.now(), last_error="stopped"
    )
    message.refresh_from_db()
    return message


def test_message_resend_queues_a_held_message_again_and_delivers_it_after_commit(
    lead, owner, django_capture_on_commit_callbacks
):
    message = held(queue(lead=lead))

    with (
        mock.patch("outbox.publish.enqueue") as enqueue_mock,
        django_capture_on_commit_callbacks(execute=True),
    ):
        resent = message_resend(message=message, actor=owner)

    assert (resent.status, resent.attempts, resent.last_error, resent.claimed_at) == ("queued", 0, "", None)
    assert resent.message_id == message.message_id
    enqueue_mock.assert_called_once_with("outbox.send_message", message_id=message.pk)
    event = lead.events.get(verb="message_resent")
    assert (event.actor, event.data["to"]) == (owner, "zoe@example.com")
    assert notices() == []


@pytest.mark.parametrize("status", [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT])
def test_message_resend_refuses_a_message_that_is_not_held_or_failed(db, status):
    message = queue()
    OutboundMessage.objects.filter(pk=message.pk).update(status=status)

    with pytest.raises(OutboxError, match=f"This email cannot be resent: it is {status.label.lower()} now."):
        message_resend(message=message)


def test_message_resend_refuses_an_email_to_a_lead_who_unsubscribed(lead):
    message = held(queue(lead=lead))
    lead.do_not_contact = True
    lead.save(update_fields=["do_not_contact"])

    with pytest.raises(OutboxError, match="This lead asked not to be contacted; the email is not sent again"):
        message_resend(message=message)

    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN


def test_message_mark_sent_dates_it_when_its_sending_started(lead, owner):
    started = timezone.now() - timedelta(hours=1)
    message = held(queue(lead=lead), claimed_at=started)

    marked = message_mark_sent(message=message, actor=owner)

    assert (marked.status, marked.sent_at, marked.last_error, marked.claimed_at) == ("sent", started, "", None)
    assert lead.events.get(verb="message_marked_sent").actor == owner


def test_message_mark_sent_refuses_a_failed_message(db):
    message = queue()
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)

    with pytest.raises(OutboxError, match="cannot be marked as sent: it is failed \\(gave up\\) now"):
        message_mark_sent(message=message)


# The lead's timeline --------------------------------------------------------------------------------------


def test_lead_timeline_shows_each_email_once_as_it_is_now(lead):
    sent, failed = queue("a", lead=lead, subject="First"), queue("b", lead=lead, subject="Second")
    OutboundMessage.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT, sent_at=timezone.now())
    OutboundMessage.objects.filter(pk=failed.pk).update(status=MessageStatus.FAILED, last_error="550 No such user")
    lead.events.create(verb="received", actor_label="source:web", at=lead.received_at - timedelta(minutes=1))

    entries = lead_timeline(lead=lead)

    assert [(e.message.subject, e.message.status) if e.message else e.event.verb for e in entries] == [
        ("Second", "failed"),
        ("First", "sent"),
        "received",
    ]
    assert [(e.message.subject if e.message else e.event.verb) for e in lead_timeline(lead=lead, limit=2)] == [
        "Second",
        "First",
    ]


# The broker pause -----------------------------------------------------------------------------------------


def test_enqueue_leaves_the_broker_alone_for_a_pause_after_a_failure():
    task = mock.Mock()
    task.name = "outbox.send_message"
    task.apply_async.side_effect = OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    with mock.patch("outbox.publish.time.monotonic", return_value=1000.0):
        first = enqueue(task, message_id=1)
        second = enqueue(task, message_id=2)
    with mock.patch("outbox.publish.time.monotonic", return_value=1000.0 + BROKER_PAUSE + 0.1):
        task.apply_async.side_effect = None
        third = enqueue(task, message_id=3)

    assert (first, second, third) == (False, False, True)
    assert [c.kwargs["kwargs"] for c in task.apply_async.call_args_list] == [{"message_id": 1}, {"message_id": 3}]
