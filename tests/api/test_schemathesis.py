"""Schemathesis against the app's own `/api/v1/openapi.json`: every operation, every check schemathesis has
(no server error, documented status codes and content types, responses that match their schema, schema-valid
requests accepted, schema-invalid ones refused, missing or ignored auth…), with a valid API key.

The requests go straight into Django's WSGI application in the test's thread, so they see the test's database
transaction (SQLite or PostgreSQL, whichever the run uses). Bounded to about half a minute (max_examples).

Two rules of the API cannot be written in JSON Schema, so schema-valid ("positive") requests are brought inside
them before they are sent; both are in the operation's field descriptions and have their own tests:
dates relative to now (`received_at` at most a day ahead, a consent's `given_at` at most a few minutes ahead, none
before 1900), and pairs of fields (`budget` with `budget_currency`, `latitude` with `longitude`).
"""

from datetime import UTC, datetime

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings

from leads.apikeys import api_key_create
from leads.services.base import date_range
from tests.factories import LeadFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
# The same requests on every run (CI never fails on a draw it cannot repeat); 50 per phase and operation keep the
# whole run near half a minute. Raise max_examples and drop deterministic to fuzz harder by hand.
schema.config.generation.update(max_examples=50, deterministic=True, database="none")


def _in_range(value, field: str):
    """A date-time string inside the dates `field` accepts: itself when it is, else now (None stays None)."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    earliest, latest = date_range(field)
    if moment is not None and moment.utcoffset() is not None and earliest <= moment <= latest:
        return value
    return timezone.now().astimezone(UTC).isoformat()


@schema.hook
def map_case(context, case):
    """Schema-valid bodies brought inside the two rules JSON Schema cannot state (see the module's docstring)."""
    body = case.body
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    if "received_at" in body:
        body["received_at"] = _in_range(body["received_at"], "received_at")
    for consent in (body.get("consent") or {}).values():
        if isinstance(consent, dict) and "given_at" in consent:
            consent["given_at"] = _in_range(consent["given_at"], "consent")
    if body.get("budget") is not None and not body.get("budget_currency"):
        body["budget_currency"] = "EUR"
    if (body.get("latitude") is None) != (body.get("longitude") is None):
        body["latitude"] = 0 if body.get("latitude") is None else body["latitude"]
        body["longitude"] = 0 if body.get("longitude") is None else body["longitude"]
    return case


@pytest.fixture
def api_key(db, bank_source, settings):
    """A key of a source with a published ICP; no rate limit in the way; requests keep the test's connection (as
    Django's test client does, not closing it at each request's start and end)."""
    settings.API_RATE_LIMIT = "100000/m"
    cache.clear()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    LeadFactory(source=bank_source, external_id="A-1")  # the path parameter's example: a lead to read
    yield api_key_create(source=bank_source, name="schemathesis")[1]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, api_key):
    case.call_and_validate(headers={"X-API-Key": api_key})
