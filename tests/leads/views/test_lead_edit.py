"""The lead edit page: saves through lead_update, which re-checks the ICP and hands a nurtured lead back."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from nurture.models import Enrollment, EnrollmentStatus, Step, Track
from nurture.services import enrollment_create
from tests.factories import LeadFactory


def form_data(lead, **changes) -> dict:
    fields = ["email", "name", "company", "title", "phone", "country", "postal_code", "industry", "product_interest"]
    data = {field: getattr(lead, field) for field in fields}
    data |= {"timeline": lead.timeline, "message": lead.message, "budget_currency": lead.budget_currency}
    for field in ("latitude", "longitude", "employees", "budget", "credit_score"):
        value = getattr(lead, field)
        data[field] = "" if value is None else str(value)
    data["is_decision_maker"] = "unknown"
    return data | changes


@pytest.mark.django_db
def test_edit_page_shows_the_form(sales_client):
    lead = LeadFactory(name="Ana")

    response = sales_client.get(reverse("leads:edit", args=[lead.pk]))

    assert response.status_code == 200
    assert 'value="Ana"' in response.text


@pytest.mark.django_db
def test_edit_records_the_change_and_rechecks_the_icp(sales_client, bank_source):
    lead = LeadFactory(source=bank_source, status="disqualified", credit_score=500, budget=20000, budget_currency="GBP")

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, credit_score="650"))

    lead.refresh_from_db()
    assert response.status_code == 302
    assert (lead.credit_score, lead.status) == (650, LeadStatus.QUALIFIED)
    assert lead.events.get(verb="updated").data == {"fields": ["credit_score"]}
    assert lead.evaluations.count() == 1


@pytest.mark.django_db
def test_edit_that_qualifies_a_nurtured_lead_hands_it_back(sales_client, bank_source):
    track = Track.objects.create(name="Later", slug="later")
    Step.objects.create(track=track, position=1, kind="task", body="Call")
    lead = LeadFactory(
        source=bank_source,
        status="disqualified",
        credit_score=500,
        budget=20000,
        budget_currency="GBP",
        first_response_at=timezone.now(),  # answered already: a track that does not write now may take it
    )
    enrollment_create(lead=lead, track=track)

    sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, credit_score="650"))

    assert Enrollment.objects.get().status == EnrollmentStatus.REQUALIFIED
    assert lead.events.filter(verb="requalified_from_nurture").exists()


@pytest.mark.django_db
def test_edit_with_bad_data_is_422_with_the_field_named_and_nothing_saved(sales_client):
    lead = LeadFactory(credit_score=500)

    response = sales_client.post(
        reverse("leads:edit", args=[lead.pk]), form_data(lead, credit_score="2000", email="not-an-email")
    )

    lead.refresh_from_db()
    assert response.status_code == 422
    assert "Enter a valid email address." in response.text
    assert lead.credit_score == 500
    assert not lead.events.filter(verb="updated").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("budget", "currency", "stored"),
    [
        ("12.500,50", "EUR", Decimal("12500.50")),
        ("12,500.50", "GBP", Decimal("12500.50")),
        ("£1,234", "GBP", Decimal("1234.00")),
        ("1,5", "eur", Decimal("1.50")),
    ],
)
def test_edit_reads_the_budget_as_people_type_it(sales_client, budget, currency, stored):
    lead = LeadFactory()

    response = sales_client.post(
        reverse("leads:edit", args=[lead.pk]), form_data(lead, budget=budget, budget_currency=currency)
    )

    lead.refresh_from_db()
    assert response.status_code == 302
    assert (lead.budget, lead.budget_currency) == (stored, currency.upper())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"budget": "1,234", "budget_currency": "EUR"}, "budget", "'1,234' is ambiguous: 1234 or 1.234? Write 1234"),
        ({"budget": "€12", "budget_currency": "GBP"}, "budget", "'€12' is in EUR, but this amount is in GBP."),
        ({"budget": "12.345", "budget_currency": "GBP"}, "budget", "which has 3 decimals"),
        ({"budget": "100", "budget_currency": "POU"}, "budget_currency", "'POU' is not an ISO 4217 currency code"),
    ],
)
def test_edit_refuses_an_unreadable_budget_or_currency(sales_client, changes, field, message):
    lead = LeadFactory(budget=None, budget_currency="")

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, **changes))

    lead.refresh_from_db()
    assert response.status_code == 422
    assert any(message in error for error in response.context["form"].errors[field])
    assert (lead.budget, lead.budget_currency) == (None, "")


@pytest.mark.django_db
def test_edit_page_budget_is_a_decimal_text_input_with_its_convention(sales_client):
    lead = LeadFactory(budget=Decimal("12500.50"), budget_currency="EUR")

    response = sales_client.get(reverse("leads:edit", args=[lead.pk]))

    assert 'name="budget" id="id_budget" value="12500.50"' in response.text
    assert 'inputmode="decimal"' in response.text
    assert "With a decimal point or comma, like 12,500.50 or 12.500,50" in response.text


@pytest.mark.django_db
def test_edit_cannot_clear_do_not_contact(sales_client):
    lead = LeadFactory(do_not_contact=True)

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead))  # checkbox unticked

    lead.refresh_from_db()
    assert response.status_code == 422
    assert "an edit cannot undo that" in response.text
    assert lead.do_not_contact is True


@pytest.mark.django_db
def test_edit_refuses_managers(client, manager_user):
    client.force_login(manager_user)

    assert client.get(reverse("leads:edit", args=[LeadFactory().pk])).status_code == 403


@pytest.mark.django_db
def test_edit_refuses_other_methods_and_unknown_leads(sales_client):
    assert sales_client.put(reverse("leads:edit", args=[LeadFactory().pk])).status_code == 405
    assert sales_client.get(reverse("leads:edit", args=[999999])).status_code == 404
