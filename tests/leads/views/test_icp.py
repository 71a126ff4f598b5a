import pytest
from django.urls import reverse

from leads.models import ICPVersion
from tests.factories import CriterionFactory, ICPVersionFactory, LeadSourceFactory


@pytest.fixture
def draft(db):
    published = ICPVersionFactory(status="published")
    CriterionFactory(version=published, label="Size", field="employees", operator="gte", value=10, hard=True)
    LeadSourceFactory(slug="web", icp_profile=published.profile)
    draft = ICPVersionFactory(profile=published.profile, number=2, status="draft")
    CriterionFactory(version=draft, label="Size", field="employees", operator="gte", value=50, hard=True)
    return draft


def test_icp_version_page_shows_whatif_for_draft(client, manager_user, draft):
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert response.status_code == 200
    assert "What if this draft were published?" in response.text
    assert "Publish v2" in response.text


def test_icp_version_page_hides_publish_from_sales_ops(client, sales_user, draft):
    client.force_login(sales_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert "What if this draft were published?" in response.text
    assert "Publish v2" not in response.text


def test_icp_publish_by_manager(client, manager_user, draft, django_capture_on_commit_callbacks):
    client.force_login(manager_user)

    with django_capture_on_commit_callbacks():
        response = client.post(reverse("leads:icp_publish", args=[draft.pk]), follow=True)

    draft.refresh_from_db()
    assert draft.status == "published"
    assert ICPVersion.objects.get(number=1).status == "retired"
    assert "is now in force" in response.text


def test_icp_publish_twice_says_why(client, manager_user, draft, django_capture_on_commit_callbacks):
    client.force_login(manager_user)
    with django_capture_on_commit_callbacks():
        client.post(reverse("leads:icp_publish", args=[draft.pk]))

    response = client.post(reverse("leads:icp_publish", args=[draft.pk]), follow=True)

    assert "Only a draft can be published" in response.text


def test_icp_version_missing_is_404(client, manager_user, db):
    client.force_login(manager_user)

    assert client.get(reverse("leads:icp_version", args=[999999])).status_code == 404


def test_icp_publish_refuses_get(client, manager_user, draft):
    client.force_login(manager_user)

    assert client.get(reverse("leads:icp_publish", args=[draft.pk])).status_code == 405


def test_icp_version_page_whatif_shows_current_and_draft_band_per_lead(client, manager_user, draft):
    from leads.models import Lead, LeadSource
    from leads.services import leads_evaluate_bulk
    from tests.factories import LeadFactory

    LeadFactory(source=LeadSource.objects.get(slug="web"), employees=5)
    LeadFactory(source=LeadSource.objects.get(slug="web"), employees=None)
    leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="test")  # v1: disqualified, needs review
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert '<tr><td>disqualified</td><td>disqualified</td><td class="text-end">1</td></tr>' in response.text
    assert '<tr><td>needs_review</td><td>needs_review</td><td class="text-end">1</td></tr>' in response.text
