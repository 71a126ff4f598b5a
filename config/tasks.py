from celery import shared_task
from django.utils import timezone

from config.models import Heartbeat


@shared_task(name="core.heartbeat")
def heartbeat(*, name: str = "worker") -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
