from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from finance import services
from finance.models import Allocation, Payment
from tests.factories import FeeAgreementFactory
from tests.factories.finance import PaymentFactory, converted_referral, fee

pytestmark = pytest.mark.django_db
LIST = reverse("finance:payments")
CREATE = reverse("finance:payment_create")


def record(partner, amount="100.00", **kwargs):
    kwargs.setdefault("received_on", timezone.localdate())
    return services.payment_record(partner=partner, amount=D(amount), currency="EUR", **kwargs)


# Recording -----------------------------------------------------------------------------------------------------


def test_payment_form_records_the_amount_as_the_partner_writes_it(finance_client, finance_user, partner):
    partner.decimal_separator = ","
    partner.save(update_fields=["decimal_separator"])
    today = timezone.localdate()

    response = finance_client.post(
        CREATE,
        {"partner": partner.pk, "amount": "1.234,56", "currency": "eur", "received_on": today.isoformat(),
         "reference": "SEPA-77", "note": "Q1 fees"},
    )  # fmt: skip

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:payment", args=[payment.pk])
    assert (payment.amount, payment.currency, payment.received_on, payment.reference, payment.created_by) == (
        D("1234.56"),
        "EUR",
        today,
        "SEPA-77",
        finance_user,
    )


def test_payment_form_refuses_an_ambiguous_amount_naming_the_field(finance_client, partner):
    response = finance_client.post(
        CREATE, {"partner": partner.pk, "amount": "1,5", "currency": "EUR", "received_on": "2026-01-10"}
    )

    assert response.status_code == 422
    assert list(response.context["form"].errors) == ["amount"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"currency": "pounds"}, "currency"),
        ({"received_on": "9999-12-31"}, "received_on"),
        ({"amount": "0"}, "amount"),
        ({"partner": ""}, "partner"),
    ],
)
def test_payment_form_refuses_bad_input(finance_client, partner, data, field):
    post = {"partner": partner.pk, "amount": "10.00", "currency": "EUR", "received_on": "2026-01-10", **data}

    response = finance_client.post(CREATE, post)

    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert not Payment.objects.exists()


def test_payment_in_a_closed_month_is_posted_on_the_first_open_day(finance_client, partner):
    services.period_lock(month=timezone.localdate().replace(day=1) - timedelta(days=1))
    last_month = timezone.localdate().replace(day=1) - timedelta(days=3)

    response = finance_client.post(
        CREATE, {"partner": partner.pk, "amount": "50", "currency": "EUR", "received_on": last_month.isoformat()},
        follow=True,
    )  # fmt: skip

    payment = Payment.objects.get()
    assert (payment.received_on, payment.posted_on) == (last_month, timezone.localdate().replace(day=1))
    assert "It is posted on the first open day: its month is closed." in response.text
    assert 'data-testid="posted-late"' in response.text


def test_payment_form_is_refused_to_managers(manager_client, partner):
    assert manager_client.get(CREATE).status_code == 403
    response = manager_client.post(
        CREATE, {"partner": partner.pk, "amount": "10", "currency": "EUR", "received_on": "2026-01-10"}
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()


# The list ------------------------------------------------------------------------------------------------------


def test_payment_list_shows_what_is_left_of_each_payment(finance_client, partner):
    converted_referral(partner=partner, deal_value="1000")  # 225.00
    full = record(partner, "500.00", reference="BIG")
    services.payment_allocate_auto(payment=full)
    record(partner, "40.00", reference="SMALL")

    response = finance_client.get(LIST)

    rows = {row.record.reference: row.record.unallocated for row in response.context["table"].page.object_list}
    assert rows == {"BIG": D("275.00"), "SMALL": D("40.00")}
    assert "credit left" in response.text


@pytest.mark.parametrize(
    ("state", "shown"), [("unallocated", {"LEFT"}), ("allocated", {"USED"}), ("bounced", {"BOUNCED"})]
)
def test_payment_list_filters_by_state(finance_client, partner, state, shown):
    converted_referral(partner=partner, deal_value="1000")
    services.payment_allocate_auto(payment=record(partner, "25.00", reference="USED"))
    record(partner, "30.00", reference="LEFT")
    services.payment_bounce(payment=record(partner, "10.00", reference="BOUNCED"), reason="Returned")

    response = finance_client.get(LIST, {"state": state})

    assert {row.record.reference for row in response.context["table"].page.object_list} == shown


def test_payment_list_htmx_returns_only_the_table(finance_client, partner, htmx_headers):
    record(partner)

    response = finance_client.get(LIST, headers=htmx_headers("payment-table-region"))

    assert response.text.lstrip().startswith('<div id="payment-table-region"')


@pytest.mark.parametrize("payments", [1, 5])
def test_payment_list_query_count_does_not_grow_with_rows(finance_client, django_assert_num_queries, payments):
    PaymentFactory.create_batch(payments)
    finance_client.get(LIST)

    # session, user, 2 x permissions, roles, partner choices (count + rows), row count, the page's rows
    with django_assert_num_queries(9):
        finance_client.get(LIST)


# One payment ---------------------------------------------------------------------------------------------------


def test_payment_page_allocates_by_hand(finance_client, finance_user, partner):
    referral = converted_referral(partner=partner, deal_value="1000")
    payment = record(partner, "60.00")
    conversion = fee(referral, "conversion")
    page = finance_client.get(reverse("finance:payment", args=[payment.pk]))
    assert len(page.context["allocation"].items) == 3

    response = finance_client.post(
        reverse("finance:payment_allocate", args=[payment.pk]), {f"fee_{conversion.pk}": "60"}
    )

    assert response.status_code == 302
    assert list(payment.allocations.values_list("accrual_id", "amount", "source")) == [
        (conversion.pk, D("60.00"), "hand")
    ]
    assert services.item_open(conversion) == D("40.00")


def test_payment_page_refuses_more_than_is_due_on_a_fee(finance_client, partner):
    accepted = fee(converted_referral(partner=partner), "accepted")
    payment = record(partner, "60.00")

    response = finance_client.post(reverse("finance:payment_allocate", args=[payment.pk]), {f"fee_{accepted.pk}": "30"})

    assert response.status_code == 422
    assert "30.00 EUR is more than is due on fee" in response.text
    assert not Allocation.objects.exists()


def test_payment_page_allocates_automatically(finance_client, partner):
    referral = converted_referral(partner=partner, deal_value="1000")
    payment = record(partner, "200.00")

    response = finance_client.post(reverse("finance:payment_allocate_auto", args=[payment.pk]), follow=True)

    assert "Allocated 200.00 EUR to 3 fee(s), oldest due first." in response.text
    assert services.item_open(fee(referral, "conversion_percent")) == D("25.00")
    assert response.context["payment"].unallocated == D("0.00")


def test_payment_page_records_a_bounce(finance_client, partner):
    referral = converted_referral(partner=partner, deal_value="1000")
    payment = record(partner, "125.00")
    services.payment_allocate_auto(payment=payment)

    response = finance_client.post(
        reverse("finance:payment_bounce", args=[payment.pk]), {"reason": "Chargeback"}, follow=True
    )

    assert "Recorded the bounce; what the payment paid is open again." in response.text
    assert services.item_open(fee(referral, "accepted")) == D("25.00")
    assert "Allocate automatically" not in response.text  # nothing left to do with it


def test_payment_page_is_read_only_for_managers(manager_client, partner):
    payment = record(partner)

    response = manager_client.get(reverse("finance:payment", args=[payment.pk]))

    assert response.status_code == 200
    assert "Allocate automatically" not in response.text
    assert "Record the bounce" not in response.text
    assert manager_client.post(reverse("finance:payment_bounce", args=[payment.pk]), {"reason": "x"}).status_code == 403


def test_payment_page_of_a_bounce_row_is_404(finance_client, partner):
    bounce = services.payment_bounce(payment=record(partner), reason="Returned")

    assert finance_client.get(reverse("finance:payment", args=[bounce.pk])).status_code == 404


def test_payments_keep_other_partners_apart(finance_client, partner):
    other = converted_referral(partner=FeeAgreementFactory(partner__name="Other").partner)
    payment = record(partner, "60.00")

    response = finance_client.post(
        reverse("finance:payment_allocate", args=[payment.pk]), {f"fee_{fee(other, 'accepted').pk}": "10"}
    )

    assert response.status_code == 422  # not one of this partner's open fees: the form has no such field
    assert not Allocation.objects.exists()
