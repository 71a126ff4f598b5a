"""Fixtures for the partner and referral pages (test_partner_link.py brings its own)."""

import pytest

from partners import matching, services
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_catalogue():
    """Matching caches the partner catalogue per process; each test starts from its own partners."""
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def client_for(client):
    """A test client signed in as a user of the role ("Sales Ops", "Finance", "Manager", "Admin", or "none")."""

    def signed_in(role: str):
        user = UserFactory(username="no_role") if role == "none" else make_user(role)
        client.force_login(user)
        return client

    return signed_in


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


@pytest.fixture
def manager_client(client, manager_user):
    client.force_login(manager_user)
    return client


@pytest.fixture
def agreement(db):
    """25.00 EUR per accepted referral, 100.00 per conversion, 10% of the deal capped at 500.00."""
    return FeeAgreementFactory(partner__name="Acme Lending")


@pytest.fixture
def introduction(agreement):
    """An introduction to Acme Lending, sent, waiting for the partner's answer."""
    lead = ConsentingLeadFactory(name="Ada Lovelace", company="Analytical Engines")
    return services.referral_send(lead=lead, partner=agreement.partner, mode="introduce")


@pytest.fixture
def signpost(agreement):
    lead = ConsentingLeadFactory(name="Grace Hopper", company="Cobol Ltd")
    return services.referral_send(lead=lead, partner=agreement.partner, mode="signpost")
