"""`manage.py bench SCENARIO [--rows N] [--json]`: timed scenarios with their baselines measured in the
same run. The last line of `--json` output is one JSON object. Run them on PostgreSQL."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from finance.bench import run_reconcile
from leads.bench import run_import, run_requalify
from nurture.bench import run_nurture
from partners.bench import run_match
from triage.bench import run_triage


def _import(options) -> dict:
    return run_import(rows=options["rows"] or 100_000, import_export_rows=options["import_export_rows"])


def _requalify(options) -> dict:
    return run_requalify(rows=options["rows"] or 100_000)


def _match(options) -> dict:
    return run_match(partners=options["partners"])


def _nurture(options) -> dict:
    return run_nurture(enrollments=options["enrollments"], due=options["due"])


def _triage(options) -> dict:
    return run_triage(rows=options["rows"] or 1_000_000)


def _reconcile(options) -> dict:
    return run_reconcile(lines=options["lines"], accruals=options["accruals"])


SCENARIOS = {
    "import": (_import, "CSV import through the real service vs raw COPY and django-import-export"),
    "requalify": (_requalify, "re-evaluate stored leads after publishing a new ICP version"),
    "match": (_match, "rank --partners N partners for a lead, with explanations"),
    "triage": (_triage, "the triage queue page and its htmx table over --rows N leads (default 1,000,000)"),
    "nurture": (_nurture, "one sweep of due nurture steps: --enrollments N active, --due M due now"),
    "reconcile": (_reconcile, "import and reconcile a partner statement of --lines N against --accruals M fees"),
}


class Command(BaseCommand):
    help = "Run a benchmark scenario: " + "; ".join(f"{name}: {text}" for name, (_, text) in SCENARIOS.items())

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=sorted(SCENARIOS))
        parser.add_argument("--rows", type=int, default=0, help="How many rows/leads (default 100,000).")
        parser.add_argument("--import-export-rows", type=int, default=20_000)
        parser.add_argument("--partners", type=int, default=1000, help="match: how many partners (default 1,000).")
        parser.add_argument("--enrollments", type=int, default=100_000, help="nurture: active enrollments.")
        parser.add_argument("--due", type=int, default=5_000, help="nurture: how many are due now.")
        parser.add_argument("--lines", type=int, default=100_000, help="reconcile: statement lines (100,000).")
        parser.add_argument("--accruals", type=int, default=200_000, help="reconcile: open fees (200,000).")
        parser.add_argument("--json", action="store_true", help="End with one JSON object on the last line.")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Benchmarks measure PostgreSQL: set DATABASE_URL=postgres://…")
        if options["rows"] < 0:
            raise CommandError("--rows must be positive.")
        run, _ = SCENARIOS[options["scenario"]]
        started = time.perf_counter()
        figures = {"scenario": options["scenario"], **run(options)}
        figures["wall_seconds"] = round(time.perf_counter() - started, 1)
        if options["json"]:
            self.stdout.write(json.dumps(figures))
        else:
            for key, value in figures.items():
                self.stdout.write(f"{key:>26}: {value}")
