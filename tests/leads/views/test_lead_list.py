import pytest
from django.urls import reverse

from tests.factories import LeadFactory


@pytest.mark.django_db
def test_lead_list_shows_leads(sales_client):
    LeadFactory(name="Ada Lovelace", company="Analytical Engines")

    response = sales_client.get(reverse("leads:list"))

    assert response.status_code == 200
    assert "Ada Lovelace" in response.text
    assert "<nav" in response.text  # the whole page


@pytest.mark.django_db
def test_lead_list_filters_by_search(sales_client):
    LeadFactory(name="Ada Lovelace")
    LeadFactory(name="Charles Babbage")

    response = sales_client.get(reverse("leads:list"), {"q": "babb"})

    assert "Charles Babbage" in response.text
    assert "Ada Lovelace" not in response.text


@pytest.mark.django_db
def test_lead_list_htmx_table_request_returns_only_the_table(sales_client, htmx_headers):
    LeadFactory(name="Ada Lovelace")

    response = sales_client.get(reverse("leads:list"), headers=htmx_headers("lead-table-region"))

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="lead-table-region"')
    assert "Ada Lovelace" in response.text
    assert '<nav class="navbar' not in response.text


@pytest.mark.django_db
def test_lead_list_refuses_post(sales_client):
    assert sales_client.post(reverse("leads:list")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_lead_list_query_count_does_not_grow_with_rows(sales_client, django_assert_num_queries, rows):
    LeadFactory.create_batch(rows)
    sales_client.get(reverse("leads:list"))  # warm the session/permission caches

    # session, user, 2× permissions, roles, source choices (count + rows), lead count, lead page
    with django_assert_num_queries(9):
        sales_client.get(reverse("leads:list"))


@pytest.mark.django_db
def test_lead_detail_shows_timeline(sales_client):
    lead = LeadFactory(name="Ada Lovelace")
    lead.events.create(verb="received", actor_label="source:web-form", at=lead.received_at)

    response = sales_client.get(reverse("leads:detail", args=[lead.pk]))

    assert "Ada Lovelace" in response.text
    assert "source:web-form" in response.text


@pytest.mark.django_db
def test_lead_detail_of_missing_lead_is_404(sales_client):
    assert sales_client.get(reverse("leads:detail", args=[999999])).status_code == 404
