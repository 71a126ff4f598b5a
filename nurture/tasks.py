from celery import shared_task

from nurture import services


@shared_task(name="nurture.run_due")
def run_due() -> dict:
    """Every minute (beat): run the nurture steps that are due. Safe with several workers at once."""
    return services.nurture_run_due()
