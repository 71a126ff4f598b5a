"""Demo partners for the five examples, with realistic fee terms and regions, and some referral history
made through the real services (backdated), so the pages, the ledger and the timelines have content."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.models import DisqualificationReason, Lead, LeadStatus
from outbox.models import MessageStatus, OutboundMessage
from partners import matching, services
from partners.models import FeeAgreement, FeeTier, Partner, PartnerContact, PartnerCriterion, Referral

D = Decimal
# slug: name, kind, grade, status, description, countries, (lat, lon, km) or None, reasons, capacity,
#       criteria [(label, field, operator, value, value_type)], agreement {...}, tiers [(from, {...})]
PARTNERS = {
    "bridgeway-finance": (
        "Bridgeway Business Finance",
        "lender",
        "A",
        "active",
        "Alternative lender for young and credit-building small businesses.",
        ["GB", "IE"],
        None,
        ["credit", "timing", "budget"],
        40,
        [("Credit score 450+", "credit_score", "gte", 450, "number")],
        {"currency": "GBP", "per_accepted": D("50"), "percent_of_deal": D("1.5"), "percent_cap": D("1500")},
        [(11, {"per_accepted": D("75")})],
    ),
    "clearpath-credit": (
        "ClearPath Credit Repair",
        "credit_repair",
        "B",
        "active",
        "Helps business owners rebuild their credit file within six months.",
        ["GB"],
        None,
        ["credit"],
        None,
        [],
        {"currency": "GBP", "per_referral": D("5"), "per_conversion": D("60")},
        [],
    ),
    "harbour-microloans": (
        "Harbour Micro-Loans",
        "lender",
        "B",
        "active",
        "Micro-loans from £1,000 to £25,000 for sole traders.",
        ["GB", "IE"],
        None,
        ["budget", "company-size"],
        25,
        [("Loan up to 25,000", "budget", "lte", 25000, "number")],
        {"currency": "GBP", "per_accepted": D("30"), "per_conversion": D("120")},
        [],
    ),
    "maison-abordable": (
        "Maison Abordable",
        "brand",
        "A",
        "active",
        "Well-made leather goods under €200.",
        ["FR", "IT", "DE", "GB", "US"],
        None,
        ["budget"],
        None,
        [],
        {"currency": "EUR", "percent_of_deal": D("8"), "percent_cap": D("40")},
        [],
    ),
    "second-life-leather": (
        "Second Life Leather",
        "brand",
        "C",
        "active",
        "Restored pre-owned designer bags with a warranty.",
        ["FR", "DE", "GB"],
        None,
        ["budget", "wrong-need"],
        None,
        [],
        {"currency": "EUR", "percent_of_deal": D("5"), "percent_cap": D("25")},
        [],
    ),
    "ledgerly": (
        "Ledgerly",
        "software",
        "A",
        "active",
        "Accounting and stock software for small teams; live in a day.",
        [],
        None,
        ["company-size", "budget"],
        60,
        [("Fewer than 100 staff", "employees", "lt", 100, "number")],
        {"currency": "USD", "per_conversion": D("150"), "percent_of_deal": D("20"), "percent_cap": D("2000")},
        [(21, {"percent_of_deal": D("25")})],
    ),
    "northbridge-erp": (
        "Northbridge ERP Partners",
        "consultancy",
        "B",
        "active",
        "Implementation partner for mid-size manufacturers and logistics firms.",
        ["GB", "DE", "NL", "SE"],
        None,
        ["wrong-need", "timing"],
        15,
        [("50+ staff", "employees", "gte", 50, "number")],
        {"currency": "USD", "per_accepted": D("200"), "percent_of_deal": D("5"), "percent_cap": D("5000")},
        [],
    ),
    "oxford-fitness": (
        "Oxford Fitness Collective",
        "gym",
        "A",
        "active",
        "Independent gym and studio in central Oxford; evening classes.",
        [],
        (D("51.752000"), D("-1.257700"), D("15")),
        ["geography"],
        None,
        [],
        {"currency": "GBP", "per_conversion": D("25")},
        [],
    ),
    "bristol-harbourside": (
        "Bristol Harbourside Gym",
        "gym",
        "B",
        "active",
        "Harbourside gym with a pool and parking.",
        [],
        (D("51.454500"), D("-2.587900"), D("12")),
        ["geography"],
        None,
        [],
        {"currency": "GBP", "per_conversion": D("20")},
        [],
    ),
    "brum-barbell": (
        "Brum Barbell",
        "gym",
        "B",
        "active",
        "Strength gym in Birmingham city centre.",
        [],
        (D("52.486200"), D("-1.890400"), D("10")),
        ["geography"],
        None,
        [],
        {"currency": "GBP", "per_conversion": D("20")},
        [],
    ),
    "foundations-academy": (
        "Foundations Academy",
        "training",
        "A",
        "active",
        "Self-paced maths and Python foundations; the step before advanced courses.",
        [],
        None,
        ["prerequisites", "budget"],
        None,
        [],
        {"currency": "USD", "percent_of_deal": D("15"), "percent_cap": D("60")},
        [],
    ),
    "quickfund-direct": (
        "Quickfund Direct",
        "lender",
        "C",
        "paused",
        "Short-term trade finance (paused while their terms are renegotiated).",
        ["GB"],
        None,
        ["credit", "budget"],
        10,
        [],
        {"currency": "GBP", "per_accepted": D("40")},
        [],
    ),
}
# Which example business line (a lead's attributes.business_line) each kind of partner takes.
LINES = {
    "lender": "bank",
    "credit_repair": "bank",
    "brand": "fashion",
    "software": "software",
    "consultancy": "software",
    "gym": "gym",
    "training": "elearning",
}
LINE_LABELS = {
    "bank": "a business loan",
    "fashion": "a handbag",
    "software": "business software",
    "gym": "a gym membership",
    "elearning": "a course",
}
CONTACT_NAMES = ["Alex Morgan", "Priya Shah", "Jonas Weber", "Claire Dubois", "Tom Becker", "Mia Rossi"]


def seed_partners() -> dict[str, Partner]:
    reasons = {r.code: r for r in DisqualificationReason.objects.all()}
    today = timezone.localdate()
    partners = {}
    for n, (slug, spec) in enumerate(PARTNERS.items()):
        (name, kind, grade, status, description, countries, point, reason_codes, capacity, criteria, terms, tiers) = (
            spec
        )
        domain = slug.replace("-", "") + ".example"
        partner, created = Partner.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "grade": grade,
                "status": status,
                "description": description,
                "website": f"https://www.{domain}",
                "public_email": f"hello@{domain}",
                "public_phone": f"+44 20 7946 0{n:03d}",
                "countries": countries,
                "latitude": point[0] if point else None,
                "longitude": point[1] if point else None,
                "radius_km": point[2] if point else None,
                "monthly_capacity": capacity,
                "acceptance_window_hours": 72,
            },
        )
        partners[slug] = partner
        if not created:
            continue
        partner.accepted_reasons.set([reasons[c] for c in reason_codes if c in reasons])
        PartnerContact.objects.create(
            partner=partner, name=CONTACT_NAMES[n % len(CONTACT_NAMES)], email=f"partners@{domain}", role="Partnerships"
        )
        line = LINES[kind]  # partners take leads of their line of business only
        criteria = [(f"Came to us for {LINE_LABELS[line]}", "attributes.business_line", "eq", line, "text"), *criteria]
        for position, (label, field, operator, value, value_type) in enumerate(criteria):
            PartnerCriterion.objects.create(
                partner=partner,
                position=position,
                label=label,
                field=field,
                operator=operator,
                value=value,
                value_type=value_type,
            )
        # An earlier agreement that ended, and the one in force (so the snapshot story is visible).
        FeeAgreement.objects.create(
            partner=partner,
            valid_from=today - timedelta(days=540),
            valid_to=today - timedelta(days=181),
            payment_terms_days=30,
            **{**terms, **{k: v * D("0.8") for k, v in terms.items() if k.startswith("per_")}},
        )
        agreement = FeeAgreement.objects.create(
            partner=partner, valid_from=today - timedelta(days=180), payment_terms_days=30, **terms
        )
        for threshold, overrides in tiers:
            FeeTier.objects.create(agreement=agreement, min_monthly_referrals=threshold, **overrides)
        partner.save(update_fields=["updated_at"])
    return partners


@transaction.atomic
def seed_referral_history(*, seed: int = 20261123, limit: int = 80) -> int:
    """Refer some non-qualified demo leads through the services, backdated over the last weeks, with
    partners accepting, declining, converting and losing some. Runs once: skipped when referrals exist."""
    if Referral.objects.exists():
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    candidates = list(
        Lead.objects.filter(
            external_id__startswith="demo-",
            status__in=[LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW],
            received_at__lt=now - timedelta(days=3),
        )
        .select_related("primary_reason", "source")
        .order_by("received_at")[: limit * 3]
    )
    made = 0
    matching.catalogue_reset()
    for lead in candidates:
        if made >= limit:
            break
        roll = rng.random()
        waiting = 0.15 <= roll < 0.25  # introductions still inside their acceptance window
        days_ago = timedelta(hours=rng.randint(2, 40)) if waiting else timedelta(days=rng.randint(4, 40))
        sent_at = max(lead.received_at + timedelta(hours=2), now - days_ago)
        result = matching.matches_for_lead(lead, limit=2, now=sent_at)
        if not result.matches:
            continue
        partner = Partner.objects.get(pk=result.matches[0].partner.id)
        mode = "introduce" if lead.has_partner_sharing_consent else "signpost"
        try:
            referral = services.referral_send(
                lead=lead, partner=partner, mode=mode, actor_label="seed_demo", now=sent_at
            )
        except services.ReferralError:
            continue
        made += 1
        later = sent_at + timedelta(hours=rng.randint(2, 60))
        label = f"partner:{partner.slug}"
        currency = referral.fee_terms.get("currency", "GBP")
        deal = D(rng.randint(2, 400) * 50) if currency != "GBP" or partner.kind != "gym" else D("39.00") * 12
        if mode == "introduce":
            if roll < 0.15:
                services.referral_decline(
                    referral=referral, reason="Outside what we take on", actor_label=label, now=later
                )
                continue
            if waiting:
                continue
            services.referral_accept(referral=referral, actor_label=label, now=later)
            if roll < 0.55:
                continue
        elif roll < 0.5:
            continue
        outcome_at = later + timedelta(days=rng.randint(1, 3))
        if outcome_at > now:
            continue
        if roll < 0.85:
            services.referral_convert(
                referral=referral, deal_value=deal, currency=currency, actor_label=label, now=outcome_at
            )
        else:
            services.referral_lose(
                referral=referral, reason="Went with another provider", actor_label=label, now=outcome_at
            )
    # History: these emails went out at the time.
    OutboundMessage.objects.filter(status=MessageStatus.QUEUED).update(status=MessageStatus.SENT, sent_at=now)
    return made
