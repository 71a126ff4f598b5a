from celery import shared_task

from triage.services import sla_warn_owners


@shared_task(name="triage.sla_warn")
def sla_warn() -> int:
    """Every five minutes (beat): warn owners about their queued leads close to the respond-by time."""
    return sla_warn_owners()


# The name this task had while triage lived in leads: a message already in a broker (published by beat before an
# upgrade) still runs. Remove it once no broker can hold such a message any more.
@shared_task(name="leads.sla_warn")
def sla_warn_leads_alias() -> int:
    """Old name of `triage.sla_warn`."""
    return sla_warn_owners()
