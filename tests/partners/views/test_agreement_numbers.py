"""A fee agreement's whole numbers beyond what their column holds are form errors, never a database overflow
(a tier's minimum was a 500 on PostgreSQL): one range per column, the same on every database."""

import pytest
from django.urls import reverse

from partners.models import FeeAgreement, FeeTier
from tests.factories import PartnerFactory
from tests.partners.views.test_agreements import agreement_post


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"tiers-0-min_monthly_referrals": "99999999999", "tiers-0-per_referral": "5"},
            "Ensure this value is less than or equal to 2147483647.",
        ),
        ({"payment_terms_days": "99999999999"}, "Ensure this value is less than or equal to 32767."),
        ({"payment_terms_days": "-1"}, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_agreement_numbers_beyond_their_column_are_form_errors(finance_client, overrides, message):
    partner = PartnerFactory()

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), agreement_post(**overrides))

    assert response.status_code == 422
    assert message in response.text
    assert not FeeAgreement.objects.exists()
    assert not FeeTier.objects.exists()


@pytest.mark.django_db
def test_agreement_number_inputs_carry_their_column_range(finance_client):
    partner = PartnerFactory()

    response = finance_client.get(reverse("partners:agreement_create", args=[partner.pk]))

    form = response.context["form"]
    tier = response.context["tiers"].forms[0]
    assert form.fields["payment_terms_days"].widget.attrs.items() >= {"min": "0", "max": "32767"}.items()
    assert tier.fields["min_monthly_referrals"].widget.attrs.items() >= {"min": "2", "max": "2147483647"}.items()
    assert 'max="2147483647"' in response.text
