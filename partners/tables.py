import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from partners import fees
from partners.models import Partner, Referral


class PartnerTable(tables.Table):
    """Performance columns beyond the annotated counts come from `performance` ({partner id: Performance}),
    which the view fills for the rows of the page with grouped queries."""

    name = tables.Column(linkify=True, verbose_name="Partner")
    kind = tables.Column()
    status = tables.Column()
    grade = tables.Column()
    region = tables.Column(accessor="region_display", verbose_name="Region", orderable=False)
    capacity = tables.Column(
        accessor="month_used", verbose_name="This month", order_by="month_used", attrs={"td": {"class": "text-nowrap"}}
    )
    referrals_sent = tables.Column(verbose_name="Sent")
    referrals_accepted = tables.Column(verbose_name="Accepted")
    referrals_converted = tables.Column(verbose_name="Converted")
    median_accept = tables.Column(verbose_name="Median hours to accept", empty_values=(), orderable=False)
    fees_earned = tables.Column(verbose_name="Fees earned", empty_values=(), orderable=False)

    class Meta:
        model = Partner
        fields = ("name", "kind", "status", "grade")
        sequence = ("name", "kind", "status", "grade", "region", "capacity", "...")
        order_by = ("name",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "partner-table"}
        empty_text = "No partners match these filters."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.performance = {}

    def render_capacity(self, record):
        limit = "no limit" if record.monthly_capacity is None else record.monthly_capacity
        return f"{record.month_used} / {limit}"

    def render_median_accept(self, record):
        hours = getattr(self.performance.get(record.pk), "median_accept_hours", None)
        return "—" if hours is None else f"{hours:.1f}"

    def render_fees_earned(self, record):
        performance = self.performance.get(record.pk)
        return performance.fees_display if performance else "—"


class ReferralTable(tables.Table):
    tracking_code = tables.Column(linkify=True, verbose_name="Tracking code", attrs={"td": {"class": "font-monospace"}})
    lead = tables.Column(order_by=("lead__name", "lead__company"))
    partner = tables.Column(order_by="partner__name")
    mode = tables.Column()
    status = tables.Column()
    sent_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Sent")
    respond_by = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Respond by")
    deal_value = tables.Column(verbose_name="Deal value")

    class Meta:
        model = Referral
        fields = ("tracking_code", "lead", "partner", "mode", "status", "sent_at", "respond_by", "deal_value")
        order_by = ("-sent_at",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "referral-table"}
        empty_text = "No referrals match these filters."

    def __init__(self, *args, can_view_leads: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_view_leads = can_view_leads

    def render_lead(self, record):
        lead = record.lead
        text = lead.name or lead.email
        company = f" · {lead.company}" if lead.company else ""
        if self.can_view_leads:
            return format_html('<a href="{}">{}</a>{}', reverse("leads:detail", args=[lead.pk]), text, company)
        return f"{text}{company}"

    def render_mode(self, record):
        return record.mode.capitalize()

    def render_deal_value(self, record):
        return fees.format_money(record.deal_value, record.deal_currency)
