import importlib
import pkgutil

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from common.roles import Role
from tests.factories import CriterionFactory, ICPVersionFactory, LeadSourceFactory, UserFactory

ROLES = ["anonymous", Role.SALES_OPS, Role.FINANCE, Role.MANAGER, "Admin"]


def ensure_roles() -> None:
    """Re-run the roles data migrations when a transactional test's flush emptied the groups."""
    if Group.objects.exists():
        return
    state = MigrationExecutor(connection).loader.project_state()
    for package in ("config.migrations", "finance.migrations"):  # apps whose migrations grant roles
        for name in sorted(m.name for m in pkgutil.iter_modules(importlib.import_module(package).__path__)):
            if "roles" in name:
                for operation in importlib.import_module(f"{package}.{name}").Migration.operations:
                    operation.code(state.apps, None)


def make_user(role: str):
    """A user for a role name as used in the tests: a group name, "Admin" (superuser) or "anonymous"."""
    if role == "anonymous":
        return None
    ensure_roles()
    username = role.lower().replace(" ", "_")
    if role == "Admin":
        return get_user_model().objects.create_superuser(username, f"{username}@passthrough.example", "x")
    return UserFactory(username=username, role=role)


@pytest.fixture
def user_for():
    return make_user


@pytest.fixture
def sales_user(db):
    return make_user(Role.SALES_OPS)


@pytest.fixture
def manager_user(db):
    return make_user(Role.MANAGER)


@pytest.fixture
def finance_user(db):
    return make_user(Role.FINANCE)


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def htmx_headers():
    def headers(target: str) -> dict:
        return {"HX-Request": "true", "HX-Target": target}

    return headers


@pytest.fixture
def bank_source(db):
    """A source whose published ICP knocks out credit scores under 600 and weighs a budget of 10,000+."""
    version = ICPVersionFactory(status="published", qualified_min=60, review_min=30)
    CriterionFactory(
        version=version,
        label="Credit score",
        field="credit_score",
        operator="gte",
        value=600,
        hard=True,
        what_would_qualify="600 or more",
    )
    CriterionFactory(version=version, label="Budget", field="budget", operator="gte", value=10000, weight=100)
    return LeadSourceFactory(slug="bank", icp_profile=version.profile)
