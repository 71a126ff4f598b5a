"""Writes for leads. Every change of a lead goes through here and lands on its timeline."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from leads import engine
from leads.models import (
    Band,
    DisqualificationReason,
    Evaluation,
    ICPProfile,
    ICPVersion,
    ICPVersionStatus,
    Lead,
    LeadEvent,
    LeadSource,
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


def _validated(lead: Lead) -> None:
    try:
        lead.full_clean(
            exclude=["source", "received_at", "respond_by", "status", "evaluation", "primary_reason"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise LeadDataError(exc.message_dict) from None
    if lead.budget is not None and not lead.budget_currency:
        raise LeadDataError({"budget_currency": ["Required when a budget is given."]})
    if (lead.latitude is None) != (lead.longitude is None):
        raise LeadDataError({"longitude" if lead.longitude is None else "latitude": ["Give both or neither."]})


@transaction.atomic
def lead_intake(*, source: LeadSource, data: dict[str, Any], actor_label: str) -> tuple[Lead, bool, Evaluation | None]:
    """Create or update the lead (source, external_id) from an inbound system, then evaluate it.

    Idempotent: sending the same lead again updates it and re-evaluates it, it never duplicates."""
    data = dict(data)
    external_id = str(data.pop("external_id", "") or "").strip()
    if not external_id:
        raise LeadDataError({"external_id": ["This field is required."]})
    received_at = data.pop("received_at", None) or timezone.now()
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
    evaluation = (
        lead_evaluate(lead=lead, actor_label=actor_label)
        if created or changed or not lead.evaluation_id
        else lead.evaluation
    )
    return lead, created, evaluation


EDITABLE_FIELDS = [
    "email", "name", "company", "title", "is_decision_maker", "phone", "country", "postal_code", "latitude",
    "longitude", "employees", "budget", "budget_currency", "industry", "product_interest", "timeline",
    "credit_score", "message", "do_not_contact",
]  # fmt: skip


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


def published_version(profile_id: int | None) -> ICPVersion | None:
    if profile_id is None:
        return None
    return (
        ICPVersion.objects.filter(profile_id=profile_id, status=ICPVersionStatus.PUBLISHED)
        .prefetch_related("criteria__reason")
        .first()
    )


def _status_after_verdict(status: str, band: str) -> str:
    if status in OPEN_FOR_VERDICT:
        return band
    if status == LeadStatus.NURTURING and band == Band.QUALIFIED:
        return LeadStatus.QUALIFIED
    return status


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def lead_evaluate(
    *, lead: Lead, actor=None, actor_label: str = "", version: ICPVersion | None = None
) -> Evaluation | None:
    """Check one lead against its source's published ICP, record the evaluation and apply the band.

    No published ICP: the lead goes to needs review (a person decides), never to disqualified."""
    version = version or published_version(lead.source.icp_profile_id)
    if version is None:
        if lead.status == LeadStatus.NEW:
            lead_transition(
                lead=lead,
                to=LeadStatus.NEEDS_REVIEW,
                actor=actor,
                actor_label=actor_label,
                data={"why": "No published ICP for this source."},
            )
        return None
    rule_set = engine.rule_set_from_version(version)
    values = engine.lead_values(lead)
    verdict = engine.evaluate(rule_set, values)
    reason = (
        DisqualificationReason.objects.filter(code=verdict.primary_reason_code).first()
        if verdict.primary_reason_code
        else None
    )
    now = timezone.now()
    evaluation = Evaluation.objects.create(
        lead=lead,
        version=version,
        score=verdict.score,
        band=verdict.band,
        primary_reason=reason,
        outcomes=verdict.outcomes(),
        actual={field: _json_safe(_actual(values, field)) for field in engine.fields_tested(rule_set)},
        evaluated_at=now,
    )
    previous = lead.status
    lead.evaluation = evaluation
    lead.primary_reason = reason if verdict.band != Band.QUALIFIED else None
    lead.status = _status_after_verdict(previous, verdict.band)
    lead.save(update_fields=["evaluation", "primary_reason", "status", "updated_at"])
    lead_event_record(
        lead=lead,
        verb="evaluated",
        actor=actor,
        actor_label=actor_label,
        at=now,
        data={
            "profile": version.profile.name,
            "version": version.number,
            "band": verdict.band,
            "score": verdict.score,
            "reason": verdict.primary_reason_code or "",
            "failed": [r.rule.label for r in verdict.failed],
        },
    )
    if lead.status != previous:
        lead_event_record(
            lead=lead,
            verb="status_changed",
            actor=actor,
            actor_label=actor_label,
            at=now,
            data={"from": previous, "to": lead.status, "why": f"ICP {verdict.band}"},
        )
    if previous == LeadStatus.NURTURING and lead.status == LeadStatus.QUALIFIED:
        from nurture.services import enrollments_handback  # nurture builds on leads, not the other way round

        enrollments_handback(lead_ids=[lead.pk], now=now)
    return evaluation


def _actual(values: dict[str, Any], field: str) -> Any:
    if field.startswith("attributes."):
        return (values.get("attributes") or {}).get(field.removeprefix("attributes."))
    return values.get(field)


def _vendor_json_object(pairs: dict[str, str]) -> str:
    """A JSON object built in SQL from column expressions (the two back ends spell it differently)."""
    fn = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    return f"{fn}({', '.join(f"'{key}', {expr}" for key, expr in pairs.items())})"


@transaction.atomic
def leads_evaluate_bulk(*, queryset: QuerySet[Lead], actor_label: str) -> dict[str, int]:
    """Evaluate many leads in a few set-based statements per ICP version (no Python per lead).

    Records an Evaluation per lead, moves the open ones to their band (nurturing ones to qualified
    when they now pass) and writes a timeline event for each status that changes."""
    counts = {band.value: 0 for band in Band}
    profile_ids = queryset.order_by().values_list("source__icp_profile_id", flat=True).distinct()
    for profile_id in list(profile_ids):
        version = published_version(profile_id)
        subset = (
            queryset.filter(source__icp_profile_id=profile_id)
            if profile_id
            else queryset.filter(source__icp_profile__isnull=True)
        )
        if version is None:
            counts[Band.NEEDS_REVIEW] += _bulk_no_icp(subset, actor_label)
            continue
        for band, n in _bulk_evaluate_version(subset, version, actor_label).items():
            counts[band] += n
    return counts


def _bulk_no_icp(queryset: QuerySet[Lead], actor_label: str) -> int:
    """New leads with no ICP to check them against go to needs review; returns how many moved."""
    new = queryset.filter(status=LeadStatus.NEW)
    now = timezone.now()
    LeadEvent.objects.bulk_create(
        LeadEvent(
            lead_id=pk,
            verb="status_changed",
            actor_label=actor_label,
            at=now,
            data={"from": "new", "to": "needs_review", "why": "No published ICP for this source."},
        )
        for pk in new.values_list("pk", flat=True)
    )
    return new.update(status=LeadStatus.NEEDS_REVIEW, updated_at=now)


def verdict_select(queryset: QuerySet, rule_set: engine.RuleSet) -> tuple[str, list]:
    """SQL selecting pk, icp_score, icp_band, icp_reason_id, icp_outcomes, icp_actual for `queryset`
    (Lead, or StagedLead rows being imported), ready for an INSERT … SELECT."""
    from leads.engine_sql import verdict_sql

    reason_ids = dict(DisqualificationReason.objects.values_list("code", "id"))
    return verdict_sql(queryset, rule_set, reason_ids, connection.vendor)


def _bulk_evaluate_version(queryset: QuerySet[Lead], version: ICPVersion, actor_label: str) -> dict[str, int]:
    rule_set = engine.rule_set_from_version(version)
    select_sql, params = verdict_select(queryset, rule_set)
    now = timezone.now()
    ev, lead_t, event_t = Evaluation._meta.db_table, Lead._meta.db_table, LeadEvent._meta.db_table
    open_statuses = ", ".join(f"'{s}'" for s in OPEN_FOR_VERDICT)
    new_status = (
        f"CASE WHEN l.status IN ({open_statuses}) THEN e.band "
        f"WHEN l.status = 'nurturing' AND e.band = 'qualified' THEN 'qualified' ELSE l.status END"
    )
    event_data = _vendor_json_object(
        {
            "from": "l.status",
            "to": new_status,
            "why": "'ICP ' || e.band",
            "version": str(version.number),
            "score": "e.score",
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ev} (lead_id, version_id, score, band, primary_reason_id, outcomes, actual, evaluated_at) "  # noqa: S608 - table names and constants, values bound
            f"SELECT v.pk, %s, v.icp_score, v.icp_band, CAST(v.icp_reason_id AS BIGINT), v.icp_outcomes, "
            f"v.icp_actual, %s "
            f"FROM ({select_sql}) v",
            [version.pk, now, *params],
        )
        batch = "e.version_id = %s AND e.evaluated_at = %s"
        cursor.execute(
            f"INSERT INTO {event_t} (lead_id, verb, actor_label, data, at) "  # noqa: S608 - table names and constants, values bound
            f"SELECT l.id, 'status_changed', %s, {event_data}, %s FROM {ev} e JOIN {lead_t} l ON l.id = e.lead_id "
            f"WHERE {batch} AND l.status <> ({new_status})",
            [actor_label, now, version.pk, now],
        )
        cursor.execute(
            f"SELECT l.id FROM {ev} e JOIN {lead_t} l ON l.id = e.lead_id "  # noqa: S608 - table names and constants, values bound
            f"WHERE {batch} AND l.status = 'nurturing' AND e.band = 'qualified'",
            [version.pk, now],
        )
        handback = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"UPDATE {lead_t} AS l SET evaluation_id = e.id, status = {new_status}, updated_at = %s, "  # noqa: S608 - table names and constants, values bound
            f"primary_reason_id = CASE WHEN e.band = 'qualified' THEN NULL ELSE e.primary_reason_id END "
            f"FROM {ev} e WHERE e.lead_id = l.id AND {batch}",
            [now, version.pk, now],
        )
        cursor.execute(f"SELECT e.band, COUNT(*) FROM {ev} e WHERE {batch} GROUP BY e.band", [version.pk, now])  # noqa: S608 - table names and constants, values bound
        counts = dict(cursor.fetchall())
    if handback:  # nurtured leads that qualify now leave nurture and go back to their owner
        from nurture.services import enrollments_handback

        enrollments_handback(lead_ids=handback, now=now)
    return counts


# ICP versions -------------------------------------------------------------------------------------------


@transaction.atomic
def icp_draft_create(*, profile: ICPProfile, user=None) -> ICPVersion:
    """A new draft copying the criteria in force (or empty for a new profile). One draft at a time."""
    if profile.versions.filter(status=ICPVersionStatus.DRAFT).exists():
        raise ICPError(f"{profile} already has a draft; edit or publish that one.")
    current = published_version(profile.pk)
    last_number = profile.versions.order_by("-number").values_list("number", flat=True).first() or 0
    draft = ICPVersion.objects.create(
        profile=profile,
        number=last_number + 1,
        created_by=user,
        qualified_min=current.qualified_min if current else 70,
        review_min=current.review_min if current else 40,
    )
    if current:
        for criterion in current.criteria.all():
            criterion.pk = None
            criterion.version = draft
            criterion.save()
    return draft


def icp_version_validate(*, version: ICPVersion) -> list[str]:
    rule_set = engine.rule_set_from_version(version)
    errors = [
        f"{rule.label or rule.field}: {message}" for rule in rule_set.rules for message in engine.validate_rule(rule)
    ]
    if not rule_set.rules:
        errors.append("A version needs at least one criterion.")
    if version.review_min > version.qualified_min:
        errors.append("The needs-review threshold must not be above the qualified threshold.")
    return errors


@transaction.atomic
def icp_version_publish(*, version: ICPVersion, user=None) -> ICPVersion:
    """Freeze a draft: it becomes the version in force, the previous one retires, open leads are re-checked."""
    version = ICPVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != ICPVersionStatus.DRAFT:
        raise ICPError(f"Only a draft can be published; v{version.number} is {version.get_status_display().lower()}.")
    if errors := icp_version_validate(version=version):
        raise ICPError("Cannot publish: " + "; ".join(errors))
    ICPVersion.objects.filter(profile=version.profile, status=ICPVersionStatus.PUBLISHED).update(
        status=ICPVersionStatus.RETIRED
    )
    version.status = ICPVersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = user
    version.save(update_fields=["status", "published_at", "published_by"])
    from leads.tasks import requalify_profile

    transaction.on_commit(lambda: requalify_profile.delay(version_id=version.pk))
    return version


def icp_attribute_keys(source: LeadSource) -> set[str]:
    """The `attributes` keys the source's ICP tests (an import maps columns named like them)."""
    version = published_version(source.icp_profile_id)
    if version is None:
        return set()
    rule_set = engine.rule_set_from_version(version)
    return {f.removeprefix("attributes.") for f in engine.fields_tested(rule_set) if f.startswith("attributes.")}


def leads_requalify(*, version: ICPVersion, actor_label: str = "icp-publish") -> dict[str, int]:
    """Re-check every open or nurturing lead of the profile's sources against `version`."""
    queryset = Lead.objects.filter(
        source__icp_profile_id=version.profile_id,
        status__in=[*OPEN_FOR_VERDICT, LeadStatus.NURTURING],
    )
    with transaction.atomic():
        return _bulk_evaluate_version(queryset, version, actor_label)


def icp_whatif(*, draft: ICPVersion) -> dict:
    """How existing open leads would move between bands under `draft`, and why — all in SQL."""
    from django.db.models import Count

    from leads.engine_sql import annotate_verdict

    rule_set = engine.rule_set_from_version(draft)
    leads = Lead.objects.filter(
        source__icp_profile_id=draft.profile_id, status__in=[*OPEN_FOR_VERDICT, LeadStatus.NURTURING]
    ).order_by()
    annotated = annotate_verdict(leads, rule_set).annotate(
        current_band=Case(When(evaluation__isnull=True, then=Value("none")), default=F("evaluation__band"))
    )
    moves = list(
        annotated.values("current_band", "icp_band").annotate(n=Count("pk")).order_by("current_band", "icp_band")
    )
    reasons = list(
        annotated.filter(~Q(icp_band=Band.QUALIFIED))
        .values("icp_band", "icp_reason")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    return {"total": sum(m["n"] for m in moves), "moves": moves, "reasons": reasons}
