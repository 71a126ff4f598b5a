from django.db import models


class HeartbeatKind(models.TextChoices):
    WORKER = "worker", "Celery worker"  # one row per worker node, stamped by the worker itself
    BEAT = "beat", "Celery beat"  # one row, stamped by beat's scheduler as it ticks
    TASK = "task", "Task"  # stamped by the `core.heartbeat` task (tests use it to see a worker drain its queue)


class Heartbeat(models.Model):
    """The last time a Celery process said it was alive: `/healthz` reports each worker and beat from these."""

    name = models.CharField(max_length=255, unique=True)  # a worker's node name, e.g. "worker1@web-01"
    kind = models.CharField(max_length=10, choices=HeartbeatKind.choices, default=HeartbeatKind.TASK)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
