"""Asking a worker: every Celery task the project publishes goes through `enqueue` (the outbox's delivery, the
nurture sweep's nudge, re-qualifying after a publish, an uploaded import).

A dead broker costs a request nothing: publishing tries the broker once with short timeouts (the settings'
`broker_publish_options`), and after a failure this process does not try again for `BROKER_PAUSE` seconds. What
was not published is picked up by a sweep (the outbox sweep sends unsent mail; the import sweep fails a job whose
worker never came), so `enqueue` logs and returns False rather than raising.
"""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from celery import current_app
from celery.app.task import Task
from django.db import transaction

log = logging.getLogger(__name__)

BROKER_PAUSE = 15.0  # seconds this process leaves the broker alone after it could not be reached

_broker = {"down_until": 0.0}  # per process (monotonic seconds)


def broker_pause_reset() -> None:
    """Forget that the broker was down (tests; a process that knows it is back)."""
    _broker["down_until"] = 0.0


def enqueue(task: Task | str, **kwargs) -> bool:
    """Queue a Celery task (the task, or its registered name) now; False (logged, never raised) when the broker
    cannot be reached. One attempt (see the broker transport options in settings); after a failure, none for
    BROKER_PAUSE seconds. By name, a lower app publishes a task that imports it without importing the task."""
    name = task if isinstance(task, str) else task.name
    if time.monotonic() < _broker["down_until"]:
        log.info("The broker was unreachable moments ago; %s%s is left to the sweep.", name, kwargs)
        return False
    try:
        if isinstance(task, str):  # by name: the task's module need not be imported in this process
            current_app.send_task(task, kwargs=kwargs, retry=False)
        else:
            task.apply_async(kwargs=kwargs, retry=False)
    except Exception:  # broker down: the periodic sweep catches up
        _broker["down_until"] = time.monotonic() + BROKER_PAUSE
        log.warning("Could not queue %s%s; the outbox sweep will pick it up.", name, kwargs, exc_info=True)
        return False
    return True


def enqueue_on_commit(task: Task | str, **kwargs) -> None:
    """`enqueue` once the current transaction commits (at once outside one): a worker never looks for a row
    that is not there yet, and a rolled-back change publishes nothing."""
    transaction.on_commit(lambda: enqueue(task, **kwargs))


_deferred = ContextVar("outbox_deferred", default=False)


@contextmanager
def outbox_deferred():
    """Store emails without asking a worker for each (seeding, bulk jobs): the sweep sends them."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def is_deferred() -> bool:
    return _deferred.get()
