"""Lead intake API: `POST /api/v1/leads` (create or update, then evaluate) and `GET /api/v1/leads/{external_id}`."""

import math
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Field, Path, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer
from ninja.throttling import SimpleRateThrottle
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from common.limits import problem_sentence, unstorable_json
from common.money import CURRENCY_CODES, currency_code
from leads import selectors
from leads.apikeys import api_key_authenticate
from leads.models import ApiKey, Lead
from leads.services import lead_intake
from leads.services.base import EARLIEST_DATE, NUMBER_RANGES, date_problem, number_problem


class ApiKeyHeader(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        return api_key_authenticate(key or "")


class ApiKeyBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return api_key_authenticate(token)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per key (e.g. "120/m"), counted in the cache."""

    scope = "apikey"

    def __init__(self):
        self.rate = None

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.API_RATE_LIMIT
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)

    def get_cache_key(self, request: HttpRequest) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


router = Router(auth=[ApiKeyHeader(), ApiKeyBearer()], throttle=[ApiKeyRateThrottle()], tags=["leads"])

# Strings anywhere in a request body: no NUL character (PostgreSQL cannot store it). The schema says so with this
# pattern; `InputSchema` refuses it with a message naming the field.
NO_NUL_PATTERN = "^[^\\u0000]*$"
_PATTERN_FREE = {"pattern", "format", "enum", "const"}


def _no_nul_pattern(node) -> None:
    if isinstance(node, list):
        for child in node:
            _no_nul_pattern(child)
    elif isinstance(node, dict):
        if node.get("type") == "string" and not _PATTERN_FREE & node.keys():
            node["pattern"] = NO_NUL_PATTERN
        if isinstance(node.get("propertyNames"), dict):  # a dict's keys: strings, whether the schema says so or not
            node["propertyNames"].setdefault("pattern", NO_NUL_PATTERN)
        for key in ("anyOf", "oneOf", "allOf", "items", "prefixItems", "additionalProperties"):
            _no_nul_pattern(node.get(key))
        for child in (node.get("properties") or {}).values():
            _no_nul_pattern(child)


class InputSchema(Schema):
    """A request body: unknown keys refused, and no string in it (a dict's keys included) that the database cannot
    store — a 422 naming the field, never a database error."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema, model: _no_nul_pattern(schema))

    @field_validator("*", mode="before")
    @classmethod
    def storable(cls, value, info: ValidationInfo):
        found = unstorable_json(value, info.field_name)
        if found:
            where, problem = found
            raise ValueError(problem_sentence(problem, "" if where == info.field_name else where))
        return value


def _date_time(field: str):
    """A strict RFC 3339 date-time (`format: date-time`, the time zone required) within the dates accepted for
    `field` (leads.services.date_range)."""

    def check(value):
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise ValueError("Give a date and time with its time zone, like 2026-11-23T14:30:00Z.")
        return value

    def in_range(value: datetime) -> datetime:
        problem = date_problem(field, value)
        if problem:
            raise ValueError(problem)
        return value

    earliest = f"{EARLIEST_DATE:%Y-%m-%d}"
    ahead = "a day" if field == "received_at" else "a few minutes"
    return Annotated[
        AwareDatetime,
        BeforeValidator(check),
        AfterValidator(in_range),
        Field(description=f"RFC 3339 with a time zone; from {earliest} to at most {ahead} ahead of now."),
    ]


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _whole(field: str):
    """A JSON integer within leads.services.NUMBER_RANGES[field]: 12 or 12.0 (JSON Schema's integers), never 12.5,
    "12" or true."""
    low, high = NUMBER_RANGES[field]

    def parse(value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Give a whole number.")
        if not low <= value <= high:
            raise ValueError(number_problem(field, value))
        return value

    return Annotated[int, PlainValidator(parse), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def _coordinate(field: str):
    """A JSON number within NUMBER_RANGES[field], kept to 6 decimal places (about 10 cm)."""
    low, high = NUMBER_RANGES[field]

    def parse(value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("Give a number.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("Give a finite number.")
        number = Decimal(repr(value))
        if not low <= number <= high:  # first: a huge number cannot even be rounded to 6 places
            raise ValueError(number_problem(field, number))
        return number.quantize(Decimal("0.000001"), ROUND_HALF_UP)

    return Annotated[
        Decimal,
        PlainValidator(parse),
        WithJsonSchema({"type": "number", "minimum": float(low), "maximum": float(high)}),
        Field(description="Decimal degrees, rounded to 6 places."),
    ]


BUDGET_MAX = Decimal("999999999999.99")
_AMOUNT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def _amount(value) -> Decimal:
    """A budget: a JSON number (float noise such as 0.30000000000000004 read as 0.30, a real third decimal
    refused) or text of digits with at most two decimals — the exact way."""
    if isinstance(value, str):
        if not _AMOUNT_TEXT.fullmatch(value):
            raise ValueError('Give the amount as a number, or as text like "12500.50" (at most two decimals).')
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Give a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Give a finite number.")
    amount = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    cents = amount.quantize(_CENT, ROUND_HALF_UP) if abs(amount) <= BUDGET_MAX * 10 else amount
    if isinstance(value, float) and cents != amount and abs(float(cents) - value) > 4 * math.ulp(value):
        raise ValueError("At most two decimal places (an amount in cents).")
    if not 0 <= cents <= BUDGET_MAX:
        raise ValueError(f"Must be between 0 and {BUDGET_MAX}.")
    return cents


Amount = Annotated[
    Decimal,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(BUDGET_MAX), "multipleOf": 0.01},
                {"type": "string", "pattern": f"^{_AMOUNT_TEXT.pattern}$"},
            ]
        }
    ),
]
Text = Annotated[str, Field(max_length=200)]
AttributeKey = Annotated[str, Field(min_length=1, max_length=100)]
_SCALARS = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]


def _scalar(value) -> bool:
    return value is None or isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value))


def _attribute(value):
    """An attribute's value: text, a (finite) number, true/false or null, or a list of them; one message if not."""
    if _scalar(value) or (isinstance(value, list) and all(_scalar(item) for item in value)):
        return value
    raise ValueError("Give text, a finite number, true/false or null, or a list of them.")


AttributeValue = Annotated[
    Any,
    PlainValidator(_attribute),
    WithJsonSchema({"anyOf": [*_SCALARS, {"type": "array", "items": {"anyOf": _SCALARS}}]}),
]


class ConsentIn(InputSchema):
    given_at: _date_time("consent")
    wording_version: Annotated[str, Field(min_length=1, max_length=50)]


class ConsentsIn(InputSchema):
    marketing: ConsentIn | None = None
    partner_sharing: ConsentIn | None = None


class LeadIn(InputSchema):
    """An inbound lead. `external_id` is your id for it: sending it again updates the lead."""

    external_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            # not blank: at least one character that is not a space (or a character Python strips as one)
            json_schema_extra={"pattern": "^[^\\u0000]*[^\\s\\u0000\\u001c-\\u001f\\u0085\\ufeff][^\\u0000]*$"},
        ),
    ]
    email: Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"})]
    name: Text = ""
    company: Text = ""
    title: Text = ""
    is_decision_maker: Annotated[bool, Field(strict=True)] | None = None
    phone: Annotated[str, Field(max_length=50)] = ""
    country: Annotated[
        str, Field(description="ISO 3166-1 alpha-2", json_schema_extra={"pattern": "^([A-Za-z]{2})?$"})
    ] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    latitude: _coordinate("latitude") | None = None
    longitude: Annotated[_coordinate("longitude") | None, Field(validate_default=True)] = None
    employees: _whole("employees") | None = None
    budget: Amount | None = None
    budget_currency: Annotated[
        str,
        Field(
            pattern=r"^([A-Za-z]{3})?$",
            validate_default=True,
            description="ISO 4217, upper or lower case; required with a budget.",
            json_schema_extra={"enum": ["", *sorted(CURRENCY_CODES), *sorted(c.lower() for c in CURRENCY_CODES)]},
        ),
    ] = ""
    industry: Annotated[str, Field(max_length=100)] = ""
    product_interest: Text = ""
    timeline: Annotated[str, Field(max_length=100)] = ""
    credit_score: _whole("credit_score") | None = None
    message: Annotated[str, Field(max_length=10_000)] = ""
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        description="Anything else an ICP may test: text, numbers, true/false or null, or a list of them.",
    )
    received_at: _date_time("received_at") | None = None
    consent: ConsentsIn = Field(default_factory=ConsentsIn)

    @field_validator("external_id")
    @classmethod
    def external_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Give an id that is not blank.")
        return value

    @field_validator("email")
    @classmethod
    def email_is_valid(cls, value: str) -> str:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("Enter a valid email address.") from None
        return value.strip()

    @field_validator("country")
    @classmethod
    def country_is_code(cls, value: str) -> str:
        if value and (len(value) != 2 or not value.isascii() or not value.isalpha()):
            raise ValueError("Use a two-letter ISO 3166-1 country code, e.g. GB.")
        return value.upper()

    @field_validator("longitude")
    @classmethod
    def longitude_with_latitude(cls, value, info: ValidationInfo):
        if "latitude" in info.data and (info.data["latitude"] is None) != (value is None):
            raise ValueError("Give latitude and longitude together.")
        return value

    @field_validator("budget_currency")
    @classmethod
    def currency_with_budget(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("budget") is not None and not value:
            raise ValueError("Required when budget is given.")
        return currency_code(value) if value else ""  # ISO 4217: "POU" is refused, with why

    def as_lead_data(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"consent", "received_at"})
        if self.received_at:
            data["received_at"] = self.received_at
        for kind in ("marketing", "partner_sharing"):
            consent = getattr(self.consent, kind)
            if consent is not None:
                data[f"{kind}_consent_at"] = consent.given_at
                data[f"{kind}_consent_version"] = consent.wording_version
        return data


class CriterionOut(Schema):
    label: str
    field: str
    outcome: str
    actual: Any
    required: str
    hard: bool
    reason: str | None
    what_would_qualify: str


class EvaluationOut(Schema):
    profile: str
    version: int
    score: int
    band: str
    primary_reason: str | None
    criteria: list[CriterionOut]


class LeadOut(Schema):
    id: int
    external_id: str
    status: str
    created: bool
    respond_by: datetime
    evaluation: EvaluationOut | None


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] | None = None


# The errors every operation may answer, in ErrorOut's shape (config.api, config.middleware): 400 a body that is not
# JSON, 401 no or a bad key, 413 a body over API_MAX_BODY_BYTES, 422 bad input naming the field, 429 over the rate.
ERRORS = {400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def _lead_out(lead: Lead, created: bool) -> dict:
    evaluation = selectors.evaluation_latest_for_lead(lead=lead)
    return {
        "id": lead.pk,
        "external_id": lead.external_id,
        "status": lead.status,
        "created": created,
        "respond_by": lead.respond_by,
        "evaluation": None
        if evaluation is None
        else {
            "profile": evaluation.version.profile.name,
            "version": evaluation.version.number,
            "score": evaluation.score,
            "band": evaluation.band,
            "primary_reason": evaluation.primary_reason.code if evaluation.primary_reason else None,
            "criteria": selectors.evaluation_explain(evaluation=evaluation),
        },
    }


@router.post("", response={200: LeadOut, 201: LeadOut, **ERRORS})
def lead_create_or_update(request: HttpRequest, payload: LeadIn):
    """Create the lead, or update it when this source already sent `external_id`; then check it
    against the source's ICP. 201 when created, 200 when updated."""
    api_key: ApiKey = request.auth
    lead, created, _ = lead_intake(
        source=api_key.source, data=payload.as_lead_data(), actor_label=f"api:{api_key.source.slug}:{api_key.prefix}"
    )
    return Status(201 if created else 200, _lead_out(lead, created))


@router.get("/{external_id}", response={200: LeadOut, 404: ErrorOut, **ERRORS})
def lead_read(request: HttpRequest, external_id: Annotated[str, Path(pattern=NO_NUL_PATTERN, example="A-1")]):
    """The lead this source sent with `external_id`, with its latest evaluation."""
    lead = Lead.objects.filter(source=request.auth.source, external_id=external_id).first()
    if lead is None:
        raise HttpError(404, "No lead with this external_id for your source.")
    return Status(200, _lead_out(lead, False))
