"""Fixtures for the nurture pages: the demo reasons, tracks and reply templates, and leads ready to nurture."""

import pytest
from django.utils import timezone

from leads.models import Evaluation, Lead
from leads.seed import seed_reasons
from nurture import services
from nurture.seed import seed_tracks
from tests.conftest import make_user
from tests.factories import ICPVersionFactory, LeadFactory


@pytest.fixture
def reasons(db):
    return seed_reasons()


@pytest.fixture
def tracks(reasons):
    """The demo tracks (budget-timing: email now, email +14 d, re-check +30 d, email +45 d; …) and replies."""
    return seed_tracks()


@pytest.fixture
def waiting(reasons):
    """A factory of leads the ICP disqualified (reason: budget) who agreed to marketing emails, unless told
    otherwise."""
    version = ICPVersionFactory(status="published")

    def make(**kwargs) -> Lead:
        kwargs.setdefault("status", "disqualified")
        kwargs.setdefault("primary_reason", reasons["budget"])
        kwargs.setdefault("marketing_consent_at", timezone.now())
        kwargs.setdefault("marketing_consent_version", "2026-01")
        lead = LeadFactory(**kwargs)
        if lead.status == "disqualified":
            Evaluation.objects.create(
                lead=lead, version=version, score=20, band="disqualified", evaluated_at=timezone.now()
            )
            lead.icp_band = "disqualified"
            lead.save(update_fields=["icp_band"])
        return lead

    return make


@pytest.fixture
def enroll(tracks, waiting):
    """Put a new waiting lead (or the one given) on a track (budget-timing unless told)."""

    def make(lead: Lead | None = None, track: str = "budget-timing", **lead_fields):
        return services.enrollment_create(lead=lead or waiting(**lead_fields), track=tracks[track])

    return make


@pytest.fixture
def client_for(client):
    """A test client signed in as a user of the role ("Sales Ops", "Finance", "Manager", "Admin")."""

    def signed_in(role: str):
        client.force_login(make_user(role))
        return client

    return signed_in


def hx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}
