"""The triage workspace: the queue of leads that do not fit, the panel of the open lead beside it, and the
redirects chosen there. One page, `triage/queue.html`; htmx swaps its regions (table, counts, panel, reply,
bulk). The services in triage/services.py change state; these views parse, call one of them, and render."""

from collections.abc import Callable

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from common.errors import ServiceError
from common.htmx import form_refusal, htmx_target, list_page, refuse, region, table_context
from common.roles import require_perm
from common.text import render_plain_text
from leads import selectors
from leads.models import TRIAGE_STATUSES, Lead
from nurture.selectors import track_options
from nurture.services import helpful_replies_for, helpful_reply_preview, track_writes_now
from partners.matching import matches_for_lead
from partners.models import Partner
from partners.selectors import excluded_text
from triage.filters import TriageFilter
from triage.forms import AssignForm, BulkForm, CloseForm, EnrollForm, OverrideForm, ReferForm, ReplyForm
from triage.selectors import triage_queue, triage_reason_counts
from triage.services import (
    TriageConflict,
    bulk_close,
    bulk_enroll,
    bulk_reply,
    lead_claim,
    lead_reassign,
    lead_release,
    triage_close,
    triage_enroll,
    triage_override,
    triage_refer,
    triage_reply,
)
from triage.tables import QueuePaginator, TriageTable, sla_status

PAGE = "triage/queue.html"
TABLE, PANEL, REPLY = "triage-table-region", "panel", "triage-reply"
TIMELINE_LENGTH = 20


def _leads():
    return Lead.objects.select_related("source", "owner", "primary_reason", "claimed_by")


def _lead_or_404(pk: int) -> Lead:
    return get_object_or_404(_leads(), pk=pk)


def _queue_url(**params) -> str:
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in params.items() if v})
    return reverse("triage:queue") + (f"?{query.urlencode()}" if query else "")


# Reads for the page ---------------------------------------------------------------------------------------


def _ticked(request: HttpRequest) -> list[int]:
    """The rows ticked for a bulk action, as the table's requests carry them (`tick`, hx-include): re-rendered
    checked, so sorting, paging or filtering keeps them."""
    return sorted({int(pk) for pk in request.GET.getlist("tick") if pk.isdigit() and len(pk) < 19})


def _queue_context(request: HttpRequest, *, checked=None) -> dict:
    queue_filter = TriageFilter(request.GET, queryset=triage_queue(), request=request)
    open_lead = request.GET.get("lead", "")
    table = TriageTable(
        queue_filter.qs,
        user=request.user,
        checked=_ticked(request) if checked is None else checked,
        open_lead=int(open_lead) if open_lead.isdigit() and len(open_lead) < 19 else None,
    )
    context = table_context(request, queue_filter, table, paginator_class=QueuePaginator)
    query = request.GET.copy()
    query.pop("tick", None)  # the table's own requests send the ticked rows as they are then (hx-include)
    return context | {"table_url": _queue_url(**query.dict())}


def _partner_options(lead: Lead) -> dict:
    result = matches_for_lead(lead, limit=3)
    partners = Partner.objects.in_bulk([match.partner.id for match in result.matches])
    placeholder = {"tracking_code": "PT-XXXXXXXX"}  # the real code is made when it is sent
    options = [
        {
            "match": match,
            "signpost": render_plain_text(
                "partners/email/signpost.txt",
                {"lead": lead, "partner": partners[match.partner.id], "referral": placeholder},
            ),
        }
        for match in result.matches
    ]
    return {"partner_options": options, "excluded": excluded_text(result.excluded)}


def _track_options(lead: Lead) -> list[dict]:
    """The nurture page's track options under the queue's rule; an email sent at once is shown as the reply."""
    options = track_options(lead=lead)
    for option in options:
        option["first_subject"] = option["steps"][0]["summary"] if track_writes_now(option["track"]) else ""
    return options


def _reply_context(lead: Lead, *, reply_id: str | None = None, form: ReplyForm | None = None) -> dict:
    replies = helpful_replies_for(lead)
    chosen = next((r for r in replies if str(r.pk) == reply_id), replies[0] if replies else None)
    problem = ""
    if form is None:
        subject, body, problem = helpful_reply_preview(reply=chosen, lead=lead) if chosen else ("", "", "")
        form = ReplyForm(initial={"reply": chosen.pk if chosen else None, "subject": subject, "body": body})
    return {"lead": lead, "replies": replies, "chosen": chosen, "reply_form": form, "reply_problem": problem}


def _next_lead(lead: Lead, user, now) -> Lead | None:
    free = Q(claimed_by__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user)
    return triage_queue().filter(free).exclude(pk=lead.pk).order_by("respond_by", "id").first()


def _panel_context(request: HttpRequest, lead: Lead, *, bound: dict | None = None) -> dict:
    """Everything the panel shows. Opening it claims the lead, unless someone else holds it."""
    now, bound = timezone.now(), bound or {}
    in_queue = lead.status in TRIAGE_STATUSES
    claimed, holder = lead_claim(lead=lead, user=request.user, now=now) if in_queue else (False, None)
    holder = None if claimed else holder  # someone else, until lead.claimed_until
    evaluation = selectors.evaluation_latest_for_lead(lead=lead)
    explained = selectors.evaluation_explain(evaluation=evaluation) if evaluation else []
    context = {
        "lead": lead,
        "in_queue": in_queue,
        "holder": holder,
        "can_act": in_queue and holder is None,
        "sla": sla_status(lead, now=now),
        "evaluation": evaluation,
        "not_passing": [c for c in explained if c["outcome"] != "pass"],
        "passing": sum(1 for c in explained if c["outcome"] == "pass"),
        "events": list(selectors.lead_timeline(lead=lead)[:TIMELINE_LENGTH]),
        "next_lead": _next_lead(lead, request.user, now),
        "forms": {
            "refer": bound.get("refer"),
            "enroll": bound.get("enroll"),
            "close": bound.get("close") or CloseForm(),
            "override": bound.get("override") or OverrideForm(),
            "assign": bound.get("assign") or AssignForm(initial={"owner": lead.owner_id}),
        },
    }
    if context["can_act"]:
        if not lead.do_not_contact:
            context.update(_partner_options(lead))
        context["track_options"] = options = _track_options(lead)
        context["serving_tracks"] = sum(1 for option in options if option["suggested"])
        context["other_tracks"] = len(options) - context["serving_tracks"]
        context.update(_reply_context(lead, reply_id=request.GET.get("reply"), form=bound.get("reply")))
    return context


# Pages and regions ----------------------------------------------------------------------------------------


def _page(
    request: HttpRequest,
    lead: Lead | None = None,
    *,
    status: int = 200,
    bound=None,
    bulk_form=None,
    checked=None,
    **extra,
) -> HttpResponse:
    """The whole page: the queue as the URL says, and the panel of `lead` beside it."""
    context = {**_queue_context(request, checked=checked), **extra}
    context["bulk_form"] = bulk_form or BulkForm(initial={"q": request.GET.urlencode()})
    if lead is not None:
        context.update(_panel_context(request, lead, bound=bound))
    return render(request, PAGE, context, status=status)


@require_GET
@require_perm("leads.triage_lead")
def queue(request: HttpRequest) -> HttpResponse:
    """The queue; `?lead=<pk>` opens that lead's panel beside it. htmx table requests get only the table."""
    if htmx_target(request) == TABLE:
        return list_page(request, PAGE, _queue_context(request), target=TABLE)
    pk = request.GET.get("lead", "")
    return _page(request, _leads().filter(pk=pk).first() if pk.isdigit() else None)


@require_GET
@require_perm("leads.triage_lead")
def counts(request: HttpRequest) -> HttpResponse:
    """Leads waiting per reason: the region (htmx loads it after the page, and again on `leadChanged`), or the
    whole page with it filled in."""
    if request.htmx:
        return render(request, f"{PAGE}#counts", {"reason_counts": triage_reason_counts()})
    return _page(request, reason_counts=triage_reason_counts())


@require_GET
@require_perm("leads.triage_lead")
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead panel (htmx, into #panel), or its reply region with another template; otherwise the whole page
    with the queue and this panel, so a bookmark or a link in an email always gets the page. `release` names the
    lead the panel showed before: its claim ends now rather than in a few minutes."""
    lead = _lead_or_404(pk)
    target = htmx_target(request)
    if target == REPLY:
        return render(request, f"{PAGE}#reply", _reply_context(lead, reply_id=request.GET.get("reply")))
    if target != PANEL:
        return _page(request, lead)
    previous = request.GET.get("release", "")
    if previous.isdigit() and int(previous) != lead.pk:
        lead_release(lead=Lead(pk=int(previous)), user=request.user)  # only a claim of this user's
    return render(request, f"{PAGE}#panel", _panel_context(request, lead) | {"focus_panel": True})


# Actions --------------------------------------------------------------------------------------------------


def _panel_response(
    request: HttpRequest, lead: Lead, *, status: int = 200, bound: dict | None = None, acted: bool = False
) -> HttpResponse:
    """The refreshed panel with the messages (out of band) for htmx; the whole queue page otherwise. `acted`: an
    action just succeeded, so "Next lead" takes the focus (autofocus in the returned partial)."""
    if not request.htmx:
        return _page(request, lead, status=status, bound=bound)
    return region(
        request, f"{PAGE}#panel", _panel_context(request, lead, bound=bound) | {"acted": acted}, status=status
    )


def _act(request: HttpRequest, pk: int, key: str, form: object, run: Callable[[Lead, dict], str]) -> HttpResponse:
    """Parse, run one service, then the refreshed panel (and `leadChanged`, so the table and counts follow).
    Someone else first → 409 with the fresh panel; a refusal → 422 with the message on its fields."""
    lead = _lead_or_404(pk)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        done = run(lead, form.cleaned_data)
    except ServiceError as exc:
        status = refuse(request, exc, form)
        bound = None if isinstance(exc, TriageConflict) else {key: form}  # a conflict: the panel as it is now
        return _panel_response(request, _lead_or_404(pk), status=status, bound=bound)
    messages.success(request, done)
    if not request.htmx:
        return redirect(_queue_url(lead=pk))
    return trigger_client_event(_panel_response(request, _lead_or_404(pk), acted=True), "leadChanged")


def _who(lead: Lead) -> str:
    return lead.name or lead.email


@require_POST
@require_perm("leads.triage_lead")
def refer(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        referral = triage_refer(
            lead=lead, partner=data["partner"], mode=data["mode"], note=data["note"], user=request.user
        )
        how = "introduced to" if referral.mode == "introduce" else "signposted to"
        return f"{_who(lead)} {how} {referral.partner}; tracking code {referral.tracking_code}."

    return _act(request, pk, "refer", ReferForm(request.POST), run)


@require_POST
@require_perm("leads.triage_lead")
def enroll(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        triage_enroll(lead=lead, track=data["track"], user=request.user)
        return f"{_who(lead)} is now on the track “{data['track']}”."

    return _act(request, pk, "enroll", EnrollForm(request.POST), run)


@require_POST
@require_perm("leads.triage_lead")
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        triage_reply(lead=lead, subject=data["subject"], body=data["body"], reply=data["reply"], user=request.user)
        return f"Reply “{' '.join(data['subject'].split())}” queued to {lead.email}."

    return _act(request, pk, "reply", ReplyForm(request.POST), run)


@require_POST
@require_perm("leads.triage_lead")
def close(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        triage_close(lead=lead, kind=data["kind"], reason=data["reason"], user=request.user)
        return f"{_who(lead)} closed as {data['kind']}."

    return _act(request, pk, "close", CloseForm(request.POST), run)


@require_POST
@require_perm("leads.triage_lead")
def override(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        triage_override(lead=lead, note=data["note"], user=request.user)
        return f"{_who(lead)} is qualified after all."

    return _act(request, pk, "override", OverrideForm(request.POST), run)


@require_POST
@require_perm("leads.triage_lead")
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    def run(lead, data):
        owner = data["owner"]
        lead_reassign(lead=lead, owner=owner, user=request.user)
        who = (owner.get_full_name() or owner.get_username()) if owner else "nobody"
        return f"{_who(lead)} now belongs to {who}."

    return _act(request, pk, "assign", AssignForm(request.POST), run)


# Bulk -----------------------------------------------------------------------------------------------------

BULK_DONE = {
    "enroll": "enrolled",
    "reply": "answered with their reason's helpful reply",
    "close_spam": "closed as spam",
}


def _bulk_run(data: dict, user):
    ids, action = data["tick"], data["action"]
    if action == "enroll":
        return bulk_enroll(lead_ids=ids, track=data["track"], user=user)
    if action == "reply":
        return bulk_reply(lead_ids=ids, user=user)
    return bulk_close(lead_ids=ids, reason=data["reason"], user=user)


@require_POST
@require_perm("leads.triage_lead")
def bulk(request: HttpRequest) -> HttpResponse:
    """The ticked rows × one action, each lead through the same service (consent is checked per lead)."""
    form = BulkForm(request.POST)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        result = _bulk_run(form.cleaned_data, request.user)
    except ServiceError as exc:
        status = refuse(request, exc, form)
        if request.htmx:
            return region(request, f"{PAGE}#bulk", {"bulk_form": form}, status=status)
        return _page(request, status=status, bulk_form=form, checked=form.cleaned_data.get("tick") or ())
    level = messages.WARNING if result.refused else messages.SUCCESS
    messages.add_message(request, level, result.summary(BULK_DONE[form.cleaned_data["action"]]))
    query = form.cleaned_data["q"]
    if not request.htmx:
        return redirect(reverse("triage:queue") + (f"?{QueryDict(query).urlencode()}" if query else ""))
    response = region(request, f"{PAGE}#bulk", {"bulk_form": BulkForm(initial={"q": query})})
    return trigger_client_event(response, "leadChanged")
