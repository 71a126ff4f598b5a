"""Checking leads against the ICP in force: one lead (with its explanation) or many at once in SQL."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads import engine, hooks
from leads.engine_sql import verdict_sql
from leads.models import (
    Band,
    DisqualificationReason,
    Evaluation,
    ICPVersion,
    ICPVersionStatus,
    Lead,
    LeadEvent,
    LeadStatus,
)
from leads.services.base import OPEN_FOR_VERDICT, lead_event_record, lead_transition


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
    """A tested value as the evaluation log holds it, the same whichever path checked the lead: a decimal as a JSON
    number, as the SQL back end and the import write it (at most 15 significant digits: exact as a double)."""
    if isinstance(value, Decimal):
        return float(value)
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
        outcomes=verdict.codes(),
        actual=[_json_safe(_actual(values, field)) for field in engine.fields_tested(rule_set)],
        evaluated_at=now,
    )
    previous = lead.status
    lead.icp_band = verdict.band
    lead.primary_reason = reason if verdict.band != Band.QUALIFIED else None
    lead.status = _status_after_verdict(previous, verdict.band)
    lead.save(update_fields=["icp_band", "primary_reason", "status", "updated_at"])
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
            data={
                "from": previous,
                "to": lead.status,
                "why": f"ICP {verdict.band}",
                "version": version.number,
                "score": verdict.score,
            },  # what leads_evaluate_bulk records too
        )
    if previous == LeadStatus.NURTURING and lead.status == LeadStatus.QUALIFIED:  # nurture hands it back
        hooks.notify(hooks.NURTURED_NOW_QUALIFIED, lead_ids=[lead.pk], now=now)
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
    reason_ids = dict(DisqualificationReason.objects.values_list("code", "id"))
    return verdict_sql(queryset, rule_set, reason_ids, connection.vendor)


def _bulk_evaluate_version(queryset: QuerySet[Lead], version: ICPVersion, actor_label: str) -> dict[str, int]:
    """Evaluate `queryset` against `version` in a handful of statements, however many leads.

    The verdicts are computed once into a temporary table (in parallel on PostgreSQL); every lead gets its
    Evaluation from it. One join with the leads then picks out those whose status, reason or band changes
    (a stricter ICP usually moves few of them): only those are updated, with a timeline event for each
    status that changes."""
    rule_set = engine.rule_set_from_version(version)
    select_sql, params = verdict_select(queryset, rule_set)
    now = timezone.now()
    ev, lead_t, event_t = Evaluation._meta.db_table, Lead._meta.db_table, LeadEvent._meta.db_table
    open_statuses = ", ".join(f"'{s}'" for s in OPEN_FOR_VERDICT)
    new_status = (
        f"CASE WHEN l.status IN ({open_statuses}) THEN v.band "
        f"WHEN l.status = 'nurturing' AND v.band = 'qualified' THEN 'qualified' ELSE l.status END"
    )
    new_reason = "CASE WHEN v.band = 'qualified' THEN NULL ELSE v.reason_id END"
    event_data = _vendor_json_object(
        {"from": "c.old_status", "to": "c.status", "why": "'ICP ' || c.band", "version": str(version.number),
         "score": "c.score"}
    )  # fmt: skip
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:  # a one-off scan: compiling it (JIT, in every parallel worker) costs more than it saves
            cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
            jit = cursor.fetchone()[0]
        cursor.execute(
            "CREATE TEMP TABLE evaluation_batch AS SELECT v.pk AS lead_id, v.icp_score AS score, "  # noqa: S608 - our SQL, values bound
            "v.icp_band AS band, CAST(v.icp_reason_id AS BIGINT) AS reason_id, v.icp_outcomes AS outcomes, "
            f"v.icp_actual AS actual FROM ({select_sql}) v",
            params,
        )
        if postgresql:
            cursor.execute("SELECT set_config('jit', %s, true)", [jit])
        cursor.execute(
            f"INSERT INTO {ev} (lead_id, version_id, score, band, primary_reason_id, outcomes, actual, evaluated_at) "  # noqa: S608 - table names and constants, values bound
            "SELECT lead_id, %s, score, band, reason_id, outcomes, actual, %s FROM evaluation_batch",
            [version.pk, now],
        )
        cursor.execute(
            "CREATE TEMP TABLE evaluation_changed AS "  # noqa: S608 - table names and constants
            f"SELECT l.id, l.status AS old_status, {new_status} AS status, {new_reason} AS reason_id, v.band, v.score "
            f"FROM evaluation_batch v JOIN {lead_t} l ON l.id = v.lead_id "
            f"WHERE l.status <> ({new_status}) OR l.icp_band <> v.band "
            f"OR l.primary_reason_id IS DISTINCT FROM ({new_reason})"
        )
        cursor.execute(
            f"INSERT INTO {event_t} (lead_id, verb, actor_label, data, at) "  # noqa: S608 - table names and constants, values bound
            f"SELECT c.id, 'status_changed', %s, {event_data}, %s FROM evaluation_changed c "
            "WHERE c.status <> c.old_status",
            [actor_label, now],
        )
        cursor.execute("SELECT id FROM evaluation_changed WHERE old_status = 'nurturing' AND status = 'qualified'")
        handback = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"UPDATE {lead_t} SET status = c.status, primary_reason_id = c.reason_id, icp_band = c.band, "  # noqa: S608 - table names and constants, values bound
            f"updated_at = %s FROM evaluation_changed c WHERE c.id = {lead_t}.id",
            [now],
        )
        cursor.execute("SELECT band, COUNT(*) FROM evaluation_batch GROUP BY band")
        counts = dict(cursor.fetchall())
        cursor.execute("DROP TABLE evaluation_batch")
        cursor.execute("DROP TABLE evaluation_changed")
    if handback:  # nurtured leads that qualify now leave nurture and go back to their owner
        hooks.notify(hooks.NURTURED_NOW_QUALIFIED, lead_ids=handback, now=now)
    return counts
