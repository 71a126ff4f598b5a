"""`manage.py bench triage`: the triage queue page over a million leads, through Django's test client.

Set-up (untimed, one transaction rolled back at the end): N leads over five sources, with realistic shares
of statuses (about 60% in the queue), reasons, owners, countries, respond-by times (a tenth overdue).

Timed: 200 GET requests as a Sales Ops user, alternating the full page and the htmx table fragment, over the
first and deep pages, the default sort and several filters (reason, band, owner "me", overdue, country,
source, received date). Baseline in the same run: the Django admin changelist of leads on the same filters
(what you would use without the triage page).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.roles import Role
from leads.models import DisqualificationReason, Lead, LeadSource
from leads.seed import seed_reasons

REQUESTS = 200
ADMIN_REQUESTS = 20


class _Rollback(Exception):
    pass


def _setup(rows: int):
    reasons = list(seed_reasons().values())
    sources = [LeadSource.objects.create(slug=f"bench-triage-{i}", name=f"Bench source {i}") for i in range(5)]
    User = get_user_model()
    group = Group.objects.get(name=Role.SALES_OPS)
    users = []
    for i in range(6):
        user = User.objects.create_user(f"bench-sales-{i}", f"bench{i}@passthrough.example", "x")
        user.groups.add(group)
        users.append(user)
    admin = User.objects.create_superuser("bench-admin", "bench-admin@passthrough.example", "x")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Lead._meta.db_table} (source_id, external_id, email, name, company, title, phone, "  # noqa: S608
            "country, postal_code, industry, product_interest, timeline, message, attributes, budget_currency, "
            "marketing_consent_version, partner_sharing_consent_version, do_not_contact, status, primary_reason_id, "
            "owner_id, received_at, respond_by, first_response_at, created_at, updated_at) "
            "SELECT (%s::bigint[])[1 + i %% 5], 'T' || i, 't' || i || '@bench.example', 'Lead ' || i, "
            "(ARRAY['Acme','','Cedar','Birch & Co'])[1 + i %% 4], 'Owner', '', "
            "(ARRAY['GB','IE','FR','DE','US','GB','IN'])[1 + i %% 7], '', 'Retail', 'Loans', 'later', '', '{}', '', "
            "'', '', false, (ARRAY['disqualified','needs_review','qualified','disqualified','referred',"
            "'disqualified','nurturing','needs_review','helped','closed'])[1 + i %% 10], "
            "CASE WHEN i %% 10 IN (2, 9) THEN NULL ELSE (%s::bigint[])[1 + (i * 7) %% %s] END, "
            "CASE WHEN i %% 3 = 0 THEN NULL ELSE (%s::bigint[])[1 + i %% 6] END, "
            "%s - (i %% 86400) * interval '1 minute' "
            "  - CASE WHEN i %% 10 = 5 THEN interval '60 days' ELSE interval '0' END, "
            "%s - (i %% 86400) * interval '1 minute' + interval '48 hours' "
            "  - CASE WHEN i %% 10 = 5 THEN interval '60 days' ELSE interval '0' END, "
            "NULL, now(), now() "
            "FROM generate_series(1::bigint, %s::bigint) AS i",
            [
                [s.pk for s in sources],
                [r.pk for r in reasons],
                len(reasons),
                [u.pk for u in users],
                now,
                now,
                rows,
            ],
        )
        cursor.execute(f"ANALYZE {Lead._meta.db_table}")
    return users[0], admin, reasons, sources


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _time(client: Client, url: str, headers: dict) -> float:
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed


def run_triage(*, rows: int) -> dict:
    figures: dict = {}
    try:
        with transaction.atomic():
            user, admin, reasons, sources = _setup(rows)
            reason = reasons[0]
            today = timezone.localdate()
            queries = [
                "",
                "?page=2",
                "?page=40",
                f"?reason={reason.pk}",
                "?band=needs_review",
                "?owner=me",
                "?overdue=on",
                "?my_overdue=on",
                "?country=FR",
                f"?source={sources[1].pk}",
                f"?received_from={today - timedelta(days=10)}",
                f"?reason={reasons[3].pk}&page=20",
                "?sort=-respond_by",
            ]
            fragment = {"HX-Request": "true", "HX-Target": "triage-table-region"}
            client = Client(HTTP_HOST="localhost")
            client.force_login(user)
            for query in queries:  # warm up: first requests compile templates and fill caches
                _time(client, f"/triage/{query}", {})
            timings = []
            for i in range(REQUESTS):
                query = queries[i % len(queries)]
                timings.append(_time(client, f"/triage/{query}", fragment if i % 2 else {}))
            reset_queries()
            with CaptureQueriesContext(connection) as page_queries:
                _time(client, "/triage/?page=40", {})
            reset_queries()
            with CaptureQueriesContext(connection) as fragment_queries:
                _time(client, f"/triage/?reason={reason.pk}", fragment)
            admin_client = Client(HTTP_HOST="localhost")
            admin_client.force_login(admin)
            admin_queries = [
                "?status__exact=disqualified",
                "?status__exact=disqualified&p=40",
                f"?status__exact=disqualified&primary_reason__id__exact={reason.pk}",
                "?status__exact=needs_review&country=FR",
                "?status__exact=disqualified&o=8",
            ]
            _time(admin_client, f"/admin/leads/lead/{admin_queries[0]}", {})
            admin_timings = [
                _time(admin_client, f"/admin/leads/lead/{admin_queries[i % len(admin_queries)]}", {})
                for i in range(ADMIN_REQUESTS)
            ]
            in_queue = Lead.objects.filter(status__in=["disqualified", "needs_review"]).count()
            median, admin_median = statistics.median(timings), statistics.median(admin_timings)
            figures = {
                "leads": rows,
                "in_queue": in_queue,
                "requests": REQUESTS,
                "median_ms": round(median, 1),
                "p95_ms": round(_percentile(timings, 95), 1),
                "max_ms": round(max(timings), 1),
                "queries": len(page_queries),
                "fragment_queries": len(fragment_queries),
                "admin_median_ms": round(admin_median, 1),
                "admin_p95_ms": round(_percentile(admin_timings, 95), 1),
                "ratio_vs_admin": round(admin_median / median, 1),
                "reasons": DisqualificationReason.objects.count(),
                "target_median_ms": 60,
                "target_p95_ms": 150,
            }
            raise _Rollback
    except _Rollback:
        pass
    return figures
