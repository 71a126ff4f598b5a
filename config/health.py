"""Health: the checks behind /healthz and the heartbeats that feed them.

Each Celery worker stamps its own row (by node name, `-n worker1@%h`) from the worker's timer every
`HEARTBEAT_SECONDS`, and removes it when it stops cleanly; beat's scheduler stamps the "beat" row as it ticks.
A worker or beat whose row is older than `STALE_AFTER_SECONDS` is not running (or is wedged). Checks return
{"ok": bool, ...} and never raise.
"""

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone
from kombu import Connection

from config.models import Heartbeat, HeartbeatKind

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15  # how often a worker and beat stamp their rows
STALE_AFTER_SECONDS = 60  # four missed stamps: that process is not running
FORGET_AFTER = timedelta(days=1)  # a worker killed without a clean stop is listed (stale) this long, then forgotten
BEAT_NAME = "beat"


# Writes (the heartbeat services). Workers and beat call them from their own processes.


@transaction.atomic
def heartbeat_record(*, name: str, kind: str, at: datetime | None = None) -> Heartbeat:
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"kind": kind, "seen_at": at or timezone.now()})
    return beat


def heartbeat_forget(*, name: str) -> None:
    """A process that stops cleanly leaves the report at once (a killed one goes stale, then is forgotten)."""
    Heartbeat.objects.filter(name=name).delete()


def heartbeats_prune(*, now: datetime | None = None) -> int:
    """Forget workers not seen for `FORGET_AFTER` (killed, or renamed)."""
    cutoff = (now or timezone.now()) - FORGET_AFTER
    deleted, _ = Heartbeat.objects.filter(kind=HeartbeatKind.WORKER, seen_at__lt=cutoff).delete()
    return deleted


def _stamp(name: str, kind: str) -> None:
    """A heartbeat from a worker's or beat's own loop: never raise there, and keep no connection open (the
    prefork parent forks children, and a database restart must not leave a broken connection behind)."""
    try:
        heartbeat_record(name=name, kind=kind)
        if kind == HeartbeatKind.BEAT:
            heartbeats_prune()
    except Exception:
        logger.warning("Could not record the %s heartbeat of %s", kind, name, exc_info=True)
    finally:
        default_connection.close()


def _forget(name: str) -> None:
    try:
        heartbeat_forget(name=name)
    except Exception:
        logger.warning("Could not remove the heartbeat of %s", name, exc_info=True)
    finally:
        default_connection.close()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Worker bootstep (registered in config/celery_app.py): stamps this node's row on the worker's timer.

    With the event loop (prefork on Redis/RabbitMQ) the timer runs in the main process, which keeps running
    while the children work; with the filesystem broker it is a thread."""

    requires = ("celery.worker.components:Timer",)
    label = "Heartbeat"

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.name = worker.hostname
        self.trefs = []

    def start(self, worker) -> None:
        # The first stamp once the timer runs (with the event loop: once the worker consumes), then every few seconds.
        self.trefs = [
            worker.timer.call_after(0.5, _stamp, (self.name, HeartbeatKind.WORKER)),
            worker.timer.call_repeatedly(HEARTBEAT_SECONDS, _stamp, (self.name, HeartbeatKind.WORKER)),
        ]

    def stop(self, worker) -> None:
        for tref in self.trefs:
            tref.cancel()
        self.trefs = []
        _forget(self.name)

    terminate = stop


class BeatScheduler(PersistentScheduler):
    """Beat's scheduler (CELERY_BEAT_SCHEDULER): makes the schedule file's folder, which may not exist on a fresh
    checkout, and stamps the "beat" heartbeat at least every `HEARTBEAT_SECONDS`."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("schedule_filename"):
            Path(kwargs["schedule_filename"]).parent.mkdir(parents=True, exist_ok=True)
        self._stamped_at = None
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        interval = super().tick(*args, **kwargs)
        now = time.monotonic()
        if self._stamped_at is None or now - self._stamped_at >= HEARTBEAT_SECONDS:
            self._stamped_at = now
            _stamp(BEAT_NAME, HeartbeatKind.BEAT)
        return min(interval, HEARTBEAT_SECONDS)

    def close(self) -> None:
        """Beat stopping cleanly: the report says so at once."""
        super().close()
        _forget(BEAT_NAME)


# Reads (the checks behind /healthz).


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


def _age(row: Heartbeat, now: datetime) -> dict:
    age = max(0.0, (now - row.seen_at).total_seconds())
    return {"ok": age <= STALE_AFTER_SECONDS, "age_s": round(age), "last_seen": row.seen_at.isoformat()}


def check_celery(*, now: datetime | None = None) -> dict:
    """Each worker seen in the last day with the age of its heartbeat, and beat's: one query."""
    now = now or timezone.now()
    try:
        rows = list(
            Heartbeat.objects.filter(
                kind__in=[HeartbeatKind.WORKER, HeartbeatKind.BEAT], seen_at__gte=now - FORGET_AFTER
            ).order_by("name")
        )
    except Exception as exc:
        return {"workers": [], "beat": {"ok": False, "error": exc.__class__.__name__}}
    workers = [{"name": row.name, **_age(row, now)} for row in rows if row.kind == HeartbeatKind.WORKER]
    beat = next((_age(row, now) for row in rows if row.kind == HeartbeatKind.BEAT), None)
    return {"workers": workers, "beat": beat or {"ok": False, "age_s": None, "last_seen": None}}
