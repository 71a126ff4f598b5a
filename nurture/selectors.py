"""Reads for the nurture pages: querysets with their joins done (list pages never query per row), and the
tracks a lead may join with the reason each would be refused."""

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery

from common.text import PlainTextError, compile_plain_text, render_plain_text
from leads.models import Lead
from nurture.models import (
    LIVE_ENROLLMENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    NurtureTask,
    Step,
    StepKind,
    Track,
)
from nurture.services.enrolling import enrollment_refusal
from nurture.services.enrollments import lead_has_live_enrollment

# Enrollments ---------------------------------------------------------------------------------------------


def _step_count(steps: QuerySet[Step]) -> Subquery:
    return Subquery(steps.order_by().values("track").annotate(n=Count("pk")).values("n")[:1])


def enrollment_list() -> QuerySet[Enrollment]:
    """Enrollments with their lead, track and enrolling user, and where they are in the track: `step_total`
    (steps in the track), `step_number` (the ordinal of the next step) and `next_kind` — all in one query."""
    steps = Step.objects.filter(track=OuterRef("track_id"))
    return Enrollment.objects.select_related("lead", "track", "enrolled_by").annotate(
        step_total=_step_count(steps),
        step_number=_step_count(steps.filter(position__lte=OuterRef("next_position"))),
        next_kind=Subquery(steps.filter(position=OuterRef("next_position")).values("kind")[:1]),
    )


def enrollment_get(*, pk: int) -> Enrollment:
    """The enrollment or Enrollment.DoesNotExist (views turn that into a 404)."""
    return Enrollment.objects.select_related("lead", "track").get(pk=pk)


def enrollment_status_counts() -> list[dict]:
    """How many enrollments are in each status, in one query: [{"status", "label", "n"}, …]."""
    row = Enrollment.objects.aggregate(**{s.value: Count("pk", filter=Q(status=s)) for s in EnrollmentStatus})
    return [{"status": s.value, "label": s.label, "n": row[s.value]} for s in EnrollmentStatus]


# Tracks --------------------------------------------------------------------------------------------------


def track_list() -> QuerySet[Track]:
    """Every track with its reasons, its steps in order, and its enrollment counts (`live`, `requalified`,
    `enrolled`) from one grouped query — three queries however many tracks."""
    return Track.objects.annotate(
        live=Count("enrollments", filter=Q(enrollments__status__in=LIVE_ENROLLMENT_STATUSES)),
        requalified=Count("enrollments", filter=Q(enrollments__status=EnrollmentStatus.REQUALIFIED)),
        enrolled=Count("enrollments"),
    ).prefetch_related("reasons", Prefetch("steps", queryset=Step.objects.order_by("position")))


def delay_text(hours: int, *, first: bool = False) -> str:
    """A step's wait in words: "at once", "2 days later", "1 day 6 h later", "6 h after enrolling"."""
    if not hours:
        return "at once"
    days, rest = divmod(hours, 24)
    parts = ([f"{days} day{'s' if days != 1 else ''}"] if days else []) + ([f"{rest} h"] if rest else [])
    return " ".join(parts) + (" after enrolling" if first else " later")


def _email_summary(step: Step, lead: Lead | None) -> tuple[str, str]:
    """An email step's subject as the lead would read it (without a lead: as anyone would), as plain text, and
    the problem ("" when none): when its subject or body cannot be rendered, the raw subject and why."""
    context = {"lead": lead}
    try:
        subject = render_plain_text(compile_plain_text(step.subject), context)
        render_plain_text(compile_plain_text(step.body), context)
    except PlainTextError as exc:
        return step.subject, f"This email cannot be sent as it is. {exc} Fix the step in the admin."
    return " ".join(subject.split()), ""


def step_rows(track: Track, *, lead: Lead | None = None) -> list[dict]:
    """The steps of a (prefetched) track for display: kind, wait, what it does (subject or task title) and, for
    an email whose template cannot be rendered, the `problem`."""
    rows = []
    for index, step in enumerate(track.steps.all()):
        summary, problem = "", ""
        if step.kind == StepKind.EMAIL:
            summary, problem = _email_summary(step, lead)
        elif step.kind == StepKind.TASK:
            summary = (step.body.strip().splitlines() or [""])[0]
        rows.append(
            {
                "step": step,
                "kind": step.get_kind_display(),
                "delay": delay_text(step.delay_hours, first=index == 0),
                "summary": summary,
                "problem": problem,
            }
        )
    return rows


# Tasks ---------------------------------------------------------------------------------------------------


def task_list() -> QuerySet[NurtureTask]:
    """Open nurture tasks with their lead, track and assignee."""
    return NurtureTask.objects.filter(done_at__isnull=True).select_related("lead", "enrollment__track", "assigned_to")


def task_get(*, pk: int) -> NurtureTask:
    return NurtureTask.objects.select_related("lead", "enrollment__track").get(pk=pk)


# One lead ------------------------------------------------------------------------------------------------


def lead_for_nurture() -> QuerySet[Lead]:
    return Lead.objects.select_related("source", "owner", "primary_reason")


def lead_live_enrollment(*, lead: Lead) -> Enrollment | None:
    return lead.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES).select_related("track").first()


def track_options(*, lead: Lead) -> list[dict]:
    """Active tracks for the lead: those serving its primary reason first ("suggested"), each with its steps
    (subjects as the lead would read them) and why the enroll service would refuse it (`enrollment_refusal`; None
    when it may join). Queries are the same however many tracks there are."""
    tracks = Track.objects.filter(active=True).prefetch_related(
        "reasons", Prefetch("steps", queryset=Step.objects.order_by("position"))
    )
    live = lead_has_live_enrollment(lead)
    options = [
        {
            "track": track,
            "steps": step_rows(track, lead=lead),
            "suggested": any(reason.pk == lead.primary_reason_id for reason in track.reasons.all()),
            "refusal": enrollment_refusal(lead=lead, track=track, live=live),
        }
        for track in tracks
    ]
    return sorted(options, key=lambda o: (not o["suggested"], o["refusal"] is not None, o["track"].name))
