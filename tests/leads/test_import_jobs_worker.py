"""A real Celery worker killed with SIGKILL in the middle of a CSV import, on the configured database and broker
(SQLite and the filesystem broker by default; PostgreSQL and Redis in CI): nothing is half-written, the job does not
stay "running" (the beat sweep fails it once its lease runs out, or a redelivered task takes it over), and running
it again imports every row. Killed while it reads the file, and while it stores the rows."""

import re
import sqlite3

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from leads.importing import import_job_rerun, import_job_start
from leads.models import Evaluation, ImportJob, ImportStatus, Lead, LeadEvent
from leads.tasks import import_sweep
from tests.factories import ImportJobFactory
from tests.workers import celery_worker, wait_for

ROWS = 60_000  # more than one chunk (50,000): a few seconds of work for the worker
LEASE = {"IMPORT_LEASE_SECONDS": "2"}  # the workers renew every ~0.7 s; the sweep may fail a job 2 s after its death
MAPPING = {"Lead ID": "external_id", "Email": "email", "Name": "name", "Credit score": "credit_score",
           "Budget": "budget", "Currency": "budget_currency"}  # fmt: skip


def big_csv() -> bytes:
    lines = ["Lead ID,Email,Name,Credit score,Budget,Currency"]
    lines += [f"K{i},k{i}@example.com,Person {i},{500 + i % 300},{5000 + i % 20000},GBP" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def job_now(job: ImportJob) -> ImportJob:
    return ImportJob.objects.get(pk=job.pk)


def reading(job: ImportJob) -> bool:
    """The run's keeper has recorded rows read (it renews the lease while the file is read)."""
    return job_now(job).processed_rows > 0


def storing_check():
    """A check that is true once the worker writes rows inside its transaction: SQLite's write lock is taken (a
    second connection cannot begin a write); PostgreSQL's lead table grows (uncommitted rows take pages too)."""
    if connection.vendor == "sqlite":

        def locked() -> bool:
            other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                other.close()

        return lambda job: locked()

    def size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_size(%s)", [Lead._meta.db_table])
            return cursor.fetchone()[0]

    empty = size()
    return lambda job: size() > empty


def nothing_stored() -> bool:
    return not (Lead.objects.exists() or LeadEvent.objects.exists() or Evaluation.objects.exists())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("killed_while", ["reading", "storing"])
def test_an_import_whose_worker_is_killed_is_not_stuck_and_runs_again_in_full(bank_source, killed_while):
    job = ImportJobFactory(
        source=bank_source, original_name="big.csv", file=ContentFile(big_csv(), name="big.csv"), mapping=MAPPING
    )
    check = reading if killed_while == "reading" else storing_check()

    with celery_worker("celery", purge=True, env=LEASE) as worker:
        import_job_start(job=job, mapping=MAPPING, dry_run=False)  # queued once this (autocommit) write commits
        assert wait_for(lambda: job_now(job).status == ImportStatus.RUNNING and check(job), 90)
        worker.kill()  # SIGKILL: no cleanup, no acknowledgement
        worker.wait()

    killed = job_now(job)
    assert killed.status == ImportStatus.RUNNING  # killed mid-import, not after
    assert nothing_stored()

    with celery_worker("celery", env=LEASE):
        # Once the lease has run out, the beat sweep fails the job (unless the broker redelivered the task, which
        # then took the job over).
        assert wait_for(lambda: ImportJob.objects.filter(pk=job.pk, lease_expires_at__lt=timezone.now()).exists()
                        or job_now(job).attempts > 1, 30)  # fmt: skip
        import_sweep.delay()
        assert wait_for(lambda: job_now(job).status in (ImportStatus.FAILED, ImportStatus.DONE), 60)
        swept = job_now(job)
        if swept.status == ImportStatus.FAILED:
            assert re.fullmatch(r"The worker stopped at \d{1,2} %; nothing was stored — run it again\.", swept.message)
            assert nothing_stored()
            import_job_rerun(job=swept)
        assert wait_for(lambda: job_now(job).status == ImportStatus.DONE, 180)

    done = job_now(job)
    assert (done.total_rows, done.created_count, done.rejected_count) == (ROWS, ROWS, 0)
    assert done.attempts == 2
    assert Lead.objects.filter(source=bank_source).count() == ROWS
    assert LeadEvent.objects.filter(verb="received").count() == ROWS
    assert Evaluation.objects.count() == ROWS
