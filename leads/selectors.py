"""Reads for leads: querysets with their joins done, so list pages never query per row."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from leads import engine
from leads.models import Evaluation, ICPProfile, ICPVersion, Lead, LeadEvent, LeadStatus

OPEN_STATUSES = [LeadStatus.NEW, LeadStatus.NEEDS_REVIEW, LeadStatus.DISQUALIFIED]


def lead_list() -> QuerySet[Lead]:
    return Lead.objects.select_related("source", "owner", "primary_reason")


def lead_get(*, pk: int) -> Lead:
    """The lead or Lead.DoesNotExist (views turn that into a 404)."""
    return lead_list().get(pk=pk)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a lead's timeline: an event, or an email (`message`, an outbox row) as it is now."""

    at: datetime
    event: LeadEvent | None = None
    message: Any = None


def lead_timeline(*, lead: Lead, limit: int | None = None) -> list[TimelineEntry]:
    """The lead's timeline, latest first (two queries): its events, and each email to or about the lead once,
    showing where it is now (queued, sent, failed and why, outcome unknown). An email's `message_queued`
    event is that email's line, so it is not listed again."""
    events = lead.events.exclude(verb="message_queued").select_related("actor").order_by("-at", "-id")
    emails = lead.messages.order_by("-created_at", "-id")  # the outbox's rows, through their relation
    if limit is not None:
        events, emails = events[:limit], emails[:limit]
    entries = [TimelineEntry(at=event.at, event=event) for event in events]
    entries += [TimelineEntry(at=message.created_at, message=message) for message in emails]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit] if limit is not None else entries


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


def evaluation_explain(*, evaluation) -> list[dict]:
    """Each criterion of the evaluated version with the lead's actual value then, the requirement, and the
    recorded outcome — the "why" behind a verdict, rebuilt from the immutable version and stored values."""
    version = evaluation.version
    rule_set = engine.rule_set_from_version(version)
    values = dict(zip(engine.fields_tested(rule_set), evaluation.actual or [], strict=False))
    values["attributes"] = {k.removeprefix("attributes."): v for k, v in values.items() if k.startswith("attributes.")}
    results = {str(result.rule.id): result for result in engine.evaluate(rule_set, values).results}
    recorded = engine.outcomes_from_codes(rule_set, evaluation.outcomes)
    explained = []
    for rule in rule_set.rules:
        result = results[str(rule.id)]
        explained.append(
            {
                "label": rule.label,
                "field": rule.field,
                "outcome": recorded.get(str(rule.id), result.outcome),
                "actual": _display_actual(result.actual),
                "required": result.required,
                "hard": rule.hard,
                "reason": rule.reason_code or None,
                "what_would_qualify": rule.what_would_qualify,
                "defect": rule.defect,  # a broken stored criterion: "cannot tell", and why
            }
        )
    return explained


def evaluation_latest_for_lead(*, lead: Lead):
    return (
        Evaluation.objects.filter(lead=lead)
        .select_related("version__profile", "primary_reason")
        .prefetch_related("version__criteria__reason")
        .first()
    )


def icp_profiles():
    return ICPProfile.objects.prefetch_related(
        Prefetch("versions", queryset=ICPVersion.objects.order_by("-number")), "sources"
    )


def icp_versions():
    return ICPVersion.objects.select_related("profile", "published_by").prefetch_related("criteria__reason")


def _display_actual(actual):
    if isinstance(actual, dict) and "km_away" in actual:
        return f"{actual['km_away']} km away ({actual['lat']}, {actual['lon']})"
    if isinstance(actual, bool):
        return "yes" if actual else "no"
    return actual


def icp_version_criteria(*, version) -> list[dict]:
    """The version's criteria with their requirement in words ("≥ 600", "one of GB, IE")."""
    rules = {rule.id: rule for rule in engine.rule_set_from_version(version).rules}
    return [
        {
            "criterion": c,
            "required": engine.describe_requirement(rules[c.pk]),
            "problems": engine.validate_rule(rules[c.pk]),
            "defect": rules[c.pk].defect,
        }
        for c in version.criteria.all()
    ]
