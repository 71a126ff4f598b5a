"""A real task through a real worker process on the configured broker (Redis in CI)."""

import uuid

import pytest

from config.models import Heartbeat
from config.tasks import heartbeat
from tests.workers import celery_worker, wait_for


@pytest.fixture
def worker(transactional_db):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue):
        yield queue


def test_task_runs_in_real_worker_and_writes_database(worker):
    heartbeat.apply_async(kwargs={"name": "from-test"}, queue=worker)

    assert wait_for(lambda: Heartbeat.objects.filter(name="from-test").exists())
