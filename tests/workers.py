"""Real Celery worker processes for tests, on the configured broker (Redis in CI), using the test database."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from config.celery_app import app

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_worker() -> str:
    """The URL of the database this test runs in (the test database, not the configured one)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def celery_worker(queue: str, *, purge: bool = False, env: dict[str, str] | None = None, beat: Path | None = None):
    """A `celery worker` subprocess consuming `queue`; its log is printed (shown when a test fails).
    `env` adds environment variables (e.g. PASSTHROUGH_TEST_MAIL_DIR: the worker writes emails there);
    `beat` (a schedule file path) embeds Celery beat in the worker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        **(env or {}),
    }
    celery = Path(sys.executable).with_name("celery")
    command = [str(celery), "-A", "config", "worker", "--pool=solo", "--concurrency=1", "-Q", queue]
    command += ["--without-gossip", "--without-mingle", "--loglevel=INFO", "-n", f"{queue}-{uuid.uuid4().hex[:6]}@%h"]
    if beat is not None:
        command += ["--beat", "--schedule", str(beat)]
    if purge:  # before the worker starts: `worker --purge` would race with the test's first task
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output)


def wait_for(predicate, seconds: float = 45.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False
