"""The nurture pages: enrollments (pause, resume, stop), tracks, tasks, and per lead: enroll in a track and
send a helpful reply. Views parse, call one service or selector, and render; an htmx request gets only the
region it targets, everything else the whole page."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from common.errors import ServiceError
from common.htmx import add_service_errors, form_refusal, fragment, go, htmx_target, list_page, region, table_context
from common.roles import require_perm
from leads.models import Lead
from nurture import selectors, services
from nurture.filters import EnrollmentFilter, TaskFilter
from nurture.forms import EnrollForm, ReplyForm, StopForm
from nurture.models import Enrollment, NurtureTask
from nurture.tables import EnrollmentTable, TaskTable
from nurture.task_services import nurture_task_done

ENROLLMENTS, TRACKS, TASKS = "nurture/enrollment_list.html", "nurture/track_list.html", "nurture/task_list.html"
ENROLL, REPLY = "nurture/lead_enroll.html", "nurture/lead_reply.html"
# The ids of the regions htmx swaps (its HX-Target), each a partial of its page.
TABLE, COUNTS, TASK_TABLE = "enrollment-table-region", "enrollment-counts", "task-table-region"
TRACK_OPTIONS, PREVIEW = "enroll-tracks", "reply-preview"


def _back(request: HttpRequest, name: str) -> str:
    """The list the action came from: its URL with the query string the action was posted with."""
    query = request.GET.urlencode()
    return reverse(name) + (f"?{query}" if query else "")


def _who(lead: Lead) -> str:
    return lead.name or lead.email


# Enrollments ---------------------------------------------------------------------------------------------


def _enrollment_context(request: HttpRequest) -> dict:
    enrollment_filter = EnrollmentFilter(request.GET, queryset=selectors.enrollment_list())
    exclude = () if request.user.has_perm("nurture.change_enrollment") else ("actions",)
    return table_context(request, enrollment_filter, EnrollmentTable(enrollment_filter.qs, exclude=exclude))


@require_GET
@require_perm("nurture.view_enrollment")
def enrollment_list(request: HttpRequest) -> HttpResponse:
    """The enrollments table with counts per status; htmx gets only the table or only the counts."""
    if htmx_target(request) == COUNTS:
        return render(request, f"{ENROLLMENTS}#counts", {"counts": selectors.enrollment_status_counts()})
    context = _enrollment_context(request)
    if htmx_target(request) != TABLE:
        context["counts"] = selectors.enrollment_status_counts()
    return list_page(request, ENROLLMENTS, context, target=TABLE)


def _enrollment_act(action: str, enrollment: Enrollment, form: StopForm, actor) -> str:
    """Run the action's service; what to tell the user when it worked."""
    who, track = _who(enrollment.lead), enrollment.track
    if action == "pause":
        services.enrollment_pause(enrollment=enrollment, actor=actor)
        return f"{who} is paused in “{track}”."
    if action == "resume":
        services.enrollment_resume(enrollment=enrollment, actor=actor)
        return f"{who} carries on in “{track}”."
    if not form.is_valid():
        raise form_refusal(form)
    services.enrollment_stop(enrollment=enrollment, reason=form.cleaned_data["reason"], actor=actor)
    return f"{who} left “{track}”: stopped by hand."


@require_POST
@require_perm("nurture.change_enrollment")
def enrollment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Pause, resume or stop (with a reason). The list comes back as it was (the query string of the action URL
    is the list's): the table region for htmx, else a redirect — or the whole page, 422, when refused."""
    if action not in ("pause", "resume", "stop"):
        raise Http404("No such action.")
    try:
        enrollment = selectors.enrollment_get(pk=pk)
    except Enrollment.DoesNotExist:
        raise Http404("No such enrollment.") from None
    try:
        done = _enrollment_act(action, enrollment, StopForm(request.POST), request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
        if request.htmx:
            return region(request, f"{ENROLLMENTS}#table", _enrollment_context(request), status=exc.status)
        context = {**_enrollment_context(request), "counts": selectors.enrollment_status_counts()}
        return render(request, ENROLLMENTS, context, status=exc.status)
    messages.success(request, done)
    if not request.htmx:
        return redirect(_back(request, "nurture:enrollments"))
    response = region(request, f"{ENROLLMENTS}#table", _enrollment_context(request))
    return trigger_client_event(response, "enrollmentChanged")


# Tracks --------------------------------------------------------------------------------------------------


@require_GET
@require_perm("nurture.view_track")
def track_list(request: HttpRequest) -> HttpResponse:
    tracks = [{"track": track, "steps": selectors.step_rows(track)} for track in selectors.track_list()]
    return render(request, TRACKS, {"tracks": tracks})


# Tasks ---------------------------------------------------------------------------------------------------


def _task_context(request: HttpRequest) -> dict:
    task_filter = TaskFilter(request.GET, queryset=selectors.task_list(), request=request)
    exclude = () if request.user.has_perm("nurture.change_nurturetask") else ("done",)
    return table_context(request, task_filter, TaskTable(task_filter.qs, exclude=exclude))


@require_GET
@require_perm("nurture.view_nurturetask")
def task_list(request: HttpRequest) -> HttpResponse:
    """Open tasks, the user's own unless `who` says otherwise; htmx gets only the table."""
    return list_page(request, TASKS, _task_context(request), target=TASK_TABLE)


@require_POST
@require_perm("nurture.change_nurturetask")
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        task = selectors.task_get(pk=pk)
    except NurtureTask.DoesNotExist:
        raise Http404("No such task.") from None
    try:
        nurture_task_done(task=task, actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
        if request.htmx:
            return region(request, f"{TASKS}#table", _task_context(request), status=exc.status)
        return render(request, TASKS, _task_context(request), status=exc.status)
    messages.success(request, f"Done: “{task.title}” for {_who(task.lead)}.")
    if not request.htmx:
        return redirect(_back(request, "nurture:tasks"))
    return trigger_client_event(region(request, f"{TASKS}#table", _task_context(request)), "taskDone")


# One lead: enroll ----------------------------------------------------------------------------------------


def _lead_or_404(pk: int) -> Lead:
    return get_object_or_404(selectors.lead_for_nurture(), pk=pk)


def _enroll_page(request: HttpRequest, lead: Lead, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "lead": lead,
        "live": selectors.lead_live_enrollment(lead=lead),
        "options": selectors.track_options(lead=lead),
        "error": error,
    }
    return render(request, fragment(request, ENROLL, {TRACK_OPTIONS: "tracks"}), context, status=status)


@require_http_methods(["GET", "POST"])
@require_perm("nurture.add_enrollment")
def lead_enroll(request: HttpRequest, lead_pk: int) -> HttpResponse:
    """The tracks this lead may join (suggested first, refusals greyed with their reason); POST `track`
    enrolls it and goes to the lead page."""
    lead = _lead_or_404(lead_pk)
    if request.method == "GET":
        return _enroll_page(request, lead)
    form = EnrollForm(request.POST)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        track = form.cleaned_data["track"]
        services.enrollment_create(lead=lead, track=track, actor=request.user)
    except ServiceError as exc:
        return _enroll_page(request, lead, error=str(exc), status=exc.status)
    messages.success(request, f"{_who(lead)} is now on the track “{track}”.")
    return go(request, lead.get_absolute_url())


# One lead: helpful reply ---------------------------------------------------------------------------------


def _reply_page(request: HttpRequest, lead: Lead, *, reply_id=None, form=None, status: int = 200) -> HttpResponse:
    """The template chosen (`reply_id`, else the first for the lead's reason) and its editable preview, or
    the form as posted (`form`) with its errors."""
    replies = services.helpful_replies_for(lead)
    chosen = next((r for r in replies if str(r.pk) == str(reply_id)), replies[0] if replies else None)
    problem = ""
    if form is None:
        subject, body, problem = services.helpful_reply_preview(reply=chosen, lead=lead) if chosen else ("", "", "")
        form = ReplyForm(initial={"reply": chosen.pk if chosen else None, "subject": subject, "body": body})
    context = {"lead": lead, "replies": replies, "chosen": chosen, "form": form, "reply_problem": problem}
    return render(request, fragment(request, REPLY, {PREVIEW: "preview"}), context, status=status)


@require_http_methods(["GET", "POST"])
@require_perm("leads.triage_lead")
def lead_reply(request: HttpRequest, lead_pk: int) -> HttpResponse:
    """Choose a template (`?reply=`), edit its preview, send: the lead gets useful resources, not silence."""
    lead = _lead_or_404(lead_pk)
    if request.method == "GET":
        return _reply_page(request, lead, reply_id=request.GET.get("reply"))
    form = ReplyForm(request.POST)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        data = form.cleaned_data
        services.helpful_reply_send(
            lead=lead, subject=data["subject"], body=data["body"], reply=data["reply"], actor=request.user
        )
    except ServiceError as exc:
        add_service_errors(form, exc)
        return _reply_page(request, lead, reply_id=request.POST.get("reply"), form=form, status=exc.status)
    messages.success(request, f"Reply queued to {lead.email}.")
    return go(request, lead.get_absolute_url())
