"""`manage.py bench reconcile` runs end to end on PostgreSQL: the issue's keys, every category, nothing left behind
(figures only; no timing is asserted)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from finance.models import PartnerStatement, ReconciliationItem, StatementLine
from leads.models import Lead, LeadSource
from partners.models import FeeAccrual, Partner, Referral

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="benchmarks measure PostgreSQL")


@pytest.mark.django_db(transaction=True)
def test_bench_reconcile_prints_the_issue_keys_and_leaves_nothing_behind():
    out = StringIO()

    call_command("bench", "reconcile", lines=400, accruals=600, json=True, stdout=out)
    stored = Path(settings.MEDIA_ROOT) / "statements"

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {"lines", "accruals", "seconds", "match_seconds", "naive_seconds", "ratio_vs_naive"} <= set(figures)
    assert (figures["lines"], figures["accruals"]) == (400, 600)
    assert figures["seconds"] == pytest.approx(figures["import_seconds"] + figures["match_seconds"], abs=0.02)
    assert figures["naive_sample_lines"] == 400
    assert all(figures["categories"][category] > 0 for category in (
        "matched", "amount_mismatch", "unknown_referral", "duplicate_line", "missing",
    ))  # fmt: skip
    assert sum(count for name, count in figures["categories"].items() if name != "missing") == 400
    for model in (PartnerStatement, StatementLine, ReconciliationItem, FeeAccrual, Referral, Lead, LeadSource, Partner):
        assert not model.objects.exists(), model.__name__
    assert not [path for path in stored.rglob("bench-statement*")]
