"""Real Celery processes stamp their own heartbeats: each worker by its node name, beat from its scheduler."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from config.health import BEAT_NAME
from config.models import Heartbeat, HeartbeatKind
from tests.workers import ROOT, celery_worker, database_url_for_worker, wait_for


def worker_rows(prefix: str) -> list[str]:
    return sorted(
        Heartbeat.objects.filter(kind=HeartbeatKind.WORKER, name__startswith=prefix).values_list("name", flat=True)
    )


def test_each_worker_stamps_its_own_heartbeat_and_removes_it_on_a_clean_stop(transactional_db):
    first, second = f"test-hb1-{uuid.uuid4().hex[:6]}", f"test-hb2-{uuid.uuid4().hex[:6]}"

    with celery_worker(first):
        with celery_worker(second):
            both = wait_for(lambda: len(worker_rows(first)) == 1 and len(worker_rows(second)) == 1)
        one_left = wait_for(lambda: not worker_rows(second))
        assert worker_rows(first)[0].startswith(f"{first}-")
    none_left = wait_for(lambda: not worker_rows(first))

    assert (both, one_left, none_left) == (True, True, True)


@pytest.fixture
def beat_process(transactional_db, tmp_path):
    """`celery -A config beat` as README runs it, with a var folder that has no celery/ subfolder and a broker
    that is not the filesystem one (which made its folders itself); its log is printed when the test fails."""
    var_dir = tmp_path / "fresh-var"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PASSTHROUGH_VAR_DIR": str(var_dir),
        "CELERY_BROKER_URL": "memory://",  # beat only publishes; nothing must reach the shared broker
    }
    env.pop("CELERY_BEAT_SCHEDULE_FILENAME", None)
    celery = Path(sys.executable).with_name("celery")
    proc = subprocess.Popen(
        [str(celery), "-A", "config", "beat", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, var_dir
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output)


def test_beat_starts_on_a_fresh_var_folder_and_stamps_its_heartbeat(beat_process):
    proc, var_dir = beat_process

    stamped = wait_for(lambda: Heartbeat.objects.filter(name=BEAT_NAME, kind=HeartbeatKind.BEAT).exists(), 30)

    assert stamped
    assert proc.poll() is None
    assert (var_dir / "celery" / "beat-schedule").exists()


def test_beat_stopping_cleanly_removes_its_heartbeat(beat_process):
    proc, _ = beat_process
    assert wait_for(lambda: Heartbeat.objects.filter(name=BEAT_NAME).exists(), 30)

    proc.terminate()
    proc.wait(timeout=20)

    assert not Heartbeat.objects.filter(name=BEAT_NAME).exists()
