"""Reads for leads: querysets with their joins done, so list pages never query per row."""

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from leads.models import Lead, LeadEvent, LeadStatus

OPEN_STATUSES = [LeadStatus.NEW, LeadStatus.NEEDS_REVIEW, LeadStatus.DISQUALIFIED]


def lead_list() -> QuerySet[Lead]:
    return Lead.objects.select_related("source", "owner")


def lead_get(*, pk: int) -> Lead:
    """The lead or Lead.DoesNotExist (views turn that into a 404)."""
    return lead_list().get(pk=pk)


def lead_timeline(*, lead: Lead) -> QuerySet[LeadEvent]:
    return lead.events.select_related("actor").order_by("-at", "-id")


def lead_status_summary(*, now: datetime) -> dict:
    """Counts per status and of open leads past their respond-by time, in one query."""
    aggregates = {status.value: Count("pk", filter=Q(status=status)) for status in LeadStatus}
    aggregates["overdue"] = Count(
        "pk", filter=Q(status__in=OPEN_STATUSES, first_response_at__isnull=True, respond_by__lt=now)
    )
    row = Lead.objects.aggregate(**aggregates)
    return {
        "by_status": [(status.label, row[status.value]) for status in LeadStatus],
        "overdue": row["overdue"],
        "total": sum(row[status.value] for status in LeadStatus),
    }
