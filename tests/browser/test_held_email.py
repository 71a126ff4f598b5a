"""A held email in the browser: Sales Ops finds an email whose outcome is unknown on the lead's timeline, with
the reason, and resends it; the timeline then shows it queued again and the database agrees."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outbox import publish
from outbox.models import MessageStatus, OutboundMessage
from outbox.services import message_queue
from tests.conftest import make_user
from tests.factories import PASSWORD, LeadFactory


@pytest.mark.django_db(transaction=True)
def test_sales_ops_resends_a_held_email_from_the_timeline(live_server, login, monkeypatch):
    queued = []
    monkeypatch.setattr(publish, "enqueue", lambda task, **kwargs: queued.append(kwargs["message_id"]) or True)
    user = make_user("Sales Ops")
    user.set_password(PASSWORD)
    user.save()
    lead = LeadFactory(name="Ada Lovelace", email="ada@example.com", status="helped")
    message = message_queue(
        key="held",
        kind="helpful_reply",
        to_email=lead.email,
        to_name=lead.name,
        subject="Resources",
        body="B",
        lead=lead,
    )
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.UNKNOWN,
        attempts=1,
        claimed_at=timezone.now(),
        last_error="Sending started and never finished (its worker stopped); the mail server may have accepted it.",
    )
    queued.clear()
    page = login(user.username, PASSWORD)

    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    line = page.get_by_test_id("timeline-email")
    expect(line).to_contain_text("Outcome unknown (held)")
    expect(line).to_contain_text("the mail server may have accepted it")
    expect(line.get_by_role("button", name="Mark as sent")).to_be_visible()
    line.get_by_role("button", name="Resend (same Message-ID)").click()

    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("The email to ada@example.com is queued again (same Message-ID).")
    line = page.get_by_test_id("timeline-email")
    expect(line).to_contain_text("Queued")
    expect(line.get_by_role("button", name="Resend (same Message-ID)")).to_have_count(0)
    message.refresh_from_db()
    assert (message.status, message.attempts, queued) == (MessageStatus.QUEUED, 0, [message.pk])
    assert lead.events.get(verb="message_resent").actor == user
