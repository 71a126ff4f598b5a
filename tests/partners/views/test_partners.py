from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from partners import services
from partners.models import FeeTier, PartnerCriterion
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, PartnerContactFactory, PartnerFactory


def accepted_and_converted(partner, *, hours_to_accept: int, deal_value: str = "1000"):
    """An introduction accepted after `hours_to_accept` hours, then converted."""
    sent = timezone.now() - timedelta(days=1)
    referral = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce", now=sent)
    services.referral_accept(referral=referral, now=sent + timedelta(hours=hours_to_accept))
    return services.referral_convert(referral=referral, deal_value=deal_value, now=sent + timedelta(hours=20))


# List ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partner_list_shows_performance(sales_client, agreement):
    partner = agreement.partner
    accepted_and_converted(partner, hours_to_accept=2)
    accepted_and_converted(partner, hours_to_accept=4)
    accepted_and_converted(partner, hours_to_accept=9)
    services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="signpost")

    response = sales_client.get(reverse("partners:list"))

    assert response.status_code == 200
    assert "<nav" in response.text
    row = response.context["table"].page.object_list.data[0]
    assert (row.referrals_sent, row.referrals_accepted, row.referrals_converted) == (4, 3, 3)
    performance = response.context["table"].performance[partner.pk]
    assert performance.median_accept_hours == 4.0
    # each: 25.00 accepted + 100.00 conversion + 10% of 1,000.00
    assert performance.fees == (("EUR", Decimal("675.00")),)
    assert '<td class="text-nowrap">4 / no limit</td>' in response.text
    assert "<td >4.0</td>" in response.text
    assert "<td >675.00 EUR</td>" in response.text


@pytest.mark.django_db
def test_partner_list_fees_are_summed_per_currency(sales_client):
    partner = FeeAgreementFactory().partner
    accepted_and_converted(partner, hours_to_accept=1)
    other = FeeAgreementFactory(currency="GBP").partner
    accepted_and_converted(other, hours_to_accept=1)

    response = sales_client.get(reverse("partners:list"))

    performance = response.context["table"].performance
    assert performance[partner.pk].fees == (("EUR", Decimal("225.00")),)
    assert performance[other.pk].fees == (("GBP", Decimal("225.00")),)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"q": "acme"}, {"Acme Lending"}),
        ({"status": "paused"}, {"Bolt Gym"}),
        ({"kind": "gym"}, {"Bolt Gym"}),
        ({"country": "ie"}, {"Cork Repair"}),
        ({"country": "GB"}, {"Acme Lending", "Bolt Gym"}),
    ],
)
def test_partner_list_filters(sales_client, params, shown):
    PartnerFactory(name="Acme Lending", countries=["GB"])
    PartnerFactory(name="Bolt Gym", kind="gym", status="paused", countries=["GB", "FR"])
    PartnerFactory(name="Cork Repair", kind="credit_repair", countries=["IE"])

    response = sales_client.get(reverse("partners:list"), params)

    assert {row.record.name for row in response.context["table"].page.object_list} == shown


@pytest.mark.django_db
def test_partner_list_sorts_by_an_annotated_count(sales_client, agreement):
    PartnerFactory(name="Zed Partner")
    services.referral_send(lead=ConsentingLeadFactory(), partner=agreement.partner, mode="signpost")

    response = sales_client.get(reverse("partners:list"), {"sort": "-referrals_sent"})

    assert [row.record.name for row in response.context["table"].page.object_list] == ["Acme Lending", "Zed Partner"]


@pytest.mark.django_db
def test_partner_list_htmx_table_request_returns_only_the_table(sales_client, htmx_headers, agreement):
    response = sales_client.get(reverse("partners:list"), headers=htmx_headers("partner-table-region"))

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="partner-table-region"')
    assert "Acme Lending" in response.text
    assert '<nav class="navbar' not in response.text


@pytest.mark.django_db
def test_partner_list_refuses_post(sales_client):
    assert sales_client.post(reverse("partners:list")).status_code == 405


@pytest.mark.django_db
def test_partner_list_refuses_a_user_without_a_role(client_for):
    assert client_for("none").get(reverse("partners:list")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_partner_list_query_count_does_not_grow_with_rows(sales_client, django_assert_num_queries, rows):
    for _ in range(rows):
        partner = FeeAgreementFactory().partner
        accepted_and_converted(partner, hours_to_accept=3)
    sales_client.get(reverse("partners:list"))  # warm the session/permission caches

    # session, user, 2× permissions, roles, partner count, partner page (with counts), medians, fees
    with django_assert_num_queries(9):
        response = sales_client.get(reverse("partners:list"))

    assert len(response.context["table"].performance) == rows


# Detail --------------------------------------------------------------------------------------------------


@pytest.fixture
def full_partner(agreement):
    partner = agreement.partner
    PartnerContactFactory(partner=partner, name="Rita Reviewer", role="Head of sales", receives_introductions=False)
    PartnerCriterion.objects.create(
        partner=partner, label="Credit score", field="credit_score", operator="gte", value=500, value_type="number"
    )
    PartnerCriterion.objects.create(
        partner=partner, label="Countries", field="country", operator="in", value=["GB", "IE"]
    )
    FeeTier.objects.create(agreement=agreement, min_monthly_referrals=10, per_accepted=Decimal("40.00"))
    today = timezone.localdate()
    agreement.valid_to = today + timedelta(days=10)
    agreement.save()
    FeeAgreementFactory(partner=partner, valid_from=today + timedelta(days=11), per_accepted=Decimal("30.00"))
    return partner


@pytest.mark.django_db
def test_partner_detail_shows_profile_criteria_and_agreements(finance_client, full_partner):
    response = finance_client.get(reverse("partners:detail", args=[full_partner.pk]))

    assert response.status_code == 200
    text = response.text
    assert "Rita Reviewer" in text
    assert "Pat Partner" in text
    assert "<td>Credit score</td><td><code>credit_score</code></td><td>≥</td><td>500</td>" in text
    assert "<td>is one of</td><td>GB, IE</td>" in text
    assert "25.00 EUR per accepted referral + 100.00 EUR per conversion + 10% of the deal (at most 500.00 EUR)" in text
    assert "From 10 referrals a month: 40.00 EUR per accepted referral" in text
    agreements = response.context["agreements"]
    assert [item.current for item in agreements] == [False, True]  # newest first; the first one is in force
    assert text.count(">in force</span>") == 1
    assert "New agreement" in text
    assert text.count(">Edit</a>") == 2
    assert "Edit in admin" not in text


@pytest.mark.django_db
def test_partner_detail_hides_agreement_links_from_sales_ops(sales_client, full_partner):
    response = sales_client.get(reverse("partners:detail", args=[full_partner.pk]))

    assert "25.00 EUR per accepted referral" in response.text
    assert "New agreement" not in response.text
    assert ">Edit</a>" not in response.text


@pytest.mark.django_db
def test_partner_detail_links_to_the_admin_for_superusers(client_for, agreement):
    response = client_for("Admin").get(reverse("partners:detail", args=[agreement.partner.pk]))

    assert reverse("admin:partners_partner_change", args=[agreement.partner.pk]) in response.text
    assert "Edit in admin" in response.text


@pytest.mark.django_db
def test_partner_detail_shows_performance_and_latest_referrals(manager_client, agreement):
    referral = accepted_and_converted(agreement.partner, hours_to_accept=5)

    response = manager_client.get(reverse("partners:detail", args=[agreement.partner.pk]))

    assert response.context["performance"].median_accept_hours == 5.0
    assert "225.00 EUR" in response.text
    assert referral.tracking_code in response.text
    assert reverse("partners:referral", args=[referral.pk]) in response.text
    assert reverse("leads:detail", args=[referral.lead_id]) in response.text  # managers may open leads


@pytest.mark.django_db
def test_partner_detail_does_not_link_leads_for_finance(finance_client, introduction):
    response = finance_client.get(reverse("partners:detail", args=[introduction.partner_id]))

    assert "Ada Lovelace" in response.text
    assert reverse("leads:detail", args=[introduction.lead_id]) not in response.text


@pytest.mark.django_db
def test_partner_detail_lists_only_the_last_20_referrals(sales_client, agreement):
    for _ in range(21):
        services.referral_send(lead=ConsentingLeadFactory(), partner=agreement.partner, mode="signpost")

    response = sales_client.get(reverse("partners:detail", args=[agreement.partner.pk]))

    assert len(response.context["referrals"]) == 20


@pytest.mark.django_db
def test_partner_detail_of_missing_partner_is_404(sales_client):
    assert sales_client.get(reverse("partners:detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_partner_detail_refuses_post(sales_client, agreement):
    assert sales_client.post(reverse("partners:detail", args=[agreement.partner.pk])).status_code == 405


@pytest.mark.django_db
def test_partner_detail_refuses_a_user_without_a_role(client_for, agreement):
    assert client_for("none").get(reverse("partners:detail", args=[agreement.partner.pk])).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "shown"), [("Finance", True), ("Sales Ops", True), ("none", False)])
def test_navigation_lists_partners_and_referrals(client_for, role, shown):
    response = client_for(role).get(reverse("home"))

    labels = {item["label"] for item in response.context["nav_items"]}
    assert ({"Partners", "Referrals"} <= labels) is shown
