from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads.models import Lead, LeadEvent
from outbox.models import OutboundMessage
from partners.models import FeeAccrual, FeeAgreement, Partner, Referral


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


@pytest.mark.django_db
def test_seed_demo_adds_partners_with_fee_terms_and_referral_history():
    call_command("seed_demo", leads=300, stdout=StringIO())

    partners = Partner.objects.all()
    assert partners.count() == 12
    assert set(partners.values_list("kind", flat=True)) >= {"lender", "brand", "software", "gym", "training"}
    assert partners.filter(status="paused").count() == 1
    # Every partner has an agreement in force today, and an earlier one that ended.
    today = timezone.localdate()
    assert all(p.agreements.filter(valid_from__lte=today, valid_to__isnull=True).count() == 1 for p in partners)
    assert FeeAgreement.objects.filter(valid_to__lt=today).count() == 12
    referrals = Referral.objects.all()
    assert referrals.count() > 0
    assert set(referrals.values_list("status", flat=True)) >= {"sent", "converted"}
    assert FeeAccrual.objects.filter(kind__startswith="conversion").exists()
    assert not OutboundMessage.objects.filter(status="queued").exists()  # history: already sent


@pytest.mark.django_db
def test_seed_demo_partners_twice_changes_nothing():
    call_command("seed_demo", leads=100, stdout=StringIO())
    before = (Partner.objects.count(), Referral.objects.count(), FeeAccrual.objects.count())

    call_command("seed_demo", leads=100, stdout=StringIO())

    assert (Partner.objects.count(), Referral.objects.count(), FeeAccrual.objects.count()) == before
