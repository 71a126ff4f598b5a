import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from finance.models import AuditEntry, Payment
from partners.models import FeeAccrual

BADGE = '<span class="badge text-bg-{}">{}</span>'
NUMBER = {"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end"}}


class LedgerTable(tables.Table):
    posted_on = tables.DateColumn(format="Y-m-d", verbose_name="Posted")
    occurred_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Occurred")
    partner = tables.Column(order_by="partner__name")
    tracking_code = tables.Column(
        accessor="referral__tracking_code", verbose_name="Tracking code", attrs={"td": {"class": "font-monospace"}}
    )
    kind = tables.Column()
    amount = tables.Column(attrs=NUMBER)
    currency = tables.Column()
    due_on = tables.DateColumn(format="Y-m-d", verbose_name="Due")
    item_open = tables.Column(verbose_name="Fee still open", attrs=NUMBER)
    basis = tables.Column(verbose_name="Basis", orderable=False)

    class Meta:
        model = FeeAccrual
        fields = ("posted_on", "occurred_at", "partner", "tracking_code", "kind", "amount", "currency", "due_on")
        sequence = ("posted_on", "occurred_at", "partner", "tracking_code", "kind", "amount", "currency", "due_on",
                    "item_open", "basis")  # fmt: skip
        order_by = ("-posted_on",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "ledger-table"}
        empty_text = "No ledger rows match these filters."

    def render_tracking_code(self, record):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("partners:referral", args=[record.referral_id]),
            record.referral.tracking_code,
        )

    def render_kind(self, record):
        link = reverse("finance:accrual", args=[record.pk])
        late = format_html(" " + BADGE, "warning", "posted late") if record.posted_late else ""
        return format_html('<a href="{}">{}</a>{}', link, record.get_kind_display(), late)

    def render_item_open(self, record):
        return f"{record.item_open:,.2f}"

    def render_amount(self, record):
        return f"{record.amount:,.2f}"


class PaymentTable(tables.Table):
    received_on = tables.DateColumn(format="Y-m-d", verbose_name="Received")
    partner = tables.Column(order_by="partner__name")
    amount = tables.Column(attrs=NUMBER)
    currency = tables.Column()
    reference = tables.Column()
    unallocated = tables.Column(verbose_name="Not allocated (credit)", attrs=NUMBER)
    state = tables.Column(verbose_name="State", empty_values=(), orderable=False)

    class Meta:
        model = Payment
        fields = ("received_on", "partner", "amount", "currency", "reference", "unallocated")
        order_by = ("-received_on",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "payment-table"}
        empty_text = "No payments match these filters."

    def render_received_on(self, record):
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), f"{record.received_on:%Y-%m-%d}")

    def render_amount(self, record):
        return f"{record.amount:,.2f}"

    def render_unallocated(self, record):
        return f"{record.unallocated:,.2f}"

    def render_state(self, record):
        if getattr(record, "bounced_by", None) is not None:
            return format_html(BADGE, "danger", "bounced")
        if record.unallocated > 0:
            return format_html(BADGE, "info", "credit left")
        return format_html(BADGE, "success", "allocated")


class AuditTable(tables.Table):
    at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="When")
    who = tables.Column(verbose_name="Who", empty_values=(), orderable=False)
    action = tables.Column()
    partner = tables.Column(order_by="partner__name")
    summary = tables.Column(orderable=False)

    class Meta:
        model = AuditEntry
        fields = ("at", "who", "action", "partner", "summary")
        order_by = ("-at",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "audit-table"}
        empty_text = "Nothing recorded yet."

    def render_who(self, record):
        return record.who
