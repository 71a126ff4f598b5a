"""Nurture: tracks and their steps, enrollments, the owners' tasks, and helpful replies per reason. Emails go
through the outbox (`outbox.OutboundMessage`)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Track(models.Model):
    """A nurture sequence for leads who are not ready yet, and the reasons it answers."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    reasons = models.ManyToManyField(
        "leads.DisqualificationReason", blank=True, related_name="tracks", help_text="Reasons this track helps with."
    )
    active = models.BooleanField(default=True, help_text="Inactive tracks take no new enrollments.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sends_email(self) -> bool:
        return any(step.kind == StepKind.EMAIL for step in self.steps.all())


class StepKind(models.TextChoices):
    EMAIL = "email", "Email the lead"
    TASK = "task", "Task for the owner"
    REQUALIFY = "requalify", "Re-check against the ICP"


class Step(models.Model):
    """One step of a track, run `delay_hours` after the previous one (after enrolling, for the first)."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    delay_hours = models.PositiveIntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True, help_text="Email: subject (template).")
    body = models.TextField(
        blank=True,
        help_text="Email: body, a Django template with {{ lead.name }}, {{ lead.company }}…; "
        "the unsubscribe link is added below it. Task: what the owner should do.",
    )

    class Meta:
        ordering = ["track", "position"]
        constraints = [models.UniqueConstraint(fields=["track", "position"], name="step_track_position_unique")]

    def __str__(self) -> str:
        return f"{self.track} #{self.position}: {self.get_kind_display()}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    REQUALIFIED = "requalified", "Re-qualified"


LIVE_ENROLLMENT_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


class Enrollment(models.Model):
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="enrollments")
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=12, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE)
    next_position = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Position of the step to run next; empty when finished."
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(status__in=["active", "paused"]), name="enrollment_one_live_per_lead"
            ),
        ]
        indexes = [
            # The sweep's scan: only active rows, by due time (partial, so 1M finished rows cost nothing).
            models.Index(fields=["next_run_at"], condition=Q(status="active"), name="enrollment_due"),
            models.Index(fields=["track", "status"], name="enrollment_track_status"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} in {self.track} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_ENROLLMENT_STATUSES


class NurtureTask(models.Model):
    """A to-do a task step creates for the lead's owner (or the team when the lead has none)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="tasks")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="nurture_tasks")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="nurture_tasks"
    )
    title = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["done_at", "due_at"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "title", "due_at"], name="nurturetask_once_per_step_run")
        ]

    def __str__(self) -> str:
        return self.title


class HelpfulReply(models.Model):
    """A reply template per reason: useful resources, next steps, where else to look."""

    reason = models.ForeignKey("leads.DisqualificationReason", on_delete=models.CASCADE, related_name="helpful_replies")
    title = models.CharField(max_length=200, help_text="For the person choosing, e.g. “Budget: free resources”.")
    subject = models.CharField(max_length=300)
    body = models.TextField(help_text="A Django template with {{ lead.name }}, {{ lead.company }}…")
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["reason", "position", "title"]
        verbose_name_plural = "helpful replies"

    def __str__(self) -> str:
        return self.title
