from celery import shared_task

from outbox import services


def _deliver(task, message_id: int) -> str:
    outcome = services.message_deliver(message_id=message_id)
    if outcome == "retry":
        raise task.retry(countdown=min(3600, 30 * 2**task.request.retries))
    return outcome


@shared_task(name="outbox.send_message", bind=True, max_retries=5)
def send_message(self, *, message_id: int) -> str:
    """Deliver one outbox row; on a transient failure retry with backoff (the sweep is the safety net). A send
    whose outcome is unknown is held for a person, never retried (see outbox.services)."""
    return _deliver(self, message_id)


@shared_task(name="outbox.sweep")
def sweep() -> dict:
    """Every minute (beat): hold sends that stopped mid-way (outcome unknown), then send what is due: mail
    queued while the broker was down, and retries."""
    return services.outbox_sweep()


# The names these tasks had while the outbox lived in nurture. Messages already waiting in a broker (published
# before an upgrade, or by a process not yet restarted) carry the old names; these thin aliases run them. Remove
# them once no broker can hold such a message any more.
@shared_task(name="nurture.send_message", bind=True, max_retries=5)
def send_message_nurture_alias(self, *, message_id: int) -> str:
    """Old name of `outbox.send_message`."""
    return _deliver(self, message_id)


@shared_task(name="nurture.outbox_sweep")
def sweep_nurture_alias() -> dict:
    """Old name of `outbox.sweep`."""
    return services.outbox_sweep()
