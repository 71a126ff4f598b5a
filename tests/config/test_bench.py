"""`manage.py bench` scenarios run end to end on PostgreSQL (figures only; no timing is asserted)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from partners.models import Partner

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="benchmarks measure PostgreSQL")


@pytest.mark.django_db(transaction=True)
def test_bench_match_prints_figures_and_leaves_nothing_behind():
    out = StringIO()

    call_command("bench", "match", partners=40, json=True, stdout=out)

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert figures["partners"] == 40
    assert {"median_ms", "p95_ms", "baseline_uncached_median_ms", "ratio_vs_uncached"} <= set(figures)
    assert figures["queries_per_request"] == 4
    assert not Partner.objects.exists()
