"""Bad input to `POST /api/v1/leads` is a 422 naming the field, never a 500, and stores nothing: NUL characters in
any string (keys of `attributes` included), dates outside the accepted range or without a time zone, numbers beyond
what the field can hold, JSON values the schema does not allow."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from leads.apikeys import api_key_create
from leads.models import Lead, LeadEvent

URL = "/api/v1/leads"
LEAD = {"external_id": "A-1", "email": "ana@example.com"}
NUL = "Contains a NUL character (\\x00), which cannot be stored."


@pytest.fixture
def key(bank_source):
    cache.clear()
    return api_key_create(source=bank_source, name="web form")[1]


def post(client, key, body: dict | str):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", headers={"X-API-Key": key})


def assert_refused(response, errors: dict):
    assert response.status_code == 422
    assert response.json() == {"detail": "Validation failed", "errors": errors}
    assert Lead.objects.count() == 0
    assert LeadEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({**LEAD, "external_id": "A\x00"}, {"external_id": [NUL]}),
        ({**LEAD, "name": "Ana\x00"}, {"name": [NUL]}),
        ({**LEAD, "message": "\x00"}, {"message": [NUL]}),
        (
            {**LEAD, "attributes": {"colour": "bl\x00ue"}},
            {"attributes": [f"attributes.colour {NUL[:1].lower()}{NUL[1:]}"]},
        ),
        (
            {**LEAD, "attributes": {"col\x00our": "blue"}},
            {"attributes": ["Has a key that contains a NUL character (\\x00), which cannot be stored."]},
        ),
        (
            {**LEAD, "attributes": {"tags": ["a", "\x00"]}},
            {"attributes": ["attributes.tags.1 contains a NUL character (\\x00), which cannot be stored."]},
        ),
        (
            {**LEAD, "consent": {"marketing": {"given_at": "2026-11-01T10:00:00Z", "wording_version": "v\x00"}}},
            {
                "consent": [
                    "consent.marketing.wording_version contains a NUL character (\\x00), which cannot be stored."
                ]
            },
        ),
    ],
)
def test_nul_anywhere_in_the_body_is_422_naming_the_field(client, key, body, errors):
    assert_refused(post(client, key, body), errors)


def test_a_lone_surrogate_is_422(client, key):
    response = post(client, key, '{"external_id": "A-1", "email": "ana@example.com", "name": "\\ud800"}')

    assert_refused(response, {"name": ["Is not valid Unicode text (a lone surrogate)."]})


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59+00:00"])
def test_received_at_outside_the_accepted_dates_is_422_with_the_range(client, key, value):
    response = post(client, key, {**LEAD, "received_at": value})

    assert response.status_code == 422
    (message,) = response.json()["errors"]["received_at"]
    latest = timezone.now() + timedelta(days=1)
    assert message.startswith(f"Must be from 1900-01-01 to {latest:%Y-%m-%d} ")
    assert "UTC (at most a day ahead of now); got " in message
    assert Lead.objects.count() == 0


def test_received_at_just_inside_the_range_is_stored(client, key):
    response = post(client, key, {**LEAD, "received_at": "1900-01-01T00:00:00Z"})

    assert response.status_code == 201
    assert Lead.objects.get().received_at.year == 1900


@pytest.mark.parametrize(
    "value",
    ["2026-11-01T10:00:00", "2026-11-01", "2026-11-01T10:00Z", 1_700_000_000, "20261101T100000Z", "soon"],
)
def test_received_at_must_be_an_rfc3339_date_time_with_its_time_zone(client, key, value):
    response = post(client, key, {**LEAD, "received_at": value})

    assert_refused(response, {"received_at": ["Give a date and time with its time zone, like 2026-11-23T14:30:00Z."]})


def test_consent_dated_in_the_future_is_422_naming_it(client, key):
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    consent = {"partner_sharing": {"given_at": tomorrow, "wording_version": "partner-v3"}}

    response = post(client, key, {**LEAD, "consent": consent})

    assert response.status_code == 422
    (message,) = response.json()["errors"]["consent.partner_sharing.given_at"]
    assert "(at most a few minutes ahead of now)" in message
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("employees", 99_999_999_999, "Must be between 0 and 10000000."),
        ("employees", -1, "Must be between 0 and 10000000."),
        ("employees", 12.5, "Give a whole number."),
        ("employees", "12", "Give a whole number."),
        ("employees", True, "Give a whole number."),
        ("credit_score", 1001, "Must be between 0 and 1000."),
    ],
)
def test_whole_numbers_beyond_their_range_or_not_whole_are_422(client, key, field, value, message):
    assert_refused(post(client, key, {**LEAD, field: value}), {field: [message]})


def test_a_whole_number_written_with_zero_decimals_is_accepted(client, key):
    response = post(client, key, {**LEAD, "employees": 250.0})

    assert response.status_code == 201
    assert Lead.objects.get().employees == 250


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({**LEAD, "latitude": 1e171, "longitude": 0}, {"latitude": ["Must be between -90 and 90."]}),
        ({**LEAD, "latitude": 0, "longitude": -180.5}, {"longitude": ["Must be between -180 and 180."]}),
        ({**LEAD, "latitude": "51.5", "longitude": 0}, {"latitude": ["Give a number."]}),
    ],
)
def test_coordinates_out_of_range_are_422(client, key, body, errors):
    assert_refused(post(client, key, body), errors)


def test_coordinates_are_kept_to_six_decimal_places(client, key):
    response = post(client, key, {**LEAD, "latitude": 51.12345678, "longitude": -0.1234564})

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.latitude, lead.longitude) == (Decimal("51.123457"), Decimal("-0.123456"))


@pytest.mark.parametrize(
    ("budget", "stored"),
    [(0.1 + 0.2, Decimal("0.30")), (12500, Decimal("12500.00")), ("12500.5", Decimal("12500.50")), (1e-9, None)],
)
def test_budget_float_noise_is_read_as_cents(client, key, budget, stored):
    response = post(client, key, {**LEAD, "budget": budget, "budget_currency": "EUR"})

    if stored is None:  # 0.000000001 is not float noise around a cent amount
        assert_refused(response, {"budget": ["At most two decimal places (an amount in cents)."]})
    else:
        assert response.status_code == 201
        assert Lead.objects.get().budget == stored


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (1e300, "Must be between 0 and 999999999999.99."),
        ("1e5", 'Give the amount as a number, or as text like "12500.50" (at most two decimals).'),
        ("12,50", 'Give the amount as a number, or as text like "12500.50" (at most two decimals).'),
        (-5, "Must be between 0 and 999999999999.99."),
    ],
)
def test_budget_out_of_range_or_not_a_plain_amount_is_422(client, key, budget, message):
    assert_refused(post(client, key, {**LEAD, "budget": budget, "budget_currency": "EUR"}), {"budget": [message]})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"external_id": "A-1", "email": "ana@example.com", "attributes": {"score": NaN}}', "attributes.score"),
        ('{"external_id": "A-1", "email": "ana@example.com", "budget": Infinity, "budget_currency": "EUR"}', "budget"),
    ],
)
def test_non_finite_numbers_are_422(client, key, raw, field):
    response = post(client, key, raw)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert Lead.objects.count() == 0


def test_attributes_hold_scalars_and_lists_of_them(client, key):
    attributes = {"segment": "smb", "seats": 12, "ratio": 0.5, "trial": True, "notes": None, "tags": ["a", 1]}

    response = post(client, key, {**LEAD, "attributes": attributes})

    assert response.status_code == 201
    assert Lead.objects.get().attributes == attributes


def test_attributes_nested_objects_are_422_naming_the_key(client, key):
    response = post(client, key, {**LEAD, "attributes": {"address": {"city": "Leeds"}}})

    assert_refused(
        response, {"attributes.address": ["Give text, a finite number, true/false or null, or a list of them."]}
    )
