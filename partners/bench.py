"""`manage.py bench match`: rank N partners for one lead, timed over many leads, on PostgreSQL.

Set-up (untimed, in one transaction rolled back at the end): N partners spread over countries and radii,
each with 0-3 acceptance criteria, accepted reasons, a fee agreement (some with volume tiers), a capacity
for half of them, and a year of referral history (20 per partner, some this month).

Timed: `matches_for_lead()` as the lead page calls it (warm catalogue: the per-request cost), and as the
baseline the same ranking with the partner catalogue rebuilt from the database on every request (what the
code would cost without its cache), measured in the same run.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Lead, LeadSource
from leads.seed import seed_reasons
from partners import matching
from partners.models import (
    FeeAgreement,
    FeeTier,
    Partner,
    PartnerContact,
    PartnerCriterion,
    Referral,
    ReferralMode,
    ReferralStatus,
)

COUNTRIES = ["GB", "IE", "FR", "DE", "NL", "ES", "US", "CA", "AU", "BE"]
KINDS = ["lender", "credit_repair", "brand", "software", "consultancy", "gym", "training", "other"]
CRITERIA = [
    ("Budget at least 1,000", "budget", "gte", 1000, "number"),
    ("Credit score 450+", "credit_score", "gte", 450, "number"),
    ("Fewer than 50 staff", "employees", "lt", 50, "number"),
    ("Has a phone number", "phone", "is_set", None, "text"),
    ("Trading 1+ years", "attributes.years_trading", "gte", 1, "number"),
    ("Not gambling", "industry", "ne", "Gambling", "text"),
]


class _Rollback(Exception):
    pass


def _setup(partners: int, rng: random.Random) -> list[Lead]:
    reasons = list(seed_reasons().values())
    now = timezone.now()
    source, _ = LeadSource.objects.get_or_create(slug="bench-match", defaults={"name": "Bench: matching"})
    rows = []
    for i in range(partners):
        radius = i % 4 == 0
        rows.append(
            Partner(
                name=f"Bench partner {i:05d}",
                slug=f"bench-partner-{i:05d}",
                kind=KINDS[i % len(KINDS)],
                status="active" if i % 10 else ("paused" if i % 20 else "ended"),
                grade="ABC"[i % 3],
                public_email=f"p{i}@bench.example",
                countries=[] if radius else rng.sample(COUNTRIES, rng.randint(1, 3)),
                latitude=Decimal("51.5") + Decimal(rng.randint(-300, 300)) / 100 if radius else None,
                longitude=Decimal("-0.1") + Decimal(rng.randint(-300, 300)) / 100 if radius else None,
                radius_km=Decimal(rng.choice([25, 50, 150])) if radius else None,
                monthly_capacity=rng.choice([None, 20, 50]) if i % 2 else None,
            )
        )
    created = Partner.objects.bulk_create(rows)
    Partner.accepted_reasons.through.objects.bulk_create(
        Partner.accepted_reasons.through(partner_id=p.pk, disqualificationreason_id=r.pk)
        for p in created
        for r in rng.sample(reasons, rng.randint(0, 3))
    )
    PartnerContact.objects.bulk_create(
        PartnerContact(partner=p, name="Intro desk", email=f"intro{p.pk}@bench.example") for p in created
    )
    PartnerCriterion.objects.bulk_create(
        PartnerCriterion(partner=p, position=n, label=c[0], field=c[1], operator=c[2], value=c[3], value_type=c[4])
        for p in created
        for n, c in enumerate(rng.sample(CRITERIA, rng.randint(0, 3)))
    )
    agreements = FeeAgreement.objects.bulk_create(
        FeeAgreement(
            partner=p,
            currency=rng.choice(["GBP", "EUR"]),
            per_referral=Decimal(rng.choice([0, 0, 5])),
            per_accepted=Decimal(rng.choice([10, 25, 40])),
            per_conversion=Decimal(rng.choice([0, 100, 250])),
            percent_of_deal=Decimal(rng.choice([0, 5, 10])),
            percent_cap=Decimal(500),
            valid_from=timezone.localdate(now) - timedelta(days=400),
        )
        for p in created
    )
    FeeTier.objects.bulk_create(
        FeeTier(agreement=a, min_monthly_referrals=11, per_accepted=a.per_accepted + 10) for a in agreements[::5]
    )
    history_leads = Lead.objects.bulk_create(
        Lead(
            source=source,
            external_id=f"H{i}",
            email=f"h{i}@bench.example",
            status="referred",
            received_at=now,
            respond_by=now + timedelta(days=1),
        )
        for i in range(2000)
    )
    statuses = [ReferralStatus.DECLINED, ReferralStatus.EXPIRED, ReferralStatus.CONVERTED, ReferralStatus.LOST]
    referrals = []
    for n, p in enumerate(created):
        for k in range(20):
            sent = now - timedelta(days=rng.randint(0, 360) if k % 4 else rng.randint(0, 10))
            referrals.append(
                Referral(
                    lead=history_leads[(n * 20 + k) % len(history_leads)],
                    partner=p,
                    mode=ReferralMode.INTRODUCE,
                    status=rng.choice(statuses),
                    tracking_code=f"B{n:05d}{k:02d}",
                    link_key="bench",
                    sent_at=sent,
                )
            )
    Referral.objects.bulk_create(referrals, batch_size=5000)
    leads = Lead.objects.bulk_create(
        Lead(
            source=source,
            external_id=f"M{i}",
            email=f"m{i}@bench.example",
            country=COUNTRIES[i % len(COUNTRIES)],
            latitude=Decimal("51.5") + Decimal(rng.randint(-200, 200)) / 100 if i % 2 else None,
            longitude=Decimal("-0.1") + Decimal(rng.randint(-200, 200)) / 100 if i % 2 else None,
            budget=Decimal(rng.randint(200, 50_000)),
            budget_currency=rng.choice(["GBP", "EUR"]),
            credit_score=rng.choice([None, 420, 610, 720]),
            employees=rng.choice([None, 3, 40, 400]),
            phone=rng.choice(["", "+44 20 7000 0000"]),
            industry=rng.choice(["Retail", "Gambling", "Services"]),
            attributes={"years_trading": rng.randint(0, 6)},
            status="disqualified",
            primary_reason=rng.choice(reasons),
            received_at=now,
            respond_by=now + timedelta(days=1),
        )
        for i in range(50)
    )
    with connection.cursor() as cursor:
        for model in (Partner, Referral, FeeAgreement, PartnerCriterion, Lead):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return list(Lead.objects.select_related("primary_reason").filter(pk__in=[lead.pk for lead in leads]))


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_match(*, partners: int, requests: int = 200, baseline_requests: int = 20) -> dict:
    figures: dict = {}
    rng = random.Random(11)
    try:
        with transaction.atomic():
            leads = _setup(partners, rng)
            matching.catalogue_reset()
            started = time.perf_counter()
            matching.catalogue()
            build_ms = (time.perf_counter() - started) * 1000
            timings, found = [], []
            with CaptureQueriesContext(connection) as queries:
                result = matching.matches_for_lead(leads[0])
            for i in range(requests):
                lead = leads[i % len(leads)]
                started = time.perf_counter()
                result = matching.matches_for_lead(lead)
                timings.append((time.perf_counter() - started) * 1000)
                found.append(len(result.matches))
            baseline = []
            for i in range(baseline_requests):
                lead = leads[i % len(leads)]
                started = time.perf_counter()
                matching.catalogue_reset()
                matching.matches_for_lead(lead)
                baseline.append((time.perf_counter() - started) * 1000)
            median, base_median = statistics.median(timings), statistics.median(baseline)
            figures = {
                "partners": partners,
                "requests": requests,
                "median_ms": round(median, 2),
                "p95_ms": round(_percentile(timings, 95), 2),
                "queries_per_request": len(queries),
                "matches_per_lead_median": statistics.median(found),
                "catalogue_build_ms": round(build_ms, 1),
                "baseline_uncached_median_ms": round(base_median, 2),
                "ratio_vs_uncached": round(base_median / median, 1),
                "target_median_ms": 20,
            }
            raise _Rollback
    except _Rollback:
        pass
    finally:
        matching.catalogue_reset()
    return figures
