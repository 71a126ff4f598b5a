"""`manage.py bench nurture`: one sweep of due nurture steps over many active enrollments, on PostgreSQL.

Set-up (untimed, one transaction rolled back at the end): N leads with marketing consent in nurture, one
active enrollment each in a four-step track (email, email, task, re-qualify against a 20-criterion ICP);
`due` of them are due now, spread over the steps; the rest are due tomorrow.

Timed: `nurture_run_due()` exactly as the beat task runs it (claims in batches with SKIP LOCKED, renders each
email, writes outbox rows, tasks, timeline events, advances the enrollments, re-checks the leads at the
re-qualify step). Emails go to the outbox, not to a mail server.

Baseline in the same run: the same steps done one enrollment at a time through the ORM (render, queue the
email with `message_queue`, record the event, save the enrollment), on 2,000 other due enrollments.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from common.text import compile_plain_text, render_plain_text
from leads.bench import bench_source
from leads.models import Lead
from leads.services import lead_event_record
from nurture import services
from nurture.models import Enrollment, EnrollmentStatus, Step, StepKind, Track
from outbox.models import OutboundMessage
from outbox.services import message_queue

BASELINE_ROWS = 2000


class _Rollback(Exception):
    pass


def _setup(enrollments: int, due: int, now) -> Track:
    source = bench_source()
    track = Track.objects.create(name="Bench track", slug="bench-track")
    Step.objects.bulk_create(
        [
            Step(
                track=track,
                position=1,
                kind=StepKind.EMAIL,
                delay_hours=0,
                subject="Planning ahead, {{ lead.name }}?",
                body="Hello {{ lead.name }},\n\nHere are our guides for {{ lead.company|default:'your team' }}.",
            ),
            Step(
                track=track,
                position=2,
                kind=StepKind.EMAIL,
                delay_hours=24 * 14,
                subject="Ways to spread the cost",
                body="Hello {{ lead.name }},\n\nMany customers start small; here is how.",
            ),
            Step(
                track=track, position=3, kind=StepKind.TASK, delay_hours=24 * 7, body="Call {{ lead.name }}\nCheck in."
            ),
            Step(track=track, position=4, kind=StepKind.REQUALIFY, delay_hours=24 * 30),
        ]
    )
    lead_t, enr_t = Lead._meta.db_table, Enrollment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {lead_t} (source_id, external_id, email, name, company, title, phone, country, "  # noqa: S608
            "postal_code, industry, product_interest, timeline, message, attributes, budget, budget_currency, "
            "employees, credit_score, marketing_consent_at, marketing_consent_version, "
            "partner_sharing_consent_version, do_not_contact, status, received_at, respond_by, first_response_at, "
            "created_at, updated_at) "
            "SELECT %s, 'N' || i, 'n' || i || '@bench.example', 'Lead ' || i, (ARRAY['Acme','','Cedar'])[1 + i %% 3], "
            "'Owner', '', 'GB', '', 'Retail', 'Loans', 'later', '', jsonb_build_object('years_trading', i %% 5), "
            "1000 + i %% 90000, 'GBP', 1 + i %% 40, 400 + i %% 400, now(), 'web-2026', '', false, 'nurturing', "
            "now() - interval '30 days', now() - interval '29 days', now() - interval '29 days', now(), now() "
            "FROM generate_series(1::bigint, %s::bigint) AS i",
            [source.pk, enrollments],
        )
        total_due = due + BASELINE_ROWS
        # Due rows: positions 1-3 in turn, and every 20th at the re-qualify step; the rest due tomorrow.
        cursor.execute(
            f"INSERT INTO {enr_t} (lead_id, track_id, status, next_position, next_run_at, steps_done, started_at, "  # noqa: S608
            "end_reason) "
            "SELECT l.id, %s, 'active', CASE WHEN r.n <= %s AND r.n %% 20 = 0 THEN 4 ELSE 1 + r.n %% 3 END, "
            "CASE WHEN r.n <= %s THEN %s - (r.n %% 600) * interval '1 second' ELSE %s + interval '1 day' END, "
            "0, now() - interval '20 days', '' "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM leads_lead WHERE source_id = %s) AS r "
            "JOIN leads_lead l ON l.id = r.id",
            [track.pk, total_due, total_due, now, now, source.pk],
        )
        for model in (Lead, Enrollment):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return track


def _baseline(now) -> float:
    """One enrollment at a time through the ORM: what the sweep would cost without its set-based writes."""
    rows = list(
        Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, next_run_at__lte=now, next_position__in=[1, 2])
        .select_related("lead")
        .order_by("-next_run_at")[:BASELINE_ROWS]
    )
    steps = {s.position: s for s in Step.objects.filter(track_id=rows[0].track_id)}
    started = time.perf_counter()
    for enrollment in rows:
        with transaction.atomic():
            step = steps[enrollment.next_position]
            context = {"lead": enrollment.lead, "unsubscribe_url": services.unsubscribe_url(enrollment.lead_id)}
            message_queue(
                key=f"baseline:{enrollment.pk}:{step.position}",
                kind="nurture_email",
                to_email=enrollment.lead.email,
                subject=render_plain_text(compile_plain_text(step.subject), context),
                body=render_plain_text(compile_plain_text(step.body), context),
                lead=enrollment.lead,
                not_before=now,
            )
            lead_event_record(lead=enrollment.lead, verb="nurture_step", actor_label="system", at=now)
            nxt = steps[step.position + 1]
            enrollment.next_position, enrollment.next_run_at = nxt.position, now + timedelta(hours=nxt.delay_hours)
            enrollment.steps_done += 1
            enrollment.save(update_fields=["next_position", "next_run_at", "steps_done"])
    return (time.perf_counter() - started) / len(rows)


def run_nurture(*, enrollments: int, due: int) -> dict:
    if due + BASELINE_ROWS > enrollments:
        raise ValueError("--due plus the 2,000 baseline rows must not exceed --enrollments")
    figures: dict = {}
    now = timezone.now()
    try:
        with transaction.atomic():
            _setup(enrollments, due, now)
            per_row_baseline = _baseline(now)
            messages_before = OutboundMessage.objects.count()
            started = time.perf_counter()
            counts = services.nurture_run_due(now=now)
            seconds = time.perf_counter() - started
            processed = counts["emails"] + counts["tasks"] + counts["rechecked"] + counts["stopped"]
            figures = {
                "enrollments": enrollments,
                "due": due,
                "seconds": round(seconds, 2),
                "per_step_ms": round(seconds / max(processed, 1) * 1000, 3),
                "processed": processed,
                **{k: v for k, v in counts.items() if k != "batches"},
                "batches": counts["batches"],
                "outbox_rows": OutboundMessage.objects.count() - messages_before,
                "baseline_per_step_ms": round(per_row_baseline * 1000, 3),
                "baseline_seconds_for_due": round(per_row_baseline * due, 1),
                "ratio_vs_one_by_one": round(per_row_baseline * processed / seconds, 1),
                "target_seconds": 30,
            }
            raise _Rollback
    except _Rollback:
        pass
    return figures
