import django_tables2 as tables

from leads.models import Lead


class LeadTable(tables.Table):
    name = tables.Column(linkify=True, verbose_name="Lead", order_by=("name", "email"))
    company = tables.Column()
    country = tables.Column()
    source = tables.Column(accessor="source__name", order_by="source__name", verbose_name="Source")
    status = tables.Column()
    primary_reason = tables.Column(verbose_name="Why it does not fit", order_by="primary_reason__position")
    received_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Received")
    respond_by = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Respond by")

    class Meta:
        model = Lead
        fields = ("name", "company", "country", "source", "status", "primary_reason", "received_at", "respond_by")
        order_by = ("-received_at",)
        attrs = {"class": "table table-sm table-hover align-middle", "id": "lead-table"}
        empty_text = "No leads match these filters."

    def render_name(self, record):
        return record.name or record.email
