"""Correcting a converted referral's deal value from the referral page (Finance): adjustments, never 'lost'."""

from decimal import Decimal

import pytest
from django.urls import reverse

from partners import services


@pytest.fixture
def converted(introduction):
    services.referral_accept(referral=introduction)
    services.referral_convert(referral=introduction, deal_value="4000")  # share: 400.00 EUR
    return introduction


def correct(client, referral, **data):
    return client.post(reverse("partners:referral_deal_value", args=[referral.pk]), data)


@pytest.mark.django_db
def test_referral_page_offers_finance_the_deal_value_correction(finance_client, converted):
    response = finance_client.get(reverse("partners:referral", args=[converted.pk]))

    assert "Correct the deal value" in response.text
    assert 'data-testid="fee-total">525.00<' in response.text


@pytest.mark.django_db
def test_deal_value_correction_adjusts_the_share_and_keeps_the_conversion(finance_client, finance_user, converted):
    response = correct(finance_client, converted, deal_value="2500", reason="The invoice said 2,500")

    assert response.status_code == 302
    converted.refresh_from_db()
    assert (converted.status, converted.deal_value) == ("converted", Decimal("2500.00"))
    share = converted.accruals.get(kind="conversion_percent")
    assert list(share.corrections.values_list("kind", "amount", "created_by")) == [
        ("adjustment", Decimal("-400.00"), finance_user.pk),
        ("adjustment", Decimal("250.00"), finance_user.pk),
    ]
    page = finance_client.get(response["Location"])
    assert (
        f"Deal value of {converted.tracking_code} corrected to 2,500.00 EUR; the share of the deal changed by -150.00."
        in (page.text)
    )
    assert 'data-testid="fee-total">375.00<' in page.text


@pytest.mark.django_db
def test_deal_value_correction_reads_the_partners_convention(finance_client, converted):
    converted.partner.decimal_separator = ","
    converted.partner.save(update_fields=["decimal_separator"])

    correct(finance_client, converted, deal_value="2.500,00", reason="Partner's invoice")

    converted.refresh_from_db()
    assert converted.deal_value == Decimal("2500.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"deal_value": "4000", "reason": "Same"}, "The deal value is 4,000.00 EUR already."),
        ({"deal_value": "", "reason": "Missing"}, "Correct deal value: This field is required."),
        ({"deal_value": "3000", "reason": ""}, "Why the deal value is corrected: This field is required."),
    ],
)
def test_deal_value_correction_refuses_with_a_message(finance_client, converted, data, message):
    response = correct(finance_client, converted, **data)

    assert response.status_code == 422
    assert response.context["error"] == message
    assert not converted.accruals.filter(kind="adjustment").exists()


@pytest.mark.django_db
def test_deal_value_correction_is_refused_to_sales_ops_and_managers(client_for, converted):
    for role in ("Sales Ops", "Manager"):
        assert correct(client_for(role), converted, deal_value="2500", reason="Not mine").status_code == 403
    assert not converted.accruals.filter(kind="adjustment").exists()


@pytest.mark.django_db
def test_deal_value_correction_of_a_missing_referral_is_404(finance_client):
    assert correct(finance_client, type("R", (), {"pk": 999999})(), deal_value="1", reason="x").status_code == 404
