"""Leads arriving (created, sent again by an inbound system) and corrected by hand."""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.limits import problem_sentence, unstorable_json, unstorable_text
from leads.fields import EDITABLE_FIELDS as EDITABLE_FIELDS  # the edit page's fields, for leads.services
from leads.fields import lead_rules_problems
from leads.models import (
    Evaluation,
    Lead,
    LeadSource,
    LeadStatus,
)
from leads.services.base import (
    DATA_FIELDS,
    OPEN_FOR_VERDICT,
    LeadDataError,
    date_problem,
    lead_event_record,
    lead_values_problems,
)
from leads.services.evaluation import lead_evaluate


@transaction.atomic
def lead_create(
    *,
    source: LeadSource,
    fields: dict[str, Any],
    received_at: datetime | None = None,
    actor=None,
    actor_label: str = "",
    evaluate: bool = False,
) -> Lead:
    """Store a new inbound lead with its respond-by time from the source's SLA."""
    received_at = received_at or timezone.now()
    _received_at_checked(received_at)
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
    if evaluate:
        lead_evaluate(lead=lead, actor=actor, actor_label=actor_label)
    return lead


def _received_at_checked(received_at: datetime) -> None:
    problem = date_problem("received_at", received_at)
    if problem:
        raise LeadDataError({"received_at": [problem]})


def _validated(lead: Lead) -> None:
    errors: dict[str, list[str]] = {}
    try:
        lead.full_clean(
            exclude=["source", "received_at", "respond_by", "status", "evaluation", "primary_reason"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        errors = exc.message_dict
    for field in DATA_FIELDS:  # what the database cannot store, or what the data cannot mean
        unstorable = unstorable_json(getattr(lead, field), field)
        if unstorable:
            where, problem = unstorable
            errors.setdefault(field, []).append(problem_sentence(problem, "" if where == field else where))
    for field, messages in lead_values_problems({f: getattr(lead, f) for f in DATA_FIELDS}).items():
        errors.setdefault(field, []).extend(messages)
    for field, messages in lead_rules_problems({f: getattr(lead, f) for f in DATA_FIELDS}).items():
        errors.setdefault(field, []).extend(messages)  # the rules between fields (leads/fields.py, Lead's constraints)
    if errors:
        raise LeadDataError(errors)


@transaction.atomic
def lead_intake(*, source: LeadSource, data: dict[str, Any], actor_label: str) -> tuple[Lead, bool, Evaluation | None]:
    """Create or update the lead (source, external_id) from an inbound system, then evaluate it.

    Idempotent: sending the same lead again updates it and re-evaluates it, it never duplicates."""
    data = dict(data)
    external_id = str(data.pop("external_id", "") or "").strip()
    if not external_id:
        raise LeadDataError({"external_id": ["This field is required."]})
    if problem := unstorable_text(external_id):
        raise LeadDataError({"external_id": [problem_sentence(problem)]})
    received_at = data.pop("received_at", None) or timezone.now()
    _received_at_checked(received_at)
    unknown = set(data) - DATA_FIELDS
    if unknown:
        raise LeadDataError({field: ["Unknown field."] for field in sorted(unknown)})
    lead = Lead.objects.select_for_update().filter(source=source, external_id=external_id).first()
    created = lead is None
    if created:
        lead = Lead(
            source=source,
            external_id=external_id,
            received_at=received_at,
            respond_by=received_at + timedelta(hours=source.sla_hours),
        )
    changed = {}
    for field, value in data.items():
        if getattr(lead, field) != value:
            changed[field] = value
            setattr(lead, field, value)
    _validated(lead)
    if created:
        lead.save()
        lead_event_record(
            lead=lead,
            verb="received",
            actor_label=actor_label,
            data={"source": source.slug, "external_id": external_id},
            at=received_at,
        )
    elif changed:
        lead.save()
        lead_event_record(lead=lead, verb="updated", actor_label=actor_label, data={"fields": sorted(changed)})
    if created or changed or not lead.icp_band:
        evaluation = lead_evaluate(lead=lead, actor_label=actor_label)
    else:
        evaluation = lead.evaluations.order_by("-evaluated_at", "-id").first()
    return lead, created, evaluation


@transaction.atomic
def lead_update(*, lead: Lead, data: dict[str, Any], actor=None, actor_label: str = "") -> tuple[Lead, list[str]]:
    """Change a lead's data by hand (the edit page, the admin), then re-check it against the ICP in force.

    Only the fields that changed are recorded on the timeline; do-not-contact can be set but not cleared here
    (a lead who asked to stop is not re-subscribed by an edit). A nurtured lead that now qualifies leaves
    nurture and goes back to its owner. Returns the lead and the names of the fields that changed."""
    unknown = set(data) - DATA_FIELDS
    if unknown:
        raise LeadDataError({field: ["This field cannot be edited here."] for field in sorted(unknown)})
    lead = Lead.objects.select_for_update(of=("self",)).select_related("source").get(pk=lead.pk)
    if lead.do_not_contact and data.get("do_not_contact") is False:
        raise LeadDataError({"do_not_contact": ["The lead asked not to be contacted; an edit cannot undo that."]})
    changed = sorted(field for field, value in data.items() if getattr(lead, field) != value)
    for field in changed:
        setattr(lead, field, data[field])
    _validated(lead)
    if not changed:
        return lead, []
    lead.save()
    lead_event_record(lead=lead, verb="updated", actor=actor, actor_label=actor_label, data={"fields": changed})
    if lead.status in (*OPEN_FOR_VERDICT, LeadStatus.NURTURING):
        lead_evaluate(lead=lead, actor=actor, actor_label=actor_label)
    return lead, changed
