import pytest
from django.urls import reverse

from tests.factories.finance import PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["payment", "allocation", "auditentry"])
def test_finance_admin_lists_but_never_changes(admin_client, model):
    PaymentFactory()

    assert admin_client.get(reverse(f"admin:finance_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:finance_{model}_add")).status_code == 403
