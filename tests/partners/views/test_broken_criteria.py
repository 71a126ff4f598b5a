"""A partner's broken acceptance criterion already stored (saved before the admin checked criteria, or by SQL)
breaks no page: matching cannot tell on it and says so, the partner page names it, the rest keeps working."""

import pytest
from django.urls import reverse

from partners.models import PartnerCriterion
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory

BROKEN = [
    ("credit_score", "between", [600], "needs two values, [low, high], e.g. [18, 65]"),
    ("shoe_size", "gte", 40, "unknown field “shoe_size” (use a lead field or attributes.&lt;key&gt;)"),
    ("location", "within_km", {"lat": 51.5}, "needs a point and a distance"),
    ("budget", "lt", "cheap", "“cheap” is not a number (or not below 10^15)"),
]


@pytest.fixture
def partner(db):
    partner = FeeAgreementFactory(partner__name="Acme Lending", partner__countries=["GB"]).partner
    PartnerCriterion.objects.create(partner=partner, label="Budget", field="budget", operator="gte", value=100)
    return partner


def break_criterion(partner, field, operator, value) -> None:
    PartnerCriterion.objects.create(
        partner=partner, position=1, label="Broken test", field=field, operator=operator, value=value
    )
    partner.save(update_fields=["updated_at"])  # as the admin does: matching reloads its catalogue


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_lead_matches_say_which_partner_criterion_is_broken(sales_client, partner, field, operator, value, message):
    break_criterion(partner, field, operator, value)
    lead = ConsentingLeadFactory(country="GB", credit_score=700, latitude=51, longitude=0)

    response = sales_client.get(reverse("partners:lead_matches", args=[lead.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f"Acme Lending’s criterion “Broken test” (<code>{field}</code>) cannot be checked as written: {message}" in html
    )
    assert "Broken test: " in html
    assert "cannot tell: the criterion is broken" in html
    assert "Budget: 8000.00 (needs ≥ 100) — passes" in html
    assert 'aria-label="Refer to Acme Lending"' in html


def test_lead_matches_fragment_with_a_broken_criterion(sales_client, htmx_headers, partner):
    break_criterion(partner, "credit_score", "between", [600])
    lead = ConsentingLeadFactory(country="GB")

    response = sales_client.get(
        reverse("partners:lead_matches", args=[lead.pk]), headers=htmx_headers("partner-matches")
    )

    assert response.status_code == 200
    assert "cannot be checked as written: needs two values" in response.content.decode()


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_partner_page_names_a_broken_criterion(sales_client, partner, field, operator, value, message):
    break_criterion(partner, field, operator, value)

    response = sales_client.get(reverse("partners:detail", args=[partner.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Cannot be checked as written: {message}" in html
    assert html.count('data-testid="broken-criterion"') == 1


def test_partner_pages_tolerate_countries_stored_as_numbers(sales_client, partner):
    partner.countries = ["GB", 44]
    partner.save()
    lead = ConsentingLeadFactory(country="GB")

    detail = sales_client.get(reverse("partners:detail", args=[partner.pk]))
    listing = sales_client.get(reverse("partners:list"))
    matches = sales_client.get(reverse("partners:lead_matches", args=[lead.pk]))

    assert (detail.status_code, listing.status_code, matches.status_code) == (200, 200, 200)
    assert "GB, 44" in detail.content.decode()
    assert "serves GB" in matches.content.decode()
