from celery import shared_task

from partners import services


@shared_task(name="partners.expire_referrals")
def expire_referrals() -> int:
    """Every five minutes (beat): introductions past their acceptance window expire and are re-offered."""
    return services.referrals_expire_due()


@shared_task(name="partners.remind_partners")
def remind_partners() -> int:
    """Every quarter hour (beat): one reminder per introduction whose window ends within a day."""
    return services.referrals_remind_due()
