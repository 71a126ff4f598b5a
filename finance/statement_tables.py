import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from finance.models import PartnerStatement

NUMBER = {"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end"}}


class StatementTable(tables.Table):
    period_end = tables.DateColumn(format="Y-m-d", verbose_name="Period")
    partner = tables.Column(order_by="partner__name")
    original_name = tables.Column(verbose_name="File")
    line_count = tables.Column(verbose_name="Lines", attrs=NUMBER)
    matched_count = tables.Column(verbose_name="Matched", attrs=NUMBER)
    open_count = tables.Column(verbose_name="To decide", attrs=NUMBER)
    status = tables.Column()
    imported_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Imported")

    class Meta:
        model = PartnerStatement
        fields = ("period_end", "partner", "original_name", "line_count", "status", "imported_at")
        sequence = ("period_end", "partner", "original_name", "line_count", "matched_count", "open_count", "status",
                    "imported_at")  # fmt: skip
        order_by = ("-period_end",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "statement-table"}
        empty_text = "No statement has been imported yet."

    def render_period_end(self, record):
        return format_html(
            '<a href="{}">{} – {}</a>',
            reverse("finance:statement", args=[record.pk]),
            f"{record.period_start:%Y-%m-%d}",
            f"{record.period_end:%Y-%m-%d}",
        )

    def render_imported_at(self, record, value):
        who = record.imported_by.get_username() if record.imported_by else "the system"
        return format_html("{} by {}", f"{timezone.localtime(value):%Y-%m-%d %H:%M}", who)

    def render_open_count(self, record, value):
        if not value:
            return "—"
        return format_html('<span class="badge text-bg-warning">{}</span>', value)
