import pytest
from django.urls import reverse
from django.utils import timezone

from config.models import Heartbeat


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["status"] == "error"


@pytest.mark.django_db
def test_healthz_reports_worker_heartbeat(client):
    Heartbeat.objects.create(name="worker", seen_at=timezone.now())

    response = client.get(reverse("healthz"))

    assert response.json()["worker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_refuses_post(client):
    assert client.post(reverse("healthz")).status_code == 405
