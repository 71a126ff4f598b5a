"""The triage queue's table (most urgent first, a panel link and a bulk checkbox per row), its paginator that never
counts the queue, and the respond-by countdown."""

from datetime import datetime

import django_tables2 as tables
from django.core.paginator import EmptyPage
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django_tables2.paginators import LazyPaginator

from leads.models import Lead, LeadStatus


def sla_status(lead, *, now: datetime) -> dict:
    """The respond-by countdown of a lead: {"text": "in 3 h" | "overdue 2 h" | "answered", "overdue": bool}."""
    if lead.first_response_at is not None:
        return {"text": "answered", "overdue": False}
    seconds = (lead.respond_by - now).total_seconds()
    minutes = abs(seconds) // 60
    if minutes < 60:
        span = f"{minutes:.0f} min"
    elif minutes < 48 * 60:
        span = f"{minutes // 60:.0f} h"
    else:
        span = f"{minutes // (24 * 60):.0f} d"
    return {"text": f"in {span}" if seconds >= 0 else f"overdue {span}", "overdue": seconds < 0}


class QueuePaginator(LazyPaginator):
    """No COUNT(*) over the queue: the next page is known by fetching one row more. `count` says what is known
    ("more than 25" until the last page is reached). At most 100 rows a page, whatever `per_page` asks."""

    MAX_PER_PAGE = 100
    MAX_PAGE = 10**9

    def __init__(self, object_list, per_page, **kwargs):
        super().__init__(object_list, min(int(per_page), self.MAX_PER_PAGE), **kwargs)
        self._seen = 0

    def validate_number(self, number):
        number = super().validate_number(number)
        if number > self.MAX_PAGE:  # `?page=99999999999999999999`: an OFFSET PostgreSQL cannot take; page 1 instead
            raise EmptyPage("That page is past the end of the queue.")
        return number

    def page(self, number):
        page = super().page(number)
        self._seen = (page.number - 1) * self.per_page + len(page.object_list)
        return page

    @property
    def count(self):
        return self._seen if self._final_num_pages is not None else f"more than {self._seen}"


def _short_name(user) -> str:
    return user.first_name or user.get_username()


CLIPPED = {"td": {"class": "triage-clip", "title": lambda value: value or ""}}  # long text: cut, whole on hover


class TriageTable(tables.Table):
    """The triage queue, most urgent first. Each lead opens its panel beside the table (htmx) or the queue
    page with `?lead=` (no JavaScript); the checkbox belongs to the bulk form outside the table."""

    select = tables.Column(
        empty_values=(), orderable=False, verbose_name=mark_safe('<span class="visually-hidden">Select</span>')
    )
    lead = tables.Column(accessor="name", verbose_name="Lead", order_by=("name", "email"), empty_values=())
    company = tables.Column(attrs=CLIPPED)
    country = tables.Column()
    reason = tables.Column(
        accessor="primary_reason", verbose_name="Reason", order_by=("primary_reason__position",), attrs=CLIPPED
    )
    band = tables.Column(accessor="status", verbose_name="Band")
    source = tables.Column(accessor="source__name", order_by="source__name", verbose_name="Source", attrs=CLIPPED)
    owner = tables.Column(accessor="owner", order_by="owner__username", verbose_name="Owner")
    respond_by = tables.Column(verbose_name="Respond by", order_by=("respond_by", "id"))
    claimed = tables.Column(empty_values=(), orderable=False, verbose_name="Held by")

    class Meta:
        model = Lead
        fields = ()
        # what decides the order of work first: who, how urgent, why, who has it; then the details
        sequence = (
            "select",
            "lead",
            "respond_by",
            "reason",
            "band",
            "owner",
            "claimed",
            "company",
            "country",
            "source",
        )
        order_by = ("respond_by",)
        template_name = "django_tables2/htmx.html"
        attrs = {"class": "table table-sm table-hover align-middle small mb-2 triage-table", "id": "triage-table"}
        row_attrs = {
            "id": lambda record: f"lead-row-{record.pk}",
            "data-lead-id": lambda record: record.pk,
            "class": lambda record, table: table.row_class(record),
        }
        empty_text = "Nothing waiting here: every lead matching these filters has its redirect."

    def __init__(
        self, *args, user=None, now: datetime | None = None, checked=(), open_lead: int | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.user, self.now, self.checked, self.open_lead = user, now or timezone.now(), set(checked), open_lead
        self.panel_url = reverse("triage:panel", args=[0]).replace("/0/", "/{}/")

    def row_class(self, record) -> str:
        """Overdue rows stand out; so does the lead whose panel the page opened with (`?lead=`)."""
        classes = ["triage-row"]
        if self.is_overdue(record):
            classes.append("sla-overdue")
        if record.pk == self.open_lead:
            classes.append("is-open")
        return " ".join(classes)

    def is_overdue(self, record) -> bool:
        return record.first_response_at is None and record.respond_by < self.now

    def _queue_url(self, pk: int) -> str:
        """The queue as it is now (filters, sort, page) with this lead's panel open."""
        query = self.request.GET.copy() if getattr(self, "request", None) else QueryDict(mutable=True)
        query["lead"] = pk
        return f"{reverse('triage:queue')}?{query.urlencode()}"

    def render_select(self, record):
        return format_html(
            '<input type="checkbox" class="form-check-input triage-check" name="tick" value="{}" form="bulk-form" '
            'aria-label="Select {}"{}>',
            record.pk,
            record.name or record.email,
            " checked" if record.pk in self.checked else "",
        )

    def render_lead(self, record):
        queue_url = self._queue_url(record.pk)
        return format_html(
            '<a class="triage-open fw-semibold" href="{}" hx-get="{}" hx-target="#panel" hx-swap="outerHTML" '
            'hx-push-url="{}" hx-include="#panel-release">{}</a>'
            '<div class="text-body-secondary text-truncate triage-email">{}</div>',
            queue_url,
            self.panel_url.format(record.pk),
            queue_url,
            record.name or record.email,
            record.email if record.name else "",
        )

    def render_band(self, record):
        if record.status == LeadStatus.NEEDS_REVIEW:
            return format_html('<span class="badge text-bg-warning">{}</span>', "Needs review")
        return format_html('<span class="badge text-bg-secondary">{}</span>', record.get_status_display())

    def render_owner(self, record):
        if self.user is not None and record.owner_id == self.user.pk:
            return "you"
        full = record.owner.get_full_name() or record.owner.get_username()
        return format_html('<span title="{}">{}</span>', full, _short_name(record.owner))

    def render_respond_by(self, record):
        sla = sla_status(record, now=self.now)
        css = (
            "text-danger fw-semibold" if sla["overdue"] else "text-body-secondary" if sla["text"] == "answered" else ""
        )
        local = timezone.localtime(record.respond_by)
        return format_html(
            '<time class="{}" datetime="{}" title="Respond by {}">{}</time>',
            css,
            local.isoformat(),
            local.strftime("%Y-%m-%d %H:%M"),
            sla["text"],
        )

    def render_claimed(self, record):
        if not record.claimed_by_id or record.claimed_until is None or record.claimed_until <= self.now:
            return ""
        if self.user is not None and record.claimed_by_id == self.user.pk:
            return format_html('<span class="badge text-bg-light border">{}</span>', "you")
        who = record.claimed_by.get_full_name() or record.claimed_by.get_username()
        until = timezone.localtime(record.claimed_until).strftime("%H:%M")
        return format_html(
            '<span class="badge text-bg-info" title="{} is working on it until {}">{}</span>',
            who,
            until,
            _short_name(record.claimed_by),
        )
