from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from config.roles import require_perm
from leads import selectors, services
from leads.filters import LeadFilter
from leads.models import ICPVersionStatus, Lead
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
    evaluation = selectors.evaluation_latest_for_lead(lead=lead)
    context = {
        "lead": lead,
        "events": selectors.lead_timeline(lead=lead),
        "evaluation": evaluation,
        "explained": selectors.evaluation_explain(evaluation=evaluation) if evaluation else [],
    }
    return render(request, "leads/lead_detail.html", context)


@require_GET
@require_perm("leads.view_icpprofile")
def icp_list(request: HttpRequest) -> HttpResponse:
    return render(request, "leads/icp_list.html", {"profiles": selectors.icp_profiles()})


@require_GET
@require_perm("leads.view_icpprofile")
def icp_version(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(selectors.icp_versions(), pk=pk)
    context = {"version": version, "criteria": selectors.icp_version_criteria(version=version)}
    if version.status == ICPVersionStatus.DRAFT:
        context["whatif"] = services.icp_whatif(draft=version)
        context["problems"] = services.icp_version_validate(version=version)
    return render(request, "leads/icp_version.html", context)


@require_POST
@require_perm("leads.publish_icpprofile")
def icp_publish(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(selectors.icp_versions(), pk=pk)
    try:
        services.icp_version_publish(version=version, user=request.user)
    except services.ICPError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{version.profile} v{version.number} is now in force; open leads are being re-checked."
        )
    return redirect("leads:icp_version", pk=pk)
