import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import ICPVersion, Lead, LeadSource
from leads.services import leads_evaluate_bulk
from tests.factories import CriterionFactory, ICPVersionFactory, LeadFactory, LeadSourceFactory

CONFIRM_MISSING = "Tick “I understand this version goes into force and cannot be unpublished” to confirm."
SHORT_REASON = "Give the reason in a few words (at least 3), such as “Raise the minimum company size to 50 employees”."


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


PUBLISH = {"reason": "Only firms of fifty or more people buy", "confirm": "on"}


def test_icp_publish_by_manager_keeps_the_reason(client, manager_user, draft, django_capture_on_commit_callbacks):
    client.force_login(manager_user)

    with django_capture_on_commit_callbacks():
        response = client.post(reverse("leads:icp_publish", args=[draft.pk]), PUBLISH, follow=True)

    draft.refresh_from_db()
    assert draft.status == "published"
    assert ICPVersion.objects.get(number=1).status == "retired"
    assert "is now in force" in response.text
    when = timezone.localtime(draft.published_at)
    assert draft.notes == f"Published {when:%Y-%m-%d %H:%M} by manager: Only firms of fifty or more people buy"
    page = client.get(reverse("leads:icp_version", args=[draft.pk]))
    assert "by manager: Only firms of fifty or more people buy" in page.text


def test_icp_version_page_lists_what_publishing_does_and_asks_for_confirmation(client, manager_user, draft):
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert "This cannot be undone:" in response.text
    assert "v2 becomes the version in force and can no longer be edited" in response.text
    assert 'name="reason"' in response.text
    assert 'type="checkbox" name="confirm"' in response.text
    assert "I understand this version goes into force and cannot be unpublished" in response.text


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"reason": ["This field is required."], "confirm": [CONFIRM_MISSING]}),
        ({"reason": "Only firms of fifty or more people buy"}, {"confirm": [CONFIRM_MISSING]}),
        ({"confirm": "on", "reason": "update"}, {"reason": [SHORT_REASON]}),
        ({"confirm": "on", "reason": "x y z ..."}, {"reason": [SHORT_REASON]}),
    ],
    ids=["nothing", "no-confirmation", "one-word", "not-words"],
)
def test_icp_publish_without_confirmation_and_reason_is_422(client, manager_user, draft, data, errors):
    client.force_login(manager_user)

    response = client.post(reverse("leads:icp_publish", args=[draft.pk]), data)

    assert response.status_code == 422
    assert response.context["publish_form"].errors == errors
    for messages in errors.values():
        assert f'data-field="{"confirm" if "Tick" in messages[0] else "reason"}">{messages[0]}<' in response.text
    draft.refresh_from_db()
    assert (draft.status, draft.notes) == ("draft", "")
    assert ICPVersion.objects.get(number=1).status == "published"


def test_icp_publish_twice_says_why(client, manager_user, draft, django_capture_on_commit_callbacks):
    client.force_login(manager_user)
    with django_capture_on_commit_callbacks():
        client.post(reverse("leads:icp_publish", args=[draft.pk]), PUBLISH)

    response = client.post(reverse("leads:icp_publish", args=[draft.pk]), PUBLISH, follow=True)

    assert "Only a draft can be published" in response.text


def test_icp_publish_refuses_sales_ops(client, sales_user, draft):
    client.force_login(sales_user)

    response = client.post(reverse("leads:icp_publish", args=[draft.pk]), PUBLISH)

    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_icp_version_missing_is_404(client, manager_user, db):
    client.force_login(manager_user)

    assert client.get(reverse("leads:icp_version", args=[999999])).status_code == 404


def test_icp_publish_refuses_get(client, manager_user, draft):
    client.force_login(manager_user)

    assert client.get(reverse("leads:icp_publish", args=[draft.pk])).status_code == 405


def test_icp_version_page_whatif_shows_current_and_draft_band_per_lead(client, manager_user, draft):
    LeadFactory(source=LeadSource.objects.get(slug="web"), employees=5)
    LeadFactory(source=LeadSource.objects.get(slug="web"), employees=None)
    leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="test")  # v1: disqualified, needs review
    client.force_login(manager_user)

    response = client.get(reverse("leads:icp_version", args=[draft.pk]))

    assert '<tr><td>disqualified</td><td>disqualified</td><td class="text-end">1</td></tr>' in response.text
    assert '<tr><td>needs_review</td><td>needs_review</td><td class="text-end">1</td></tr>' in response.text
