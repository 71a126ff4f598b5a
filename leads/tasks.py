from celery import shared_task

from leads import services
from leads.models import ICPVersion, ICPVersionStatus


@shared_task(name="leads.requalify_profile")
def requalify_profile(*, version_id: int) -> None:
    """After a publication: re-check the profile's open and nurturing leads against the version in force."""
    version = ICPVersion.objects.filter(pk=version_id, status=ICPVersionStatus.PUBLISHED).first()
    if version is None:  # gone, or already superseded by a newer publication
        return
    services.leads_requalify(version=version)


@shared_task(name="leads.import_run")
def import_run(*, job_id: int) -> None:
    """Run an uploaded CSV import (or its dry run); progress goes to the cache, the outcome onto the job."""
    from leads.importing import import_job_run

    import_job_run(job_id)


@shared_task(name="leads.sla_warn")
def sla_warn() -> int:
    """Every five minutes (beat): warn owners about their queued leads close to the respond-by time."""
    from leads.triage import sla_warn_owners

    return sla_warn_owners()
