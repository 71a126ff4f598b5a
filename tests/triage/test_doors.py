"""One door per redirect: each redirect kind has one service, and whichever page or task opens it — triage, the
lead's own pages, bulk, the API, the re-offer task — the lead gets its message (an outbox row to the lead's
address) and `first_response_at` is set. Closing a non-person and overriding write to nobody, through one service
each. And when the lead must not be written to, nothing is sent and the timeline says why."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from leads.apikeys import api_key_create
from leads.models import Lead, LeadStatus
from leads.services import lead_tell
from nurture.models import Enrollment
from outbox.models import OutboundMessage
from partners.models import Referral
from partners.services import referral_decline, referral_send
from partners.tasks import expire_referrals
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadSourceFactory

pytestmark = pytest.mark.django_db


# Fixtures in tests/triage/conftest.py: `tracks` are the demo tracks, each starting with an email sent at once,
# with a helpful reply per reason.


@pytest.fixture
def partner(db):
    return FeeAgreementFactory(partner__name="Acme Lending", partner__grade="A").partner


def waiting(reasons, **kwargs) -> Lead:
    """A disqualified lead (reason: budget) who agreed to partner sharing and marketing emails, not answered yet."""
    kwargs.setdefault("primary_reason", reasons["budget"])
    kwargs.setdefault("marketing_consent_at", timezone.now())
    kwargs.setdefault("marketing_consent_version", "v1")
    return ConsentingLeadFactory(**kwargs)


def told(lead: Lead, kind: str) -> list[OutboundMessage]:
    """The emails of `kind` to the lead itself."""
    return list(OutboundMessage.objects.filter(lead=lead, kind=kind, to_email=lead.email))


def assert_answered(lead: Lead, kind: str) -> None:
    lead.refresh_from_db()
    assert len(told(lead, kind)) == 1
    assert lead.first_response_at is not None


# Introduce ------------------------------------------------------------------------------------------------


def test_introduce_from_triage_tells_the_lead(sales_client, reasons, partner):
    lead = waiting(reasons)

    response = sales_client.post(reverse("triage:refer", args=[lead.pk]), {"partner": partner.pk, "mode": "introduce"})

    assert response.status_code == 302
    assert_answered(lead, "lead_introduced")


def test_introduce_from_the_lead_page_tells_the_lead(sales_client, reasons, partner):
    lead = waiting(reasons)

    response = sales_client.post(
        reverse("partners:referral_send", args=[lead.pk]), {"partner": partner.pk, "mode": "introduce", "note": ""}
    )

    assert response.status_code == 302
    assert_answered(lead, "lead_introduced")
    assert "We have put you in touch with Acme Lending" in told(lead, "lead_introduced")[0].subject


def test_introduce_again_after_a_decline_tells_the_lead_about_the_new_partner(reasons, partner):
    lead = waiting(reasons)
    declined = referral_send(lead=lead, partner=FeeAgreementFactory(partner__name="Bolt").partner, mode="introduce")
    Lead.objects.filter(pk=lead.pk).update(first_response_at=None)  # as an introduction made before this fix left it

    referral_decline(referral=declined, reason="Too small for us")

    reoffer = Referral.objects.exclude(pk=declined.pk).get(lead=lead)
    assert reoffer.partner == partner
    assert sorted(m.referral_id for m in told(lead, "lead_introduced")) == [declined.pk, reoffer.pk]
    lead.refresh_from_db()
    assert lead.first_response_at is not None


def test_introduce_again_from_the_expiry_task_tells_the_lead(reasons, partner):
    lead = waiting(reasons)
    expired = referral_send(lead=lead, partner=FeeAgreementFactory(partner__name="Bolt").partner, mode="introduce")
    Referral.objects.filter(pk=expired.pk).update(respond_by=timezone.now() - timedelta(minutes=1))
    Lead.objects.filter(pk=lead.pk).update(first_response_at=None)

    assert expire_referrals.run() == 1

    reoffer = Referral.objects.exclude(pk=expired.pk).get(lead=lead)
    assert OutboundMessage.objects.filter(referral=reoffer, kind="lead_introduced", to_email=lead.email).count() == 1
    lead.refresh_from_db()
    assert lead.first_response_at is not None


# Signpost -------------------------------------------------------------------------------------------------


def test_signpost_from_triage_tells_the_lead(sales_client, reasons, partner):
    lead = waiting(reasons)

    response = sales_client.post(reverse("triage:refer", args=[lead.pk]), {"partner": partner.pk, "mode": "signpost"})

    assert response.status_code == 302
    assert_answered(lead, "lead_signpost")


def test_signpost_from_the_lead_page_tells_the_lead(sales_client, reasons, partner):
    lead = waiting(reasons)

    response = sales_client.post(
        reverse("partners:referral_send", args=[lead.pk]), {"partner": partner.pk, "mode": "signpost", "note": ""}
    )

    assert response.status_code == 302
    assert_answered(lead, "lead_signpost")


# Enroll ---------------------------------------------------------------------------------------------------


def test_enroll_from_triage_sends_the_first_email_now(sales_client, reasons, tracks):
    lead = waiting(reasons)

    response = sales_client.post(reverse("triage:enroll", args=[lead.pk]), {"track": tracks["budget-timing"].pk})

    assert response.status_code == 302
    assert_answered(lead, "nurture_email")


def test_enroll_from_the_lead_page_sends_the_first_email_now(sales_client, reasons, tracks):
    lead = waiting(reasons)

    response = sales_client.post(reverse("nurture:lead_enroll", args=[lead.pk]), {"track": tracks["budget-timing"].pk})

    assert response.status_code == 302
    assert_answered(lead, "nurture_email")


def test_enroll_in_bulk_sends_each_lead_its_first_email(sales_client, reasons, tracks):
    leads = [waiting(reasons), waiting(reasons)]

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [lead.pk for lead in leads], "action": "enroll", "track": tracks["budget-timing"].pk},
    )

    assert response.status_code == 302
    for lead in leads:
        assert_answered(lead, "nurture_email")


def test_enroll_from_the_api_sends_the_first_email_now(client, reasons, tracks):
    cache.clear()
    source = LeadSourceFactory(slug="webinars")
    key = api_key_create(source=source, name="webinar tool")[1]
    lead = waiting(reasons, source=source, external_id="W-1")

    response = client.post(
        "/api/v1/enrollments",
        data=json.dumps({"external_id": "W-1", "track": "budget-timing"}),
        content_type="application/json",
        headers={"X-API-Key": key},
    )

    assert response.status_code == 201
    assert_answered(lead, "nurture_email")


def test_enroll_in_a_track_that_writes_later_is_refused_until_the_lead_is_answered(sales_client, reasons, tracks):
    lead = waiting(reasons)
    later = tracks["budget-timing"]
    later.steps.filter(position=1).update(delay_hours=24)

    response = sales_client.post(reverse("nurture:lead_enroll", args=[lead.pk]), {"track": later.pk})

    assert response.status_code == 422
    assert "send a helpful reply first, so nobody waits" in response.text
    assert not Enrollment.objects.exists()
    assert not OutboundMessage.objects.exists()


# Reply ----------------------------------------------------------------------------------------------------


def test_reply_from_triage_answers_the_lead(sales_client, reasons):
    lead = waiting(reasons)

    response = sales_client.post(
        reverse("triage:reply", args=[lead.pk]), {"subject": "Useful links", "body": "Here they are."}
    )

    assert response.status_code == 302
    assert_answered(lead, "helpful_reply")


def test_reply_from_the_lead_page_answers_the_lead(sales_client, reasons):
    lead = waiting(reasons)

    response = sales_client.post(
        reverse("nurture:lead_reply", args=[lead.pk]), {"subject": "Useful links", "body": "Here they are."}
    )

    assert response.status_code == 302
    assert_answered(lead, "helpful_reply")


def test_reply_in_bulk_answers_each_lead(sales_client, reasons, tracks):
    leads = [waiting(reasons), waiting(reasons)]

    response = sales_client.post(reverse("triage:bulk"), {"tick": [lead.pk for lead in leads], "action": "reply"})

    assert response.status_code == 302
    for lead in leads:
        assert_answered(lead, "helpful_reply")


# Close and override: one service each, nobody written to ---------------------------------------------------


def test_close_from_triage_and_in_bulk_write_to_nobody(sales_client, reasons):
    one, many = waiting(reasons), [waiting(reasons), waiting(reasons)]

    single = sales_client.post(reverse("triage:close", args=[one.pk]), {"kind": "test", "reason": "A test entry"})
    bulk = sales_client.post(
        reverse("triage:bulk"), {"tick": [lead.pk for lead in many], "action": "close_spam", "reason": "Bots"}
    )

    assert (single.status_code, bulk.status_code) == (302, 302)
    for lead in [one, *many]:
        lead.refresh_from_db()
        assert (lead.status, lead.first_response_at) == (LeadStatus.CLOSED, None)
        assert lead.events.filter(verb="closed").count() == 1
    assert not OutboundMessage.objects.exists()


def test_override_from_triage_qualifies_and_writes_to_nobody(sales_client, reasons):
    lead = waiting(reasons)

    response = sales_client.post(reverse("triage:override", args=[lead.pk]), {"note": "Parent company is a client"})

    lead.refresh_from_db()
    assert response.status_code == 302
    assert (lead.status, lead.first_response_at) == (LeadStatus.QUALIFIED, None)
    assert lead.events.get(verb="override_qualified").data == {"note": "Parent company is a client"}
    assert not OutboundMessage.objects.exists()


# Must not be told -----------------------------------------------------------------------------------------


def test_telling_a_lead_who_asked_not_to_be_contacted_sends_nothing_and_says_why(reasons):
    lead = waiting(reasons, do_not_contact=True)

    message = lead_tell(lead=lead, key="test:dnc", kind="helpful_reply", subject="Useful links", body="Here.")

    lead.refresh_from_db()
    assert message is None
    assert not OutboundMessage.objects.exists()
    assert lead.first_response_at is None
    assert lead.events.get(verb="lead_not_told").data == {
        "kind": "helpful_reply",
        "subject": "Useful links",
        "reason": "The lead asked not to be contacted.",
    }


def test_a_lead_who_asked_not_to_be_contacted_gets_no_redirect_that_writes_to_them(sales_client, reasons, partner):
    lead = waiting(reasons, do_not_contact=True)

    refer = sales_client.post(reverse("triage:refer", args=[lead.pk]), {"partner": partner.pk, "mode": "signpost"})
    reply = sales_client.post(reverse("nurture:lead_reply", args=[lead.pk]), {"subject": "Hi", "body": "Links."})

    assert (refer.status_code, reply.status_code) == (422, 422)
    assert not OutboundMessage.objects.exists()
