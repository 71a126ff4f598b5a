import json

import pytest
from django.core.cache import cache

from leads.apikeys import api_key_create, api_key_revoke
from leads.models import Lead, LeadEvent
from tests.factories import LeadFactory, LeadSourceFactory

URL = "/api/v1/leads"


@pytest.fixture
def source(bank_source):
    return bank_source


@pytest.fixture
def key(source):
    cache.clear()
    return api_key_create(source=source, name="web form")[1]


def post(client, body, key=None, **headers):
    if key:
        headers["X-API-Key"] = key
    return client.post(URL, data=json.dumps(body), content_type="application/json", headers=headers)


LEAD = {"external_id": "A-1", "email": "ana@example.com", "credit_score": 550}


@pytest.mark.parametrize("bad_key", [None, "nonsense", "pt_abcdefgh_wrongsecret"])
def test_intake_refuses_missing_or_wrong_key(client, key, bad_key):
    response = post(client, LEAD, bad_key)

    assert response.status_code == 401
    assert Lead.objects.count() == 0


def test_intake_refuses_revoked_key(client, source):
    api_key, raw = api_key_create(source=source, name="old")
    api_key_revoke(api_key=api_key)

    assert post(client, LEAD, raw).status_code == 401


def test_intake_creates_lead_and_returns_evaluation(client, key, source):
    response = post(client, LEAD, key)

    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["status"] == "disqualified"
    assert body["evaluation"]["band"] == "disqualified"
    credit = body["evaluation"]["criteria"][0]
    assert credit == {
        "label": "Credit score",
        "field": "credit_score",
        "outcome": "fail",
        "actual": 550,
        "required": "≥ 600",
        "hard": True,
        "reason": None,
        "what_would_qualify": "600 or more",
    }
    lead = Lead.objects.get()
    assert lead.source == source
    assert lead.events.first().actor_label.startswith("api:bank:")


def test_intake_accepts_bearer_token(client, key):
    assert post(client, LEAD, None, Authorization=f"Bearer {key}").status_code == 201


def test_intake_repeat_is_idempotent_and_updates(client, key):
    post(client, LEAD, key)

    response = post(client, {**LEAD, "credit_score": 700, "budget": "20000.00", "budget_currency": "eur"}, key)

    assert response.status_code == 200
    assert response.json()["created"] is False
    lead = Lead.objects.get()
    assert (lead.credit_score, lead.budget_currency, lead.status) == (700, "EUR", "qualified")


def test_intake_records_consent_with_wording_version(client, key):
    consent = {"partner_sharing": {"given_at": "2026-11-01T10:00:00Z", "wording_version": "partner-v3"}}

    post(client, {**LEAD, "consent": consent}, key)

    lead = Lead.objects.get()
    assert lead.partner_sharing_consent_version == "partner-v3"
    assert lead.marketing_consent_at is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**LEAD, "email": "ana@"}, {"email"}),
        ({k: v for k, v in LEAD.items() if k != "external_id"}, {"external_id"}),
        ({**LEAD, "shoe_size": 9}, {"shoe_size"}),
        ({**LEAD, "country": "Narnia"}, {"country"}),
        ({**LEAD, "latitude": 51.5}, {"longitude"}),
        ({**LEAD, "budget": 100}, {"budget_currency"}),
        ({**LEAD, "budget": 100, "budget_currency": "POU"}, {"budget_currency"}),  # not ISO 4217
        ({**LEAD, "budget": 100, "budget_currency": "XAU"}, {"budget_currency"}),  # gold, not money
        ({**LEAD, "budget": 10.125, "budget_currency": "GBP"}, {"budget"}),
        ({**LEAD, "credit_score": 2000}, {"credit_score"}),
        (
            {**LEAD, "consent": {"marketing": {"given_at": "2026-11-01T10:00:00Z"}}},
            {"consent.marketing.wording_version"},
        ),
    ],
)
def test_intake_bad_input_is_422_with_field_errors(client, key, body, fields):
    response = post(client, body, key)

    assert response.status_code == 422
    assert response.json()["detail"] == "Validation failed"
    assert set(response.json()["errors"]) == fields
    assert Lead.objects.count() == 0
    assert LeadEvent.objects.count() == 0


def test_intake_budget_currency_is_checked_against_iso_4217(client, key):
    refused = post(client, {**LEAD, "budget": 100, "budget_currency": "POU"}, key)
    accepted = post(client, {**LEAD, "budget": 100, "budget_currency": "gbp"}, key)

    assert refused.status_code == 422
    assert any(
        "'POU' is not an ISO 4217 currency code: use its three letters, such as EUR, GBP or USD." in message
        for message in refused.json()["errors"]["budget_currency"]
    )
    assert accepted.status_code in (200, 201)
    assert Lead.objects.get().budget_currency == "GBP"


def test_intake_rate_limit_per_key(client, key, settings):
    settings.API_RATE_LIMIT = "2/m"
    post(client, LEAD, key)
    post(client, LEAD, key)

    response = post(client, LEAD, key)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_read_lead_of_own_source(client, key):
    post(client, LEAD, key)

    response = client.get(f"{URL}/A-1", headers={"X-API-Key": key})

    assert response.status_code == 200
    assert response.json()["external_id"] == "A-1"


def test_read_lead_of_other_source_is_404(client, key):
    LeadFactory(source=LeadSourceFactory(slug="other"), external_id="B-1")

    assert client.get(f"{URL}/B-1", headers={"X-API-Key": key}).status_code == 404


def test_openapi_document_lists_intake(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert "/api/v1/leads" in document["paths"]
    assert "post" in document["paths"]["/api/v1/leads"]
    assert document["components"]["securitySchemes"]["ApiKeyHeader"]["name"] == "X-API-Key"
