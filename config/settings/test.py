"""`make test`: the same wiring as production, with fast hashing and plain static storage."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, STORAGES, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
MEDIA_ROOT = VAR_DIR / "test-media"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "test-cache"),
    }
}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
if os.environ.get("PASSTHROUGH_TEST_MAIL_DIR"):  # a worker subprocess in a test: emails as files the test counts
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": os.environ["PASSTHROUGH_TEST_MAIL_DIR"]},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a Celery worker subprocess can open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-passthrough.sqlite3")}

if os.environ.get("PASSTHROUGH_TEST_QUEUE"):
    # A worker (and its beat) started by a test: every task on the test's own queue, beat every second.
    CELERY_TASK_DEFAULT_QUEUE = os.environ["PASSTHROUGH_TEST_QUEUE"]
    CELERY_BEAT_SCHEDULE = {
        "nurture-run-due": {"task": "nurture.run_due", "schedule": 1.0},
        "outbox-sweep": {"task": "outbox.sweep", "schedule": 1.0},
    }

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request when it is missing
