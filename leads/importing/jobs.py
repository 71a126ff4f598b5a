"""Import jobs: an uploaded file with its mapping, previewed, queued to a worker (`leads.import_run`, published
through the outbox's broker-down-safe `enqueue`), run under a lease, its progress and outcome recorded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from leads.import_lease import ImportLeaseLost, LeaseKeeper, lease_check, lease_claim
from leads.importing.base import PREVIEW_ROWS, ImportFileError, ImportResult
from leads.importing.mapping import guess_mapping, validate_mapping
from leads.importing.parsing import RowParser
from leads.importing.reading import CsvFile, inspect_file, iter_rows
from leads.importing.running import import_file
from leads.models import ImportJob, ImportRowError, ImportStatus, LeadSource
from leads.services import icp_attribute_keys
from outbox import publish

logger = logging.getLogger(__name__)

IMPORT_TASK = "leads.import_run"  # leads.tasks.import_run, published by name (the task module imports this one)

PROGRESS_KEY = "leads:import-progress:{}"


def import_job_create(*, upload, source: LeadSource, user) -> tuple[Any, CsvFile]:
    """Store an uploaded file as an ImportJob after checking it can be read (ImportFileError if not)."""
    upload.seek(0)
    csv_file = inspect_file(upload)
    job = ImportJob(
        source=source,
        original_name=Path(upload.name).name[:255],
        encoding=csv_file.encoding,
        delimiter=csv_file.delimiter,
        mapping=guess_mapping(csv_file.headers, icp_attribute_keys(source)),
        created_by=user,
    )
    upload.seek(0)
    job.file.save(Path(upload.name).name, upload, save=False)
    job.save()
    return job, csv_file


def import_job_inspect(job) -> CsvFile:
    with job.file.open("rb") as f:
        return inspect_file(f, encoding=job.encoding, delimiter=job.delimiter)


@dataclass
class PreviewRow:
    row: int
    cells: list[tuple[str, str]]  # (text, problem) per file column
    problem: str = ""  # a problem of the row as a whole


def import_job_preview(job, mapping: dict[str, str], limit: int = PREVIEW_ROWS) -> tuple[CsvFile, list[PreviewRow]]:
    """The first rows as they would be read with `mapping`, each problem placed on its cell.
    ImportFileError when the mapping itself is unusable."""
    with job.file.open("rb") as f:
        csv_file = inspect_file(f, encoding=job.encoding, delimiter=job.delimiter)
        parser = RowParser(csv_file, mapping)
        rows = []
        try:
            for raw in iter_rows(f, csv_file):
                _, errors = parser.parse(raw)
                by_column = {e.column: e.message for e in errors if e.column}
                whole = "; ".join(e.message for e in errors if not e.column)
                cells = [
                    (text, by_column.get(header, "")) for header, text in zip(csv_file.headers, raw.cells, strict=False)
                ]
                rows.append(PreviewRow(raw.row, cells, whole))
                if len(rows) >= limit:
                    break
        except ImportFileError:
            if not rows:
                raise  # a cut file says so in full when it is imported; the preview shows what it can
    return csv_file, rows


@transaction.atomic
def import_job_start(*, job, mapping: dict[str, str], dry_run: bool) -> None:
    """Queue the import (or its dry run) with this mapping; ImportFileError if the mapping is unusable."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise ImportFileError("This import is already running.")
    if job.status == ImportStatus.DONE and not job.dry_run:
        raise ImportFileError("This file has already been imported; upload it again to import it again.")
    validate_mapping(mapping, import_job_inspect(job).headers)
    job.row_errors.all().delete()
    job.mapping = mapping
    job.dry_run = dry_run
    job.status = ImportStatus.QUEUED
    job.message = ""
    job.bands = {}
    job.total_rows = job.processed_rows = job.created_count = job.updated_count = 0
    job.duplicate_count = job.rejected_count = job.progress_percent = 0
    job.started_at = job.finished_at = job.lease_expires_at = None
    job.lease_token = ""
    job.save()
    cache.delete(PROGRESS_KEY.format(job.pk))
    publish.enqueue_on_commit(IMPORT_TASK, job_id=job.pk)  # a broker that is down is logged, never raised


@transaction.atomic
def import_job_rerun(*, job) -> None:
    """Run a failed import again: the same job, file, mapping and kind (a dry run stays a dry run)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.FAILED:
        raise ImportFileError(f"Only an import that failed can be run again (this one is {job.get_status_display()}).")
    import_job_start(job=job, mapping=job.mapping, dry_run=job.dry_run)


def import_job_run(job_id: int) -> None:
    """The Celery task's body: claim the job (`lease_claim`), run the import while a LeaseKeeper renews the lease,
    keep progress in the cache, and record the outcome and every rejected row on the job in the import's own
    transaction, after checking the job is still this run's. Returns quietly when the job is gone, finished or
    running under a live lease; a run that loses its lease stores nothing and leaves the job as it finds it."""
    token = lease_claim(job_id=job_id)
    if token is None:
        return  # finished, gone, or another run holds it (a task delivered twice)
    job = ImportJob.objects.select_related("source", "created_by").get(pk=job_id)
    key = PROGRESS_KEY.format(job.pk)
    with LeaseKeeper(job_id=job.pk, token=token) as keeper:
        progress = _JobProgress(key, keeper)

        def seal(result: ImportResult) -> None:  # inside the import's transaction, before it commits
            keeper.stop()
            lease_check(job_id=job.pk, token=token)
            if not result.dry_run:
                _job_outcome_record(job, result)

        try:
            with job.file.open("rb") as f:
                result = import_file(
                    f,
                    source=job.source,
                    mapping=job.mapping,
                    dry_run=job.dry_run,
                    label=job.original_name,
                    actor=job.created_by,
                    progress=progress.read,
                    on_stored=progress.stored,
                    before_commit=seal,
                )
            if result.dry_run:
                with transaction.atomic():
                    lease_check(job_id=job.pk, token=token)
                    _job_outcome_record(job, result)
        except ImportLeaseLost as exc:
            logger.warning("%s Nothing was stored.", exc)
            return
        except ImportFileError as exc:
            _job_fail(job, token, str(exc))
            return
        except Exception as exc:
            _job_fail(job, token, f"The import failed and nothing was stored ({type(exc).__name__}). "
                      "The team has been told.")  # fmt: skip
            raise
    cache.set(key, {"rows": result.rows, "fraction": 1.0}, 3600)


class _JobProgress:
    """A running job's progress as one fraction, half reading the file and half storing what was read (the two
    overlap on PostgreSQL; on SQLite storing follows reading): into the cache for the page, to the keeper for
    the lease (and the sweep's "stopped at N %"). Stops the import once the keeper finds the lease lost."""

    def __init__(self, key: str, keeper: LeaseKeeper):
        self.key, self.keeper = key, keeper
        self.rows, self.fraction_read, self.records_stored = 0, 0.0, 0

    def read(self, rows: int, fraction: float) -> None:  # from whichever thread reads the file
        self.rows, self.fraction_read = rows, fraction
        self._publish()

    def stored(self, records: int) -> None:  # after each chunk, inside the import's transaction
        self.records_stored += records
        self._publish()

    def _publish(self) -> None:
        rows_in_file = self.rows / self.fraction_read if self.fraction_read else 0
        stored = min(self.records_stored / rows_in_file, 1.0) if rows_in_file else 0.0
        fraction = (self.fraction_read + stored) / 2
        cache.set(self.key, {"rows": self.rows, "fraction": round(fraction, 3)}, 3600)
        self.keeper.report(self.rows, fraction)
        if self.keeper.lost:
            raise ImportLeaseLost(f"Import job {self.keeper.job_id} was taken from this run; stopping.")


def _job_outcome_record(job, result: ImportResult) -> None:
    ImportRowError.objects.bulk_create(
        (ImportRowError(job=job, row=e.row, column=e.column[:200], message=e.message[:500]) for e in result.errors),
        batch_size=2000,
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.DONE,
        total_rows=result.rows,
        processed_rows=result.rows,
        progress_percent=100,
        created_count=result.created,
        updated_count=result.updated,
        duplicate_count=result.duplicates,
        rejected_count=result.rejected,
        bands=result.bands,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )


def _job_fail(job, token: str, message: str) -> None:
    """The run failed before it stored anything: say why, unless the job is no longer this run's."""
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, lease_token=token).update(
        status=ImportStatus.FAILED, message=message, finished_at=timezone.now(), lease_expires_at=None
    )


def import_job_progress(job) -> dict:
    return cache.get(PROGRESS_KEY.format(job.pk)) or {"rows": 0, "fraction": 0.0}


def import_job_error_report(job) -> Iterator[list]:
    """Rows of the downloadable report: every rejected row with its column and problem."""
    yield ["row", "column", "problem"]
    for row, column, message in job.row_errors.order_by("row", "id").values_list("row", "column", "message"):
        yield [row, column, message]
