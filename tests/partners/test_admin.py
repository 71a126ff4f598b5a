"""The partner admin: countries picked from ISO 3166, acceptance criteria checked by the ICP's rule engine."""

import re

import pytest
from django.urls import reverse

from partners.models import Partner, PartnerCriterion
from tests.conftest import make_user
from tests.factories import PartnerFactory


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("Admin"))
    return client


def partner_post(*criteria: dict, partner=None, **data) -> dict:
    post = {
        "name": "Northwind Credit",
        "slug": "northwind-credit",
        "kind": "lender",
        "status": "active",
        "grade": "B",
        "description": "",
        "website": "",
        "public_email": "",
        "public_phone": "",
        "latitude": "",
        "longitude": "",
        "radius_km": "",
        "monthly_capacity": "",
        "acceptance_window_hours": 72,
        "decimal_separator": ".",
        "notes": "",
        "contacts-TOTAL_FORMS": 0,
        "contacts-INITIAL_FORMS": 0,
        "contacts-MIN_NUM_FORMS": 0,
        "contacts-MAX_NUM_FORMS": 1000,
        "criteria-TOTAL_FORMS": len(criteria),
        "criteria-INITIAL_FORMS": 0,
        "criteria-MIN_NUM_FORMS": 0,
        "criteria-MAX_NUM_FORMS": 1000,
        **data,
    }
    for i, row in enumerate(criteria):
        row = {"position": 0, "label": "Credit", "field": "credit_score", "field_key": "", "operator": "gte",
               "value": "500", "value_type": "text", **row}  # fmt: skip
        post.update({f"criteria-{i}-{key}": value for key, value in row.items()})
    return post


def test_partner_admin_offers_countries_as_a_multi_select_of_iso_codes(admin_client):
    response = admin_client.get(reverse("admin:partners_partner_add"))

    field = response.context["adminform"].form.fields["countries"]
    html = response.content.decode()
    assert len(field.choices) == 249
    assert ("GB", "GB — United Kingdom") in field.choices
    assert re.search(r'<select name="countries" [^>]*multiple', html)
    assert '<option value="IE">IE — Ireland</option>' in html


def test_partner_admin_stores_the_chosen_countries(admin_client):
    response = admin_client.post(reverse("admin:partners_partner_add"), partner_post(countries=["IE", "GB"]))

    assert response.status_code == 302
    assert Partner.objects.get(slug="northwind-credit").countries == ["GB", "IE"]


def test_partner_admin_refuses_a_country_that_is_not_an_iso_code(admin_client):
    response = admin_client.post(reverse("admin:partners_partner_add"), partner_post(countries=["GB", "UK"]))

    assert response.context["adminform"].form.errors == {
        "countries": ["Select a valid choice. UK is not one of the available choices."]
    }
    assert not Partner.objects.exists()


def test_partner_admin_shows_a_bad_stored_country_and_refuses_it_until_taken_out(admin_client):
    partner = PartnerFactory(countries=["gb", "UK"], contact=False)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = {"name": partner.name, "slug": partner.slug}

    page = admin_client.get(url)
    refused = admin_client.post(url, partner_post(countries=["GB", "UK"], **data))
    saved = admin_client.post(url, partner_post(countries=["GB"], **data))

    assert page.context["adminform"].form.initial["countries"] == ["GB", "UK"]
    assert '<option value="UK" selected>UK — not an ISO 3166 code</option>' in page.content.decode()
    assert refused.context["adminform"].form.errors == {"countries": ["Not an ISO 3166 country code: UK. Take it out."]}
    assert saved.status_code == 302
    partner.refresh_from_db()
    assert partner.countries == ["GB"]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"operator": "between", "value": "[500]"}, "value", "Needs two values, [low, high], e.g. [18, 65]."),
        ({"field": "shoe_size"}, "field", "Select a valid choice. shoe_size is not one of the available choices."),
        (
            {"field": "country", "operator": "in", "value": "[]"},
            "value",
            'Needs a non-empty list of values, e.g. ["GB", "IE"].',
        ),
        ({"operator": "lt", "value": "low"}, "value", "“low” is not a number (or not below 10^15)."),
    ],
)
def test_partner_admin_refuses_a_bad_acceptance_criterion_on_its_field(admin_client, row, field, message):
    response = admin_client.post(reverse("admin:partners_partner_add"), partner_post(row))

    criteria = next(f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "criteria")
    assert criteria.forms[0].errors == {field: [message]}
    assert not Partner.objects.exists()


def test_partner_admin_saves_a_sound_acceptance_criterion(admin_client):
    row = {"field": "attributes", "field_key": "loan_purpose", "operator": "in", "value": '["stock", "equipment"]'}

    response = admin_client.post(reverse("admin:partners_partner_add"), partner_post(row))

    assert response.status_code == 302
    criterion = PartnerCriterion.objects.get()
    assert (criterion.field, criterion.operator, criterion.value) == (
        "attributes.loan_purpose",
        "in",
        ["stock", "equipment"],
    )
