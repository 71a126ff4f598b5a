"""The triage queue's URL: dates in its filters are held to 1900-01-01..2999-12-31 (the day after 9999-12-31 was a
500 on every database; a date outside is not applied, and the filter's form says why), and a page number past any
queue shows the first page."""

import pytest
from django.urls import reverse

from leads.models import Lead
from tests.factories import LeadFactory
from triage.filters import TriageFilter


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"received_to": "9999-12-31"}, {"received_from": "0001-01-01"}, {"received_from": "1899-12-31"}]
)
def test_triage_date_filter_out_of_range_is_not_applied_and_says_why(sales_client, query):
    LeadFactory(name="Waiting Wendy", status="disqualified")

    response = sales_client.get(reverse("triage:queue"), query)

    assert response.status_code == 200
    assert "Waiting Wendy" in response.text
    (field,) = query
    assert response.context["filter"].form.errors[field] == ["Give a date from 1900-01-01 to 2999-12-31."]
    assert '<div class="invalid-feedback">Give a date from 1900-01-01 to 2999-12-31.</div>' in response.text


@pytest.mark.django_db
def test_triage_date_filter_at_the_edges_of_the_range_is_applied():
    LeadFactory(status="disqualified")

    inside = TriageFilter({"received_from": "1900-01-01", "received_to": "2999-12-31"}, queryset=Lead.objects.all())

    assert inside.form.is_valid()
    assert inside.qs.count() == 1


@pytest.mark.django_db
def test_triage_page_number_past_any_queue_shows_the_first_page(sales_client):
    """An OFFSET beyond bigint was a 500 on PostgreSQL."""
    LeadFactory(name="Waiting Wendy", status="disqualified")

    response = sales_client.get(reverse("triage:queue"), {"page": "99999999999999999999"})

    assert response.status_code == 200
    assert "Waiting Wendy" in response.text
