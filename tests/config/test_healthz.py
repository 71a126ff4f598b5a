from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from config.health import BEAT_NAME, heartbeat_record, heartbeats_prune
from config.models import Heartbeat, HeartbeatKind

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Ages are exact: the clock stands still at NOW."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def seen(name: str, kind: str, seconds_ago: float) -> None:
    heartbeat_record(name=name, kind=kind, at=NOW - timedelta(seconds=seconds_ago))


@pytest.fixture
def celery_alive(db):
    seen("worker1@web-01", HeartbeatKind.WORKER, 5)
    seen("worker2@web-02", HeartbeatKind.WORKER, 20)
    seen(BEAT_NAME, HeartbeatKind.BEAT, 10)


def test_healthz_is_ok_with_database_broker_fresh_workers_and_beat(client, celery_alive):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["problems"] == []
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert [(w["name"], w["ok"], w["age_s"]) for w in body["workers"]] == [
        ("worker1@web-01", True, 5),
        ("worker2@web-02", True, 20),
    ]
    assert (body["beat"]["ok"], body["beat"]["age_s"]) == (True, 10)


@pytest.mark.django_db
def test_healthz_is_503_degraded_without_any_worker_heartbeat(client):
    seen(BEAT_NAME, HeartbeatKind.BEAT, 1)

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["problems"] == ["no fresh worker"]
    assert body["workers"] == []


@pytest.mark.django_db
def test_healthz_is_503_degraded_when_every_worker_is_stale(client):
    seen("worker1@web-01", HeartbeatKind.WORKER, 61)
    seen(BEAT_NAME, HeartbeatKind.BEAT, 1)

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["problems"] == ["no fresh worker"]
    assert [(w["name"], w["ok"], w["age_s"]) for w in body["workers"]] == [("worker1@web-01", False, 61)]


@pytest.mark.django_db
def test_healthz_is_ok_with_one_fresh_worker_and_lists_the_stale_one(client):
    seen("worker1@web-01", HeartbeatKind.WORKER, 300)
    seen("worker2@web-01", HeartbeatKind.WORKER, 2)
    seen(BEAT_NAME, HeartbeatKind.BEAT, 1)

    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert [(w["name"], w["ok"]) for w in response.json()["workers"]] == [
        ("worker1@web-01", False),
        ("worker2@web-01", True),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("beat_age", [None, 90])
def test_healthz_is_503_degraded_when_beat_is_not_running(client, beat_age):
    seen("worker1@web-01", HeartbeatKind.WORKER, 1)
    if beat_age is not None:
        seen(BEAT_NAME, HeartbeatKind.BEAT, beat_age)

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["problems"] == ["beat not running"]
    assert body["beat"]["ok"] is False
    assert body["beat"]["age_s"] == beat_age


@pytest.mark.django_db
def test_healthz_forgets_a_worker_not_seen_for_a_day_and_ignores_task_stamps(client):
    seen("worker1@gone", HeartbeatKind.WORKER, 24 * 3600 + 1)
    seen("worker2@web-01", HeartbeatKind.WORKER, 1)
    seen("sentinel-abc", HeartbeatKind.TASK, 1)
    seen(BEAT_NAME, HeartbeatKind.BEAT, 1)

    response = client.get(reverse("healthz"))

    assert [w["name"] for w in response.json()["workers"]] == ["worker2@web-01"]


def test_healthz_is_503_error_when_broker_is_down(client, settings, celery_alive):
    settings.CELERY_BROKER_URL = DEAD_BROKER

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] is False
    assert body["status"] == "error"
    assert body["problems"] == ["broker down"]


@pytest.mark.django_db
def test_healthz_web_scope_checks_only_database_and_broker(client):
    response = client.get(reverse("healthz"), {"scope": "web"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert "workers" not in body
    assert "beat" not in body


@pytest.mark.django_db
def test_healthz_web_scope_is_503_when_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = DEAD_BROKER

    response = client.get(reverse("healthz"), {"scope": "web"})

    assert response.status_code == 503
    assert response.json()["problems"] == ["broker down"]


def test_healthz_answers_anonymous_without_secrets(client, celery_alive, settings):
    response = client.get(reverse("healthz"))

    text = response.content.decode()
    assert response.status_code == 200
    assert settings.SECRET_KEY not in text
    assert connection.settings_dict["NAME"] not in text
    assert "redis://" not in text
    assert "filesystem://" not in text


@pytest.mark.django_db
def test_healthz_refuses_post(client):
    assert client.post(reverse("healthz")).status_code == 405


@pytest.mark.django_db
def test_heartbeat_record_updates_one_row_per_name():
    heartbeat_record(name="worker1@web-01", kind=HeartbeatKind.WORKER)
    later = NOW + timedelta(seconds=15)

    heartbeat_record(name="worker1@web-01", kind=HeartbeatKind.WORKER, at=later)

    assert list(Heartbeat.objects.values_list("name", "kind", "seen_at")) == [
        ("worker1@web-01", HeartbeatKind.WORKER, later)
    ]


@pytest.mark.django_db
def test_heartbeats_prune_forgets_only_workers_not_seen_for_a_day():
    seen("worker1@gone", HeartbeatKind.WORKER, 24 * 3600 + 1)
    seen("worker2@web-01", HeartbeatKind.WORKER, 24 * 3600 - 60)
    seen(BEAT_NAME, HeartbeatKind.BEAT, 2 * 24 * 3600)

    deleted = heartbeats_prune()

    assert deleted == 1
    assert sorted(Heartbeat.objects.values_list("name", flat=True)) == [BEAT_NAME, "worker2@web-01"]
