from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import ServiceError
from common.htmx import add_service_errors, form_refusal, fragment, go, list_page, table_context
from common.roles import require_perm
from leads.models import Lead
from partners import matching, selectors, services
from partners.filters import PartnerFilter, ReferralFilter
from partners.forms import (
    DealValueForm,
    OutcomeForm,
    ReferralSendForm,
    ReverseForm,
    agreement_forms,
)
from partners.models import FeeAgreement, Partner, Referral, ReferralMode
from partners.tables import PartnerTable, ReferralTable

# Partners ------------------------------------------------------------------------------------------------


@require_GET
@require_perm("partners.view_partner")
def partner_list(request: HttpRequest) -> HttpResponse:
    partner_filter = PartnerFilter(request.GET, queryset=selectors.partner_list())
    context = table_context(request, partner_filter, PartnerTable(partner_filter.qs))
    table = context["table"]
    table.performance = selectors.partner_performance(partner_ids=[row.record.pk for row in table.page.object_list])
    return list_page(request, "partners/partner_list.html", context, target="partner-table-region")


@require_GET
@require_perm("partners.view_partner")
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(selectors.partner_detail(), pk=pk)
    context = {
        "partner": partner,
        "performance": selectors.partner_performance(partner_ids=[partner.pk])[partner.pk],
        "criteria": selectors.partner_criteria(partner=partner),
        "agreements": selectors.partner_agreements(partner=partner),
        "referrals": selectors.partner_recent_referrals(partner=partner),
    }
    return render(request, "partners/partner_detail.html", context)


# Fee agreements ------------------------------------------------------------------------------------------


def _agreement_page(request: HttpRequest, agreement: FeeAgreement) -> HttpResponse:
    """The agreement form and up to three tier rows; POST saves both through `fee_agreement_save`."""
    form, tiers = agreement_forms(request.POST or None, agreement)
    status = 200
    if request.method == "POST":
        if form.is_valid() and tiers.is_valid():
            try:
                services.fee_agreement_save(agreement=form.save(commit=False), tiers=tiers.tiers(), user=request.user)
            except ServiceError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Fee agreement saved: {agreement}.")
                return redirect(agreement.partner)
        status = 422
    context = {"form": form, "tiers": tiers, "agreement": agreement, "partner": agreement.partner}
    return render(request, "partners/agreement_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_perm("partners.add_feeagreement")
def agreement_create(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    return _agreement_page(request, FeeAgreement(partner=partner))


@require_http_methods(["GET", "POST"])
@require_perm("partners.change_feeagreement")
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _agreement_page(request, get_object_or_404(selectors.agreement_for_edit(), pk=pk))


# Referrals -----------------------------------------------------------------------------------------------


@require_GET
@require_perm("partners.view_referral")
def referral_list(request: HttpRequest) -> HttpResponse:
    referral_filter = ReferralFilter(request.GET, queryset=selectors.referral_list())
    table = ReferralTable(referral_filter.qs, can_view_leads=request.user.has_perm("leads.view_lead"))
    context = table_context(request, referral_filter, table)
    return list_page(request, "partners/referral_list.html", context, target="referral-table-region")


def _referral_page(request: HttpRequest, referral: Referral, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "referral": referral,
        "terms": selectors.referral_terms_text(referral),
        "explanation": referral.match or {},
        "actions": selectors.referral_actions(referral),
        "outbox": selectors.referral_messages(referral=referral),
        "error": error,
        "posted": request.POST if error else {},
    }
    if request.user.has_perm("partners.view_feeaccrual"):
        context["accruals"], context["accrual_totals"] = selectors.referral_accruals(referral=referral)
    return render(request, "partners/referral_detail.html", context, status=status)


@require_GET
@require_perm("partners.view_referral")
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _referral_page(request, get_object_or_404(selectors.referral_detail(), pk=pk))


OUTCOME_DONE = {
    "accept": "Recorded: {partner} accepted {code}.",
    "decline": "Recorded: {partner} declined {code}.",
    "convert": "Recorded: {code} converted.",
    "lose": "Recorded: {code} was lost.",
}


def _record_outcome(referral: Referral, data: dict, actor) -> None:
    action = data["action"]  # the services check the state and the mode, and say why not
    if action == "accept":
        services.referral_accept(referral=referral, actor=actor)
    elif action == "decline":
        services.referral_decline(referral=referral, reason=data["reason"], actor=actor)
    elif action == "convert":
        services.referral_convert(
            referral=referral, deal_value=data["deal_value"], currency=data["currency"], actor=actor
        )
    else:
        services.referral_lose(referral=referral, reason=data["reason"], actor=actor)


@require_POST
@require_perm("partners.record_outcome")
def referral_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(selectors.referral_detail(), pk=pk)
    form = OutcomeForm(request.POST, referral=referral)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        _record_outcome(referral, form.cleaned_data, request.user)
    except ServiceError as exc:
        return _referral_page(request, referral, error=str(exc), status=exc.status)
    action = form.cleaned_data["action"]
    messages.success(request, OUTCOME_DONE[action].format(partner=referral.partner, code=referral.tracking_code))
    return go(request, referral.get_absolute_url())


@require_POST
@require_perm("partners.reverse_conversion")
def referral_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(selectors.referral_detail(), pk=pk)
    form = ReverseForm(request.POST)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        rows = services.referral_conversion_reverse(
            referral=referral, reason=form.cleaned_data["reason"], actor=request.user
        )
    except ServiceError as exc:
        return _referral_page(request, referral, error=str(exc), status=exc.status)
    reversed_total = ", ".join(f"{row.amount} {row.currency}" for row in rows) or "no conversion fees"
    messages.success(request, f"Conversion of {referral.tracking_code} reversed ({reversed_total}).")
    return go(request, referral.get_absolute_url())


@require_POST
@require_perm("partners.view_referral", "partners.add_feeaccrual")
def referral_deal_value(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a converted referral's deal value: the share of the deal is reversed and accrued again (Finance)."""
    referral = get_object_or_404(selectors.referral_detail(), pk=pk)
    form = DealValueForm(request.POST, referral=referral)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        rows = services.referral_deal_value_correct(
            referral=referral, deal_value=form.cleaned_data["deal_value"], reason=form.cleaned_data["reason"],
            actor=request.user,
        )  # fmt: skip
    except ServiceError as exc:
        return _referral_page(request, referral, error=str(exc), status=exc.status)
    referral.refresh_from_db(fields=["deal_value", "deal_currency"])
    change = sum((row.amount for row in rows), Decimal("0.00"))
    messages.success(
        request,
        f"Deal value of {referral.tracking_code} corrected to {referral.deal_value:,.2f} {referral.deal_currency}; "
        f"the share of the deal changed by {change:,.2f}.",
    )
    return go(request, referral.get_absolute_url())


# Referring a lead ----------------------------------------------------------------------------------------


def _matches_page(request: HttpRequest, lead: Lead, *, error: str = "", status: int = 200) -> HttpResponse:
    """The partners that fit the lead, best first, and its referrals so far: the whole page, or only the
    `matches` region when htmx loads it into the lead page."""
    referrable = lead.status in services.REFERRABLE and not lead.do_not_contact
    result = matching.matches_for_lead(lead) if referrable else None
    context = {
        "lead": lead,
        "referrable": referrable,
        "matches": result.matches if result else [],
        "excluded": selectors.excluded_text(result.excluded) if result else "",
        "referrals": selectors.lead_referrals(lead=lead),
        "error": error,
        "posted": request.POST if error else {},
    }
    template = fragment(request, "partners/lead_matches.html", {"partner-matches": "matches"})
    return render(request, template, context, status=status)


@require_GET
@require_perm("partners.add_referral")
def lead_matches(request: HttpRequest, lead_pk: int) -> HttpResponse:
    return _matches_page(request, get_object_or_404(selectors.lead_for_referral(), pk=lead_pk))


@require_POST
@require_perm("partners.add_referral")
def referral_send(request: HttpRequest, lead_pk: int) -> HttpResponse:
    lead = get_object_or_404(selectors.lead_for_referral(), pk=lead_pk)
    form = ReferralSendForm(request.POST)
    try:
        if not form.is_valid():
            raise form_refusal(form)
        data = form.cleaned_data
        referral = services.referral_send(
            lead=lead, partner=data["partner"], mode=data["mode"], actor=request.user, note=data["note"]
        )
    except ServiceError as exc:  # ConsentError too: the service is the one that refuses
        return _matches_page(request, lead, error=str(exc), status=exc.status)
    how = "introduced to" if referral.mode == ReferralMode.INTRODUCE else "signposted to"
    messages.success(
        request, f"{lead.name or lead.email} {how} {referral.partner}; tracking code {referral.tracking_code}."
    )
    return go(request, reverse("leads:detail", args=[lead.pk]))
