"""Sales Ops refers a lead who gave no consent to partner sharing: the matches load into the lead page, an
introduction is refused with the reason, and signposting them works and shows the tracking code."""

import pytest
from playwright.sync_api import expect

from outbox.models import OutboundMessage
from partners import matching
from partners.models import Referral
from tests.conftest import make_user
from tests.factories import PASSWORD, FeeAgreementFactory, LeadFactory


@pytest.mark.django_db(transaction=True)
def test_sales_ops_signposts_a_lead_without_consent(live_server, login):
    matching.catalogue_reset()
    user = make_user("Sales Ops")
    user.set_password(PASSWORD)
    user.save()
    FeeAgreementFactory(partner__name="Acme Lending", partner__countries=["GB"])
    lead = LeadFactory(name="Ada Lovelace", email="ada@example.com", status="disqualified", country="GB")
    page = login(user.username, PASSWORD)

    # The lead page loads the partners that fit into its "Refer to a partner" card
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    card = page.get_by_role("region", name="Refer to a partner")
    match = card.get_by_role("listitem", name="Acme Lending")
    expect(match.get_by_role("link", name="Acme Lending")).to_be_visible()
    expect(match).to_contain_text("no partner-sharing consent")

    # Introducing them is refused, with the reason
    match.get_by_role("button", name="Introduce").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This lead has not agreed to their details being shared with partners, so they cannot be introduced."
    )
    assert not Referral.objects.exists()

    # Signposting them works: back on the lead page, with the tracking code
    page.get_by_role("listitem", name="Acme Lending").get_by_label(
        "Note (optional; goes to the partner with an introduction)"
    ).fill("Ada asked about loans.")
    page.get_by_role("listitem", name="Acme Lending").get_by_role("button", name="Signpost").click()
    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")
    referral = Referral.objects.get(lead=lead)
    expect(page.get_by_role("alert")).to_contain_text(
        f"Ada Lovelace signposted to Acme Lending; tracking code {referral.tracking_code}."
    )
    card = page.get_by_role("region", name="Refer to a partner")
    expect(
        card.get_by_role("list", name="Referrals so far").get_by_role("link", name=referral.tracking_code)
    ).to_be_visible()
    assert (referral.mode, referral.status, referral.note) == ("signpost", "sent", "Ada asked about loans.")
    message = OutboundMessage.objects.get(referral=referral)
    assert (message.kind, message.to_email) == ("lead_signpost", "ada@example.com")

    # The tracking code leads to the referral's page
    card.get_by_role("link", name=referral.tracking_code).click()
    expect(page.get_by_role("heading", name=f"Referral {referral.tracking_code}")).to_be_visible()
    expect(page.get_by_test_id("referral-status")).to_have_text("Sent")
