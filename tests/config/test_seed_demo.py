from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from leads.models import Lead, LeadEvent


@pytest.mark.django_db
def test_seed_demo_creates_users_per_role_and_leads_for_each_example():
    call_command("seed_demo", leads=25, stdout=StringIO())

    users = {u.username: {g.name for g in u.groups.all()} for u in get_user_model().objects.all()}
    assert users == {"sales": {"Sales Ops"}, "finance": {"Finance"}, "manager": {"Manager"}, "admin": set()}
    assert get_user_model().objects.get(username="admin").is_superuser
    assert Lead.objects.count() == 25
    lines = set(Lead.objects.values_list("attributes__business_line", flat=True))
    assert lines == {"bank", "fashion", "software", "gym", "elearning"}
    assert LeadEvent.objects.filter(verb="received").count() == 25


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", leads=10, stdout=StringIO())
    before = list(Lead.objects.order_by("pk").values())

    call_command("seed_demo", leads=10, stdout=StringIO())

    assert list(Lead.objects.order_by("pk").values()) == before
    assert get_user_model().objects.count() == 4


@pytest.mark.django_db
def test_seed_demo_refuses_negative_count():
    with pytest.raises(CommandError, match="--leads must be zero or more"):
        call_command("seed_demo", leads=-1)
