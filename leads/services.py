"""Writes for leads. Every change of a lead goes through here and lands on its timeline."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from leads.models import Lead, LeadEvent, LeadSource


def lead_event_record(
    *, lead: Lead, verb: str, actor=None, actor_label: str = "", data: dict | None = None, at: datetime | None = None
) -> LeadEvent:
    return LeadEvent.objects.create(
        lead=lead,
        verb=verb,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label or ("" if actor is not None else "system"),
        data=data or {},
        at=at or timezone.now(),
    )


@transaction.atomic
def lead_create(
    *,
    source: LeadSource,
    fields: dict[str, Any],
    received_at: datetime | None = None,
    actor=None,
    actor_label: str = "",
) -> Lead:
    """Store a new inbound lead with its respond-by time from the source's SLA."""
    received_at = received_at or timezone.now()
    lead = Lead.objects.create(
        source=source,
        received_at=received_at,
        respond_by=received_at + timedelta(hours=source.sla_hours),
        **fields,
    )
    lead_event_record(
        lead=lead,
        verb="received",
        actor=actor,
        actor_label=actor_label or f"source:{source.slug}",
        data={"source": source.slug, "external_id": lead.external_id},
        at=received_at,
    )
    return lead
