"""A broken criterion already stored (saved before the admin checked criteria, or by SQL) breaks no page and no
evaluation: the pages that read it say which criterion is broken and why, and every check says "cannot tell" on
it (a knock-out sends the lead to review), never passing or failing it silently."""

import pytest
from django.urls import reverse

from leads import services
from leads.models import Criterion, Evaluation, Lead
from tests.factories import CriterionFactory, ICPVersionFactory, LeadFactory, LeadSourceFactory

pytestmark = pytest.mark.django_db

# (field, operator, value, what the page says is wrong)
BROKEN = [
    ("credit_score", "between", [600], "needs two values, [low, high], e.g. [18, 65]"),
    ("shoe_size", "gte", 40, "unknown field “shoe_size” (use a lead field or attributes.&lt;key&gt;)"),
    ("location", "within_km", {"lat": 51.5, "lon": -0.12}, "needs a point and a distance"),
    ("credit_score", "gte", "high", "“high” is not a number (or not below 10^15)"),
    ("industry", "between", ["a", "b"], "“between” does not apply to a text field"),
]


def broken_version(status: str, field: str, operator: str, value, *, profile=None):
    """A version whose knock-out criterion is broken, beside a sound soft one; bypasses the admin, as SQL would."""
    version = ICPVersionFactory(
        status=status, qualified_min=50, review_min=20, **({"profile": profile} if profile else {})
    )
    CriterionFactory(version=version, label="Budget", field="budget", operator="gte", value=1000, weight=10, position=1)
    Criterion.objects.create(
        version=version,
        label="Broken test",
        field=field,
        operator=operator,
        value=value,
        hard=True,
        weight=0,
        position=2,
    )
    return version


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_icp_version_page_names_a_broken_criterion_of_a_published_version(
    client, manager_user, field, operator, value, message
):
    version = broken_version("published", field, operator, value)
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[version.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 criterion cannot be checked as written." in html
    assert f"<li>Broken test (<code>{field}</code>): {message}" in html
    assert f"<code>{field}</code> cannot be checked: {message}" in html
    assert "≥ 1000" in html  # the sound criterion still reads as usual


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_whatif_of_a_draft_with_a_broken_criterion_renders_and_refuses_to_publish(
    client, manager_user, field, operator, value, message
):
    draft = broken_version("draft", field, operator, value)
    source = LeadSourceFactory(slug="web", icp_profile=draft.profile)
    LeadFactory(source=source, status="disqualified", budget=5000, budget_currency="EUR", credit_score=700)
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "What if this draft were published?" in html
    assert '<td>none</td><td>needs_review</td><td class="text-end">1</td>' in html  # cannot tell on a knock-out
    assert f"Not ready to publish: Broken test: {message}" in html
    assert "1 criterion cannot be checked as written." in html


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_lead_page_why_names_the_broken_criterion_and_keeps_the_rest(
    client, sales_user, field, operator, value, message
):
    version = broken_version("published", field, operator, value)
    source = LeadSourceFactory(slug="web", icp_profile=version.profile)
    lead = LeadFactory(source=source, budget=5000, budget_currency="EUR", credit_score=700, latitude=51, longitude=0)
    services.lead_evaluate(lead=lead)
    client.force_login(sales_user)

    response = client.get(reverse("leads:detail", args=[lead.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Criterion “Broken test” (<code>{field}</code>) cannot be checked as written: {message}" in html
    assert "cannot tell: the criterion is broken" in html
    assert "<td>≥ 1000</td>\n          <td>passes" in html


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_evaluation_cannot_tell_on_a_broken_knock_out_and_sends_the_lead_to_review(field, operator, value, message):
    version = broken_version("published", field, operator, value)
    source = LeadSourceFactory(slug="api", icp_profile=version.profile)

    lead, created, evaluation = services.lead_intake(
        source=source,
        data={
            "external_id": "x1",
            "email": "ann@example.com",
            "budget": "5000",
            "budget_currency": "EUR",
            "credit_score": 700,
        },
        actor_label="api:test",
    )

    assert created
    assert (lead.status, evaluation.band, evaluation.outcomes) == ("needs_review", "needs_review", "pu")


@pytest.mark.parametrize(("field", "operator", "value", "message"), BROKEN)
def test_requalifying_in_sql_cannot_tell_on_a_broken_knock_out(field, operator, value, message):
    version = broken_version("published", field, operator, value)
    source = LeadSourceFactory(slug="web", icp_profile=version.profile)
    lead = LeadFactory(source=source, status="disqualified", budget=5000, budget_currency="EUR", credit_score=700)

    counts = services.leads_requalify(version=version)

    evaluation = Evaluation.objects.get(lead=lead)
    assert counts == {"needs_review": 1}
    assert (evaluation.band, evaluation.outcomes) == ("needs_review", "pu")
    assert Lead.objects.get(pk=lead.pk).status == "needs_review"


def test_triage_panel_shows_why_with_a_broken_criterion(client, sales_user, htmx_headers):
    version = broken_version("published", "credit_score", "between", [600])
    source = LeadSourceFactory(slug="web", icp_profile=version.profile)
    lead = LeadFactory(source=source, budget=5000, budget_currency="EUR", credit_score=700)
    services.lead_evaluate(lead=lead)
    client.force_login(sales_user)

    response = client.get(reverse("triage:panel", args=[lead.pk]), headers=htmx_headers("panel"))

    assert response.status_code == 200
    assert "cannot be checked: needs two values, [low, high], e.g. [18, 65]" in response.content.decode()
