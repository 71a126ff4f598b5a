from celery import shared_task

from config.health import heartbeat_record
from config.models import HeartbeatKind


@shared_task(name="core.heartbeat")
def heartbeat(*, name: str = "task") -> None:
    """Stamp a row from whichever worker runs this (tests queue it behind other tasks to see a worker drain its
    queue). Workers and beat stamp their own heartbeats (config/health.py); /healthz reads only those."""
    heartbeat_record(name=name, kind=HeartbeatKind.TASK)
