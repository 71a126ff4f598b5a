"""Demo leads for the five examples in DESIGN.md; deterministic, and idempotent by external id."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.models import Lead, LeadSource
from leads.services import lead_create

SOURCES = [
    ("web-form", "Website form", 24),
    ("live-chat", "Live chat", 4),
    ("webinar", "Partner webinar", 48),
    ("trade-show", "Trade-show list", 72),
]

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


def seed_sources() -> dict[str, LeadSource]:
    sources = {}
    for slug, name, sla in SOURCES:
        sources[slug], _ = LeadSource.objects.get_or_create(slug=slug, defaults={"name": name, "sla_hours": sla})
    return sources


def demo_lead_fields(i: int, rng: random.Random) -> tuple[str, dict]:
    example = list(EXAMPLES)[i % len(EXAMPLES)]
    spec = EXAMPLES[example]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = rng.choice(spec["companies"])
    domain = (company or f"{last}-mail").lower().replace(" ", "").replace("&", "and")
    fields = {
        "external_id": f"demo-{i:06d}",
        "email": f"{first}.{last}.{i}@{domain}.example".lower(),
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
    """Create the first `count` demo leads that do not exist yet; returns how many were created."""
    sources = seed_sources()
    existing = set(Lead.objects.filter(external_id__startswith="demo-").values_list("external_id", flat=True))
    rng = random.Random(seed)
    now = timezone.now()
    created = 0
    for i in range(count):
        _, fields = demo_lead_fields(i, rng)
        received_at = now - timedelta(minutes=rng.randint(5, 60 * 24 * 60))
        source = sources[SOURCES[rng.randrange(len(SOURCES))][0]]
        if fields["external_id"] in existing:
            continue
        if fields.pop("marketing_consent_version", None):
            fields |= {"marketing_consent_version": "web-2026-03", "marketing_consent_at": received_at}
        if fields.pop("partner_sharing_consent_version", None):
            fields |= {"partner_sharing_consent_version": "partner-2026-03", "partner_sharing_consent_at": received_at}
        lead_create(source=source, fields=fields, received_at=received_at, actor_label="seed_demo")
        created += 1
    return created
