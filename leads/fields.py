"""The lead's data, described once: every field's name, kind, limits, label and help, where it goes (the edit page,
the CSV import, the API), the header spellings the import recognises, and the rules between fields.

Derived from here (and held to `Lead._meta` and to each other by tests/leads/test_fields.py):
- `DATA_FIELDS`: what the services accept as a lead's data; `EDITABLE_FIELDS`: the edit page's fields;
- `IMPORT_FIELDS`: the import's mapping choices and converters; `IMPORT_COLUMNS`: the Lead columns an import writes
  (its COPY lines, its staging table `StagedLead`, its updates);
- `API_FIELDS`: the intake API's flat properties (`leads.api.LeadIn` is built from them);
- `NUMBER_RANGES`: what a number can mean (the API, the form, the import and the services check it);
- `RULES`: the rules between fields, each a database `CheckConstraint` on Lead and a Python check that
  `lead_rules_problems` runs for the API, the edit form, the import and the services alike.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

TEXT_KINDS = frozenset({"text", "email", "country", "currency"})  # stored as "" when blank, never NULL
BUDGET_MAX = Decimal("999999999999.99")


@dataclass(frozen=True)
class LeadField:
    """One field as the lead's data knows it. `data`: a Lead column the services write as the lead's data (False:
    only a column of the import's file, such as first_name, or provenance the services set themselves)."""

    name: str
    kind: str  # text, email, bool, int, decimal, latitude, longitude, country, currency, datetime, json, consent
    label: str
    max_length: int | None = None
    low: int | Decimal | None = None
    high: int | Decimal | None = None
    help: str = ""
    data: bool = True
    editable: bool = False  # on the edit page
    importable: bool = True  # a column of the import's file may be mapped to it
    api: bool = True  # a property of the API's lead (consents come as an object of their own)
    aliases: tuple[str, ...] = ()  # the import's header spellings, besides the name with spaces

    @property
    def blank(self) -> Any:
        """What the field holds when nothing is known: "" for text, None for the rest ({} for attributes)."""
        return "" if self.kind in TEXT_KINDS else ({} if self.kind == "json" else None)

    @property
    def places(self) -> int | None:
        """Decimal places a decimal field keeps."""
        return {"decimal": 2, "latitude": 6, "longitude": 6}.get(self.kind)


def _f(name, kind, label, max_length=None, aliases=(), **options) -> LeadField:
    return LeadField(name, kind, label, max_length, aliases=tuple(aliases), **options)


FIELDS: tuple[LeadField, ...] = (
    _f("external_id", "text", "External id", 100, ["id", "external id", "lead id", "record id", "reference", "ref",
       "crm id", "contact id", "lead reference", "lead ref"], data=False, api=False),
    _f("email", "email", "Email", 254, ["email", "email address", "e mail", "e mail address", "work email",
       "business email", "contact email", "mail", "emailaddress"], editable=True),
    _f("name", "text", "Name", 200, ["name", "full name", "contact name", "contact", "your name", "lead name"],
       editable=True),
    _f("first_name", "text", "First name (joined into name)", 100,
       ["first name", "firstname", "given name", "forename", "first"], data=False, api=False),
    _f("last_name", "text", "Last name (joined into name)", 100,
       ["last name", "lastname", "surname", "family name", "last"], data=False, api=False),
    _f("company", "text", "Company", 200, ["company", "company name", "organisation", "organization",
       "organisation name", "organization name", "business", "business name", "account", "account name", "employer",
       "firm", "school", "institution"], editable=True),
    _f("title", "text", "Role / title", 200, ["title", "job title", "role", "position", "job role", "job",
       "job position"], editable=True),
    _f("is_decision_maker", "bool", "Decision maker", None, ["decision maker", "is decision maker", "budget holder",
       "decision maker yn"], editable=True),
    _f("phone", "text", "Phone", 50, ["phone", "phone number", "telephone", "tel", "mobile", "mobile number", "cell",
       "contact number"], editable=True),
    _f("country", "country", "Country", 2, ["country", "country code", "nation", "country region", "country iso"],
       help="ISO 3166-1 alpha-2, upper case.", editable=True),
    _f("postal_code", "text", "Postal code", 20, ["postal code", "postcode", "post code", "zip", "zip code",
       "zipcode"], editable=True),
    _f("latitude", "latitude", "Latitude", None, ["latitude", "lat"], low=Decimal(-90), high=Decimal(90),
       editable=True),
    _f("longitude", "longitude", "Longitude", None, ["longitude", "lon", "lng", "long"], low=Decimal(-180),
       high=Decimal(180), editable=True),
    _f("employees", "int", "Employees", None, ["employees", "no of employees", "no employees", "number of employees",
       "num employees", "nr of employees", "employee count", "headcount", "head count", "company size", "staff",
       "no of staff", "number of staff", "team size"], low=0, high=10_000_000, editable=True),
    _f("budget", "decimal", "Budget", None, ["budget", "budget amount", "annual budget", "spend", "deal size",
       "estimated budget", "monthly budget", "amount"], low=Decimal(0), high=BUDGET_MAX, editable=True),
    _f("budget_currency", "currency", "Budget currency", 3, ["currency", "budget currency", "ccy"],
       help="ISO 4217; required with a budget.", editable=True),
    _f("industry", "text", "Industry", 100, ["industry", "sector", "vertical", "line of business"], editable=True),
    _f("product_interest", "text", "Product interest", 200, ["product", "product interest", "interested in",
       "interest", "service", "product of interest", "service of interest", "course", "plan"], editable=True),
    _f("timeline", "text", "Timeline", 100, ["timeline", "timeframe", "time frame", "when", "buying timeline",
       "purchase timeline", "start date wanted"], help="When they want to buy, in their words.", editable=True),
    _f("credit_score", "int", "Credit score", None, ["credit score", "credit rating"], low=0, high=1000,
       editable=True),
    _f("message", "text", "Message", 10_000, ["message", "comments", "comment", "notes", "note", "enquiry", "inquiry",
       "description", "details", "your message", "question"], help="What they wrote to us.", editable=True),
    _f("attributes", "json", "Attributes", help="Anything else an ICP may test.", importable=False),
    _f("received_at", "datetime", "Received at", None, ["received", "received at", "date", "created", "created at",
       "created date", "submitted", "submitted at", "timestamp", "date received", "enquiry date", "date submitted"],
       data=False, api=False),
    _f("marketing_consent", "consent", "Marketing consent (yes/no or when given)", None, ["marketing consent",
       "marketing opt in", "opt in", "opted in", "newsletter", "consent marketing", "email opt in"], data=False,
       api=False),
    _f("marketing_consent_at", "datetime", "Marketing consent given at", importable=False, api=False),
    _f("marketing_consent_version", "text", "Marketing consent wording version", 50, ["marketing consent version",
       "marketing consent wording", "opt in version"], api=False),
    _f("partner_sharing_consent", "consent", "Partner-sharing consent (yes/no or when given)", None,
       ["partner consent", "partner sharing consent", "share with partners", "partner sharing", "consent to share",
        "third party consent"], data=False, api=False),
    _f("partner_sharing_consent_at", "datetime", "Partner-sharing consent given at", importable=False, api=False),
    _f("partner_sharing_consent_version", "text", "Partner-sharing consent wording version", 50,
       ["partner consent version", "partner sharing consent version", "partner consent wording"], api=False),
    _f("do_not_contact", "bool", "Do not contact", None, ["do not contact", "dnc", "unsubscribed", "opt out",
       "opted out", "no contact"], editable=True, api=False),
)  # fmt: skip
BY_NAME: dict[str, LeadField] = {f.name: f for f in FIELDS}

DATA_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.data)
EDITABLE_FIELDS: list[str] = [f.name for f in FIELDS if f.editable]
IMPORT_FIELDS: tuple[LeadField, ...] = tuple(f for f in FIELDS if f.importable)
# The Lead columns an import writes, in this order (pseudo-columns such as first_name or a consent map onto them).
IMPORT_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.data and f.kind != "json")
API_FIELDS: tuple[LeadField, ...] = tuple(f for f in FIELDS if f.data and f.api)
NUMBER_RANGES: dict[str, tuple[Any, Any]] = {
    f.name: (f.low, f.high) for f in FIELDS if f.kind in ("int", "latitude", "longitude")
}


# Rules between fields -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A rule between fields: `condition` is the database's CheckConstraint on Lead, `holds` the same test on a
    dict of values (missing = blank); when it fails, `message` is reported on `field`."""

    name: str
    fields: tuple[str, ...]
    field: str
    message: str
    condition: Q
    holds: Callable[[Mapping[str, Any]], bool]


RULES: tuple[Rule, ...] = (
    Rule(
        name="lead_budget_needs_currency",
        fields=("budget", "budget_currency"),
        field="budget_currency",
        message="Required when a budget is given.",
        condition=Q(budget__isnull=True) | ~Q(budget_currency=""),
        holds=lambda v: v.get("budget") is None or bool(v.get("budget_currency")),
    ),
    Rule(
        name="lead_latitude_with_longitude",
        fields=("latitude", "longitude"),
        field="longitude",
        message="Give latitude and longitude together.",
        condition=Q(latitude__isnull=True, longitude__isnull=True) | Q(latitude__isnull=False, longitude__isnull=False),
        holds=lambda v: (v.get("latitude") is None) == (v.get("longitude") is None),
    ),
)


def lead_rules_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field -> messages for each rule between fields that `values` (a lead's fields by name; a missing one is
    blank) breaks. The API, the edit form, the import and the services all ask this, so none accepts what another
    refuses; the database holds the same rules as constraints."""
    problems: dict[str, list[str]] = {}
    for rule in RULES:
        if not rule.holds(values):
            problems.setdefault(rule.field, []).append(rule.message)
    return problems
