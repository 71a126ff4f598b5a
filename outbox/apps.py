from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Every email as a row first, sent by a Celery task; the bottom layer every other app sends through."""

    name = "outbox"
    verbose_name = "Outbox"
