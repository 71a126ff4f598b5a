"""Leases of running CSV imports, so that an import whose worker died is never stuck "running".

A run claims its job with a conditional update that gives it a fresh token and a lease of IMPORT_LEASE_SECONDS
(`lease_claim`): a queued job, or a running one whose lease ran out (its worker died and the broker delivered the
task again: the new run takes it over). While the import runs, a `LeaseKeeper` thread renews the lease every third
of it, with a database connection of its own so that each renewal is committed at once (the import itself is one
transaction), and records how far the import got. The beat sweep (`import_jobs_sweep`) fails every running job
whose lease ran out, saying where its worker stopped. Nothing of such a job was stored: the import is one
transaction, and the same transaction marks the job done after `lease_check` found it still held by the run's
token. A run that lost its lease (swept, or taken over) therefore stores nothing, and stops as soon as its keeper
notices.

On SQLite the import holds the database's write lock while it stores its rows, so neither the keeper nor the
sweep can write then: both give up at once and try again later. The lock stands in for the lease meanwhile: the
sweep can fail the job only once the import has committed (the job is done) or its process died (the operating
system releases the lock with the process).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, connections
from django.db.models import F, Q
from django.utils import timezone

from common.db import database_busy
from leads.models import ImportJob, ImportStatus

logger = logging.getLogger(__name__)


class ImportLeaseLost(Exception):
    """This run no longer holds its job (the sweep failed it, or a redelivered task took it over): store nothing."""


def lease_seconds() -> int:
    return settings.IMPORT_LEASE_SECONDS


def _expired(now: datetime) -> Q:
    return Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)


def lease_claim(*, job_id: int) -> str | None:
    """Claim the job for this run and return the run's token; None when the job is gone, finished, or running
    under a live lease (the task was delivered twice while the first run lives)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimable = Q(status=ImportStatus.QUEUED) | (Q(status=ImportStatus.RUNNING) & _expired(now))
    claimed = ImportJob.objects.filter(claimable, pk=job_id).update(
        status=ImportStatus.RUNNING,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
        attempts=F("attempts") + 1,
        started_at=now,
        processed_rows=0,
        progress_percent=0,
    )
    return token if claimed else None


def lease_check(*, job_id: int, token: str) -> None:
    """Inside the transaction that stores the import: the job must still be running under this run's token
    (ImportLeaseLost if not). The row stays locked until that transaction ends, so the sweep waits for it."""
    held = ImportJob.objects.select_for_update().filter(pk=job_id, status=ImportStatus.RUNNING, lease_token=token)
    if not held.exists():
        raise ImportLeaseLost(f"Import job {job_id} is no longer held by this run.")


def import_jobs_sweep(*, now: datetime | None = None) -> int:
    """Beat: fail every running import whose lease ran out (its worker was killed, ran out of memory, or its
    machine restarted), with where it stopped. Returns how many it failed."""
    now = now or timezone.now()
    failed = 0
    stale = ImportJob.objects.filter(_expired(now), status=ImportStatus.RUNNING)
    for pk, token, percent in stale.values_list("pk", "lease_token", "progress_percent"):
        message = f"The worker stopped at {percent} %; nothing was stored — run it again."
        still_stale = stale.filter(pk=pk, lease_token=token)  # not renewed or taken over meanwhile
        try:
            failed += still_stale.update(
                status=ImportStatus.FAILED, message=message, finished_at=now, lease_expires_at=None
            )
        except OperationalError as exc:
            if not database_busy(exc):
                raise
            break  # SQLite: an import is storing its rows (alive, then); the next sweep looks again
        logger.warning("Import job %s: its lease ran out at %s %%; marked failed.", pk, percent)
    return failed


class LeaseKeeper:
    """Renews a running job's lease from a thread of its own every third of the lease, with the progress the
    import last reported (`report`), until stopped. `lost` becomes true when the job is no longer this run's."""

    def __init__(self, *, job_id: int, token: str):
        self.job_id, self.token = job_id, token
        self.seconds = lease_seconds()
        self.rows, self.fraction = 0, 0.0
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"import-lease-{job_id}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def report(self, rows: int, fraction: float) -> None:
        """How far the import got (called by its progress callback, from whichever thread reads the file)."""
        self.rows, self.fraction = rows, fraction

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._wait_briefly_for_locks()
            while not self._stop.wait(self.seconds / 3):
                self.renew()
        finally:
            connections.close_all()  # this thread's connections

    @staticmethod
    def _wait_briefly_for_locks() -> None:
        """A renewal never queues behind the import's own lock: it fails fast and the next one tries again."""
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA busy_timeout = 200")
            elif connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '1s'")

    def renew(self) -> bool:
        """Extend the lease (and record the progress); False when the database was busy. Sets `lost` when the
        job is no longer running under this run's token."""
        now = timezone.now()
        try:
            held = ImportJob.objects.filter(pk=self.job_id, status=ImportStatus.RUNNING, lease_token=self.token).update(
                lease_expires_at=now + timedelta(seconds=self.seconds),
                processed_rows=self.rows,
                progress_percent=min(int(self.fraction * 100), 99),
            )
        except OperationalError as exc:
            logger.debug("Import job %s: lease not renewed this time (%s).", self.job_id, exc)
            return False
        if not held:
            self._lost.set()
        return True
