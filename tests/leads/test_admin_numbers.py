"""The lead admin holds numbers to what they can mean, like the edit page; a source's SLA is added to every lead's
arrival (respond-by), so it is at most ten years: more was a 500 on every lead the source sent."""

import pytest
from django.urls import reverse

from leads.models import Lead, LeadSource
from tests.conftest import make_user
from tests.factories import LeadFactory
from tests.leads.test_admin import change_form


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("Admin"))
    return client


@pytest.mark.parametrize("sla", ["87601", "2147483647", "99999999999"])
def test_source_admin_refuses_an_sla_past_ten_years(admin_client, sla):
    response = admin_client.post(
        reverse("admin:leads_leadsource_add"), {"slug": "fair", "name": "Trade fair", "sla_hours": sla}
    )

    assert response.context["adminform"].form.errors == {
        "sla_hours": ["Ensure this value is less than or equal to 87600."]
    }
    assert not LeadSource.objects.exists()


def test_lead_admin_refuses_a_credit_score_past_1000(admin_client, bank_source):
    lead = LeadFactory(source=bank_source, credit_score=500)
    data = change_form(admin_client, lead) | {"credit_score": "5000", "attributes": "{}"}

    response = admin_client.post(reverse("admin:leads_lead_change", args=[lead.pk]), data)

    assert response.context["adminform"].form.errors == {
        "credit_score": ["Ensure this value is less than or equal to 1000."]
    }
    assert Lead.objects.get(pk=lead.pk).credit_score == 500
