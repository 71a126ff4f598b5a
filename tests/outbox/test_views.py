"""Each email's state where people look (the lead page's and the triage panel's timeline, the referral's emails
list), and a person's decision about a held or failed email (the page action and the admin actions)."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outbox.models import MessageStatus, OutboundMessage
from outbox.services import message_queue
from partners.services import referral_send
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory

RESEND, MARK_SENT = "Resend (same Message-ID)</button>", "Mark as sent</button>"


def email(lead=None, key: str = "m:1", status: str = MessageStatus.QUEUED, **fields) -> OutboundMessage:
    message = message_queue(
        key=key,
        kind="helpful_reply",
        to_email="ann@example.com",
        to_name="Ann Lee",
        subject=f"Subject {key}",
        body="Body",
        lead=lead,
    )
    OutboundMessage.objects.filter(pk=message.pk).update(status=status, **fields)
    message.refresh_from_db()
    return message


def action_url(message: OutboundMessage, action: str) -> str:
    return reverse("outbox:message_action", args=[message.pk, action])


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# Where people look ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lead_page_shows_each_email_as_it_is_now(sales_client):
    lead = LeadFactory()
    now = timezone.now()
    email(lead, "a", MessageStatus.SENT, sent_at=now)
    email(lead, "b", MessageStatus.QUEUED, attempts=2, last_error="SMTPServerDisconnected: gone", next_attempt_at=now)
    email(lead, "c", MessageStatus.FAILED, last_error="SMTPRecipientsRefused: 550 No such user")
    email(lead, "d", MessageStatus.UNKNOWN, last_error="Sending started and never finished", claimed_at=now)

    html = sales_client.get(reverse("leads:detail", args=[lead.pk])).text

    assert html.count('data-testid="timeline-email"') == 4  # each email once (its message_queued event is its line)
    assert "<strong>message_queued</strong>" not in html
    for status, label in [("sent", "Sent"), ("queued", "Queued"), ("failed", "Failed (gave up)")]:
        assert f'data-status="{status}"' in html
        assert f">{label}</span>" in html
    assert "Outcome unknown (held)</span>" in html
    assert "to Ann Lee &lt;ann@example.com&gt; · “Subject b” · attempt 2 failed, next try" in html
    assert "SMTPRecipientsRefused: 550 No such user" in html
    assert "Sending started and never finished" in html
    assert html.count(RESEND) == 2  # the failed one and the held one
    assert html.count(MARK_SENT) == 1  # the held one


@pytest.mark.django_db
def test_lead_page_for_a_manager_shows_states_without_actions(client, user_for):
    lead = LeadFactory()
    email(lead, "d", MessageStatus.UNKNOWN)
    client.force_login(user_for("Manager"))

    html = client.get(reverse("leads:detail", args=[lead.pk])).text

    assert "Outcome unknown (held)</span>" in html
    assert RESEND not in html
    assert MARK_SENT not in html


@pytest.mark.django_db
def test_lead_page_query_count_does_not_grow_with_emails(sales_client):
    lead = LeadFactory()
    email(lead, "first", MessageStatus.FAILED, last_error="x")
    sales_client.get(reverse("leads:detail", args=[lead.pk]))  # warm
    with CaptureQueriesContext(connection) as one:
        sales_client.get(reverse("leads:detail", args=[lead.pk]))
    for n in range(4):
        email(lead, f"more-{n}", MessageStatus.UNKNOWN)
    with CaptureQueriesContext(connection) as five:
        sales_client.get(reverse("leads:detail", args=[lead.pk]))

    assert len(five) == len(one)


@pytest.mark.django_db
def test_triage_panel_timeline_shows_the_email_state(sales_client):
    lead = LeadFactory(status="disqualified", name="Ada Lovelace")
    email(lead, "d", MessageStatus.UNKNOWN, last_error="Sending started and never finished")

    response = sales_client.get(
        reverse("triage:panel", args=[lead.pk]), headers={"HX-Request": "true", "HX-Target": "panel"}
    )

    html = response.text
    assert html.lstrip().startswith('<section id="panel"')
    assert 'data-status="unknown"' in html
    assert "Sending started and never finished" in html
    assert RESEND in html


@pytest.mark.django_db
def test_referral_page_lists_emails_with_state_reason_and_actions(sales_client):
    referral = referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce")
    OutboundMessage.objects.filter(referral=referral).update(
        status=MessageStatus.FAILED, last_error="SMTPRecipientsRefused: 550 No such user"
    )

    html = sales_client.get(reverse("partners:referral", args=[referral.pk])).text

    assert 'data-status="failed"' in html
    assert "Failed (gave up)</span>" in html
    assert "SMTPRecipientsRefused: 550 No such user" in html
    assert RESEND in html
    assert MARK_SENT not in html


# A person decides -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_resend_queues_the_email_and_goes_back(sales_client, sales_user, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    message = email(lead, "d", MessageStatus.UNKNOWN, attempts=1)
    back = reverse("leads:detail", args=[lead.pk])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = sales_client.post(action_url(message, "resend"), {"next": back})

    assert (response.status_code, response["Location"]) == (302, back)
    assert flashes(response) == ["The email to ann@example.com is queued again (same Message-ID)."]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 0)
    assert len(callbacks) == 1  # delivery asked for after commit
    assert lead.events.get(verb="message_resent").actor == sales_user


@pytest.mark.django_db
def test_mark_sent_from_the_referral_page(sales_client):
    referral = referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce")
    message = OutboundMessage.objects.filter(referral=referral).first()
    started = timezone.now() - timedelta(hours=1)
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN, claimed_at=started)
    back = reverse("partners:referral", args=[referral.pk])

    response = sales_client.post(action_url(message, "mark_sent"), {"next": back})

    assert (response.status_code, response["Location"]) == (302, back)
    message.refresh_from_db()
    assert (message.status, message.sent_at) == (MessageStatus.SENT, started)


@pytest.mark.django_db
def test_an_action_on_an_email_that_moved_on_says_so(sales_client):
    lead = LeadFactory()
    message = email(lead, "a", MessageStatus.SENT, sent_at=timezone.now())

    response = sales_client.post(action_url(message, "resend"))

    assert (response.status_code, response["Location"]) == (302, reverse("leads:detail", args=[lead.pk]))
    assert flashes(response) == ["This email cannot be resent: it is sent now."]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


@pytest.mark.django_db
def test_an_action_goes_back_only_to_this_site(sales_client):
    lead = LeadFactory()
    message = email(lead, "d", MessageStatus.UNKNOWN)

    response = sales_client.post(action_url(message, "mark_sent"), {"next": "https://evil.example/phish"})

    assert response["Location"] == reverse("leads:detail", args=[lead.pk])


@pytest.mark.django_db
def test_an_action_by_htmx_redirects_the_whole_page(sales_client):
    lead = LeadFactory()
    message = email(lead, "d", MessageStatus.UNKNOWN)

    response = sales_client.post(action_url(message, "mark_sent"), headers={"HX-Request": "true"})

    assert (response.status_code, response["HX-Redirect"]) == (200, reverse("leads:detail", args=[lead.pk]))


@pytest.mark.django_db
def test_action_refuses_get(sales_client):
    message = email(LeadFactory(), "d", MessageStatus.UNKNOWN)

    assert sales_client.get(action_url(message, "resend")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Manager", "Finance"])
def test_action_is_for_sales_ops(client, user_for, role):
    message = email(LeadFactory(), "d", MessageStatus.UNKNOWN)
    client.force_login(user_for(role))

    response = client.post(action_url(message, "resend"))

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN


@pytest.mark.django_db
def test_action_on_a_missing_email_or_action_is_404(sales_client):
    message = email(LeadFactory(), "d", MessageStatus.UNKNOWN)

    assert sales_client.post(reverse("outbox:message_action", args=[999999, "resend"])).status_code == 404
    assert sales_client.post(action_url(message, "delete")).status_code == 404


# The admin ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_actions_resend_and_mark_sent(client, user_for, django_capture_on_commit_callbacks):
    held, failed, sent = (
        email(None, "h", MessageStatus.UNKNOWN),
        email(None, "f", MessageStatus.FAILED),
        email(None, "s", MessageStatus.SENT),
    )
    client.force_login(user_for("Admin"))
    changelist = reverse("admin:outbox_outboundmessage_changelist")

    with django_capture_on_commit_callbacks(execute=False):
        resend = client.post(changelist, {"action": "resend", "_selected_action": [failed.pk, sent.pk]}, follow=True)
    mark = client.post(changelist, {"action": "mark_sent", "_selected_action": [held.pk]}, follow=True)

    assert [str(m) for m in resend.context["messages"]] == [
        f"{sent}: This email cannot be resent: it is sent now.",
        "1 email(s) queued again.",
    ]
    assert [str(m) for m in mark.context["messages"]] == ["1 email(s) marked as sent."]
    statuses = dict(OutboundMessage.objects.values_list("pk", "status"))
    assert statuses == {held.pk: "sent", failed.pk: "queued", sent.pk: "sent"}
