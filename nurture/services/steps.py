"""The due-step sweep: runs every nurture step whose time has come, a claimed batch at a time, with set-based
writes. An email step whose template cannot be rendered pauses its enrollment (with the reason on the lead's
timeline) instead of stopping the sweep."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.template import Template
from django.utils import timezone

from common.text import PlainTextError, compile_plain_text, render_plain_text
from leads.models import Lead, LeadEvent
from leads.services import lead_first_response_record, leads_evaluate_bulk
from nurture.models import Enrollment, EnrollmentStatus, NurtureTask, Step, StepKind
from nurture.services.enrollments import unsubscribe_url
from outbox.models import OutboundMessage
from outbox.publish import enqueue_on_commit, is_deferred


class _StepRunner:
    """Runs one claimed batch of due enrollments with set-based writes."""

    def __init__(self, now: datetime):
        self.now = now
        self.steps: dict[int, list[Step]] = {}
        self.templates: dict[int, tuple[Template, Template] | PlainTextError] = {}
        self.counts = {
            "emails": 0,
            "tasks": 0,
            "requalified": 0,
            "rechecked": 0,
            "completed": 0,
            "stopped": 0,
            "paused": 0,
        }

    def track_steps(self, track_id: int) -> list[Step]:
        if track_id not in self.steps:
            self.steps[track_id] = list(Step.objects.filter(track_id=track_id).order_by("position"))
        return self.steps[track_id]

    def compiled(self, step: Step) -> tuple[Template, Template]:
        """The step's subject and body templates; PlainTextError (remembered) when one cannot be compiled."""
        if step.pk not in self.templates:
            try:
                self.templates[step.pk] = (compile_plain_text(step.subject), compile_plain_text(step.body))
            except PlainTextError as exc:
                self.templates[step.pk] = exc
        found = self.templates[step.pk]
        if isinstance(found, PlainTextError):
            raise found
        return found

    def email(self, enrollment: Enrollment, step: Step) -> OutboundMessage:
        """The step's email to the enrollment's lead; PlainTextError when its template cannot be rendered."""
        lead = enrollment.lead
        subject, body = self.compiled(step)
        context = {"lead": lead, "unsubscribe_url": unsubscribe_url(lead.pk)}
        return OutboundMessage(
            idempotency_key=f"enrollment:{enrollment.pk}:step:{step.position}",
            kind="nurture_email",
            to_email=lead.email,
            to_name=lead.name,
            subject=" ".join(render_plain_text(subject, context).split())[:300],
            body=render_plain_text(body, context).strip() + UNSUBSCRIBE_FOOTER.format(url=context["unsubscribe_url"]),
            lead_id=lead.pk,
            next_attempt_at=self.now,
        )

    def run(self, batch: list[Enrollment]) -> None:
        now = self.now
        messages, tasks, events, recheck, rechecked_enrollments = [], [], [], [], []
        advance: dict[tuple[int | None, datetime | None, bool], list[int]] = {}
        stopped: dict[str, list[int]] = {}
        paused: list[int] = []  # a step whose email cannot be rendered: paused until someone fixes it
        for enrollment in batch:
            lead, steps = enrollment.lead, self.track_steps(enrollment.track_id)
            step = next((s for s in steps if s.position == enrollment.next_position), None)
            if lead.do_not_contact or (step and step.kind == StepKind.EMAIL and not lead.has_marketing_consent):
                why = "Do not contact" if lead.do_not_contact else "No marketing consent"
                stopped.setdefault(why, []).append(enrollment.pk)
                events.append(
                    LeadEvent(
                        lead_id=lead.pk,
                        verb="nurture_stopped",
                        actor_label="system",
                        at=now,
                        data={"track_id": enrollment.track_id, "reason": why},
                    )
                )
                continue
            if step is not None:
                data = {"track_id": enrollment.track_id, "step": step.position, "kind": step.kind}
                if step.kind == StepKind.EMAIL:
                    try:
                        messages.append(self.email(enrollment, step))
                    except PlainTextError as exc:
                        paused.append(enrollment.pk)
                        why = f"The email of step {step.position} cannot be sent as it is. {exc}"
                        events.append(
                            LeadEvent(
                                lead_id=lead.pk,
                                verb="nurture_paused",
                                actor_label="system",
                                at=now,
                                data={**data, "reason": f"{why} Fix the step in the admin, then resume."},
                            )
                        )
                        continue
                    data["subject"] = messages[-1].subject
                elif step.kind == StepKind.TASK:
                    tasks.append(
                        NurtureTask(
                            enrollment_id=enrollment.pk,
                            lead_id=lead.pk,
                            assigned_to_id=lead.owner_id,
                            title=(step.body.splitlines() or ["Follow up"])[0][:300],
                            details=step.body,
                            due_at=now + timedelta(days=2),
                        )
                    )
                else:
                    recheck.append(lead.pk)
                    rechecked_enrollments.append(enrollment.pk)
                events.append(LeadEvent(lead_id=lead.pk, verb="nurture_step", actor_label="system", at=now, data=data))
            following = next((s for s in steps if step is not None and s.position > step.position), None)
            target = (
                (following.position, now + timedelta(hours=following.delay_hours), False)
                if following is not None
                else (None, None, True)
            )
            advance.setdefault(target, []).append(enrollment.pk)
        OutboundMessage.objects.bulk_create(messages, ignore_conflicts=True)
        NurtureTask.objects.bulk_create(tasks, ignore_conflicts=True)
        LeadEvent.objects.bulk_create(events)
        if messages:  # a nurture email answers the lead: it counts as the first response
            lead_first_response_record(lead_ids={m.lead_id for m in messages}, at=now)
        if recheck:  # first: leads that qualify now leave nurture (re-qualified) before the others advance
            leads_evaluate_bulk(queryset=Lead.objects.filter(pk__in=recheck), actor_label="nurture")
            self.counts["rechecked"] += len(recheck)
            self.counts["requalified"] += Enrollment.objects.filter(
                pk__in=rechecked_enrollments, status=EnrollmentStatus.REQUALIFIED
            ).count()
        for (position, run_at, done), ids in advance.items():
            changes = {"next_position": position, "next_run_at": run_at, "steps_done": F("steps_done") + 1}
            if done:
                changes |= {"status": EnrollmentStatus.COMPLETED, "finished_at": now, "end_reason": "Track finished."}
            moved = Enrollment.objects.filter(pk__in=ids, status=EnrollmentStatus.ACTIVE).update(**changes)
            if done:
                self.counts["completed"] += moved
        if paused:
            self.counts["paused"] += Enrollment.objects.filter(pk__in=paused, status=EnrollmentStatus.ACTIVE).update(
                status=EnrollmentStatus.PAUSED, paused_at=now
            )
        for why, ids in stopped.items():
            Enrollment.objects.filter(pk__in=ids).update(
                status=EnrollmentStatus.STOPPED, end_reason=why, finished_at=now, next_position=None, next_run_at=None
            )
            self.counts["stopped"] += len(ids)
        self.counts["emails"] += len(messages)
        self.counts["tasks"] += len(tasks)


UNSUBSCRIBE_FOOTER = "\n\n--\nYou get these emails because you asked us for information. Stop them: {url}\n"


def nurture_run_due(
    *, now: datetime | None = None, batch_size: int = 1000, enrollment_ids: list[int] | None = None
) -> dict[str, int]:
    """Run every due step, a batch at a time. Each batch is claimed with SELECT … FOR UPDATE SKIP LOCKED and
    written in one transaction, so several workers (or a second run) never run a step twice. Emails go to
    the outbox (the outbox sweep sends them: one queued task, not one per email). `enrollment_ids` limits the
    run to those enrollments (triage runs a new enrollment's first email at once)."""
    now = now or timezone.now()
    runner = _StepRunner(now)
    batches = 0
    while True:
        with transaction.atomic():
            batch = list(
                Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=EnrollmentStatus.ACTIVE, next_run_at__lte=now)
                .filter(**({"pk__in": enrollment_ids} if enrollment_ids is not None else {}))
                .select_related("lead")
                .order_by("next_run_at")[:batch_size]
            )
            if not batch:
                break
            runner.run(batch)
            batches += 1
    if (runner.counts["emails"] or runner.counts["requalified"]) and not is_deferred():
        enqueue_on_commit("outbox.sweep")  # one task sends the lot (after any outer commit)
    return {"batches": batches, **runner.counts}
