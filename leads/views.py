from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.htmx import list_page, table_context
from common.roles import require_perm
from common.tabular import csv_response
from leads import importing, selectors, services
from leads.filters import LeadFilter
from leads.forms import ICPPublishForm, ImportUploadForm, LeadEditForm
from leads.models import ICPVersionStatus, ImportJob, ImportStatus, Lead
from leads.tables import LeadTable


@require_GET
@require_perm("leads.view_lead")
def lead_list(request: HttpRequest) -> HttpResponse:
    lead_filter = LeadFilter(request.GET, queryset=selectors.lead_list())
    context = table_context(request, lead_filter, LeadTable(lead_filter.qs))
    return list_page(request, "leads/lead_list.html", context, target="lead-table-region")


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


@require_http_methods(["GET", "POST"])
@require_perm("leads.change_lead")
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a lead's data; saving re-checks it against the ICP (a nurtured lead may qualify and go back)."""
    lead = get_object_or_404(selectors.lead_list(), pk=pk)
    form = LeadEditForm(request.POST or None, instance=lead)
    if request.method == "POST" and form.is_valid():
        try:
            updated, changed = services.lead_update(lead=lead, data=form.changed_data_values(), actor=request.user)
        except services.LeadDataError as exc:
            for field, errors in exc.errors.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if changed:
                messages.success(
                    request,
                    f"Saved ({', '.join(changed)}); checked again against the ICP: now "
                    f"{updated.get_status_display().lower()}.",
                )
            else:
                messages.info(request, "Nothing changed.")
            return redirect(updated)
    status = 422 if request.method == "POST" else 200
    return render(request, "leads/lead_edit.html", {"lead": lead, "form": form}, status=status)


@require_GET
@require_perm("leads.view_icpprofile")
def icp_list(request: HttpRequest) -> HttpResponse:
    return render(request, "leads/icp_list.html", {"profiles": selectors.icp_profiles()})


def _icp_version_page(request: HttpRequest, version, *, publish_form=None, status: int = 200) -> HttpResponse:
    criteria = selectors.icp_version_criteria(version=version)
    context = {"version": version, "criteria": criteria, "broken": [row for row in criteria if row["defect"]]}
    if version.status == ICPVersionStatus.DRAFT:
        context["whatif"] = services.icp_whatif(draft=version)
        context["problems"] = services.icp_version_validate(version=version)
        context["publish_form"] = publish_form or ICPPublishForm()
    return render(request, "leads/icp_version.html", context, status=status)


@require_GET
@require_perm("leads.view_icpprofile")
def icp_version(request: HttpRequest, pk: int) -> HttpResponse:
    return _icp_version_page(request, get_object_or_404(selectors.icp_versions(), pk=pk))


@require_POST
@require_perm("leads.publish_icpprofile")
def icp_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publishing cannot be undone: refused (422, the page with the form's errors) without a confirmation and a
    reason; the reason is kept on the version."""
    version = get_object_or_404(selectors.icp_versions(), pk=pk)
    form = ICPPublishForm(request.POST)
    if not form.is_valid():
        return _icp_version_page(request, version, publish_form=form, status=422)
    try:
        services.icp_version_publish(version=version, reason=form.cleaned_data["reason"], user=request.user)
    except services.ICPError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{version.profile} v{version.number} is now in force; open leads are being re-checked."
        )
    return redirect("leads:icp_version", pk=pk)


# CSV import ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm("leads.import_leads")
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job, _ = importing.import_job_create(
                upload=form.cleaned_data["file"], source=form.cleaned_data["source"], user=request.user
            )
        except importing.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("leads:import_job", pk=job.pk)
    jobs = ImportJob.objects.select_related("source", "created_by")[:20]
    return render(request, "leads/import_upload.html", {"form": form, "jobs": jobs})


def _job_or_404(pk: int) -> ImportJob:
    return get_object_or_404(ImportJob.objects.select_related("source", "created_by"), pk=pk)


def _mapping_from(request: HttpRequest, headers: list[str]) -> dict[str, str]:
    return {header: request.POST.get(f"map-{index}", "") for index, header in enumerate(headers)}


def _inspected(job: ImportJob) -> tuple[importing.CsvFile | None, str]:
    try:
        return importing.import_job_inspect(job), ""
    except importing.ImportFileError as exc:
        return None, str(exc)


def _job_context(job: ImportJob, csv_file, file_error: str, mapping=None, mapping_error: str = "") -> dict:
    context: dict = {"job": job, "mapping_error": mapping_error, "field_choices": importing.field_choices()}
    if csv_file is None:
        context["file_error"] = file_error
        return context
    mapping = mapping if mapping is not None else job.mapping
    context["csv_file"] = csv_file
    context["columns"] = [(i, header, mapping.get(header, "")) for i, header in enumerate(csv_file.headers)]
    try:
        _, context["preview"] = importing.import_job_preview(job, mapping)
    except importing.ImportFileError as exc:
        context["mapping_error"] = mapping_error or str(exc)
        context["preview"] = []
    context["progress"] = importing.import_job_progress(job)
    context["can_start"] = job.status in (ImportStatus.UPLOADED, ImportStatus.FAILED) or (
        job.status == ImportStatus.DONE and job.dry_run
    )
    return context


@require_http_methods(["GET", "POST"])
@require_perm("leads.import_leads")
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """The mapping and preview of an upload (POST re-renders the preview for an edited mapping), then its
    progress and outcome."""
    job = _job_or_404(pk)
    csv_file, file_error = _inspected(job)
    mapping = _mapping_from(request, csv_file.headers) if request.method == "POST" and csv_file else None
    context = _job_context(job, csv_file, file_error, mapping)
    template = "leads/import_job.html"
    if request.htmx and request.htmx.target == "import-preview":
        template += "#preview"
    return render(request, template, context)


@require_POST
@require_perm("leads.import_leads")
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    csv_file, file_error = _inspected(job)
    if csv_file is None:
        return render(request, "leads/import_job.html", _job_context(job, None, file_error), status=422)
    mapping = _mapping_from(request, csv_file.headers)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        importing.import_job_start(job=job, mapping=mapping, dry_run=dry_run)
    except importing.ImportFileError as exc:
        context = _job_context(job, csv_file, "", mapping, str(exc))
        return render(request, "leads/import_job.html", context, status=422)
    messages.info(request, "Dry run queued: nothing will be stored." if dry_run else "Import queued.")
    return redirect("leads:import_job", pk=job.pk)


@require_POST
@require_perm("leads.import_leads")
def import_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """A failed import (its worker stopped, or the file could not be read then) queued again as it was."""
    job = _job_or_404(pk)
    try:
        importing.import_job_rerun(job=job)
    except importing.ImportFileError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, "Queued again with the same file and mapping.")
    return redirect("leads:import_job", pk=job.pk)


@require_GET
@require_perm("leads.import_leads")
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block, polled by htmx while the import runs; once finished it renders the outcome."""
    job = _job_or_404(pk)
    context = {"job": job, "progress": importing.import_job_progress(job)}
    response = render(request, "leads/import_job.html#status", context)
    if request.htmx and job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        response["HX-Refresh"] = "true"  # finished: reload, so the page offers what comes next
    return response


@require_GET
@require_perm("leads.import_leads")
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every rejected row; the uploaded headers and cells it echoes go through the formula-safe writer."""
    job = _job_or_404(pk)
    stem = job.original_name.rsplit(".", 1)[0] or "import"
    return csv_response(importing.import_job_error_report(job), f"{stem}-rejected-rows.csv", bom=True)
