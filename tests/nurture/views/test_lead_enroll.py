"""Enrolling one lead: the tracks (suggested first, refusals greyed with their reason), then POST → enrolled."""

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from nurture.models import Enrollment, Step, Track
from tests.nurture.views.conftest import hx


def url(lead) -> str:
    return reverse("nurture:lead_enroll", args=[lead.pk])


def option_names(response) -> list[str]:
    return [option["track"].name for option in response.context["options"]]


@pytest.fixture
def task_only(reasons):
    """A track that never emails the lead: open to leads without marketing consent."""
    track = Track.objects.create(name="Owner follows up", slug="owner-follow-up")
    Step.objects.create(track=track, position=1, kind="task", delay_hours=48, body="Call them back")
    return track


@pytest.mark.django_db
def test_enroll_page_suggests_the_tracks_for_the_leads_reason_first(sales_client, tracks, waiting):
    lead = waiting(name="Ada Lovelace", company="Analytical Engines")

    response = sales_client.get(url(lead))

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html
    assert "Put Ada Lovelace on a nurture track" in html
    assert "Analytical Engines" in html
    assert option_names(response)[0] == "Budget and timing: ready when you are"
    assert [o["suggested"] for o in response.context["options"]] == [True, False, False, False, False]
    assert "suggested for “Budget too small”" in html
    assert "Email the lead, at once: “Planning ahead, Ada Lovelace?”" in html  # as the lead will read it
    assert "Re-check against the ICP, 30 days later" in html
    assert 'data-testid="refusal"' not in html
    assert f'<input type="hidden" name="track" value="{tracks["budget-timing"].pk}">' in html


@pytest.mark.django_db
def test_enroll_page_greys_out_email_tracks_without_marketing_consent(sales_client, tracks, task_only, waiting):
    lead = waiting(marketing_consent_at=None, marketing_consent_version="", first_response_at=timezone.now())

    response = sales_client.get(url(lead))

    options = {o["track"].slug: o for o in response.context["options"]}
    assert options["owner-follow-up"]["refusal"] is None
    assert "has not agreed to marketing emails" in options["budget-timing"]["refusal"]
    assert option_names(response)[:2] == ["Budget and timing: ready when you are", "Owner follows up"]
    assert f'disabled aria-describedby="refusal-{tracks["budget-timing"].pk}"' in response.text
    assert "not agreed: only tracks without emails" in response.text


@pytest.mark.django_db
def test_enroll_page_of_a_lead_already_nurtured_says_where(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.get(url(enrollment.lead))

    assert "Already in “Budget and timing: ready when you are” (active)" in response.text
    assert all("already in a nurture track" in o["refusal"] for o in response.context["options"])


@pytest.mark.django_db
def test_enroll_puts_the_lead_on_the_track_and_goes_to_the_lead_page(sales_client, sales_user, tracks, waiting):
    lead = waiting(name="Ada Lovelace")

    response = sales_client.post(url(lead), {"track": tracks["budget-timing"].pk})

    lead.refresh_from_db()
    enrollment = Enrollment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert (enrollment.lead, enrollment.track, enrollment.enrolled_by) == (lead, tracks["budget-timing"], sales_user)
    assert lead.status == LeadStatus.NURTURING
    page = sales_client.get(response["Location"])
    assert "Ada Lovelace is now on the track “Budget and timing: ready when you are”." in page.text


@pytest.mark.django_db
def test_enroll_with_htmx_redirects_the_whole_page(sales_client, tracks, waiting):
    lead = waiting()

    response = sales_client.post(url(lead), {"track": tracks["budget-timing"].pk}, headers=hx("enroll-tracks"))

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("leads:detail", args=[lead.pk])
    assert Enrollment.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_enroll_in_an_email_track_without_marketing_consent_is_refused(sales_client, tracks, waiting):
    lead = waiting(marketing_consent_at=None, marketing_consent_version="")

    response = sales_client.post(url(lead), {"track": tracks["budget-timing"].pk})

    lead.refresh_from_db()
    assert response.status_code == 422
    assert '<nav class="navbar' in response.text  # the same page
    assert 'data-testid="error">This lead has not agreed to marketing emails' in response.text
    assert not Enrollment.objects.exists()
    assert lead.status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_enroll_without_marketing_consent_in_a_track_without_emails_works(sales_client, task_only, waiting):
    lead = waiting(marketing_consent_at=None, marketing_consent_version="", first_response_at=timezone.now())

    response = sales_client.post(url(lead), {"track": task_only.pk})

    assert response.status_code == 302
    assert Enrollment.objects.get().track == task_only


@pytest.mark.django_db
def test_enroll_in_a_track_that_does_not_write_now_needs_a_reply_first(sales_client, task_only, waiting):
    lead = waiting(marketing_consent_at=None, marketing_consent_version="")

    page = sales_client.get(url(lead))
    response = sales_client.post(url(lead), {"track": task_only.pk})

    refusal = "“Owner follows up” does not write to them straight away; send a helpful reply first, so nobody waits."
    assert {o["track"].slug: o["refusal"] for o in page.context["options"]}["owner-follow-up"] == refusal
    assert response.status_code == 422
    assert refusal in response.text
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_enroll_refusal_with_htmx_returns_the_tracks_region_with_422(sales_client, tracks, waiting):
    lead = waiting(do_not_contact=True)

    response = sales_client.post(url(lead), {"track": tracks["budget-timing"].pk}, headers=hx("enroll-tracks"))

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<section id="enroll-tracks"')
    assert "This lead asked not to be contacted, so it cannot be nurtured." in response.text
    assert '<nav class="navbar' not in response.text
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), [({}, "Choose a track."), ({"track": "999999"}, "does not exist")])
def test_enroll_without_a_valid_track_is_422(sales_client, tracks, waiting, data, message):
    response = sales_client.post(url(waiting()), data)

    assert response.status_code == 422
    assert message in response.text
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_enroll_page_htmx_request_returns_only_the_tracks(sales_client, tracks, waiting):
    response = sales_client.get(url(waiting()), headers=hx("enroll-tracks"))

    assert response.text.lstrip().startswith('<section id="enroll-tracks"')
    assert "Budget and timing" in response.text
    assert '<nav class="navbar' not in response.text


@pytest.mark.django_db
def test_enroll_page_of_missing_lead_is_404(sales_client, tracks):
    missing = reverse("nurture:lead_enroll", args=[999999])

    assert sales_client.get(missing).status_code == 404
    assert sales_client.post(missing, {"track": tracks["budget-timing"].pk}).status_code == 404


@pytest.mark.django_db
def test_enroll_page_refuses_other_methods(sales_client, waiting):
    assert sales_client.put(url(waiting())).status_code == 405
    assert sales_client.delete(url(waiting())).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Finance", "Manager"])
def test_enroll_refuses_roles_without_add_enrollment(client_for, tracks, waiting, role):
    lead = waiting()
    client = client_for(role)

    assert client.get(url(lead)).status_code == 403
    assert client.post(url(lead), {"track": tracks["budget-timing"].pk}).status_code == 403
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_enroll_page_sends_anonymous_to_login(client, waiting):
    response = client.get(url(waiting()))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
