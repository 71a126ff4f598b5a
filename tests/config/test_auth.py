import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


@pytest.mark.django_db
def test_roles_migration_creates_groups_with_their_permissions():
    perms = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }

    assert set(perms) == {"Sales Ops", "Finance", "Manager"}
    assert "leads.triage_lead" in perms["Sales Ops"]
    assert "leads.triage_lead" not in perms["Manager"]
    assert "leads.view_reports" in perms["Manager"]
    assert {p for p in perms["Manager"] if ".view_" not in p} == {"leads.publish_icpprofile"}  # reads only
    assert not any(p.startswith("leads.") for p in perms["Finance"])
    assert {"partners.change_feeagreement", "partners.reverse_conversion"} <= perms["Finance"]
    assert "partners.change_feeagreement" not in perms["Sales Ops"]
    assert {"partners.add_referral", "nurture.add_enrollment"} <= perms["Sales Ops"]


@pytest.mark.django_db
def test_login_with_right_password_goes_home(client):
    UserFactory(username="sam", role="Sales Ops")

    response = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_login_with_wrong_password_shows_error(client):
    UserFactory(username="sam", role="Sales Ops")

    response = client.post(reverse("login"), {"username": "sam", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


@pytest.mark.django_db
def test_login_is_throttled_after_repeated_failures(client, settings):
    UserFactory(username="sam", role="Sales Ops")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "sam", "password": "nope"})

    response = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed log-ins" in response.text


@pytest.mark.django_db
def test_logout_ends_the_session(client, sales_user):
    client.force_login(sales_user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_home_without_role_says_so(client):
    client.force_login(UserFactory(username="norole"))

    response = client.get(reverse("home"))

    assert "Your account has no role yet" in response.text
