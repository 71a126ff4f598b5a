"""The demo's partner statements: two statements of the partner owing the most, showing every category, made once."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from finance.models import PartnerReference, PartnerStatement, Payment, Resolution
from finance.seed import Demo
from finance.seed_statements import seed_statements
from tests.conftest import make_user
from tests.factories.finance import converted_referral

pytestmark = pytest.mark.django_db


def test_the_demo_statements_show_every_kind_of_discrepancy_once(partner):
    now = timezone.now()
    for days in (30, 26, 22, 18, 14, 10, 6):
        converted_referral(partner=partner, at=now - timedelta(days=days))
    demo = Demo(now=now, rng=random.Random(1), actor=make_user("Finance"))

    seed_statements(demo)
    seed_statements(demo)

    earlier, later = PartnerStatement.objects.order_by("id")
    assert (earlier.original_name, later.original_name) == (
        f"{partner.slug}-statement-1.csv",
        f"{partner.slug}-statement-2.xlsx",
    )
    assert set(later.items.values_list("category", flat=True)) == {
        "matched", "amount_mismatch", "unknown_referral", "duplicate_line", "missing",
    }  # fmt: skip
    assert set(later.items.filter(category="matched").values_list("rule", flat=True)) == {
        "partner_reference", "email_hash",
    }  # fmt: skip
    assert earlier.items.filter(rule="hand", category="matched").exists()
    assert PartnerReference.objects.filter(partner=partner).count() == 1
    dispute = Resolution.objects.get(action="dispute")
    assert dispute.item.statement == later
    assert Payment.objects.get().statement == earlier
    assert demo.made == {"statements": 2, "statement lines": earlier.line_count + later.line_count}
