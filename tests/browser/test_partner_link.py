"""A partner answers an introduction from the link in our email, without an account: reads the summary,
accepts, gets the contact details, then reports the customer won — and the fees follow."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from partners.links import referral_token
from partners.models import FeeAccrual, Referral
from partners.services import referral_send
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory

EMAIL = "nadia@okafor-bakery.example"


@pytest.mark.django_db(transaction=True)
def test_partner_accepts_an_introduction_and_reports_the_customer(live_server, page):
    lead = ConsentingLeadFactory(
        name="Nadia Okafor", company="Okafor Bakery Ltd", email=EMAIL, phone="+44 20 7946 0123"
    )
    referral = referral_send(lead=lead, partner=FeeAgreementFactory().partner, mode="introduce")
    link = live_server.url + reverse("partner_link", args=[referral_token(referral)])

    # The summary the introduction gave them: who, but not yet how to reach them
    response = page.goto(link)
    assert response.headers["referrer-policy"] == "same-origin"
    assert "no-store" in response.headers["cache-control"]
    expect(page.get_by_role("heading", name=f"Introduction {referral.tracking_code}")).to_be_visible()
    customer = page.get_by_role("region", name="The customer")
    expect(customer).to_contain_text("Nadia Okafor")
    expect(customer).to_contain_text("Okafor Bakery Ltd")
    expect(customer).not_to_contain_text(EMAIL)
    expect(page.get_by_role("navigation")).to_have_count(0)

    # Accept: the contact details appear, on the same link
    page.get_by_role("button", name="Accept this introduction").click()
    expect(page.get_by_role("status")).to_contain_text("You accepted this introduction on")
    expect(page).to_have_url(link)
    expect(customer.get_by_role("link", name=EMAIL)).to_be_visible()
    expect(page.get_by_role("button", name="Accept this introduction")).to_have_count(0)

    # A slip in the deal value is explained and what they typed stays
    won = page.get_by_role("region", name="They became a customer")
    expect(won.get_by_label("Currency")).to_have_value("EUR")
    won.get_by_label("Deal value").fill("12k")
    won.get_by_role("button", name="Record the customer").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Deal value: '12k' is not an amount: 'k' is not a currency code or symbol we know."
    )
    expect(won.get_by_label("Deal value")).to_have_value("12k")

    # The conversion
    won.get_by_label("Deal value").fill("12000")
    won.get_by_role("button", name="Record the customer").click()
    thanks = page.get_by_role("status")
    expect(thanks).to_contain_text("Thank you!")
    expect(page.get_by_text("This link has been used")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)

    referral = Referral.objects.get(pk=referral.pk)
    day = f"{timezone.localtime(referral.converted_at):%-d %b %Y}"
    expect(thanks).to_have_text(f"Recorded as a customer on {day} (deal value 12,000.00 EUR). Thank you!")
    assert referral.status == "converted"
    assert referral.deal_value == Decimal("12000.00")
    assert referral.deal_currency == "EUR"
    fees = dict(FeeAccrual.objects.filter(referral=referral).values_list("kind", "amount"))
    assert fees == {
        "accepted": Decimal("25.00"),
        "conversion": Decimal("100.00"),
        "conversion_percent": Decimal("500.00"),  # 10% of 12,000 capped at 500
    }
    assert set(FeeAccrual.objects.filter(referral=referral).values_list("currency", flat=True)) == {"EUR"}
