"""The overview (aging, who is late, a partner's open items), the ledger, one fee's page with its corrections and
payments, and a partner's statement of account (page, CSV, XLSX)."""

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from common.roles import require_perm
from common.tabular import csv_response, xlsx_response
from finance import account, selectors, services
from finance.filters import LedgerFilter
from finance.forms import AdjustForm, PeriodForm, WriteOffForm
from finance.tables import LedgerTable
from finance.views.base import READ, add_errors, fragment, go, parse_date
from partners.models import Partner

# Overview: aging and who is late ---------------------------------------------------------------------------


@require_GET
@require_perm(*READ)
def overview(request: HttpRequest) -> HttpResponse:
    """Aging per partner and currency (as of a day), who is late first; a partner's open items below."""
    as_of = parse_date(request.GET.get("as_of")) or timezone.localdate()
    rows = selectors.aging(as_of=as_of)
    partner = None
    if (pk := request.GET.get("partner", "")).isdigit():
        partner = Partner.objects.filter(pk=pk).first()
    context = {
        "as_of": as_of,
        "rows": rows,
        "totals": selectors.aging_totals(rows),
        "buckets": selectors.BUCKETS,
        "late": [row for row in rows if row.is_late],
        "partner": partner,
        "items": _with_days_late(selectors.open_items(partner=partner), as_of) if partner else None,
        "credit": selectors.partner_credit(partner=partner) if partner else None,
        "lock": selectors.ledger_lock(),
    }
    return render(request, fragment(request, "finance/overview.html", "open-items", "items"), context)


def _with_days_late(items, as_of: date) -> list:
    items = list(items)
    for item in items:
        item.days_late = (as_of - item.due_on).days
    return items


# The ledger --------------------------------------------------------------------------------------------------


@require_GET
@require_perm(*READ)
def ledger(request: HttpRequest) -> HttpResponse:
    ledger_filter = LedgerFilter(request.GET, queryset=selectors.ledger_list())
    table = LedgerTable(ledger_filter.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    context = {"filter": ledger_filter, "table": table, "totals": selectors.ledger_totals(ledger_filter.qs)}
    return render(request, fragment(request, "finance/ledger.html", "ledger-table-region", "table"), context)


def _accrual_page(request, accrual, *, adjust=None, write_off=None, status=200) -> HttpResponse:
    item = (
        accrual
        if accrual.corrects_id is None
        else get_object_or_404(selectors.accrual_detail(), pk=accrual.corrects_id)
    )
    context = {
        "row": accrual,
        "item": item,
        "history": selectors.accrual_history(item=item),
        "audit": selectors.audit_for(subject_type="accrual", subject_id=item.pk),
        "adjust": adjust or AdjustForm(accrual=item),
        "write_off": write_off or WriteOffForm(accrual=item),
    }
    return render(request, "finance/accrual.html", context, status=status)


@require_GET
@require_perm(*READ)
def accrual_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _accrual_page(request, get_object_or_404(selectors.accrual_detail(), pk=pk))


@require_POST
@require_perm(*READ, "partners.add_feeaccrual")
def accrual_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    accrual = get_object_or_404(selectors.accrual_detail(), pk=pk)
    form = AdjustForm(request.POST, accrual=accrual)
    if form.is_valid():
        data = form.cleaned_data
        try:
            row = services.accrual_adjust(
                accrual=accrual, amount=data["amount"], reason=data["reason"], actor=request.user
            )
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            messages.success(
                request, f"Adjusted by {row.amount:,.2f} {row.currency} (posted {row.posted_on:%Y-%m-%d})."
            )
            return go(request, reverse("finance:accrual", args=[row.corrects_id]))
    return _accrual_page(request, accrual, adjust=form, status=422)


@require_POST
@require_perm(*READ, "partners.add_feeaccrual")
def accrual_write_off(request: HttpRequest, pk: int) -> HttpResponse:
    accrual = get_object_or_404(selectors.accrual_detail(), pk=pk)
    form = WriteOffForm(request.POST, accrual=accrual)
    if form.is_valid():
        data = form.cleaned_data
        try:
            row = services.accrual_write_off(
                accrual=accrual, amount=data["amount"], reason=data["reason"], actor=request.user
            )
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            messages.success(
                request, f"Written off {-row.amount:,.2f} {row.currency} (posted {row.posted_on:%Y-%m-%d})."
            )
            return go(request, reverse("finance:accrual", args=[row.corrects_id]))
    return _accrual_page(request, accrual, write_off=form, status=422)


# A partner's statement of account --------------------------------------------------------------------------


def _account(request: HttpRequest, pk: int):
    partner = get_object_or_404(Partner, pk=pk)
    today = timezone.localdate()
    form = PeriodForm(request.GET or None, default=(today.replace(day=1, month=1), today))
    start, end = form.period()
    return partner, form, start, end, account.statement_of_account(partner=partner, start=start, end=end)


@require_GET
@require_perm(*READ)
def account_page(request: HttpRequest, pk: int) -> HttpResponse:
    partner, form, start, end, sections = _account(request, pk)
    context = {"partner": partner, "form": form, "start": start, "end": end, "sections": sections}
    status = 422 if form.is_bound and not form.is_valid() else 200
    return render(request, "finance/account.html", context, status=status)


def _account_filename(partner: Partner, start: date, end: date, ext: str) -> str:
    return f"statement-{partner.slug}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


@require_GET
@require_perm(*READ)
def account_csv(request: HttpRequest, pk: int) -> HttpResponse:
    partner, _, start, end, sections = _account(request, pk)
    rows = account.account_rows(sections, start=start, end=end)
    return csv_response(rows, _account_filename(partner, start, end, "csv"), bom=True)


@require_GET
@require_perm(*READ)
def account_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    partner, _, start, end, sections = _account(request, pk)
    rows = account.account_rows(sections, start=start, end=end)
    return xlsx_response(rows, _account_filename(partner, start, end, "xlsx"), sheet_title="Statement")
