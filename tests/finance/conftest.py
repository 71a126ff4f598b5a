from datetime import timedelta

import pytest
from django.utils import timezone

from partners import matching
from tests.conftest import make_user
from tests.factories import FeeAgreementFactory


@pytest.fixture(autouse=True)
def fresh_catalogue():
    """Matching caches the partner catalogue per process; each test starts from its own partners."""
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def partner(db):
    """Acme Lending: 25.00 EUR per accepted referral, 100.00 per conversion, 10% of the deal capped at 500.00;
    payment within 30 days. In force for the last 400 days."""
    return FeeAgreementFactory(
        partner__name="Acme Lending", valid_from=timezone.localdate() - timedelta(days=400)
    ).partner


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


@pytest.fixture
def manager_client(client, manager_user):
    client.force_login(manager_user)
    return client


@pytest.fixture
def client_for(client):
    """A test client signed in as a user of the role ("Sales Ops", "Finance", "Manager", "Admin")."""

    def signed_in(role: str):
        client.force_login(make_user(role))
        return client

    return signed_in
