import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from leads.apikeys import api_key_create
from nurture.models import Enrollment, Step, Track
from tests.factories import LeadFactory

URL = "/api/v1/enrollments"


@pytest.fixture
def key(bank_source):
    cache.clear()
    return api_key_create(source=bank_source, name="webinar tool")[1]


@pytest.fixture
def track(db):
    track = Track.objects.create(name="Budget", slug="budget")
    Step.objects.create(track=track, position=1, kind="email", subject="Hi", body="Resources.")
    Step.objects.create(track=track, position=2, kind="task", delay_hours=48, body="Call them.")
    return track


def post(client, body, key):
    return client.post(URL, data=json.dumps(body), content_type="application/json", headers={"X-API-Key": key})


def test_enrollment_api_enrolls_a_lead_of_the_source(client, key, bank_source, track):
    lead = LeadFactory(
        source=bank_source, external_id="W-1", status="disqualified", marketing_consent_at=timezone.now()
    )

    response = post(client, {"external_id": "W-1", "track": "budget"}, key)

    assert response.status_code == 201
    assert response.json()["status"] == "active"
    assert Enrollment.objects.get().lead == lead
    assert lead.events.filter(verb="enrolled", actor_label__startswith="api:bank:").exists()


def test_enrollment_api_refuses_without_marketing_consent_with_422(client, key, bank_source, track):
    LeadFactory(source=bank_source, external_id="W-2", status="disqualified")

    response = post(client, {"external_id": "W-2", "track": "budget"}, key)

    assert response.status_code == 422
    assert "not agreed to marketing emails" in response.json()["errors"]["track"][0]
    assert not Enrollment.objects.exists()


def test_enrollment_api_unknown_track_is_422_and_other_sources_lead_is_404(client, key, track):
    LeadFactory(external_id="W-3", status="disqualified")  # another source's lead

    unknown_track = post(client, {"external_id": "W-3", "track": "nope"}, key)
    other_source = post(client, {"external_id": "W-3", "track": "budget"}, key)

    assert other_source.status_code == 404
    assert unknown_track.status_code == 404  # the lead is looked up first: not this source's
    assert not Enrollment.objects.exists()


def test_enrollment_api_needs_a_key(client, track):
    response = client.post(URL, data="{}", content_type="application/json")

    assert response.status_code == 401
