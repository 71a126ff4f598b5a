"""The triage workspace's actions and their refusals (409 when someone else acted first, 422 when a rule
refuses), bulk actions, and what the page does without a script (htmx attributes, autofocus, the ticked rows)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, LeadStatus
from nurture.models import Enrollment
from outbox.models import OutboundMessage
from partners.models import Referral
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory
from tests.triage.helpers import QUEUE, hx, url, waiting
from triage.services import lead_claim, triage_refer

# Actions --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refer_introduces_and_returns_the_refreshed_panel(sales_client, partner):
    lead = waiting(name="Ada Lovelace")
    sales_client.get(url("panel", lead), headers=hx())

    response = sales_client.post(
        url("refer", lead), {"partner": partner.pk, "mode": "introduce", "note": "Keen"}, headers=hx()
    )

    referral = Referral.objects.get(lead=lead)
    html = response.text
    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert html.lstrip().startswith('<section id="panel"')
    assert '<span class="badge text-bg-success" data-testid="lead-status">Referred</span>' in html
    assert "<strong>referred</strong>" in html  # the timeline entry
    assert '<div id="messages" hx-swap-oob="true"' in html
    assert f"Ada Lovelace introduced to Acme Lending; tracking code {referral.tracking_code}." in html
    assert (referral.mode, referral.note, referral.created_by.username) == ("introduce", "Keen", "sales_ops")


@pytest.mark.django_db
def test_refer_without_htmx_goes_back_to_the_queue_with_a_message(sales_client, partner):
    lead = waiting(name="Ada Lovelace")

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, follow=True)

    assert response.redirect_chain == [(f"/triage/?lead={lead.pk}", 302)]
    assert "Ada Lovelace signposted to Acme Lending" in response.text
    assert Referral.objects.get(lead=lead).mode == "signpost"


@pytest.mark.django_db
def test_refer_introduce_without_consent_is_refused_by_the_service(sales_client, partner):
    lead = LeadFactory(status="disqualified")

    response = sales_client.post(
        url("refer", lead), {"partner": partner.pk, "mode": "introduce", "note": "Please call"}, headers=hx()
    )

    assert response.status_code == 422
    assert "has not agreed to their details being shared with partners" in response.text
    assert ">Please call</textarea>" in response.text  # what was typed is kept
    assert not Referral.objects.exists()
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_refer_while_someone_else_holds_the_lead_is_a_conflict(sales_client, olive, partner):
    lead = waiting()
    lead_claim(lead=lead, user=olive)

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, headers=hx())

    assert response.status_code == 409
    assert "Olive Other is working on this lead (until" in response.text  # the message
    assert "Olive Other is working on this lead until" in response.text  # the fresh panel
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_refer_after_someone_else_handled_it_is_a_conflict_showing_the_fresh_state(sales_client, olive, partner):
    lead = waiting()
    sales_client.get(url("panel", lead), headers=hx())
    Lead.objects.filter(pk=lead.pk).update(claimed_until=timezone.now() - timedelta(minutes=1))  # my claim lapsed
    other = FeeAgreementFactory(partner__name="Other Partner").partner
    triage_refer(lead=lead, partner=other, mode="signpost", user=olive)

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, headers=hx())

    assert response.status_code == 409
    assert "Olive Other already handled this lead: it is now referred." in response.text
    assert '<span class="badge text-bg-success" data-testid="lead-status">Referred</span>' in response.text
    assert Referral.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db
def test_refer_needs_a_partner(sales_client):
    lead = waiting()

    response = sales_client.post(url("refer", lead), {"mode": "signpost"}, headers=hx())

    assert response.status_code == 422
    assert "Choose a partner." in response.text


@pytest.mark.django_db
def test_enroll_puts_the_lead_on_the_track(sales_client, tracks, reasons):
    lead = waiting(primary_reason=reasons["budget"])

    response = sales_client.post(url("enroll", lead), {"track": tracks["budget-timing"].pk}, headers=hx())

    assert response.status_code == 200
    assert "is now on the track “Budget and timing: ready when you are”." in response.text
    assert Enrollment.objects.get(lead=lead).track == tracks["budget-timing"]
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NURTURING


@pytest.mark.django_db
def test_enroll_without_marketing_consent_is_refused(sales_client, tracks):
    lead = ConsentingLeadFactory()

    response = sales_client.post(url("enroll", lead), {"track": tracks["budget-timing"].pk}, headers=hx())

    assert response.status_code == 422
    assert 'data-testid="enroll-error">This lead has not agreed to marketing emails' in response.text
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_reply_sends_the_edited_text(sales_client, tracks, reasons):
    lead = waiting(primary_reason=reasons["budget"])
    template = reasons["budget"].helpful_replies.get()

    response = sales_client.post(
        url("reply", lead),
        {"reply": template.pk, "subject": "Free guides for you", "body": "Here they are."},
        headers=hx(),
    )

    message = OutboundMessage.objects.get(lead=lead, kind="helpful_reply")
    assert response.status_code == 200
    assert (message.subject, message.body) == ("Free guides for you", "Here they are.")
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.HELPED


@pytest.mark.django_db
def test_reply_needs_a_subject_and_keeps_the_body(sales_client):
    lead = waiting()

    response = sales_client.post(url("reply", lead), {"subject": " ", "body": "My careful answer"}, headers=hx())

    assert response.status_code == 422
    assert '<div class="invalid-feedback">Write a subject.</div>' in response.text
    assert ">My careful answer</textarea>" in response.text
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_close_needs_a_reason(sales_client):
    lead = waiting()

    response = sales_client.post(url("close", lead), {"kind": "spam", "reason": ""}, headers=hx())

    assert response.status_code == 422
    assert "Closing needs a kind and a reason." in response.text
    assert '<option value="spam" selected>Spam</option>' in response.text  # what was chosen is kept
    assert "Say why (for example: “gibberish message, disposable address”).</div>" in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_close_refused_without_htmx_is_the_whole_page_with_the_panel(sales_client):
    lead = waiting(name="Bot")

    response = sales_client.post(url("close", lead), {"kind": "test", "reason": ""})

    assert response.status_code == 422
    assert '<nav class="navbar' in response.text
    assert '<base href="/triage/">' in response.text  # the table's query-string links still reach the queue
    assert '<option value="test" selected>Test entry</option>' in response.text
    assert "Closing needs a kind and a reason." in response.text


@pytest.mark.django_db
def test_close_as_spam_with_a_reason(sales_client):
    lead = waiting(name="Bot")

    response = sales_client.post(url("close", lead), {"kind": "spam", "reason": "Gibberish"}, headers=hx())

    assert response.status_code == 200
    assert "Bot closed as spam." in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CLOSED


@pytest.mark.django_db
def test_override_needs_a_note(sales_client):
    lead = waiting()

    response = sales_client.post(url("override", lead), {"note": ""}, headers=hx())

    assert response.status_code == 422
    assert '<div class="invalid-feedback">A note is required for an override.</div>' in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_override_qualifies_with_the_note(sales_client):
    lead = waiting(name="Big Co")

    response = sales_client.post(url("override", lead), {"note": "Parent company is a customer"}, headers=hx())

    assert response.status_code == 200
    assert "Big Co is qualified after all." in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.QUALIFIED
    assert lead.events.get(verb="override_qualified").data == {"note": "Parent company is a customer"}


@pytest.mark.django_db
def test_assign_gives_the_lead_another_owner(sales_client, olive):
    lead = waiting(name="Ada")

    response = sales_client.post(url("assign", lead), {"owner": olive.pk}, headers=hx())

    assert response.status_code == 200
    assert "Ada now belongs to Olive Other." in response.text
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert Lead.objects.get(pk=lead.pk).owner == olive


# Bulk -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_close_as_spam(sales_client):
    leads = [waiting(), waiting()]

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [lead.pk for lead in leads], "action": "close_spam", "reason": "Bot sign-ups"},
        headers=hx("bulk-form"),
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<form id="bulk-form"')
    assert "2 closed as spam." in response.text
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert set(Lead.objects.values_list("status", flat=True)) == {LeadStatus.CLOSED}


@pytest.mark.django_db
def test_bulk_enroll_reports_the_consent_refusal(sales_client, tracks):
    agreed, refused = waiting(), ConsentingLeadFactory()

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [agreed.pk, refused.pk], "action": "enroll", "track": tracks["budget-timing"].pk},
        headers=hx("bulk-form"),
    )

    assert response.status_code == 200
    assert f"1 enrolled; 1 not: #{refused.pk}: This lead has not agreed to marketing emails" in response.text
    assert list(Enrollment.objects.values_list("lead_id", flat=True)) == [agreed.pk]
    assert Lead.objects.get(pk=refused.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_bulk_reply_sends_each_its_reasons_reply(sales_client, tracks, reasons):
    budget, geography = waiting(primary_reason=reasons["budget"]), waiting(primary_reason=reasons["geography"])

    response = sales_client.post(
        reverse("triage:bulk"), {"tick": [budget.pk, geography.pk], "action": "reply"}, headers=hx("bulk-form")
    )

    assert "2 answered with their reason&#x27;s helpful reply." in response.text
    subjects = dict(OutboundMessage.objects.filter(kind="helpful_reply").values_list("lead_id", "subject"))
    assert subjects == {budget.pk: "Resources while you plan your budget", geography.pk: "Someone closer to you"}


@pytest.mark.django_db
def test_bulk_close_needs_a_reason_and_ticked_leads(sales_client):
    lead = waiting()

    no_reason = sales_client.post(
        reverse("triage:bulk"), {"tick": [lead.pk], "action": "close_spam", "reason": ""}, headers=hx("bulk-form")
    )
    nothing_ticked = sales_client.post(reverse("triage:bulk"), {"action": "reply"}, headers=hx("bulk-form"))

    assert no_reason.status_code == 422
    assert '<div class="invalid-feedback">A reason is required.</div>' in no_reason.text
    assert nothing_ticked.status_code == 422
    assert "Tick at least one lead in the table." in nothing_ticked.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_bulk_without_htmx_goes_back_to_the_same_queue(sales_client, reasons):
    lead = waiting(primary_reason=reasons["budget"])

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [lead.pk], "action": "close_spam", "reason": "Test entries", "q": f"reason={reasons['budget'].pk}"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/triage/?reason={reasons['budget'].pk}"
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CLOSED


# What the page does without a script (htmx attributes, autofocus, the table's own ticks) -----------------------


@pytest.mark.django_db
def test_table_requests_carry_the_ticked_rows_and_get_them_back_ticked(sales_client):
    ticked, other = waiting(name="Ticked Tia"), waiting(name="Other Oz")

    response = sales_client.get(QUEUE, {"sort": "lead", "tick": [ticked.pk, "x"]}, headers=hx("triage-table-region"))

    html = response.text
    assert 'hx-include="#triage-table"' in html  # the region's requests send the ticked boxes along
    assert f'name="tick" value="{ticked.pk}" form="bulk-form" aria-label="Select Ticked Tia" checked>' in html
    assert f'name="tick" value="{other.pk}" form="bulk-form" aria-label="Select Other Oz">' in html
    assert "tick=" not in response.context["table_url"]  # the refresh sends the boxes as they are then


@pytest.mark.django_db
def test_row_links_send_the_open_lead_to_release_and_the_panel_holds_it(sales_client):
    lead = waiting(name="Open Ola")

    page = sales_client.get(QUEUE, {"lead": lead.pk})

    html = page.text
    assert f'hx-push-url="/triage/?lead={lead.pk}" hx-include="#panel-release">Open Ola</a>' in html
    assert f'<input type="hidden" name="release" id="panel-release" value="{lead.pk}">' in html
    assert f'<input type="hidden" name="lead" value="{lead.pk}" form="triage-filter">' in html
    assert f'<tr id="lead-row-{lead.pk}" data-lead-id="{lead.pk}" class="triage-row is-open even">' in html
    assert "autofocus" not in html.split('id="panel"')[1].split(">")[0]  # a page load does not jump to the panel


@pytest.mark.django_db
def test_the_returned_panel_says_where_the_focus_goes(sales_client):
    lead, after = waiting(name="First Fin"), waiting(name="After Al")

    opened = sales_client.get(url("panel", lead), headers=hx())
    refused = sales_client.post(url("close", lead), {"kind": "spam", "reason": ""}, headers=hx())
    done = sales_client.post(url("close", lead), {"kind": "spam", "reason": "A bot"}, headers=hx())

    assert 'tabindex="-1" autofocus>' in opened.text  # the panel, once opened
    assert 'id="close-reason" maxlength="500" class="form-control form-control-sm is-invalid" autofocus value="">' in (
        refused.text
    )
    assert f'hx-include="#panel-release" autofocus>Next lead: {after.name} →</a>' in done.text
