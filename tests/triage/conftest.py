"""Fixtures of the triage tests: the demo reasons and tracks, a partner, another Sales Ops user, and a fresh
matching catalogue per test."""

import pytest

from leads.seed import seed_reasons
from nurture.seed import seed_tracks
from partners import matching
from tests.factories import FeeAgreementFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_catalogue():
    """Matching caches the partner catalogue per process; each test starts from its own partners."""
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def reasons(db):
    return seed_reasons()


@pytest.fixture
def tracks(reasons):
    return seed_tracks()


@pytest.fixture
def olive(db):
    return UserFactory(username="olive", role="Sales Ops", first_name="Olive", last_name="Other")


@pytest.fixture
def partner(db):
    return FeeAgreementFactory(partner__name="Acme Lending").partner
