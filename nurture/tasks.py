from celery import shared_task

from nurture import services


@shared_task(name="nurture.send_message", bind=True, max_retries=5)
def send_message(self, *, message_id: int) -> str:
    """Deliver one outbox row; on a transient failure retry with backoff (the sweep is the safety net). A send
    whose outcome is unknown is held for a person, never retried (see nurture.services.outbox)."""
    outcome = services.message_deliver(message_id=message_id)
    if outcome == "retry":
        raise self.retry(countdown=min(3600, 30 * 2**self.request.retries))
    return outcome


@shared_task(name="nurture.outbox_sweep")
def outbox_sweep() -> dict:
    """Every minute (beat): hold sends that stopped mid-way (outcome unknown), then send what is due: mail
    queued while the broker was down, and retries."""
    return services.outbox_sweep()


@shared_task(name="nurture.run_due")
def run_due() -> dict:
    """Every minute (beat): run the nurture steps that are due. Safe with several workers at once."""
    return services.nurture_run_due()
