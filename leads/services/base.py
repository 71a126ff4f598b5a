"""Errors, the lifecycle (allowed transitions) and the timeline: what every other lead service builds on."""

from datetime import datetime

from django.utils import timezone

from leads.models import (
    Lead,
    LeadEvent,
    LeadStatus,
)


class LeadDataError(Exception):
    """Bad lead data; `errors` maps field name -> messages (the API turns it into a 422)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in errors.items()))
        self.errors = errors


class LeadTransitionError(Exception):
    """A status change the lifecycle does not allow."""


class ICPError(Exception):
    """An ICP version operation that is not allowed in the version's state, or invalid criteria."""


# DESIGN.md: new -> qualified | needs_review | disqualified; disqualified/needs_review -> a redirect;
# closed only for non-persons; nurturing -> qualified when re-qualification passes.
TRANSITIONS: dict[str, set[str]] = {
    LeadStatus.NEW: {LeadStatus.QUALIFIED, LeadStatus.NEEDS_REVIEW, LeadStatus.DISQUALIFIED, LeadStatus.CLOSED},
    LeadStatus.NEEDS_REVIEW: {
        LeadStatus.QUALIFIED,
        LeadStatus.DISQUALIFIED,
        LeadStatus.REFERRED,
        LeadStatus.NURTURING,
        LeadStatus.HELPED,
        LeadStatus.CLOSED,
    },
    LeadStatus.DISQUALIFIED: {
        LeadStatus.QUALIFIED,
        LeadStatus.NEEDS_REVIEW,
        LeadStatus.REFERRED,
        LeadStatus.NURTURING,
        LeadStatus.HELPED,
        LeadStatus.CLOSED,
    },
    LeadStatus.NURTURING: {
        LeadStatus.QUALIFIED,
        LeadStatus.REFERRED,
        LeadStatus.HELPED,
        LeadStatus.DISQUALIFIED,
        LeadStatus.NEEDS_REVIEW,  # nurture stopped by hand: back to triage
    },
    LeadStatus.REFERRED: {LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW},  # declined/expired: back to triage
    LeadStatus.QUALIFIED: set(),
    LeadStatus.HELPED: {LeadStatus.NURTURING, LeadStatus.REFERRED},
    LeadStatus.CLOSED: set(),
}
# Statuses an ICP verdict may move a lead out of: still undecided, or in nurture (re-qualification).
OPEN_FOR_VERDICT = (LeadStatus.NEW, LeadStatus.NEEDS_REVIEW, LeadStatus.DISQUALIFIED)
DATA_FIELDS = {
    "email",
    "name",
    "company",
    "title",
    "is_decision_maker",
    "phone",
    "country",
    "postal_code",
    "latitude",
    "longitude",
    "employees",
    "budget",
    "budget_currency",
    "industry",
    "product_interest",
    "timeline",
    "credit_score",
    "message",
    "attributes",
    "marketing_consent_at",
    "marketing_consent_version",
    "partner_sharing_consent_at",
    "partner_sharing_consent_version",
    "do_not_contact",
}


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


def lead_transition(
    *, lead: Lead, to: str, actor=None, actor_label: str = "", data: dict | None = None, at: datetime | None = None
) -> Lead:
    """Move a lead to another status, or raise LeadTransitionError. The caller holds the transaction."""
    if to not in TRANSITIONS.get(lead.status, set()):
        raise LeadTransitionError(
            f"A lead that is {LeadStatus(lead.status).label.lower()} cannot become {LeadStatus(to).label.lower()}."
        )
    previous = lead.status
    lead.status = to
    lead.save(update_fields=["status", "updated_at"])
    lead_event_record(
        lead=lead,
        verb="status_changed",
        actor=actor,
        actor_label=actor_label,
        data={"from": previous, "to": to, **(data or {})},
        at=at,
    )
    return lead
