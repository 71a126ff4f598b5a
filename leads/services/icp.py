"""ICP versions: drafts, validation, publishing (then re-qualification), what-if previews."""

from django.db import transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from leads import engine
from leads.engine_sql import annotate_verdict
from leads.models import (
    Band,
    ICPProfile,
    ICPVersion,
    ICPVersionStatus,
    Lead,
    LeadSource,
    LeadStatus,
)
from leads.services.base import OPEN_FOR_VERDICT, ICPError
from leads.services.evaluation import _bulk_evaluate_version, published_version
from outbox.publish import enqueue_on_commit


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
def icp_version_publish(*, version: ICPVersion, reason: str, user=None) -> ICPVersion:
    """Freeze a draft: it becomes the version in force, the previous one retires, open leads are re-checked.

    It cannot be undone, so it says why: the reason is kept in the version's notes with who published it, when."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ICPError("Say why this version is published.")
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
    who = (user.get_full_name() or user.get_username()) if user is not None else "the system"
    stamp = f"Published {timezone.localtime(version.published_at):%Y-%m-%d %H:%M} by {who}: {reason}"
    version.notes = f"{version.notes.rstrip()}\n\n{stamp}" if version.notes.strip() else stamp
    version.save(update_fields=["status", "published_at", "published_by", "notes"])
    enqueue_on_commit("leads.requalify_profile", version_id=version.pk)  # leads.tasks imports this module
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
    rule_set = engine.rule_set_from_version(draft)
    leads = Lead.objects.filter(
        source__icp_profile_id=draft.profile_id, status__in=[*OPEN_FOR_VERDICT, LeadStatus.NURTURING]
    ).order_by()
    annotated = annotate_verdict(leads, rule_set).annotate(
        current_band=Case(When(icp_band="", then=Value("none")), default=F("icp_band"))
    )
    moves = list(
        annotated.values("current_band", "verdict_band")
        .annotate(n=Count("pk"))
        .order_by("current_band", "verdict_band")
    )
    reasons = list(
        annotated.filter(~Q(verdict_band=Band.QUALIFIED))
        .values("verdict_band", "verdict_reason")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    return {"total": sum(m["n"] for m in moves), "moves": moves, "reasons": reasons}
