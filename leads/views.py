from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from config.roles import require_perm
from leads import selectors
from leads.filters import LeadFilter
from leads.models import Lead
from leads.tables import LeadTable


@require_GET
@require_perm("leads.view_lead")
def lead_list(request: HttpRequest) -> HttpResponse:
    lead_filter = LeadFilter(request.GET, queryset=selectors.lead_list())
    table = LeadTable(lead_filter.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    template = "leads/lead_list.html"
    if request.htmx and request.htmx.target == "lead-table-region":
        template += "#table"
    return render(request, template, {"filter": lead_filter, "table": table})


@require_GET
@require_perm("leads.view_lead")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        lead = selectors.lead_get(pk=pk)
    except Lead.DoesNotExist:
        raise Http404("No such lead.") from None
    events = selectors.lead_timeline(lead=lead)
    return render(request, "leads/lead_detail.html", {"lead": lead, "events": events})
