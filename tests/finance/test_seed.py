from datetime import timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from finance import selectors
from finance.models import Allocation, AuditEntry, Payment
from finance.seed import seed_finance
from partners.models import FeeAccrual, LedgerLock

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_finance_a_living_history_once():
    call_command("seed_demo", leads=600, stdout=StringIO())
    today = timezone.localdate()
    last_month_end = today.replace(day=1) - timedelta(days=1)

    payments = {p.note: p for p in Payment.objects.filter(kind="received")}
    assert {
        "Settles the open fees",
        "First instalment",
        "Paid on account",
        "Found on last month's bank statement",
    } <= set(payments)
    assert Payment.objects.filter(kind="bounced").count() == 1
    assert LedgerLock.objects.get().locked_through == last_month_end
    late = payments["Found on last month's bank statement"]
    assert (late.received_on <= last_month_end, late.posted_on) == (True, last_month_end + timedelta(days=1))
    assert FeeAccrual.objects.filter(kind="write_off").count() == 1
    assert FeeAccrual.objects.filter(kind="adjustment").count() == 1
    assert min(FeeAccrual.objects.values_list("posted_on", flat=True)) < today - timedelta(days=40)
    over = payments["Paid on account"]
    assert sum(a.amount for a in Allocation.objects.filter(payment=over)) == over.amount - D("150.00")
    assert any(row.credit > 0 for row in selectors.aging(as_of=today))
    assert AuditEntry.objects.filter(actor__username="finance").exists()

    counts = (Payment.objects.count(), FeeAccrual.objects.count(), AuditEntry.objects.count())
    assert seed_finance() == {}
    call_command("seed_demo", leads=600, stdout=StringIO())
    assert (Payment.objects.count(), FeeAccrual.objects.count(), AuditEntry.objects.count()) == counts
