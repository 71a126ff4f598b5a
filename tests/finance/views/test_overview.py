from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from finance import selectors, services
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral

pytestmark = pytest.mark.django_db
URL = reverse("finance:overview")


@pytest.fixture
def late_and_current(partner):
    """Acme Lending: one referral converted 100 days ago (625.00 EUR due 70 days ago), one today (625.00 not due)."""
    now = timezone.now()
    old = converted_referral(partner=partner, deal_value="8000", at=now - timedelta(days=100))
    new = converted_referral(partner=partner, deal_value="8000", at=now)
    return old, new


def test_overview_shows_aging_per_partner_and_currency_and_who_is_late(finance_client, late_and_current, partner):
    response = finance_client.get(URL)

    assert response.status_code == 200
    row = response.context["rows"][0]
    assert (row.partner_name, row.currency, row.bucket_list(), row.credit, row.balance) == (
        "Acme Lending",
        "EUR",
        [D("625.00"), D("0.00"), D("0.00"), D("625.00"), D("0.00")],
        D("0.00"),
        D("1250.00"),
    )
    assert row.is_late
    assert "Late:</strong>" in response.text
    assert f'data-testid="aging-{partner.pk}-EUR"' in response.text
    assert "Record a payment" in response.text


def test_overview_moves_when_a_payment_is_allocated(finance_client, late_and_current, partner):
    payment = services.payment_record(
        partner=partner, amount=D("700.00"), currency="EUR", received_on=timezone.localdate()
    )
    services.payment_allocate_auto(payment=payment)

    row = finance_client.get(URL).context["rows"][0]

    assert row.bucket_list() == [D("550.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")]
    assert not row.is_late


def test_overview_as_of_an_earlier_day(finance_client, late_and_current):
    as_of = timezone.localdate() - timedelta(days=50)

    row = finance_client.get(URL, {"as_of": as_of.isoformat()}).context["rows"][0]

    # 50 days ago the old fees (due 70 days ago) were 20 days late; today's were not yet due
    assert row.bucket_list() == [D("625.00"), D("625.00"), D("0.00"), D("0.00"), D("0.00")]


def test_overview_lists_a_partners_open_fees_oldest_due_first(finance_client, late_and_current, partner):
    old, new = late_and_current

    response = finance_client.get(URL, {"partner": partner.pk})

    items = response.context["items"]
    assert [(item.referral_id, item.kind, item.item_open, item.days_late) for item in items] == [
        (old.pk, "accepted", D("25.00"), 70),
        (old.pk, "conversion", D("100.00"), 70),
        (old.pk, "conversion_percent", D("500.00"), 70),
        (new.pk, "accepted", D("25.00"), -30),
        (new.pk, "conversion", D("100.00"), -30),
        (new.pk, "conversion_percent", D("500.00"), -30),
    ]
    assert "Open fees of Acme Lending" in response.text


def test_overview_htmx_request_for_the_open_items_returns_only_that_region(
    finance_client, late_and_current, partner, htmx_headers
):
    response = finance_client.get(URL, {"partner": partner.pk}, headers=htmx_headers("open-items"))

    assert response.text.lstrip().startswith('<section id="open-items"')
    assert '<nav class="navbar' not in response.text


def test_overview_keeps_currencies_apart(finance_client, partner):
    gbp = FeeAgreementFactory(currency="GBP", partner__name="Pound Partner").partner
    converted_referral(partner=partner, deal_value="1000")
    converted_referral(partner=gbp, deal_value="1000")

    rows = finance_client.get(URL).context["rows"]

    assert [(row.partner_name, row.currency, row.open_total) for row in rows] == [
        ("Acme Lending", "EUR", D("225.00")),
        ("Pound Partner", "GBP", D("225.00")),
    ]


def test_overview_shows_credit_of_a_partner_who_owes_nothing(finance_client, partner):
    services.payment_record(partner=partner, amount=D("80.00"), currency="EUR", received_on=timezone.localdate())

    response = finance_client.get(URL, {"partner": partner.pk})

    row = response.context["rows"][0]
    assert (row.open_total, row.credit, row.balance) == (D("0.00"), D("80.00"), D("-80.00"))
    assert response.context["credit"] == [("EUR", D("80.00"))]


def test_overview_is_read_only_for_managers(manager_client, late_and_current, partner):
    response = manager_client.get(URL, {"partner": partner.pk})

    assert response.status_code == 200
    assert "Record a payment" not in response.text


def test_overview_refuses_post(finance_client):
    assert finance_client.post(URL).status_code == 405


def test_overview_is_not_for_sales_ops(client_for):
    assert client_for("Sales Ops").get(URL).status_code == 403


@pytest.mark.parametrize("partners", [1, 5])
def test_overview_query_count_does_not_grow_with_partners(finance_client, django_assert_num_queries, partners):
    for n in range(partners):
        converted_referral(partner=FeeAgreementFactory(partner__name=f"P{n}").partner)
    finance_client.get(URL)

    # session, user, 2 x permissions, roles, ledger buckets, allocation buckets, credit, allocated by payment, lock
    with django_assert_num_queries(10):
        finance_client.get(URL)


def test_aging_selector_buckets_the_boundaries(partner):
    today = timezone.localdate()
    now = timezone.now()
    for days in (0, 1, 30, 31, 60, 61, 90, 91):  # due 30 days after: converted days+30 ago
        converted_referral(partner=partner, deal_value="1", at=now - timedelta(days=days + 30))

    row = selectors.aging(as_of=today)[0]

    # each referral: 25.00 accepted + 100.00 conversion + 0.10 share = 125.10
    assert row.bucket_list() == [D("125.10"), D("250.20"), D("250.20"), D("250.20"), D("125.10")]
