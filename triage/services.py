"""Triage: the queue of leads waiting for a redirect, claims, and the actions sales ops take on them.

Every action runs through `triage_act`: it locks the lead row, checks the lead is still in the queue and not
held by someone else, runs the redirect service (refer, nurture, help) or a closing action, and releases the
claim, all in one transaction. Two people (or two tabs) acting on one lead at once therefore produce exactly
one outcome; the other gets a `TriageConflict` saying what happened.

Each redirect has one service, in the app that owns it, which every door uses (this queue, the lead's pages,
bulk, the API, the re-offer task) and which tells the lead: `referral_send` (introduce, signpost),
`enrollment_create` (enroll), `helpful_reply_send` (reply), `lead_close` and `lead_override`. Triage adds the
claim around them, nothing else: "no dead ends" is theirs, so it holds whichever door was used.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import ServiceError
from common.text import render_plain_text
from leads.models import TRIAGE_STATUSES, Lead, LeadStatus
from leads.services import lead_close, lead_event_record, lead_override
from nurture.models import HelpfulReply
from nurture.services import enrollment_create, helpful_reply_render, helpful_reply_send
from outbox.services import message_queue
from partners.services import referral_send
from triage.selectors import claim_holder

CLAIM_MINUTES = 5


class TriageConflict(ServiceError):
    """Someone else got there first (or holds the lead); the message says who and what happened."""

    status = 409


class TriageError(ServiceError):
    """An action that is not allowed; `errors` maps a field to messages when input was bad."""


def _name(user) -> str:
    if user is None:
        return "someone"
    return user.get_full_name() or user.get_username()


# Claims ---------------------------------------------------------------------------------------------------


def lead_claim(*, lead: Lead, user, now: datetime | None = None) -> tuple[bool, Any]:
    """Claim the lead for a few minutes if nobody else holds it. Returns (claimed, holder)."""
    now = now or timezone.now()
    free = Q(claimed_by__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    claimed = (
        Lead.objects.filter(free, pk=lead.pk, status__in=TRIAGE_STATUSES).update(
            claimed_by=user, claimed_until=now + timedelta(minutes=CLAIM_MINUTES)
        )
        == 1
    )
    if claimed:
        lead.claimed_by, lead.claimed_until = user, now + timedelta(minutes=CLAIM_MINUTES)
        return True, user
    fresh = Lead.objects.select_related("claimed_by").get(pk=lead.pk)
    return False, claim_holder(fresh, user=user, now=now)


def lead_release(*, lead: Lead, user) -> None:
    Lead.objects.filter(pk=lead.pk, claimed_by=user).update(claimed_by=None, claimed_until=None)


# Acting ---------------------------------------------------------------------------------------------------


def _who_handled(lead: Lead) -> str:
    event = lead.events.exclude(verb__startswith="message_").select_related("actor").order_by("-at", "-id").first()
    who = event.actor_display if event else "someone"
    return f"{who} already handled this lead: it is now {LeadStatus(lead.status).label.lower()}."


@transaction.atomic
def triage_act[T](*, lead: Lead, user, action: Callable[[Lead], T], now: datetime | None = None) -> T:
    """Run `action(locked_lead)` if the lead is still in the queue and not held by someone else."""
    now = now or timezone.now()
    locked = Lead.objects.select_for_update(of=("self",)).select_related("claimed_by", "source").get(pk=lead.pk)
    if locked.status not in TRIAGE_STATUSES:
        raise TriageConflict(_who_handled(locked))
    holder = claim_holder(locked, user=user, now=now)
    if holder is not None:
        raise TriageConflict(
            f"{_name(holder)} is working on this lead (until {timezone.localtime(locked.claimed_until):%H:%M})."
        )
    result = action(locked)
    Lead.objects.filter(pk=locked.pk).update(claimed_by=None, claimed_until=None)
    return result


def triage_refer(*, lead: Lead, partner, mode: str, user, note: str = "", now: datetime | None = None):
    """Introduce or signpost from the queue: `referral_send` (which tells the lead) under the claim."""
    now = now or timezone.now()
    return triage_act(
        lead=lead,
        user=user,
        action=lambda locked: referral_send(lead=locked, partner=partner, mode=mode, actor=user, note=note, now=now),
        now=now,
    )


def triage_enroll(*, lead: Lead, track, user, now: datetime | None = None):
    """Nurture from the queue: `enrollment_create` (the track's first email now is the reply, or the lead was
    answered already) under the claim."""
    now = now or timezone.now()
    return triage_act(
        lead=lead,
        user=user,
        action=lambda locked: enrollment_create(lead=locked, track=track, actor=user, now=now),
        now=now,
    )


def triage_reply(*, lead: Lead, subject: str, body: str, user, reply=None, now: datetime | None = None):
    """A helpful reply from the queue: `helpful_reply_send` under the claim."""
    return triage_act(
        lead=lead,
        user=user,
        action=lambda locked: helpful_reply_send(
            lead=locked, subject=subject, body=body, reply=reply, actor=user, now=now
        ),
        now=now,
    )


def triage_close(*, lead: Lead, kind: str, reason: str, user, now: datetime | None = None) -> Lead:
    """Close a lead that is not a real person (spam, a test entry, a duplicate): `lead_close` under the claim."""
    return triage_act(
        lead=lead,
        user=user,
        action=lambda locked: lead_close(lead=locked, kind=kind, reason=reason, actor=user, now=now),
        now=now,
    )


def triage_override(*, lead: Lead, note: str, user, now: datetime | None = None) -> Lead:
    """The lead fits after all: `lead_override` under the claim."""
    return triage_act(
        lead=lead, user=user, action=lambda locked: lead_override(lead=locked, note=note, actor=user, now=now), now=now
    )


@transaction.atomic
def lead_reassign(*, lead: Lead, owner, user, now: datetime | None = None) -> Lead:
    """Give the lead another owner (or none). Allowed whatever the claim: it changes who acts, not what."""
    locked = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
    if owner is not None and not owner.is_active:
        raise TriageError("That user is inactive.", {"owner": ["Choose an active user."]})
    previous = locked.owner
    if previous == owner:
        return locked
    locked.owner = owner
    locked.save(update_fields=["owner", "updated_at"])
    lead_event_record(
        lead=locked,
        verb="reassigned",
        actor=user,
        at=now,
        data={"from": _name(previous) if previous else "nobody", "to": _name(owner) if owner else "nobody"},
    )
    return locked


# Bulk -----------------------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # lead id -> why (consent, status, claim…)

    def summary(self, verb: str) -> str:
        text = f"{len(self.done)} {verb}"
        if self.refused:
            text += f"; {len(self.refused)} not: " + "; ".join(
                f"#{pk}: {why}" for pk, why in list(self.refused.items())[:5]
            )
            if len(self.refused) > 5:
                text += f"; and {len(self.refused) - 5} more"
        return text + "."


def _each(lead_ids: list[int], act: Callable[[Lead], Any]) -> BulkResult:
    """Run `act` per lead, each in its own transaction: one refusal never undoes the others."""
    result = BulkResult()
    for lead in Lead.objects.filter(pk__in=lead_ids).order_by("pk"):
        try:
            act(lead)
        except ServiceError as exc:  # a conflict, a refusal: this lead only
            result.refused[lead.pk] = str(exc)
        else:
            result.done.append(lead.pk)
    return result


def bulk_enroll(*, lead_ids: list[int], track, user) -> BulkResult:
    """Enroll each lead; consent and every other rule is checked per lead by the same services."""
    return _each(lead_ids, lambda lead: triage_enroll(lead=lead, track=track, user=user))


def bulk_reply(*, lead_ids: list[int], user) -> BulkResult:
    """Send each lead the helpful reply for its own reason (the first active template for that reason)."""
    templates = {}
    for reply in HelpfulReply.objects.filter(active=True).order_by("reason_id", "position", "id"):
        templates.setdefault(reply.reason_id, reply)

    def act(lead: Lead):
        reply = templates.get(lead.primary_reason_id)
        if reply is None:
            raise TriageError("no helpful reply for its reason; answer it on its own")
        subject, body = helpful_reply_render(reply=reply, lead=lead)
        return triage_reply(lead=lead, subject=subject, body=body, reply=reply, user=user)

    return _each(lead_ids, act)


def bulk_close(*, lead_ids: list[int], reason: str, user) -> BulkResult:
    if not (reason or "").strip():
        raise TriageError("Say why these are spam.", {"reason": ["A reason is required."]})
    return _each(lead_ids, lambda lead: triage_close(lead=lead, kind="spam", reason=reason, user=user))


# SLA ------------------------------------------------------------------------------------------------------

SLA_WARN_BEFORE = timedelta(hours=2)


def sla_warn_owners(*, now: datetime | None = None) -> int:
    """Email each owner once about their queued, unanswered leads whose respond-by time is within two hours
    (through the outbox; one email per owner per run listing the leads). Returns how many leads were flagged."""

    now = now or timezone.now()
    due = (
        Lead.objects.filter(
            status__in=TRIAGE_STATUSES,
            first_response_at__isnull=True,
            sla_warned_at__isnull=True,
            owner__isnull=False,
            respond_by__gt=now,
            respond_by__lte=now + SLA_WARN_BEFORE,
        )
        .select_related("owner")
        .order_by("owner_id", "respond_by")
    )
    by_owner: dict[int, list[Lead]] = {}
    for lead in due[:2000]:
        by_owner.setdefault(lead.owner_id, []).append(lead)
    flagged = 0
    User = get_user_model()
    for owner_id, leads in by_owner.items():
        with transaction.atomic():
            claimed = list(
                Lead.objects.filter(pk__in=[lead.pk for lead in leads], sla_warned_at__isnull=True)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            if not claimed:
                continue
            Lead.objects.filter(pk__in=claimed).update(sla_warned_at=now)
            owner = User.objects.get(pk=owner_id)
            mine = [lead for lead in leads if lead.pk in set(claimed)]
            if owner.email:
                message_queue(
                    key=f"sla:{owner_id}:{now.isoformat()}",
                    kind="owner_sla_warning",
                    to_email=owner.email,
                    to_name=owner.get_full_name(),
                    subject=f"{len(mine)} lead{'s' if len(mine) != 1 else ''} to answer within two hours",
                    body=render_plain_text(
                        "triage/email/sla_warning.txt",
                        {"owner": owner, "leads": mine, "site": settings.SITE_URL.rstrip("/")},
                    ),
                )
            for lead in mine:
                lead_event_record(
                    lead=lead, verb="sla_warning", actor_label="system", at=now, data={"owner": owner.get_username()}
                )
            flagged += len(mine)
    return flagged
