"""Errors, the lifecycle (allowed transitions) and the timeline: what every other lead service builds on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from common.errors import ServiceError
from leads.fields import DATA_FIELDS as LEAD_DATA_FIELDS
from leads.fields import NUMBER_RANGES as FIELD_NUMBER_RANGES
from leads.models import (
    Lead,
    LeadEvent,
    LeadStatus,
)


class LeadDataError(ServiceError):
    """Bad lead data; `errors` maps field name -> messages (the API turns it into a 422)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("", errors)


class LeadTransitionError(ServiceError):
    """A status change the lifecycle does not allow."""


class ICPError(ServiceError):
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
DATA_FIELDS = set(LEAD_DATA_FIELDS)  # the lead's data, as leads/fields.py declares it


# What lead data may hold, defined once: the API's schema, the edit form, the import and the services check these.
# Numbers: what the data can mean (the import's field specs use the same bounds).
NUMBER_RANGES: dict[str, tuple[int | Decimal, int | Decimal]] = FIELD_NUMBER_RANGES
# Dates: none before 1900; a lead received at most a day ahead of our clock (another time zone, another clock), a
# consent given at most a few minutes ahead (clocks differ a little). respond_by = received_at + the SLA never
# leaves the calendar then.
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
RECEIVED_AT_AHEAD = timedelta(days=1)
CONSENT_AHEAD = timedelta(minutes=5)
CONSENT_FIELDS = ("marketing_consent_at", "partner_sharing_consent_at")


def date_range(field: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The (earliest, latest) accepted for `received_at` or a consent's date, at `now`."""
    now = now or timezone.now()
    return EARLIEST_DATE, now + (RECEIVED_AT_AHEAD if field == "received_at" else CONSENT_AHEAD)


def date_problem(field: str, value: datetime, now: datetime | None = None) -> str | None:
    """Why `value` cannot be `field`'s date (naive, or outside `date_range`), as a sentence; None when it can."""
    if timezone.is_naive(value):
        return "Give the time zone, e.g. 2026-11-23T14:30:00Z or 2026-11-23T14:30:00+01:00."
    earliest, latest = date_range(field, now)
    if earliest <= value <= latest:
        return None
    ahead = "a day" if field == "received_at" else "a few minutes"
    return (
        f"Must be from {earliest:%Y-%m-%d} to {latest:%Y-%m-%d %H:%M} UTC (at most {ahead} ahead of now); "
        f"got {value.isoformat()}."
    )


def number_problem(field: str, value: int | Decimal) -> str | None:
    """Why `value` cannot be `field` (outside NUMBER_RANGES), as a sentence; None when it can."""
    low, high = NUMBER_RANGES[field]
    return None if low <= value <= high else f"Must be between {low} and {high}."


def lead_values_problems(values: dict) -> dict[str, list[str]]:
    """Field -> messages for the numbers and dates in `values` (a lead's fields by name) that are out of range."""
    problems: dict[str, list[str]] = {}
    for field, value in values.items():
        if value is None:
            continue
        if field in NUMBER_RANGES:
            message = number_problem(field, value)
        elif field == "received_at" or field in CONSENT_FIELDS:
            message = date_problem(field, value)
        else:
            continue
        if message:
            problems[field] = [message]
    return problems


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
