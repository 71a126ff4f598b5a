"""The public unsubscribe page a lead reaches from any nurture email: no account, the signed token names the
lead; GET only asks (mail scanners follow links), POST stops everything."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from nurture import services
from nurture.models import EnrollmentStatus
from outbox.models import MessageStatus, OutboundMessage
from outbox.services import message_queue


def url(lead) -> str:
    return reverse("unsubscribe", args=[services.unsubscribe_token(lead.pk)])


def queued(lead, *, key: str, to_email: str | None = None, kind: str = "nurture_email") -> OutboundMessage:
    return message_queue(
        key=key,
        kind=kind,
        to_email=to_email or lead.email,
        subject="Hello",
        body="Resources.",
        lead=lead,
        not_before=timezone.now(),  # stored, not handed to a worker
    )


@pytest.mark.django_db
def test_unsubscribe_get_asks_and_does_not_unsubscribe(client, enroll):
    enrollment = enroll(email="ada@example.com")

    response = client.get(url(enrollment.lead))

    enrollment.refresh_from_db()
    enrollment.lead.refresh_from_db()
    assert response.status_code == 200
    assert "Stop our emails?" in response.text
    assert "<strong>ada@example.com</strong>" in response.text
    assert '<button class="btn btn-primary" type="submit">Unsubscribe</button>' in response.text
    assert enrollment.lead.do_not_contact is False
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert response["Cache-Control"] == "no-store"
    # Not "no-referrer": browsers would then post the form with `Origin: null`, which the CSRF check refuses.
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_unsubscribe_post_stops_everything_and_confirms(client, enroll):
    enrollment = enroll(email="ada@example.com")
    lead = enrollment.lead
    OutboundMessage.objects.filter(lead=lead).delete()  # the track's first email, sent when enrolling
    waiting_email = queued(lead, key="a")
    sent_email = queued(lead, key="b")
    OutboundMessage.objects.filter(pk=sent_email.pk).update(status=MessageStatus.SENT)
    owner_email = queued(lead, key="c", to_email="owner@passthrough.example", kind="owner_handback")

    response = client.post(url(lead))

    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert "We will not email <strong>ada@example.com</strong> again, and we have stopped the 1 email series" in (
        response.text
    )
    assert response["Cache-Control"] == "no-store"
    assert lead.do_not_contact is True
    assert (enrollment.status, enrollment.next_run_at) == (EnrollmentStatus.UNSUBSCRIBED, None)
    statuses = dict(OutboundMessage.objects.values_list("pk", "status"))
    assert statuses == {
        waiting_email.pk: MessageStatus.CANCELLED,
        sent_email.pk: MessageStatus.SENT,
        owner_email.pk: MessageStatus.QUEUED,  # not to the lead: the owner still hears about it
    }
    event = lead.events.get(verb="unsubscribed")
    assert (event.actor_label, event.data["enrollments_ended"], event.data["emails_cancelled"]) == ("lead", 1, 1)


@pytest.mark.django_db
def test_unsubscribe_post_twice_is_harmless(client, waiting):
    lead = waiting()

    client.post(url(lead))
    response = client.post(url(lead))

    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert lead.events.filter(verb="unsubscribed").count() == 1


@pytest.mark.django_db
def test_unsubscribe_get_after_unsubscribing_says_so(client, waiting):
    lead = waiting(do_not_contact=True)

    response = client.get(url(lead))

    assert "You are already unsubscribed" in response.text
    assert "<form" not in response.text.split("<main", 1)[1]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_unsubscribe_with_a_tampered_token_is_a_404_page(client, waiting, method):
    lead = waiting()
    token = services.unsubscribe_token(lead.pk)
    other = waiting()
    value, rest = services.unsubscribe_token(other.pk).split(":", 1)[0], token.split(":", 1)[1]
    forged = f"{value}:{rest}"  # another lead's id under this lead's signature

    response = getattr(client, method)(reverse("unsubscribe", args=[forged]))

    lead.refresh_from_db()
    other.refresh_from_db()
    assert response.status_code == 404
    assert "This link does not work" in response.text
    assert response["Cache-Control"] == "no-store"
    assert (lead.do_not_contact, other.do_not_contact) == (False, False)


@pytest.mark.django_db
def test_unsubscribe_of_a_deleted_lead_is_a_404_page(client, waiting):
    lead = waiting()
    link = url(lead)
    lead.delete()

    response = client.get(link)

    assert response.status_code == 404
    assert "This link does not work" in response.text


@pytest.mark.django_db
def test_unsubscribe_refuses_other_methods(client, waiting):
    assert client.put(url(waiting())).status_code == 405


@pytest.mark.django_db
def test_unsubscribe_needs_no_login_and_shows_no_navigation(client, waiting):
    response = client.get(url(waiting()))

    assert response.status_code == 200
    assert 'id="main-nav"' not in response.text
    assert "Log out" not in response.text


@pytest.mark.django_db
def test_the_link_in_a_nurture_email_opens_this_page(client, enroll, settings):
    settings.SITE_URL = "https://passthrough.example"
    enrollment = enroll()
    services.nurture_run_due(now=timezone.now(), enrollment_ids=[enrollment.pk])
    body = OutboundMessage.objects.get(lead=enrollment.lead, kind="nurture_email").body

    link = re.search(r"https://passthrough\.example(/u/\S+/)", body).group(1)
    response = client.get(link)

    assert response.status_code == 200
    assert response.context["lead"] == enrollment.lead


@pytest.mark.django_db
def test_unsubscribe_form_works_with_csrf_checks(waiting):
    from django.test import Client

    lead = waiting()
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url(lead))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    response = browser.post(url(lead), {"csrfmiddlewaretoken": token})

    lead.refresh_from_db()
    assert response.status_code == 200
    assert lead.do_not_contact is True
