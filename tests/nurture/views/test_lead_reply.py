"""The helpful reply page: choose a template, edit its preview, send (or be told what is missing)."""

import pytest
from django.urls import reverse

from leads.models import LeadStatus
from nurture.models import HelpfulReply
from outbox.models import OutboundMessage
from tests.nurture.views.conftest import hx

PREVIEW = "reply-preview"


def url(lead) -> str:
    return reverse("nurture:lead_reply", args=[lead.pk])


@pytest.fixture
def geography(tracks, reasons):
    return HelpfulReply.objects.get(reason=reasons["geography"])


@pytest.mark.django_db
def test_reply_page_previews_the_template_for_the_leads_reason(sales_client, tracks, waiting):
    lead = waiting(name="Ada Lovelace", message="Can I pay monthly?")

    response = sales_client.get(url(lead))

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html
    assert response.context["chosen"].title == "Budget: free resources and entry options"
    assert "Budget: free resources and entry options (for its reason)</option>" in html
    assert 'value="Resources while you plan your budget"' in html
    assert "Hello Ada Lovelace,\n\nThank you for asking." in html
    assert "Can I pay monthly?" in html
    assert f'hx-get="{url(lead)}" hx-target="#reply-preview"' in html
    assert "Use this template</button></noscript>" in html  # without JavaScript: a plain submit


@pytest.mark.django_db
def test_reply_page_picks_the_template_from_the_url(sales_client, waiting, geography):
    response = sales_client.get(url(waiting(name="Ada")), {"reply": geography.pk})

    assert response.context["chosen"] == geography
    assert 'value="Someone closer to you"' in response.text
    assert f'<option value="{geography.pk}" selected>' in response.text
    assert f'<input type="hidden" name="reply" value="{geography.pk}">' in response.text


@pytest.mark.django_db
def test_reply_page_ignores_an_unknown_template(sales_client, tracks, waiting):
    response = sales_client.get(url(waiting()), {"reply": "nope"})

    assert response.context["chosen"].title == "Budget: free resources and entry options"


@pytest.mark.django_db
def test_changing_the_template_with_htmx_rerenders_only_the_preview(sales_client, waiting, geography):
    response = sales_client.get(url(waiting(name="Ada")), {"reply": geography.pk}, headers=hx(PREVIEW))

    html = response.text
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="reply-preview">')
    assert 'value="Someone closer to you"' in html
    assert "Hello Ada,\n\nWe do not work in your area yet." in html
    assert "<select" not in html
    assert '<nav class="navbar' not in html


@pytest.mark.django_db
def test_reply_page_without_templates_offers_an_empty_reply(sales_client, waiting):
    response = sales_client.get(url(waiting()))

    assert response.status_code == 200
    assert "No reply templates yet: write the reply yourself." in response.text
    assert 'name="subject" id="reply-subject" maxlength="300" class="form-control form-control-sm" value=""' in (
        response.text
    )


@pytest.mark.django_db
def test_send_queues_the_edited_reply_and_goes_to_the_lead_page(
    sales_client, sales_user, tracks, waiting, django_capture_on_commit_callbacks
):
    lead = waiting(name="Ada Lovelace", email="ada@example.com")
    template = HelpfulReply.objects.get(title="Budget: free resources and entry options")

    with django_capture_on_commit_callbacks():
        response = sales_client.post(
            url(lead), {"reply": template.pk, "subject": "Free guides for you", "body": "Hello Ada,\n\nHere they are."}
        )

    lead.refresh_from_db()
    message = OutboundMessage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert (message.kind, message.to_email, message.subject) == (
        "helpful_reply",
        "ada@example.com",
        "Free guides for you",
    )
    assert message.body == "Hello Ada,\n\nHere they are."
    assert lead.first_response_at is not None
    assert lead.status == LeadStatus.HELPED
    event = lead.events.get(verb="helpful_reply_sent")
    assert (event.actor, event.data["template"]) == (sales_user, template.title)
    assert "Reply queued to ada@example.com." in sales_client.get(response["Location"]).text


@pytest.mark.django_db
def test_send_with_htmx_redirects_the_whole_page(sales_client, waiting, django_capture_on_commit_callbacks):
    lead = waiting()

    with django_capture_on_commit_callbacks():
        response = sales_client.post(url(lead), {"subject": "Hi", "body": "Resources."}, headers=hx(PREVIEW))

    assert response["HX-Redirect"] == reverse("leads:detail", args=[lead.pk])
    assert OutboundMessage.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_send_without_a_subject_shows_the_error_by_the_field_and_keeps_the_text(sales_client, waiting):
    lead = waiting()

    response = sales_client.post(url(lead), {"subject": "  ", "body": "My own words."})

    html = response.text
    assert response.status_code == 422
    assert '<div class="invalid-feedback" id="reply-subject-error">Write a subject.</div>' in html
    assert 'class="form-control form-control-sm is-invalid" value="  "' in html
    assert ">My own words.</textarea>" in html
    assert "Write the reply." not in html
    assert not OutboundMessage.objects.exists()
    lead.refresh_from_db()
    assert lead.first_response_at is None


@pytest.mark.django_db
def test_send_empty_with_htmx_returns_the_preview_with_both_errors(sales_client, waiting):
    response = sales_client.post(url(waiting()), {"subject": "", "body": ""}, headers=hx(PREVIEW))

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="reply-preview">')
    assert "Write a subject." in response.text
    assert "Write the reply." in response.text


@pytest.mark.django_db
def test_send_to_a_lead_who_asked_not_to_be_contacted_is_refused(sales_client, waiting):
    lead = waiting(do_not_contact=True)

    response = sales_client.post(url(lead), {"subject": "Hi", "body": "Resources."})

    assert response.status_code == 422
    assert 'data-testid="reply-error">This lead asked not to be contacted; no reply can be sent.' in response.text
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_reply_page_of_missing_lead_is_404(sales_client):
    missing = reverse("nurture:lead_reply", args=[999999])

    assert sales_client.get(missing).status_code == 404
    assert sales_client.post(missing, {"subject": "Hi", "body": "Resources."}).status_code == 404


@pytest.mark.django_db
def test_reply_page_refuses_other_methods(sales_client, waiting):
    assert sales_client.put(url(waiting())).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Finance", "Manager"])
def test_reply_refuses_roles_that_do_not_triage(client_for, waiting, role):
    lead = waiting()
    client = client_for(role)

    assert client.get(url(lead)).status_code == 403
    assert client.post(url(lead), {"subject": "Hi", "body": "Resources."}).status_code == 403
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_reply_page_sends_anonymous_to_login(client, waiting):
    response = client.get(url(waiting()))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
