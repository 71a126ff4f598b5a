"""The lead admin saves data changes through lead_update: on the timeline, and the ICP checked again."""

import pytest
from django.urls import reverse

from leads.models import Lead, LeadStatus
from tests.conftest import make_user
from tests.factories import LeadFactory


def change_form(client, lead) -> dict:
    response = client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            value = ""
        data[name] = value.pk if hasattr(value, "pk") else value
    data.update({f"events-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()})
    return {k: v for k, v in data.items() if v is not False}


@pytest.mark.django_db
def test_admin_edit_rechecks_the_lead_and_records_it(client, bank_source):
    client.force_login(make_user("Admin"))
    lead = LeadFactory(source=bank_source, status="disqualified", credit_score=500, budget=20000, budget_currency="GBP")
    data = change_form(client, lead) | {"credit_score": 700, "attributes": "{}"}

    response = client.post(reverse("admin:leads_lead_change", args=[lead.pk]), data)

    lead = Lead.objects.get(pk=lead.pk)
    assert response.status_code == 302
    assert (lead.credit_score, lead.status) == (700, LeadStatus.QUALIFIED)
    assert lead.events.get(verb="updated").data == {"fields": ["credit_score"]}
