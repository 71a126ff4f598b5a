"""Benchmark scenarios for leads (run by `manage.py bench import|requalify`). Each runs inside one
transaction that is rolled back, so a benchmark leaves the database as it found it."""

from __future__ import annotations

import csv
import io
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection, transaction

from leads.importing import import_path
from leads.models import (
    Criterion,
    Evaluation,
    ICPProfile,
    ICPVersion,
    ICPVersionStatus,
    Lead,
    LeadEvent,
    LeadSource,
)
from leads.seed import seed_reasons
from leads.services import icp_draft_create, leads_evaluate_bulk, leads_requalify

HEADERS = [
    "Lead ID", "Email Address", "Full Name", "Company Name", "Job Title", "Decision maker", "Phone", "Country",
    "Postcode", "Latitude", "Longitude", "No. of employees", "Budget", "Currency", "Industry", "Product",
    "Timeline", "Credit score", "Message", "Received", "Marketing consent", "Years trading",
]  # fmt: skip
# Where each CSV column lands in the COPY baseline's table (a copy of leads_lead plus the attribute column).
COPY_COLUMNS = [
    "external_id", "email", "name", "company", "title", "is_decision_maker", "phone", "country", "postal_code",
    "latitude", "longitude", "employees", "budget", "budget_currency", "industry", "product_interest", "timeline",
    "credit_score", "message", "received_at", "marketing_consent_at", "years_trading",
]  # fmt: skip

# Twenty criteria over most operators, fields and an attribute: the ICP every benchmark row is checked against.
BENCH_CRITERIA = [
    ("Credit score 600+", "credit_score", "gte", 600, "number", True, 0, "credit"),
    ("UK or Ireland", "country", "in", ["GB", "IE"], "text", True, 0, "geography"),
    ("Not a sanctioned industry", "industry", "not_in", ["Gambling", "Crypto"], "text", True, 0, "wrong-need"),
    ("Budget in range", "budget", "between", [5000, 500000], "number", False, 12, "budget"),
    ("Size in range", "employees", "between", [5, 250], "number", False, 10, "company-size"),
    ("Decision maker", "is_decision_maker", "eq", True, "boolean", False, 8, "not-decision-maker"),
    ("Pays in pounds", "budget_currency", "eq", "GBP", "text", False, 4, "geography"),
    ("Trading 2+ years", "attributes.years_trading", "gte", 2, "number", False, 8, "timing"),
    ("Wants a loan product", "product_interest", "contains", "loan", "text", False, 6, "wrong-need"),
    ("Not just browsing", "timeline", "ne", "Just browsing", "text", False, 6, "timing"),
    ("Has a phone", "phone", "is_set", None, "text", False, 3, "not-decision-maker"),
    (
        "Near an office",
        "location",
        "within_km",
        {"lat": 51.5074, "lon": -0.1278, "km": 400},
        "text",
        False,
        5,
        "geography",
    ),
    ("Company named", "company", "is_set", None, "text", False, 3, "non-buyer"),
    ("Not a student", "title", "ne", "Student", "text", False, 4, "non-buyer"),
    ("Credit not implausible", "credit_score", "lte", 1000, "number", False, 2, "credit"),
    ("Under 5,000 staff", "employees", "lt", 5000, "number", False, 3, "company-size"),
    ("Over 1 employee", "employees", "gt", 1, "number", False, 3, "company-size"),
    (
        "Served industry",
        "industry",
        "in",
        ["Retail", "Hospitality", "Construction", "Manufacturing", "Services"],
        "text",
        False,
        6,
        "wrong-need",
    ),
    ("Has a postcode", "postal_code", "is_set", None, "text", False, 3, "geography"),
    ("No test message", "message", "ne", "test", "text", False, 2, "non-buyer"),
]
FIRST = ["Ann", "Bilal", "Chen", "Dara", "Eve", "Femi", "Gita", "Hugo", "Ines", "Jon", "Kai", "Lena", "Mo", "Nia"]
LAST = ["Smith", "Khan", "Li", "Walsh", "Jones", "Okafor", "Patel", "Brown", "Costa", "Evans", "Murphy", "Ng"]
COMPANIES = ["Acme", "Brightside", "Cedar", "Dunmore", "Elm & Co", "Fernhill", "Granite", "Harbour", ""]
TITLES = ["Owner", "Director", "Finance manager", "Bookkeeper", "Student", "Founder", "Operations lead"]
INDUSTRIES = ["Retail", "Hospitality", "Construction", "Manufacturing", "Services", "Gambling", "Farming"]
COUNTRIES = ["GB", "GB", "GB", "IE", "FR", "DE", "United Kingdom", "US"]
TIMELINES = ["This month", "Next quarter", "Just browsing", "Within a year"]
PRODUCTS = ["Business loan", "Overdraft", "Asset finance", "Invoice finance loan"]


def bench_source() -> LeadSource:
    """A source whose published ICP has the twenty benchmark criteria (created inside the rolled-back run)."""
    reasons = seed_reasons()
    profile = ICPProfile.objects.create(name="Benchmark ICP", slug="bench-icp")
    version = ICPVersion.objects.create(
        profile=profile, number=1, status=ICPVersionStatus.PUBLISHED, qualified_min=70, review_min=40
    )
    for position, (label, field, op, value, value_type, hard, weight, reason) in enumerate(BENCH_CRITERIA):
        Criterion.objects.create(
            version=version, position=position, label=label, field=field, operator=op, value=value,
            value_type=value_type, hard=hard, weight=weight, reason=reasons[reason],
        )  # fmt: skip
    return LeadSource.objects.create(slug="bench", name="Benchmark", sla_hours=24, icp_profile=profile)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic export: mixed blanks, a country name now and then, consent dates, quoted multi-line notes."""
    rng = random.Random(seed)
    base = datetime(2026, 10, 1, tzinfo=UTC)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES)
            received = base + timedelta(seconds=rng.randrange(0, 50 * 86400))
            near = rng.random() < 0.7
            writer.writerow([
                f"B{i:08d}",
                f"{first}.{last}.{i}@{(company or 'mail').lower().replace(' & ', '')}.example",
                f"{first} {last}",
                company,
                rng.choice(TITLES),
                rng.choice(["yes", "no", ""]),
                f"+44 20 7{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}" if rng.random() < 0.8 else "",
                rng.choice(COUNTRIES) if rng.random() < 0.95 else "",
                f"SW{rng.randrange(1, 20)} {rng.randrange(1, 9)}AB" if rng.random() < 0.8 else "",
                f"{51.5 + rng.uniform(-2, 2) if near else 40 + rng.uniform(0, 5):.6f}" if rng.random() < 0.6 else "",
                "",  # longitude filled below with latitude
                str(rng.choice([1, 3, 8, 20, 45, 120, 300, 1200, 6000])) if rng.random() < 0.9 else "",
                str(rng.randrange(1000, 900_000, 500)),
                "GBP" if rng.random() < 0.85 else "EUR",
                rng.choice(INDUSTRIES),
                rng.choice(PRODUCTS),
                rng.choice(TIMELINES),
                str(rng.randrange(380, 880)) if rng.random() < 0.9 else "",
                "test" if rng.random() < 0.01 else ("Need funds for\nnew premises" if rng.random() < 0.1 else "Hello"),
                received.isoformat(),
                received.isoformat() if rng.random() < 0.5 else "",
                str(rng.randrange(0, 20)) if rng.random() < 0.9 else "",
            ])  # fmt: skip
    # The longitude column: a second pass is simpler than threading the latitude through the row builder.
    text = path.read_text(encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    rng = random.Random(seed + 1)
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
        if n and row[9]:
            row[10] = f"{-0.13 + rng.uniform(-2, 2):.6f}"
        writer.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")


def _copy_baseline(path: Path) -> float:
    """Seconds for COPY of the same CSV into an empty table shaped like leads_lead (same columns, same
    indexes and constraints, logged like it), with defaults for the columns the file does not carry."""
    table = "bench_copy_target"
    lead_t = Lead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (LIKE {lead_t} INCLUDING ALL, years_trading integer)")
        cursor.execute(
            f"ALTER TABLE {table} ALTER source_id SET DEFAULT 1, ALTER status SET DEFAULT 'new', "
            "ALTER respond_by SET DEFAULT now(), ALTER created_at SET DEFAULT now(), "
            "ALTER updated_at SET DEFAULT now(), ALTER attributes SET DEFAULT '{}'::jsonb, "
            "ALTER do_not_contact SET DEFAULT false, ALTER marketing_consent_version SET DEFAULT '', "
            "ALTER partner_sharing_consent_version SET DEFAULT '', ALTER country TYPE varchar(100)"
        )
        not_null_text = [c for c in COPY_COLUMNS if c in {
            "external_id", "email", "name", "company", "title", "phone", "country", "postal_code",
            "budget_currency", "industry", "product_interest", "timeline", "message"}]  # fmt: skip
        sql = (
            f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv, HEADER true, "
            f"FORCE_NOT_NULL ({', '.join(not_null_text)}))"
        )
        started = time.perf_counter()
        with open(path, "rb") as f, cursor.cursor.copy(sql) as copy:
            while block := f.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute(f"DROP TABLE {table}")
    return seconds


def _copy_stored_leads(source: LeadSource, directory: Path) -> float:
    """Seconds for COPY of the lead rows the import stored (status, band, reason, respond-by and all) into an
    empty table shaped like leads_lead: what writing those rows costs by itself, with no evaluations, events,
    foreign-key checks or parsing. Not the issue's baseline (that one copies the file's rows), but the
    floor for the lead table alone; the export is not timed."""
    table, lead_t = "bench_stored_target", Lead._meta.db_table
    dump = directory / "stored-leads.copy"
    with connection.cursor() as cursor:
        columns = ", ".join(f.column for f in Lead._meta.concrete_fields)
        with (
            open(dump, "wb") as f,
            cursor.cursor.copy(
                f"COPY (SELECT {columns} FROM {lead_t} WHERE source_id = %s ORDER BY id) TO STDOUT",  # noqa: S608
                [source.pk],
            ) as copy,
        ):
            for block in copy:
                f.write(block)
        cursor.execute(f"CREATE TABLE {table} (LIKE {lead_t} INCLUDING ALL)")
        started = time.perf_counter()
        with open(dump, "rb") as f, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            while block := f.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute(f"DROP TABLE {table}")
    dump.unlink()
    return seconds


def _import_export_baseline(path: Path, source: LeadSource, rows: int) -> float:
    """Seconds for django-import-export to import the first `rows` rows of the same CSV into Lead."""
    import tablib
    from import_export import resources, widgets

    mapping = dict(zip(HEADERS, COPY_COLUMNS, strict=True))
    mapping.pop("Marketing consent")
    mapping.pop("Years trading")
    mapping.pop("Country")  # names like "United Kingdom" would not fit the column; it is left out

    class LeadResource(resources.ModelResource):
        class Meta:
            model = Lead
            import_id_fields = ("source", "external_id")  # the lead's natural key, as ours (uses its index)
            fields = ("source", *mapping.values())

        def before_save_instance(self, instance, row, **kwargs):
            instance.respond_by = instance.received_at + timedelta(hours=source.sla_hours)

    for header, attribute in mapping.items():  # the model's own fields and widgets, read from our headers
        LeadResource.fields[attribute].column_name = header
    LeadResource.fields["is_decision_maker"].widget = _YesNo()
    LeadResource.fields["received_at"].widget = widgets.DateTimeWidget(format="%Y-%m-%dT%H:%M:%S%z")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        data = tablib.Dataset(headers=[*header, "source"])
        for n, row in enumerate(reader):
            if n >= rows:
                break
            data.append([*row, source.pk])
    resource = LeadResource()
    started = time.perf_counter()
    result = resource.import_data(data, dry_run=False, raise_errors=True, use_transactions=True)
    seconds = time.perf_counter() - started
    assert not result.has_errors()
    assert not result.has_validation_errors()
    return seconds


class _YesNo:
    def clean(self, value, row=None, **kwargs):
        return {"yes": True, "no": False}.get((value or "").lower())

    def render(self, value, obj=None, **kwargs):
        return value


class _Rollback(Exception):
    pass


def vacuum_lead_tables() -> None:
    """VACUUM the tables a run writes to. Every run rolls back its rows, which leaves them dead in the heap
    and the indexes until autovacuum comes by; without this, each run would write into the garbage of the
    one before (measured: the import's lead COPY 56 s instead of 40 s at 1,000,000 rows), while the COPY
    baseline always gets a fresh table."""
    if connection.in_atomic_block:
        return  # VACUUM cannot run in a transaction (tests run the scenarios inside one)
    with connection.cursor() as cursor:
        for model in (Lead, Evaluation, LeadEvent):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def run_import(*, rows: int, import_export_rows: int = 20_000, keep_file: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        write_csv(path, rows)
        vacuum_lead_tables()
        size = path.stat().st_size
        figures: dict = {}
        try:
            with transaction.atomic():
                source = bench_source()
                copy_seconds = _copy_baseline(path)
                ie_source = LeadSource.objects.create(slug="bench-ie", name="Benchmark (import-export)", sla_hours=24)
                ie_rows = min(import_export_rows, rows)
                ie_seconds = _import_export_baseline(path, ie_source, ie_rows)
                started = time.perf_counter()
                result = import_path(path, source=source, label="bench")
                seconds = time.perf_counter() - started
                stored_copy_seconds = _copy_stored_leads(source, Path(tmp))
                figures = {
                    "rows": rows,
                    "bytes": size,
                    "seconds": round(seconds, 3),
                    "rows_per_s": round(rows / seconds),
                    "created": result.created,
                    "rejected": result.rejected,
                    "bands": result.bands,
                    "copy_seconds": round(copy_seconds, 3),
                    "copy_rows_per_s": round(rows / copy_seconds),
                    "ratio_vs_copy": round(copy_seconds / seconds, 3),
                    "import_export_rows": ie_rows,
                    "import_export_seconds": round(ie_seconds, 3),
                    "import_export_rows_per_s": round(ie_rows / ie_seconds),
                    "ratio_vs_import_export": round((rows / seconds) / (ie_rows / ie_seconds), 1),
                    "criteria": len(BENCH_CRITERIA),
                    "targets": {"ratio_vs_copy": 0.40, "ratio_vs_import_export": 20},
                    **_breakdown(result.timings, copy_seconds),
                    "stored_rows_copy_seconds": round(stored_copy_seconds, 3),
                    "ratio_vs_stored_rows_copy": round(stored_copy_seconds / seconds, 3),
                }
                raise _Rollback
        except _Rollback:
            pass
    return figures


def _breakdown(timings: dict[str, float], copy_seconds: float) -> dict:
    """Where the import's time went: seconds of database work by kind (their sum, and the ratio to the COPY
    baseline the import would reach were parsing, checking and encoding free), the parser thread's CPU time,
    and how long the database side waited for the parser."""
    database = sum(seconds for kind, seconds in timings.items() if kind.startswith("db_"))
    return {
        "breakdown": {kind: round(seconds, 3) for kind, seconds in sorted(timings.items())},
        "database_seconds": round(database, 3),
        "database_ratio_vs_copy": round(copy_seconds / database, 3) if database else None,
    }


def run_requalify(*, rows: int) -> dict:
    """Store `rows` leads for a benchmark source and evaluate them (set-up, untimed), publish a stricter
    ICP version and time re-qualifying all of them, deferred foreign keys checked inside the timing.
    Everything runs in one transaction that is rolled back."""
    figures: dict = {}
    vacuum_lead_tables()
    try:
        with transaction.atomic():
            source = bench_source()
            _insert_leads(source, rows)
            leads_evaluate_bulk(queryset=Lead.objects.filter(source=source), actor_label="bench")
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute(f"ANALYZE {Lead._meta.db_table}")
                cursor.execute(f"ANALYZE {Evaluation._meta.db_table}")
            version = ICPVersion.objects.get(profile=source.icp_profile, status=ICPVersionStatus.PUBLISHED)
            draft = icp_draft_create(profile=source.icp_profile)
            draft.qualified_min = 75
            draft.save(update_fields=["qualified_min"])
            ICPVersion.objects.filter(pk=version.pk).update(status=ICPVersionStatus.RETIRED)
            ICPVersion.objects.filter(pk=draft.pk).update(status=ICPVersionStatus.PUBLISHED)
            draft.refresh_from_db()
            started = time.perf_counter()
            bands = leads_requalify(version=draft, actor_label="bench")
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            seconds = time.perf_counter() - started
            figures = {
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_s": round(rows / seconds),
                "requalified": sum(bands.values()),
                "bands": bands,
                "criteria": len(BENCH_CRITERIA),
                "target_seconds_at_1m": 20,
            }
            raise _Rollback
    except _Rollback:
        pass
    return figures


def _insert_leads(source: LeadSource, rows: int) -> None:
    """`rows` varied leads generated in SQL (fast set-up; not what is measured)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Lead._meta.db_table} (source_id, external_id, email, name, company, title, "  # noqa: S608
            "is_decision_maker, phone, country, postal_code, latitude, longitude, employees, budget, budget_currency, "
            "industry, product_interest, timeline, credit_score, message, attributes, marketing_consent_version, "
            "partner_sharing_consent_version, do_not_contact, status, received_at, respond_by, created_at, updated_at) "
            "SELECT %s, 'R' || i, 'r' || i || '@bench.example', 'Lead ' || i, (ARRAY['Acme','','Cedar'])[1 + i %% 3], "
            "(ARRAY['Owner','Student','Director','Bookkeeper'])[1 + i %% 4], (i %% 3 = 0), "
            "CASE WHEN i %% 5 = 0 THEN '' ELSE '+44 20 7000 0000' END, (ARRAY['GB','IE','FR','GB','US'])[1 + i %% 5], "
            "CASE WHEN i %% 4 = 0 THEN '' ELSE 'SW1 1AA' END, "
            "CASE WHEN i %% 2 = 0 THEN 51.0 + (i %% 300) / 100.0 END, "
            "CASE WHEN i %% 2 = 0 THEN -0.5 + (i %% 70) / 100.0 END, "
            "CASE WHEN i %% 10 = 0 THEN NULL ELSE (ARRAY[1,3,8,20,45,120,300,1200,6000])[1 + i %% 9] END, "
            "1000 + (i * 7919) %% 600000, CASE WHEN i %% 7 = 0 THEN 'EUR' ELSE 'GBP' END, "
            "(ARRAY['Retail','Hospitality','Construction','Gambling','Services','Farming'])[1 + i %% 6], "
            "'Business loan', (ARRAY['This month','Just browsing','Next quarter'])[1 + i %% 3], "
            "CASE WHEN i %% 11 = 0 THEN NULL ELSE 380 + (i * 31) %% 500 END, 'Hello', "
            "jsonb_build_object('years_trading', i %% 12), '', '', false, 'new', now(), now() + interval '1 day', "
            "now(), now() FROM generate_series(1::bigint, %s::bigint) AS i",
            [source.pk, rows],
        )
