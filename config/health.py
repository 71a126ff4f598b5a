"""Checks behind /healthz. Each returns {"ok": bool, ...} and never raises."""

import time

from django.conf import settings
from django.utils import timezone
from kombu import Connection

from config.models import Heartbeat


def check_database(connection) -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_broker() -> dict:
    started = time.perf_counter()
    url = settings.CELERY_BROKER_URL
    try:
        with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "transport": str(transport), "ms": round((time.perf_counter() - started) * 1000, 1)}


def worker_heartbeat(stale_after_seconds: int = 120) -> dict:
    try:
        beat = Heartbeat.objects.filter(name="worker").first()
    except Exception:
        return {"ok": False, "last_seen": None}
    if beat is None:
        return {"ok": False, "last_seen": None}
    age = (timezone.now() - beat.seen_at).total_seconds()
    return {"ok": age <= stale_after_seconds, "last_seen": beat.seen_at.isoformat(), "age_s": round(age)}
