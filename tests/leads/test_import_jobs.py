"""Import jobs whose worker dies are not stuck: the lease a run claims and renews, the sweep that fails a job whose
lease ran out, a redelivered task that returns quietly or takes over, a run that lost its lease storing nothing,
and "run again". A real worker killed mid-import: tests/leads/test_import_jobs_worker.py."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from leads import importing
from leads.import_lease import ImportLeaseLost, LeaseKeeper, import_jobs_sweep, lease_check, lease_claim
from leads.importing import ImportFileError, import_job_rerun, import_job_run
from leads.models import ImportJob, ImportStatus, Lead, LeadEvent
from leads.tasks import import_run, import_sweep
from tests.factories import ImportJobFactory

pytestmark = pytest.mark.django_db


def running_job(*, lease_in: float | None, token: str = "a" * 32, percent: int = 0, **fields) -> ImportJob:
    """A job some run holds, its lease running out `lease_in` seconds from now (None: no lease recorded)."""
    expires = None if lease_in is None else timezone.now() + timedelta(seconds=lease_in)
    return ImportJobFactory(
        status=ImportStatus.RUNNING,
        lease_token=token,
        lease_expires_at=expires,
        progress_percent=percent,
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=5),
        **fields,
    )


# Claiming --------------------------------------------------------------------------------------------------


def test_claim_takes_a_queued_job_with_a_fresh_token_and_lease():
    job = ImportJobFactory(status=ImportStatus.QUEUED)
    before = timezone.now()

    token = lease_claim(job_id=job.pk)

    job.refresh_from_db()
    assert len(token or "") == 32
    assert (job.status, job.lease_token, job.attempts) == (ImportStatus.RUNNING, token, 1)
    lease = timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
    assert before + lease <= job.lease_expires_at <= timezone.now() + lease


@pytest.mark.parametrize("status", [ImportStatus.UPLOADED, ImportStatus.DONE, ImportStatus.FAILED])
def test_claim_refuses_a_job_that_is_not_queued_or_abandoned(status):
    job = ImportJobFactory(status=status)

    assert lease_claim(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (status, 0)


def test_claim_refuses_a_job_running_under_a_live_lease():
    job = running_job(lease_in=30)

    assert lease_claim(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.lease_token, job.attempts) == ("a" * 32, 1)


# A redelivered task ------------------------------------------------------------------------------------------


def test_redelivered_task_for_a_job_running_under_a_live_lease_returns_quietly():
    job = running_job(lease_in=30)

    import_run.run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.lease_token, job.attempts) == (ImportStatus.RUNNING, "a" * 32, 1)
    assert not Lead.objects.exists()


def test_redelivered_task_for_a_finished_job_returns_quietly():
    job = ImportJobFactory(status=ImportStatus.DONE, created_count=1)

    import_run.run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created_count) == (ImportStatus.DONE, 0, 1)
    assert not Lead.objects.exists()


def test_redelivered_task_for_a_job_whose_lease_ran_out_takes_it_over_and_imports_it():
    job = running_job(lease_in=-1, percent=57)

    import_run.run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created_count, job.rejected_count) == (ImportStatus.DONE, 2, 1, 1)
    assert job.lease_token != "a" * 32
    assert (job.lease_expires_at, job.progress_percent) == (None, 100)
    assert list(Lead.objects.values_list("email", flat=True)) == ["ann@example.com"]


def test_import_task_acks_late_and_is_handed_back_when_its_worker_dies():
    assert (import_run.acks_late, import_run.reject_on_worker_lost) == (True, True)


# The sweep ---------------------------------------------------------------------------------------------------


def test_sweep_fails_a_job_whose_lease_ran_out_saying_where_it_stopped():
    job = running_job(lease_in=-1, percent=57)

    failed = import_sweep.run()

    job.refresh_from_db()
    assert failed == 1
    assert job.status == ImportStatus.FAILED
    assert job.message == "The worker stopped at 57 %; nothing was stored — run it again."
    assert job.finished_at is not None
    assert job.lease_expires_at is None


def test_sweep_fails_a_running_job_that_never_had_a_lease():
    job = running_job(lease_in=None)  # started before leases existed: stuck for good until now

    assert import_jobs_sweep() == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED


def test_sweep_leaves_live_queued_and_finished_jobs_alone():
    live = running_job(lease_in=30)
    queued = ImportJobFactory(status=ImportStatus.QUEUED)
    done = ImportJobFactory(status=ImportStatus.DONE)

    assert import_jobs_sweep() == 0
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses == {live.pk: ImportStatus.RUNNING, queued.pk: ImportStatus.QUEUED, done.pk: ImportStatus.DONE}


def test_sweep_runs_from_beat():
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "leads.import_sweep"]

    assert len(entries) == 1
    assert entries[0]["schedule"] <= settings.IMPORT_LEASE_SECONDS


# The keeper and the check before commit ----------------------------------------------------------------------


def test_keeper_renews_the_lease_and_records_how_far_the_import_got():
    job = running_job(lease_in=1)
    keeper = LeaseKeeper(job_id=job.pk, token="a" * 32)
    keeper.report(12_000, 0.574)

    assert keeper.renew() is True

    job.refresh_from_db()
    assert (job.processed_rows, job.progress_percent) == (12_000, 57)
    assert job.lease_expires_at > timezone.now() + timedelta(seconds=settings.IMPORT_LEASE_SECONDS - 5)
    assert keeper.lost is False


def test_keeper_notices_when_the_job_is_no_longer_its_run():
    job = running_job(lease_in=1)
    keeper = LeaseKeeper(job_id=job.pk, token="a" * 32)
    import_jobs_sweep(now=timezone.now() + timedelta(seconds=2))

    keeper.renew()

    job.refresh_from_db()
    assert keeper.lost is True
    assert job.status == ImportStatus.FAILED  # not brought back to life


def test_lease_check_refuses_a_token_that_no_longer_holds_the_job():
    job = running_job(lease_in=30)

    lease_check(job_id=job.pk, token="a" * 32)
    with pytest.raises(ImportLeaseLost):
        lease_check(job_id=job.pk, token="b" * 32)


def test_a_run_whose_job_was_taken_over_meanwhile_stores_nothing_and_leaves_the_job_alone(monkeypatch):
    job = ImportJobFactory(status=ImportStatus.QUEUED)
    enter = LeaseKeeper.__enter__

    def taken_over_as_it_starts(keeper):  # another run took the job (this one's lease ran out)
        ImportJob.objects.filter(pk=keeper.job_id).update(lease_token="b" * 32)
        return enter(keeper)

    monkeypatch.setattr(LeaseKeeper, "__enter__", taken_over_as_it_starts)

    import_job_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.lease_token, job.created_count) == (ImportStatus.RUNNING, "b" * 32, 0)
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()
    assert not job.row_errors.exists()


def test_a_run_whose_keeper_finds_the_lease_lost_stops_and_stores_nothing(monkeypatch):
    job = ImportJobFactory(status=ImportStatus.QUEUED)
    monkeypatch.setattr(LeaseKeeper, "lost", property(lambda keeper: True))  # e.g. the sweep failed the job

    import_job_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.RUNNING, 0)  # left to whoever holds it now
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()


def test_job_progress_counts_reading_and_storing_as_halves():
    class Keeper:
        job_id, lost, reported = 1, False, None

        def report(self, rows, fraction):
            self.reported = (rows, fraction)

    keeper = Keeper()
    progress = importing._JobProgress("leads:test-progress", keeper)

    progress.read(5_000, 0.25)  # a quarter of a 20,000-row file read, nothing stored
    assert keeper.reported == (5_000, 0.125)
    progress.read(20_000, 1.0)
    progress.stored(10_000)  # half of it stored
    assert keeper.reported == (20_000, 0.75)
    assert cache.get("leads:test-progress") == {"rows": 20_000, "fraction": 0.75}  # what the page shows


def test_a_run_that_fails_records_why_and_releases_the_lease(monkeypatch):
    job = ImportJobFactory(status=ImportStatus.QUEUED)
    monkeypatch.setattr(
        "leads.importing.jobs.import_file", lambda *a, **k: (_ for _ in ()).throw(ImportFileError("Cut off."))
    )

    import_job_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.message, job.lease_expires_at) == (ImportStatus.FAILED, "Cut off.", None)


# Run again ---------------------------------------------------------------------------------------------------


def test_rerun_queues_a_failed_job_again_with_its_file_mapping_and_kind(
    django_capture_on_commit_callbacks, monkeypatch
):
    job = running_job(lease_in=-1, percent=57, dry_run=True)
    import_jobs_sweep()
    queued = []
    monkeypatch.setattr("outbox.publish.enqueue", lambda task, **kw: queued.append({"task": task, **kw}))

    with django_capture_on_commit_callbacks(execute=True):
        import_job_rerun(job=job)

    job.refresh_from_db()
    assert queued == [{"task": "leads.import_run", "job_id": job.pk}]
    assert (job.status, job.dry_run, job.message, job.progress_percent) == (ImportStatus.QUEUED, True, "", 0)
    assert job.mapping["Email Address"] == "email"
    import_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created_count, job.attempts) == (ImportStatus.DONE, 1, 2)


@pytest.mark.parametrize(
    "status", [ImportStatus.UPLOADED, ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.DONE]
)
def test_rerun_refuses_a_job_that_did_not_fail(status):
    job = ImportJobFactory(status=status)

    with pytest.raises(ImportFileError, match="Only an import that failed can be run again"):
        import_job_rerun(job=job)
    job.refresh_from_db()
    assert job.status == status


# The page ----------------------------------------------------------------------------------------------------


def test_job_page_shows_why_a_swept_job_failed_and_offers_run_again(sales_client):
    job = running_job(lease_in=-1, percent=57)
    import_jobs_sweep()

    response = sales_client.get(reverse("leads:import_job", args=[job.pk]))

    html = response.text
    assert response.status_code == 200
    assert "The worker stopped at 57 %; nothing was stored — run it again." in html
    assert f'action="{reverse("leads:import_rerun", args=[job.pk])}"' in html
    assert ">Run again</button>" in html


def test_progress_fragment_of_a_swept_job_refreshes_the_page(sales_client, htmx_headers):
    job = running_job(lease_in=-1, percent=12)
    import_jobs_sweep()

    response = sales_client.get(reverse("leads:import_progress", args=[job.pk]), headers=htmx_headers("import-status"))

    assert response["HX-Refresh"] == "true"
    assert "The worker stopped at 12 %" in response.text
    assert "<html" not in response.text


def test_run_again_button_queues_the_job(sales_client, monkeypatch, django_capture_on_commit_callbacks):
    job = running_job(lease_in=-1)
    import_jobs_sweep()
    queued = []
    monkeypatch.setattr("outbox.publish.enqueue", lambda task, **kw: queued.append({"task": task, **kw}))

    with django_capture_on_commit_callbacks(execute=True):
        response = sales_client.post(reverse("leads:import_rerun", args=[job.pk]))

    job.refresh_from_db()
    assert (response.status_code, response["Location"]) == (302, reverse("leads:import_job", args=[job.pk]))
    assert (job.status, queued) == (ImportStatus.QUEUED, [{"task": "leads.import_run", "job_id": job.pk}])


def test_run_again_of_a_job_that_did_not_fail_says_why(sales_client):
    job = ImportJobFactory(status=ImportStatus.DONE)

    response = sales_client.post(reverse("leads:import_rerun", args=[job.pk]), follow=True)

    assert "Only an import that failed can be run again (this one is Done)." in response.text
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE


def test_run_again_refuses_get_and_unknown_jobs(sales_client):
    job = ImportJobFactory(status=ImportStatus.FAILED)

    assert sales_client.get(reverse("leads:import_rerun", args=[job.pk])).status_code == 405
    assert sales_client.post(reverse("leads:import_rerun", args=[job.pk + 1000])).status_code == 404
