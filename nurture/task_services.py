"""Writes for nurture tasks (the to-dos a track's task steps create for the lead's owner)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leads.services import lead_event_record
from nurture.models import NurtureTask
from nurture.services import NurtureError


@transaction.atomic
def nurture_task_done(*, task: NurtureTask, actor=None, actor_label: str = "", now: datetime | None = None):
    """Tick a task off: it leaves the open list, and the lead's timeline says who did it. Done once only."""
    now = now or timezone.now()
    task = (
        NurtureTask.objects.select_for_update(of=("self",)).select_related("lead", "enrollment__track").get(pk=task.pk)
    )
    if task.done_at is not None:
        done = timezone.localtime(task.done_at).strftime("%Y-%m-%d %H:%M")
        raise NurtureError(f"“{task.title}” was already done ({done}).")
    task.done_at = now
    task.save(update_fields=["done_at"])
    lead_event_record(
        lead=task.lead,
        verb="nurture_task_done",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={"task": task.title, "track": task.enrollment.track.name},
    )
    return task
