"""Reads of the triage workspace: the queue with what its table shows joined in, the counts per reason, and who
holds a lead right now."""

from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from leads.models import TRIAGE_STATUSES, Lead


def triage_queue() -> QuerySet[Lead]:
    """The queue: disqualified and needs-review leads with what the table shows joined in."""
    return Lead.objects.filter(status__in=TRIAGE_STATUSES).select_related(
        "source", "owner", "primary_reason", "claimed_by"
    )


def triage_reason_counts() -> list[dict[str, Any]]:
    """Leads in the queue per reason (one grouped query over the partial queue index)."""
    rows = (
        Lead.objects.filter(status__in=TRIAGE_STATUSES)
        .values("primary_reason_id", "primary_reason__label")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return [
        {"id": r["primary_reason_id"], "label": r["primary_reason__label"] or "No reason", "n": r["n"]} for r in rows
    ]


def claim_holder(lead: Lead, *, user, now: datetime | None = None):
    """The other user holding the lead right now, or None."""
    now = now or timezone.now()
    if lead.claimed_by_id and lead.claimed_by_id != user.pk and lead.claimed_until and lead.claimed_until > now:
        return lead.claimed_by
    return None
