"""Settings for a Celery worker subprocess started by an outbox test: the test settings, with mail going to the
test's SMTP server on 127.0.0.1:PASSTHROUGH_TEST_SMTP_PORT (and a timeout longer than the test's stall)."""

import os

from config.settings.test import *  # noqa: F403

MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": int(os.environ["PASSTHROUGH_TEST_SMTP_PORT"]), "timeout": 120},
    }
}
