"""Lead intake API: `POST /api/v1/leads` (create or update, then evaluate) and `GET /api/v1/leads/{external_id}`."""

from datetime import datetime
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Field, Path, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer
from ninja.throttling import SimpleRateThrottle
from pydantic import ValidationInfo, create_model, field_validator

from common.money import CURRENCY_CODES, currency_code
from leads import selectors
from leads.api_inputs import (
    NO_NUL_PATTERN,
    Amount,
    AttributeKey,
    AttributeValue,
    InputSchema,
    coordinate,
    date_time,
    whole,
)
from leads.apikeys import api_key_authenticate
from leads.fields import API_FIELDS, RULES, LeadField, lead_rules_problems
from leads.models import ApiKey, Lead
from leads.services import lead_intake


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


class ConsentIn(InputSchema):
    given_at: date_time("consent")
    wording_version: Annotated[str, Field(min_length=1, max_length=50)]


class ConsentsIn(InputSchema):
    marketing: ConsentIn | None = None
    partner_sharing: ConsentIn | None = None


RULE_FIELDS = tuple(rule.field for rule in RULES)  # where the rules between fields are reported
RULE_INPUTS = {rule.field: [name for name in rule.fields if name != rule.field] for rule in RULES}


class LeadInBase(InputSchema):
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

    @field_validator("external_id")
    @classmethod
    def external_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Give an id that is not blank.")
        return value

    @field_validator("email", check_fields=False)
    @classmethod
    def email_is_valid(cls, value: str) -> str:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("Enter a valid email address.") from None
        return value.strip()

    @field_validator("country", check_fields=False)
    @classmethod
    def country_is_code(cls, value: str) -> str:
        if value and (len(value) != 2 or not value.isascii() or not value.isalpha()):
            raise ValueError("Use a two-letter ISO 3166-1 country code, e.g. GB.")
        return value.upper()

    @field_validator(*RULE_FIELDS, check_fields=False)
    @classmethod
    def rules_between_fields(cls, value, info: ValidationInfo):
        """The rules the edit form, the import and the services check too (`leads.fields.lead_rules_problems`), on
        the field each rule names (declared after the fields it looks at, so those are in `info.data`)."""
        if any(name not in info.data for name in RULE_INPUTS[info.field_name]):
            return value  # one of the fields it looks at is wrong already, and says so
        problems = lead_rules_problems({**info.data, info.field_name: value}).get(info.field_name)
        if problems:
            raise ValueError(" ".join(problems))
        return value

    @field_validator("budget_currency", check_fields=False)
    @classmethod
    def currency_is_iso(cls, value: str) -> str:
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


def _api_field(spec: LeadField) -> tuple[Any, Any]:
    """The (type, default) of one of the lead's fields in the API, from its declaration (`leads.fields`)."""
    extra = {"validate_default": True} if spec.name in RULE_FIELDS else {}
    described = {"description": spec.help} if spec.help else {}
    kind = spec.kind
    if kind == "email":
        return Annotated[str, Field(max_length=spec.max_length, json_schema_extra={"format": "email"})], ...
    if kind == "text":
        return Annotated[str, Field(max_length=spec.max_length, **described)], ""
    if kind == "country":
        pattern = {"pattern": "^([A-Za-z]{2})?$"}
        return Annotated[str, Field(json_schema_extra=pattern, **described)], ""
    if kind == "currency":
        codes = ["", *sorted(CURRENCY_CODES), *sorted(c.lower() for c in CURRENCY_CODES)]
        return Annotated[
            str, Field(pattern=r"^([A-Za-z]{3})?$", json_schema_extra={"enum": codes}, **described, **extra)
        ], ""
    if kind == "bool":
        return Annotated[bool, Field(strict=True)] | None, None
    if kind == "int":
        return whole(spec.name) | None, None
    if kind in ("latitude", "longitude"):
        return Annotated[coordinate(spec.name) | None, Field(**extra)], None
    if kind == "decimal":
        return Amount | None, None
    if kind == "json":
        return dict[AttributeKey, AttributeValue], Field(
            default_factory=dict, description=f"{spec.help} Text, numbers, true/false or null, or a list of them."
        )
    raise AssertionError(f"{spec.name}: no API type for {kind}")


# The lead's fields in the API: built from their declaration, then the API's own (when received, consents).
LeadIn = create_model(
    "LeadIn",
    __base__=LeadInBase,
    __module__=__name__,
    __doc__=LeadInBase.__doc__,
    **{spec.name: _api_field(spec) for spec in API_FIELDS},
    received_at=(date_time("received_at") | None, None),
    consent=(ConsentsIn, Field(default_factory=ConsentsIn)),
)


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
