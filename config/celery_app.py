"""The Celery application: settings come from Django's (CELERY_* names), tasks from each app's tasks.py.

Every worker stamps its own heartbeat (by node name) for /healthz; beat's scheduler is `config.health.BeatScheduler`
(CELERY_BEAT_SCHEDULER), which stamps beat's. Both are named by string: they load once Django is set up."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("passthrough")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add("config.health:WorkerHeartbeat")
