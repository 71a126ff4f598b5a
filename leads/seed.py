"""Demo leads for the five examples in DESIGN.md; deterministic, and idempotent by external id."""

import random
import unicodedata
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.models import Criterion, DisqualificationReason, ICPProfile, ICPVersion, ICPVersionStatus, Lead, LeadSource
from leads.services import lead_create, leads_evaluate_bulk

# One inbound source per example business line, each with its response SLA (hours).
SOURCES = [
    ("bank-web", "Bank: loan enquiries", 24, "bank"),
    ("fashion-web", "Fashion: boutique enquiries", 48, "fashion"),
    ("software-web", "Software: demo requests", 8, "software"),
    ("gym-web", "Gym: membership enquiries", 24, "gym"),
    ("elearning-web", "E-learning: course enquiries", 48, "elearning"),
]

REASONS = [
    # code, label, redirect kinds, non-buyer, description
    ("budget", "Budget too small", ["refer", "nurture", "help"], False, "Cannot afford us today."),
    ("geography", "Outside our area", ["refer", "help"], False, "We do not serve where they are."),
    ("company-size", "Company too small or too large", ["refer", "nurture"], False, "Not our size of customer."),
    ("credit", "Credit profile", ["refer", "nurture"], False, "Below our lending criteria."),
    ("prerequisites", "Lacks prerequisites", ["refer", "nurture", "help"], False, "Not ready for this level."),
    ("timing", "Not ready yet", ["nurture", "help"], False, "Buying later, not now."),
    ("not-decision-maker", "Not the decision-maker", ["nurture", "help"], False, "Someone else decides."),
    ("wrong-need", "Needs something we do not sell", ["refer", "help"], False, "A better fit elsewhere."),
    ("non-buyer", "Not a buyer (press, job seeker, vendor)", ["help", "close"], True, "Help them, no sale."),
]

# Profiles: (slug, name, description, qualified_min, review_min, criteria); a criterion is
# (label, field, operator, value, value_type, hard, weight, reason, what would qualify).
PROFILES = {
    "bank": (
        "bank-lending",
        "Small-business lending",
        "Established small businesses in the UK and Ireland.",
        70,
        40,
        [
            (
                "Credit score",
                "credit_score",
                "gte",
                600,
                "number",
                True,
                0,
                "credit",
                "A credit score of 600 or more; a credit-repair partner can help get there.",
            ),
            (
                "Trades in the UK or Ireland",
                "country",
                "in",
                ["GB", "IE"],
                "text",
                True,
                0,
                "geography",
                "A business registered in the UK or Ireland.",
            ),
            (
                "Trading for 2+ years",
                "attributes.years_trading",
                "gte",
                2,
                "number",
                False,
                30,
                "timing",
                "Two years of trading accounts.",
            ),
            (
                "Loan size we offer",
                "budget",
                "between",
                [10000, 250000],
                "number",
                False,
                40,
                "budget",
                "A loan between £10,000 and £250,000.",
            ),
            (
                "Talking to the owner",
                "is_decision_maker",
                "eq",
                True,
                "boolean",
                False,
                30,
                "not-decision-maker",
                "The owner or a director applies.",
            ),
        ],
    ),
    "fashion": (
        "fashion-luxury",
        "Luxury leather goods",
        "Shoppers for our atelier pieces in our markets.",
        60,
        30,
        [
            (
                "Ships to their country",
                "country",
                "in",
                ["FR", "IT", "DE", "GB"],
                "text",
                True,
                0,
                "geography",
                "An address in France, Italy, Germany or the UK.",
            ),
            (
                "Budget for a piece",
                "budget",
                "gte",
                500,
                "number",
                False,
                60,
                "budget",
                "A budget of €500 or more; our partner brand starts at €80.",
            ),
            ("Buying soon", "timeline", "in", ["now", "this month"], "text", False, 40, "timing", "Buying this month."),
        ],
    ),
    "software": (
        "software-erp",
        "Enterprise ERP",
        "Mid-size and large companies replacing their ERP.",
        70,
        40,
        [
            (
                "200+ employees",
                "employees",
                "gte",
                200,
                "number",
                True,
                0,
                "company-size",
                "200 employees or more; smaller teams do better with a start-up tool.",
            ),
            (
                "Budget for a project",
                "budget",
                "gte",
                50000,
                "number",
                False,
                40,
                "budget",
                "A project budget of $50,000 or more.",
            ),
            (
                "A decision-maker",
                "is_decision_maker",
                "eq",
                True,
                "boolean",
                False,
                30,
                "not-decision-maker",
                "Someone who signs: CTO, head of operations, founder.",
            ),
            (
                "Buying this quarter",
                "timeline",
                "in",
                ["now", "this month", "this quarter"],
                "text",
                False,
                30,
                "timing",
                "A project starting this quarter.",
            ),
        ],
    ),
    "gym": (
        "gym-london",
        "Gym membership, central London",
        "People who live or work near our clubs.",
        60,
        30,
        [
            (
                "Lives within 15 km",
                "location",
                "within_km",
                {"lat": 51.5074, "lon": -0.1278, "km": 15},
                "number",
                True,
                0,
                "geography",
                "Living or working within 15 km of central London.",
            ),
            (
                "Monthly budget",
                "budget",
                "gte",
                40,
                "number",
                False,
                100,
                "budget",
                "£40 a month or more; our partner's off-peak plans start at £15.",
            ),
        ],
    ),
    "elearning": (
        "elearning-advanced",
        "Advanced ML course",
        "Learners ready for graduate-level ML.",
        60,
        30,
        [
            (
                "Has the prerequisites",
                "attributes.has_prerequisites",
                "eq",
                True,
                "boolean",
                True,
                0,
                "prerequisites",
                "Linear algebra and Python; our partner's beginner track teaches both.",
            ),
            ("Course budget", "budget", "gte", 300, "number", False, 60, "budget", "A budget of $300 or more."),
            (
                "Starting soon",
                "timeline",
                "in",
                ["now", "this month"],
                "text",
                False,
                40,
                "timing",
                "Starting this month.",
            ),
        ],
    ),
}

FIRST = [
    "Amara",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elif",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jia",
    "Kwame",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
    "Zoë",
]
LAST = [
    "Okafor",
    "Schmidt",
    "Dubois",
    "Ivanov",
    "Yılmaz",
    "Haddad",
    "Pereira",
    "Sato",
    "Novak",
    "Chen",
    "Mensah",
    "Larsen",
    "García",
    "Rahman",
    "Lindqvist",
    "Patel",
    "Moreau",
    "Rossi",
    "Berg",
    "Aziz",
    "Iyer",
    "Kovač",
    "Li",
    "Demir",
    "Müller",
]

# One profile per example business line: what the leads of that line look like.
EXAMPLES = {
    "bank": {
        "product": "Small-business loan",
        "companies": ["Corner Bakery", "Riverside Plumbing", "Nguyen Nails", "Fresh Fold Laundry", "Peak Bikes"],
        "industries": ["retail", "trades", "services", "hospitality"],
        "countries": ["GB", "IE"],
        "currency": "GBP",
        "budget": (5_000, 250_000),
        "employees": (1, 40),
        "titles": ["Owner", "Co-founder", "Bookkeeper"],
        "messages": ["We need working capital for a second shop.", "Looking to refinance equipment."],
    },
    "fashion": {
        "product": "Leather handbags",
        "companies": [""],
        "industries": ["consumer"],
        "countries": ["FR", "IT", "DE", "GB", "US"],
        "currency": "EUR",
        "budget": (80, 4_000),
        "employees": None,
        "titles": [""],
        "messages": ["Do you have anything under €200?", "Looking for a gift for my mother."],
    },
    "software": {
        "product": "Enterprise resource planning",
        "companies": [
            "Brightloop",
            "Kettle & Co",
            "Nordwave Logistics",
            "Quanta Health",
            "Tiny Robot Labs",
            "Helios Manufacturing",
            "Ferncroft Retail",
            "Atlas Freight",
        ],
        "industries": ["logistics", "manufacturing", "healthcare", "retail", "software"],
        "countries": ["US", "GB", "DE", "NL", "SE", "IN"],
        "currency": "USD",
        "budget": (2_000, 400_000),
        "employees": (2, 5_000),
        "titles": ["CTO", "Head of Operations", "Founder", "IT manager", "Procurement lead", "Intern"],
        "messages": ["We are outgrowing spreadsheets.", "Can we get a demo next quarter?"],
    },
    "gym": {
        "product": "Gym membership",
        "companies": [""],
        "industries": ["consumer"],
        "countries": ["GB"],
        "currency": "GBP",
        "budget": (15, 90),
        "employees": None,
        "titles": [""],
        "messages": ["Do you have classes in the evening?", "Is there parking?"],
    },
    "elearning": {
        "product": "Advanced machine learning course",
        "companies": ["", "", "Self-employed"],
        "industries": ["education"],
        "countries": ["IN", "NG", "US", "BR", "GB", "PL"],
        "currency": "USD",
        "budget": (0, 900),
        "employees": None,
        "titles": ["Student", "Analyst", "Career changer"],
        "messages": ["Is the course suitable if I have not done linear algebra?", "Do you offer certificates?"],
    },
}

TIMELINES = ["now", "this month", "this quarter", "next year", "just researching"]
# Rough points around London for the gym example (distance criteria come with the ICP engine).
GYM_POINTS = [
    (Decimal("51.507400"), Decimal("-0.127800")),
    (Decimal("51.752000"), Decimal("-1.257700")),
    (Decimal("52.486200"), Decimal("-1.890400")),
    (Decimal("51.454500"), Decimal("-2.587900")),
]


def seed_reasons() -> dict[str, DisqualificationReason]:
    reasons = {}
    for position, (code, label, kinds, non_buyer, description) in enumerate(REASONS):
        reasons[code], _ = DisqualificationReason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "redirect_kinds": kinds,
                "is_non_buyer": non_buyer,
                "description": description,
                "position": position,
            },
        )
    return reasons


def seed_profiles(reasons: dict[str, DisqualificationReason]) -> dict[str, ICPProfile]:
    """One published ICP version per example (set up directly: seeding is not a publication)."""
    profiles = {}
    for example, (slug, name, description, qualified_min, review_min, criteria) in PROFILES.items():
        profile, created = ICPProfile.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
        profiles[example] = profile
        if not created or profile.versions.exists():
            continue
        version = ICPVersion.objects.create(
            profile=profile,
            number=1,
            status=ICPVersionStatus.PUBLISHED,
            qualified_min=qualified_min,
            review_min=review_min,
            published_at=timezone.now(),
            notes="Seeded for the demo.",
        )
        for position, (label, field, op, value, value_type, hard, weight, reason, qualify) in enumerate(criteria):
            Criterion.objects.create(
                version=version,
                position=position,
                label=label,
                field=field,
                operator=op,
                value=value,
                value_type=value_type,
                hard=hard,
                weight=weight,
                reason=reasons[reason],
                what_would_qualify=qualify,
            )
    return profiles


def seed_sources() -> dict[str, LeadSource]:
    profiles = seed_profiles(seed_reasons())
    sources = {}
    for slug, name, sla, example in SOURCES:
        sources[example], _ = LeadSource.objects.get_or_create(
            slug=slug, defaults={"name": name, "sla_hours": sla, "icp_profile": profiles[example]}
        )
    return sources


def _ascii(text: str) -> str:
    text = text.translate(str.maketrans({"ı": "i", "ø": "o", "ł": "l", "ß": "ss", "æ": "ae", "đ": "d"}))
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def demo_lead_fields(i: int, rng: random.Random) -> tuple[str, dict]:
    example = list(EXAMPLES)[i % len(EXAMPLES)]
    spec = EXAMPLES[example]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = rng.choice(spec["companies"])
    domain = (company or f"{last}-mail").lower().replace(" ", "").replace("&", "and")
    fields = {
        "external_id": f"demo-{i:06d}",
        "email": _ascii(f"{first}.{last}.{i}@{domain}.example".lower()),  # Zoë -> zoe: addresses are ASCII
        "name": f"{first} {last}",
        "company": company,
        "title": rng.choice(spec["titles"]),
        "country": rng.choice(spec["countries"]),
        "budget": Decimal(rng.randint(*spec["budget"])).quantize(Decimal("1.00")),
        "budget_currency": spec["currency"],
        "industry": rng.choice(spec["industries"]),
        "product_interest": spec["product"],
        "timeline": rng.choice(TIMELINES),
        "message": rng.choice(spec["messages"]),
        "attributes": {"business_line": example},
    }
    if spec["employees"]:
        fields["employees"] = rng.randint(*spec["employees"])
    if spec["titles"] != [""]:
        fields["is_decision_maker"] = fields["title"] not in ("Intern", "Bookkeeper", "Analyst", "IT manager")
    if example == "bank":
        fields["credit_score"] = rng.randint(420, 820)
        fields["attributes"]["years_trading"] = rng.randint(0, 15)
    if example == "gym":
        lat, lon = rng.choice(GYM_POINTS)
        fields["latitude"] = lat + Decimal(rng.randint(-200, 200)) / 10_000
        fields["longitude"] = lon + Decimal(rng.randint(-200, 200)) / 10_000
        fields["postal_code"] = f"{rng.choice(['SW', 'OX', 'B', 'BS'])}{rng.randint(1, 20)} {rng.randint(1, 9)}AB"
    if example == "elearning":
        fields["attributes"]["has_prerequisites"] = rng.random() < 0.4
    if rng.random() < 0.55:
        fields["marketing_consent_version"] = "web-2026-03"
    if rng.random() < 0.45:
        fields["partner_sharing_consent_version"] = "partner-2026-03"
    return example, fields


@transaction.atomic
def seed_leads(*, count: int, seed: int = 20261122) -> int:
    """Create the first `count` demo leads that do not exist yet, checked against their ICP in bulk;
    returns how many were created."""
    sources = seed_sources()
    existing = set(Lead.objects.filter(external_id__startswith="demo-").values_list("external_id", flat=True))
    rng = random.Random(seed)
    now = timezone.now()
    new_ids = []
    for i in range(count):
        example, fields = demo_lead_fields(i, rng)
        received_at = now - timedelta(minutes=rng.randint(5, 60 * 24 * 60))
        if fields["external_id"] in existing:
            continue
        if fields.pop("marketing_consent_version", None):
            fields |= {"marketing_consent_version": "web-2026-03", "marketing_consent_at": received_at}
        if fields.pop("partner_sharing_consent_version", None):
            fields |= {"partner_sharing_consent_version": "partner-2026-03", "partner_sharing_consent_at": received_at}
        lead = lead_create(source=sources[example], fields=fields, received_at=received_at, actor_label="seed_demo")
        new_ids.append(lead.pk)
    for start in range(0, len(new_ids), 5000):
        leads_evaluate_bulk(queryset=Lead.objects.filter(pk__in=new_ids[start : start + 5000]), actor_label="seed_demo")
    return len(new_ids)
