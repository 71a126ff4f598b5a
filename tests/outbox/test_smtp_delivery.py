"""Mail through a real SMTP server (aiosmtpd on a loopback port): every display name arrives, once, at its address
with its name and the row's Message-ID; a recipient the server refuses fails at once, shows where people look,
and the lead's owner hears of it (through the same server)."""

import pytest
from django.test import override_settings
from django.urls import reverse

from outbox.models import MessageStatus, OutboundMessage
from outbox.services import message_queue, outbox_sweep
from tests.factories import LeadFactory, UserFactory
from tests.outbox.smtp import RecordingHandler, smtp_mailers, smtp_server

NAMES = [
    ("Smith, John", "Smith, John"),
    ('"Smith, John"', '"Smith, John"'),
    ("Dr. Ann Lee", "Dr. Ann Lee"),
    ("J. Smith", "J. Smith"),
    ("Zoë O'Brien", "Zoë O'Brien"),
    ("李雷", "李雷"),
    ('Ann "The Boss" Lee', 'Ann "The Boss" Lee'),
    ("back\\slash", "back\\slash"),
    ("Line\nBreak\r\nName", "Line Break Name"),
    ("", ""),
]


@pytest.mark.django_db
def test_every_display_name_arrives_once_with_its_name_and_message_id():
    lead = LeadFactory()
    rows = [
        message_queue(
            key=f"names:{i}",
            kind="lead_signpost",
            to_email=f"person{i}@example.com",
            to_name=name,
            subject=f"Hello {i}",
            body="Body",
            lead=lead,
        )
        for i, (name, _) in enumerate(NAMES)
    ]

    with smtp_server() as (port, handler), override_settings(MAILERS=smtp_mailers(port)):
        counts = outbox_sweep()

    assert counts == {"sent": len(NAMES)}
    by_rcpt = {}
    for received in handler.received:
        assert len(received.rcpt_tos) == 1
        by_rcpt.setdefault(received.rcpt_tos[0], []).append(received)
    assert sorted(by_rcpt) == sorted(row.to_email for row in rows)
    for row, (_, shown) in zip(rows, NAMES, strict=True):
        [received] = by_rcpt[row.to_email]  # exactly once
        message = received.message
        [to] = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (shown, row.to_email)
        assert message["Message-ID"] == row.message_id
        assert message["Subject"] == row.subject
        [sender] = message["From"].addresses
        assert (sender.display_name, sender.addr_spec, received.mail_from) == (
            "Passthrough",
            "passthrough@localhost",
            "passthrough@localhost",
        )
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


@pytest.mark.django_db
@override_settings(DEFAULT_FROM_EMAIL="Acme, Inc. <hello@acme.example>")
def test_a_sender_name_with_a_comma_arrives_as_one_address():
    message = message_queue(key="from", kind="test", to_email="ann@example.com", subject="Hi", body="Body")

    with smtp_server() as (port, handler), override_settings(MAILERS=smtp_mailers(port)):
        assert outbox_sweep() == {"sent": 1}

    [received] = handler.received
    [sender] = received.message["From"].addresses
    assert (sender.display_name, sender.addr_spec, received.mail_from) == (
        "Acme, Inc.",
        "hello@acme.example",
        "hello@acme.example",
    )
    assert received.message["Message-ID"] == message.message_id
    assert message.message_id.endswith("@acme.example>")


@pytest.mark.django_db
def test_a_refused_recipient_fails_at_once_shows_on_the_pages_and_the_owner_is_told(client, user_for):
    owner = UserFactory(username="olive", email="olive@passthrough.example", first_name="Olive")
    lead = LeadFactory(name="Ann Lee", company="Raymond, Strickland and Evans", email="nobody@example.com", owner=owner)
    message = message_queue(
        key="refused",
        kind="helpful_reply",
        to_email=lead.email,
        to_name=lead.name,
        subject="Resources",
        body="B",
        lead=lead,
    )
    handler = RecordingHandler(refuse={"nobody@example.com"})

    with smtp_server(handler) as (port, _), override_settings(MAILERS=smtp_mailers(port)):
        first = outbox_sweep()
        second = outbox_sweep()  # the owner's notice, queued by the first

    assert (first, second) == ({"failed": 1}, {"sent": 1})
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert message.last_error.startswith(
        "SMTPRecipientsRefused: {'nobody@example.com': (550, b'5.1.1 No such user here')"
    )
    [notice] = handler.received
    assert notice.rcpt_tos == ["olive@passthrough.example"]
    # (a header folded before its first word parses with a leading space: Python's email folding, not ours)
    assert (
        notice.message["Subject"].strip() == "Email to Ann Lee (Raymond, Strickland and Evans) could not be delivered"
    )
    assert "No such user here" in notice.message.get_content()
    assert lead.events.filter(verb="message_failed").count() == 1

    client.force_login(user_for("Sales Ops"))
    page = client.get(reverse("leads:detail", args=[lead.pk])).text
    assert 'data-status="failed"' in page
    assert "Failed (gave up)" in page
    assert "5.1.1 No such user here" in page
    assert "Resend (same Message-ID)" in page
