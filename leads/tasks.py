from celery import shared_task

from leads import services
from leads.import_lease import import_jobs_sweep
from leads.importing import import_job_run
from leads.models import ICPVersion, ICPVersionStatus


@shared_task(name="leads.requalify_profile")
def requalify_profile(*, version_id: int) -> None:
    """After a publication: re-check the profile's open and nurturing leads against the version in force."""
    version = ICPVersion.objects.filter(pk=version_id, status=ICPVersionStatus.PUBLISHED).first()
    if version is None:  # gone, or already superseded by a newer publication
        return
    services.leads_requalify(version=version)


@shared_task(name="leads.import_run", acks_late=True, reject_on_worker_lost=True)
def import_run(*, job_id: int) -> None:
    """Run an uploaded CSV import (or its dry run); progress goes to the cache, the outcome onto the job.

    Acknowledged only once it has run, and handed back to the broker if its worker dies, so a redelivered task
    resumes the job: it returns quietly when the job is finished or still running under a live lease, and takes
    it over when the lease has run out (`leads.import_lease`)."""
    import_job_run(job_id)


@shared_task(name="leads.import_sweep")
def import_sweep() -> int:
    """Beat: fail the running imports whose worker stopped renewing their lease (nothing of them was stored)."""
    return import_jobs_sweep()
