"""`manage.py bench` scenarios run end to end on PostgreSQL (figures only; no timing is asserted)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from leads.models import Evaluation, Lead, LeadEvent, LeadSource
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


@pytest.mark.django_db(transaction=True)
def test_bench_import_prints_the_issue_keys_and_a_breakdown_and_leaves_nothing_behind():
    out = StringIO()

    call_command("bench", "import", rows=300, import_export_rows=50, json=True, stdout=out)

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {
        "rows", "seconds", "rows_per_s", "copy_rows_per_s", "ratio_vs_copy", "import_export_rows_per_s",
        "ratio_vs_import_export",
    } <= set(figures)  # fmt: skip
    assert figures["rows"] == figures["created"] == 300
    assert figures["rejected"] == 0
    assert sum(figures["bands"].values()) == 300
    assert figures["import_export_rows"] == 50
    breakdown = figures["breakdown"]
    assert {"db_key_lookup", "db_ids", "db_copy_leads", "db_copy_evaluations", "db_copy_events"} <= set(breakdown)
    assert {"db_foreign_keys", "parser_cpu", "wait_for_parser"} <= set(breakdown)
    assert figures["stored_rows_copy_seconds"] > 0
    assert figures["database_seconds"] == pytest.approx(
        sum(seconds for kind, seconds in breakdown.items() if kind.startswith("db_")), abs=0.01
    )
    assert not Lead.objects.exists()
    assert not Evaluation.objects.exists()
    assert not LeadEvent.objects.exists()
    assert not LeadSource.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_bench_requalify_prints_figures_and_leaves_nothing_behind():
    out = StringIO()

    call_command("bench", "requalify", rows=500, json=True, stdout=out)

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert figures["rows"] == 500
    assert figures["seconds"] > 0
    assert not Lead.objects.exists()
