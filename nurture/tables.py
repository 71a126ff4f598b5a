"""Tables of the nurture pages. Row actions are small forms that POST to the action URL with the list's query
string (sort, filters, page), so the view can redirect back to — or re-render — the list as it was."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from nurture.models import Enrollment, EnrollmentStatus, NurtureTask, StepKind

STATUS_BADGE = {
    EnrollmentStatus.ACTIVE: "text-bg-success",
    EnrollmentStatus.PAUSED: "text-bg-warning",
    EnrollmentStatus.REQUALIFIED: "text-bg-primary",
}


def _lead_link(lead):
    return format_html(
        '<a href="{}">{}</a><div class="small text-body-secondary">{}</div>',
        reverse("leads:detail", args=[lead.pk]),
        lead.name or lead.email,
        lead.email if lead.name else "",
    )


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "—"


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


ENROLLMENT_ACTIONS = """{% with pk=record.pk query=request.GET.urlencode who=record.lead.email %}
<div class="d-flex flex-wrap gap-1 align-items-start">
{% if record.status == "active" %}
  <form method="post" action="{% url 'nurture:enrollment_action' pk 'pause' %}?{{ query }}"
        hx-post="{% url 'nurture:enrollment_action' pk 'pause' %}?{{ query }}" hx-push-url="false">{% csrf_token %}
    <button type="submit" class="btn btn-sm btn-outline-secondary" aria-label="Pause {{ who }}">Pause</button>
  </form>
{% elif record.status == "paused" %}
  <form method="post" action="{% url 'nurture:enrollment_action' pk 'resume' %}?{{ query }}"
        hx-post="{% url 'nurture:enrollment_action' pk 'resume' %}?{{ query }}" hx-push-url="false">{% csrf_token %}
    <button type="submit" class="btn btn-sm btn-outline-primary" aria-label="Resume {{ who }}">Resume</button>
  </form>
{% endif %}
{% if record.status == "active" or record.status == "paused" %}
  <details class="small">
    <summary class="btn btn-sm btn-outline-danger">Stop…</summary>
    <form method="post" action="{% url 'nurture:enrollment_action' pk 'stop' %}?{{ query }}" class="mt-1"
          hx-post="{% url 'nurture:enrollment_action' pk 'stop' %}?{{ query }}" hx-push-url="false">{% csrf_token %}
      <label class="form-label small mb-0" for="stop-reason-{{ pk }}">Why stop it?</label>
      <input type="text" name="reason" id="stop-reason-{{ pk }}" maxlength="300" required
             class="form-control form-control-sm mb-1">
      <button type="submit" class="btn btn-sm btn-danger" aria-label="Stop {{ who }}">Stop</button>
    </form>
  </details>
{% endif %}
</div>{% endwith %}"""


class EnrollmentTable(tables.Table):
    lead = tables.Column(order_by=("lead__name", "lead__email"))
    track = tables.Column(order_by=("track__name",))
    status = tables.Column()
    step = tables.Column(empty_values=(), orderable=False, verbose_name="Step")
    next_run_at = tables.Column(verbose_name="Next run", empty_values=())
    started_at = tables.Column(verbose_name="Started")
    enrolled_by = tables.Column(order_by=("enrolled_by__username",), verbose_name="Enrolled by", empty_values=())
    actions = tables.TemplateColumn(
        template_code=ENROLLMENT_ACTIONS, orderable=False, verbose_name="Actions", empty_values=()
    )

    class Meta:
        model = Enrollment
        fields = ()
        sequence = ("lead", "track", "status", "step", "next_run_at", "started_at", "enrolled_by", "actions")
        order_by = ("-started_at",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "enrollment-table"}
        row_attrs = {"id": lambda record: f"enrollment-row-{record.pk}"}
        empty_text = "No enrollments match these filters."

    def render_lead(self, record):
        return _lead_link(record.lead)

    def render_track(self, record):
        return format_html('<a href="{}#track-{}">{}</a>', reverse("nurture:tracks"), record.track.slug, record.track)

    def render_status(self, record):
        badge, label = STATUS_BADGE.get(record.status, "text-bg-secondary"), record.get_status_display()
        if record.end_reason:  # why it ended, on hover
            return format_html('<span class="badge {}" title="{}">{}</span>', badge, record.end_reason, label)
        return format_html('<span class="badge {}">{}</span>', badge, label)

    def render_step(self, record):
        total = record.step_total or 0
        if record.next_position is None or record.step_number is None:
            return f"{record.steps_done} of {total} done"
        kind = StepKind(record.next_kind).label if record.next_kind else "?"
        return f"{record.step_number} of {total}: {kind}"

    def render_next_run_at(self, record):
        if record.status == EnrollmentStatus.PAUSED:
            return format_html('<span class="text-body-secondary">paused since {}</span>', _when(record.paused_at))
        return _when(record.next_run_at) if record.status == EnrollmentStatus.ACTIVE else "—"

    def render_started_at(self, record):
        return _when(record.started_at)

    def render_enrolled_by(self, record):
        return _person(record.enrolled_by) if record.enrolled_by_id else "system"


TASK_DONE = """<form method="post" action="{% url 'nurture:task_done' record.pk %}?{{ request.GET.urlencode }}"
      hx-post="{% url 'nurture:task_done' record.pk %}?{{ request.GET.urlencode }}" hx-push-url="false">{% csrf_token %}
  <button type="submit" class="btn btn-sm btn-outline-success" aria-label="Done: {{ record.title }}">Done</button>
</form>"""


class TaskTable(tables.Table):
    due_at = tables.Column(verbose_name="Due")
    lead = tables.Column(order_by=("lead__name", "lead__email"))
    title = tables.Column(verbose_name="Task", order_by=("title",))
    track = tables.Column(
        accessor="enrollment__track__name", order_by=("enrollment__track__name",), verbose_name="Track"
    )
    assigned_to = tables.Column(order_by=("assigned_to__username",), verbose_name="Assigned to", empty_values=())
    done = tables.TemplateColumn(template_code=TASK_DONE, orderable=False, verbose_name="", empty_values=())

    class Meta:
        model = NurtureTask
        fields = ()
        sequence = ("due_at", "lead", "title", "track", "assigned_to", "done")
        order_by = ("due_at",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "task-table"}
        row_attrs = {"id": lambda record: f"task-row-{record.pk}"}
        empty_text = "No open tasks here."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = timezone.now()

    def render_due_at(self, record):
        if record.due_at < self.now:
            return format_html('<span class="text-danger fw-semibold">{} (overdue)</span>', _when(record.due_at))
        return _when(record.due_at)

    def render_lead(self, record):
        return _lead_link(record.lead)

    def render_title(self, record):
        rest = "\n".join(record.details.strip().splitlines()[1:]).strip()
        return format_html('<strong>{}</strong><div class="small text-body-secondary">{}</div>', record.title, rest)

    def render_assigned_to(self, record):
        return _person(record.assigned_to) if record.assigned_to_id else "the team"
