"""The lead edit form holds numbers to what they can mean (leads.services.NUMBER_RANGES) and never to more than
their column holds: form errors on the field, nothing saved, never a database overflow."""

import pytest
from django.urls import reverse

from leads.models import LeadEvent
from tests.factories import LeadFactory
from tests.leads.views.test_lead_edit import form_data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("employees", "99999999999", "Ensure this value is less than or equal to 10000000."),
        ("credit_score", "5000", "Ensure this value is less than or equal to 1000."),
        ("credit_score", "-3", "Ensure this value is greater than or equal to 0."),
        ("latitude", "91", "Ensure this value is less than or equal to 90."),
        ("longitude", "-180.5", "Ensure this value is greater than or equal to -180."),
    ],
)
def test_edit_numbers_beyond_their_range_are_form_errors(sales_client, field, value, message):
    lead = LeadFactory(latitude=None, longitude=None)
    changes = {"latitude": "0", "longitude": "0"} if field in ("latitude", "longitude") else {}
    changes[field] = value

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, **changes))

    assert response.status_code == 422
    assert response.context["form"].errors[field] == [message]
    lead.refresh_from_db()
    assert getattr(lead, field) is None
    assert not LeadEvent.objects.filter(lead=lead, verb="updated").exists()


@pytest.mark.django_db
def test_edit_number_inputs_carry_their_range(sales_client):
    lead = LeadFactory()

    response = sales_client.get(reverse("leads:edit", args=[lead.pk]))

    fields = response.context["form"].fields
    assert (fields["employees"].widget.attrs["min"], fields["employees"].widget.attrs["max"]) == ("0", "10000000")
    assert (fields["latitude"].widget.attrs["min"], fields["latitude"].widget.attrs["max"]) == ("-90", "90")
