from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.models import FeeAgreement, FeeTier
from tests.factories import FeeAgreementFactory, PartnerFactory


def agreement_post(**overrides) -> dict:
    data = {
        "currency": "eur",
        "per_referral": "0",
        "per_accepted": "20.00",
        "per_conversion": "150.00",
        "percent_of_deal": "5",
        "percent_cap": "300",
        "payment_terms_days": "14",
        "valid_from": timezone.localdate().isoformat(),
        "valid_to": "",
        "notes": "Signed in March.",
        "tiers-TOTAL_FORMS": "3",
        "tiers-INITIAL_FORMS": "3",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    for row in range(3):
        for name in ("min_monthly_referrals", "per_referral", "per_accepted", "per_conversion", "percent_of_deal"):
            data[f"tiers-{row}-{name}"] = ""
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_agreement_create_page_shows_the_form_and_the_note(finance_client):
    partner = PartnerFactory(name="Acme Lending")

    response = finance_client.get(reverse("partners:agreement_create", args=[partner.pk]))

    assert response.status_code == 200
    assert "New fee agreement with Acme Lending" in response.text
    assert "Referrals already sent keep the terms they were sent under" in response.text
    assert response.text.count('name="tiers-') >= 15  # three rows of five fields
    assert 'aria-label="Tier 3: % of deal"' in response.text


@pytest.mark.django_db
def test_agreement_create_saves_the_agreement_and_tiers(finance_client, finance_user):
    partner = PartnerFactory()
    data = agreement_post(
        **{"tiers-0-min_monthly_referrals": "10", "tiers-0-per_accepted": "30", "tiers-2-min_monthly_referrals": "25"}
    )
    data["tiers-2-percent_of_deal"] = "7.5"

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), data, follow=True)

    agreement = FeeAgreement.objects.get(partner=partner)
    assert response.redirect_chain == [(reverse("partners:detail", args=[partner.pk]), 302)]
    assert "Fee agreement saved" in response.text
    assert (agreement.currency, agreement.per_conversion, agreement.percent_cap) == ("EUR", Decimal("150.00"), 300)
    assert agreement.created_by == finance_user
    assert list(agreement.tiers.values_list("min_monthly_referrals", "per_accepted", "percent_of_deal")) == [
        (10, Decimal("30.00"), None),
        (25, None, Decimal("7.50")),
    ]


@pytest.mark.django_db
def test_agreement_create_overlapping_is_422_with_the_message_on_the_field(finance_client):
    existing = FeeAgreementFactory()  # open-ended, from 30 days ago

    response = finance_client.post(reverse("partners:agreement_create", args=[existing.partner.pk]), agreement_post())

    assert response.status_code == 422
    assert response.context["form"].errors["valid_from"] == [
        "Overlaps another agreement with this partner; end that one first (set its last day)."
    ]
    assert 'data-field="valid_from">Overlaps another agreement' in response.text
    assert FeeAgreement.objects.filter(partner=existing.partner).count() == 1


@pytest.mark.django_db
def test_agreement_create_service_error_without_a_field_goes_above_the_form(finance_client):
    partner = PartnerFactory()
    data = agreement_post(**{"tiers-0-min_monthly_referrals": "5", "tiers-1-min_monthly_referrals": "5"})

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), data)

    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == ["Two tiers start at the same monthly volume."]
    assert "Two tiers start at the same monthly volume." in response.text
    assert not FeeAgreement.objects.filter(partner=partner).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"valid_to": "2000-01-01"}, "valid_to", "The last day is before the first day."),
        ({"per_accepted": "-1"}, "per_accepted", "Must not be negative."),
        ({"percent_of_deal": "120"}, "percent_of_deal", "At most 100%."),
    ],
)
def test_agreement_create_bad_input_is_422(finance_client, overrides, field, message):
    partner = PartnerFactory()

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), agreement_post(**overrides))

    assert response.status_code == 422
    assert message in response.context["form"].errors[field]
    assert not FeeAgreement.objects.exists()


@pytest.mark.django_db
def test_agreement_create_tier_amounts_need_a_threshold(finance_client):
    partner = PartnerFactory()

    response = finance_client.post(
        reverse("partners:agreement_create", args=[partner.pk]), agreement_post(**{"tiers-1-per_accepted": "40"})
    )

    assert response.status_code == 422
    assert response.context["tiers"].forms[1].errors["min_monthly_referrals"] == [
        "Say from how many referrals a month this tier applies."
    ]
    assert not FeeAgreement.objects.exists()


@pytest.mark.django_db
def test_agreement_create_refuses_sales_ops(sales_client):
    partner = PartnerFactory()

    response = sales_client.post(reverse("partners:agreement_create", args=[partner.pk]), agreement_post())

    assert response.status_code == 403
    assert not FeeAgreement.objects.exists()


@pytest.mark.django_db
def test_agreement_create_for_missing_partner_is_404(finance_client):
    assert finance_client.get(reverse("partners:agreement_create", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_agreement_create_refuses_put(finance_client):
    partner = PartnerFactory()

    assert finance_client.put(reverse("partners:agreement_create", args=[partner.pk])).status_code == 405


@pytest.mark.django_db
def test_agreement_edit_shows_current_values_and_tiers(finance_client, introduction):
    agreement = introduction.fee_agreement
    FeeTier.objects.create(agreement=agreement, min_monthly_referrals=8, per_conversion=Decimal("120.00"))

    response = finance_client.get(reverse("partners:agreement_edit", args=[agreement.pk]))

    assert response.status_code == 200
    assert "Edit fee agreement with Acme Lending" in response.text
    assert "1 referral was sent under this agreement and keeps its terms" in response.text
    assert 'name="tiers-0-min_monthly_referrals" value="8"' in response.text
    assert 'name="tiers-0-per_conversion" value="120.00"' in response.text
    assert 'name="valid_from" value="' + agreement.valid_from.isoformat() in response.text


@pytest.mark.django_db
def test_agreement_edit_changes_terms_but_not_referrals_already_sent(finance_client, introduction):
    agreement = introduction.fee_agreement
    FeeTier.objects.create(agreement=agreement, min_monthly_referrals=8, per_conversion=Decimal("120.00"))
    snapshot = dict(introduction.fee_terms)
    data = agreement_post(valid_from=agreement.valid_from.isoformat(), per_accepted="99.00")

    response = finance_client.post(reverse("partners:agreement_edit", args=[agreement.pk]), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("partners:detail", args=[agreement.partner_id])
    agreement.refresh_from_db()
    introduction.refresh_from_db()
    assert agreement.per_accepted == Decimal("99.00")
    assert not agreement.tiers.exists()  # the emptied row removed the tier
    assert introduction.fee_terms == snapshot
    assert introduction.fee_terms["per_accepted"] == "25.00"


@pytest.mark.django_db
def test_agreement_edit_ending_it_lets_a_new_one_follow(finance_client, agreement):
    today = timezone.localdate()
    data = agreement_post(valid_from=agreement.valid_from.isoformat(), valid_to=today.isoformat())
    assert finance_client.post(reverse("partners:agreement_edit", args=[agreement.pk]), data).status_code == 302

    response = finance_client.post(
        reverse("partners:agreement_create", args=[agreement.partner_id]),
        agreement_post(valid_from=(today + timedelta(days=1)).isoformat()),
    )

    assert response.status_code == 302
    assert FeeAgreement.objects.filter(partner=agreement.partner).count() == 2


@pytest.mark.django_db
def test_agreement_edit_overlapping_is_422(finance_client, agreement):
    later = FeeAgreementFactory(
        partner=agreement.partner, valid_from=timezone.localdate() + timedelta(days=40), valid_to=None
    )
    agreement.valid_to = timezone.localdate() + timedelta(days=39)
    agreement.save()

    response = finance_client.post(
        reverse("partners:agreement_edit", args=[later.pk]),
        agreement_post(valid_from=timezone.localdate().isoformat()),
    )

    assert response.status_code == 422
    assert "Overlaps another agreement" in response.context["form"].errors["valid_from"][0]
    later.refresh_from_db()
    assert later.valid_from == timezone.localdate() + timedelta(days=40)


@pytest.mark.django_db
def test_agreement_edit_refuses_managers(manager_client, agreement):
    assert manager_client.get(reverse("partners:agreement_edit", args=[agreement.pk])).status_code == 403


@pytest.mark.django_db
def test_agreement_edit_of_missing_agreement_is_404(finance_client):
    assert finance_client.get(reverse("partners:agreement_edit", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_agreement_edit_refuses_delete(finance_client, agreement):
    assert finance_client.delete(reverse("partners:agreement_edit", args=[agreement.pk])).status_code == 405


# Amounts typed as the partner writes them, ISO currency codes ---------------------------------------------


@pytest.mark.django_db
def test_agreement_create_reads_amounts_in_the_partners_convention(finance_client):
    partner = PartnerFactory(decimal_separator=",")
    data = agreement_post(
        per_accepted="1.250,50",
        per_conversion="1,5",  # one and a half, with a decimal comma
        percent_of_deal="7,5 %",
        percent_cap="€ 2.000",
        **{
            "tiers-0-min_monthly_referrals": "10",
            "tiers-0-per_accepted": "1.500,00",
            "tiers-0-percent_of_deal": "8,25",
        },
    )

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), data)

    assert response.status_code == 302
    agreement = FeeAgreement.objects.get(partner=partner)
    assert (agreement.per_accepted, agreement.per_conversion, agreement.percent_of_deal, agreement.percent_cap) == (
        Decimal("1250.50"),
        Decimal("1.50"),
        Decimal("7.50"),
        Decimal("2000.00"),
    )
    assert list(agreement.tiers.values_list("per_accepted", "percent_of_deal")) == [
        (Decimal("1500.00"), Decimal("8.25"))
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("separator", "overrides", "field", "message"),
    [
        (
            ".",
            {"per_conversion": "1,5"},  # not stored as 15
            "per_conversion",
            "'1,5' is not an amount with '.' as the decimal mark: ',' separates thousands in groups of three digits "
            "(like 1,500). With ',' as the decimal mark it would read 1.50; check the convention.",
        ),
        (
            ".",
            {"per_accepted": "12.500,50"},
            "per_accepted",
            "'12.500,50' has separators after the decimal mark '.'. With ',' as the decimal mark it would read "
            "12500.50; check the convention.",
        ),
        (
            ",",
            {"per_accepted": "12,345"},
            "per_accepted",
            "'12,345' read as 12.345 with ',' as the decimal mark, which has 3 decimals; EUR amounts have at most 2 "
            "decimals. With '.' as the decimal mark it would read 12345; check the convention.",
        ),
        (".", {"per_accepted": "£20"}, "per_accepted", "'£20' is in GBP, but this amount is in EUR."),
        (".", {"percent_of_deal": "€5"}, "percent_of_deal", "'€5' is a percentage: leave out the currency."),
        (".", {"percent_of_deal": "100.5%"}, "percent_of_deal", "At most 100%."),
        (
            ".",
            {"per_accepted": "1e3"},
            "per_accepted",
            "'1e3' is not an amount: write all the digits, not an exponent.",
        ),
        (".", {"per_accepted": "NaN"}, "per_accepted", "'NaN' is not an amount: it has no digits."),
        (".", {"per_accepted": "(20)"}, "per_accepted", "Must not be negative."),
        (".", {"per_accepted": "9" * 13}, "per_accepted", f"'{'9' * 13}' is too large."),
        (".", {"per_accepted": "20", "currency": "JPY", "per_conversion": "1.50"}, "per_conversion", "JPY amounts"),
        (
            ".",
            {"currency": "pounds"},
            "currency",
            "'pounds' is not an ISO 4217 currency code: use its three letters (GBP for pounds?).",
        ),
        (
            ".",
            {"currency": "POU"},
            "currency",
            "'POU' is not an ISO 4217 currency code: use its three letters, such as EUR, GBP or USD.",
        ),
    ],
)
def test_agreement_create_refuses_amounts_and_currencies_with_a_message(
    finance_client, separator, overrides, field, message
):
    partner = PartnerFactory(decimal_separator=separator)

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), agreement_post(**overrides))

    assert response.status_code == 422
    assert any(message in error for error in response.context["form"].errors[field])
    assert f'data-field="{field}">' in response.text
    assert not FeeAgreement.objects.exists()


@pytest.mark.django_db
def test_agreement_create_refuses_a_tier_amount_in_the_wrong_convention(finance_client):
    partner = PartnerFactory(decimal_separator=".")
    data = agreement_post(**{"tiers-0-min_monthly_referrals": "10", "tiers-0-per_conversion": "1,5"})

    response = finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), data)

    assert response.status_code == 422
    assert (
        response.context["tiers"]
        .forms[0]
        .errors["per_conversion"][0]
        .startswith("'1,5' is not an amount with '.' as the decimal mark")
    )
    assert not FeeAgreement.objects.exists()


@pytest.mark.django_db
def test_agreement_currency_is_stored_as_its_iso_code(finance_client):
    partner = PartnerFactory()

    response = finance_client.post(
        reverse("partners:agreement_create", args=[partner.pk]), agreement_post(currency=" gbp ", percent_cap="£300")
    )

    assert response.status_code == 302
    assert FeeAgreement.objects.get(partner=partner).currency == "GBP"


@pytest.mark.django_db
def test_agreement_pages_show_amounts_and_the_convention_as_the_partner_writes(finance_client):
    agreement = FeeAgreementFactory(partner__decimal_separator=",")
    FeeTier.objects.create(agreement=agreement, min_monthly_referrals=8, per_conversion=Decimal("1200.50"))

    response = finance_client.get(reverse("partners:agreement_edit", args=[agreement.pk]))

    html = response.text
    assert "with a <strong>decimal comma, like 12.500,50</strong>" in html
    assert 'name="per_conversion" value="100,00" inputmode="decimal"' in html
    assert 'name="tiers-0-per_conversion" value="1200,50"' in html
    assert 'placeholder="0,00"' in html
    assert (
        '<div class="form-text" data-testid="convention-percent_of_deal">Written with a decimal comma, like 7,5%.</div>'
    ) in html
    assert 'type="number"' not in html.split('name="per_conversion"')[0].rsplit("<input", 1)[-1]
