"""Closing months, the journal for accounting (page, CSV, XLSX), and the audit trail of money."""

from datetime import timedelta
from itertools import islice

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from common.roles import require_perm
from common.tabular import csv_response, xlsx_response
from finance import journal, selectors, services
from finance.filters import AuditFilter
from finance.forms import LockForm, PeriodForm
from finance.models import AuditAction
from finance.tables import AuditTable
from finance.views.base import READ, add_errors, fragment, go

JOURNAL_PREVIEW_ROWS = 100


def _periods_page(request: HttpRequest, form: LockForm, *, status: int = 200) -> HttpResponse:
    context = {
        "lock": selectors.ledger_lock(),
        "form": form,
        "history": selectors.audit_list().filter(action=AuditAction.PERIOD_LOCKED)[:24],
    }
    return render(request, "finance/periods.html", context, status=status)


@require_GET
@require_perm(*READ, "partners.view_ledgerlock")
def periods(request: HttpRequest) -> HttpResponse:
    return _periods_page(request, LockForm())


@require_POST
@require_perm(*READ, "partners.view_ledgerlock", "partners.change_ledgerlock")
def period_lock(request: HttpRequest) -> HttpResponse:
    form = LockForm(request.POST)
    if form.is_valid():
        try:
            lock = services.period_lock(month=form.cleaned_data["month"], actor=request.user)
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            first_open = lock.locked_through + timedelta(days=1)
            messages.success(
                request,
                f"The books are closed through {lock.locked_through:%Y-%m-%d}. Entries dated on or before it are "
                f"posted on {first_open:%Y-%m-%d}, the first open day.",
            )
            return go(request, reverse("finance:periods"))
    return _periods_page(request, form, status=422)


def _journal_period(request: HttpRequest) -> tuple[PeriodForm, tuple]:
    form = PeriodForm(request.GET or None)
    return form, form.period()


@require_GET
@require_perm(*READ)
def journal_page(request: HttpRequest) -> HttpResponse:
    form, (start, end) = _journal_period(request)
    preview = list(islice(journal.journal_rows(start=start, end=end, header=False), JOURNAL_PREVIEW_ROWS))
    context = {
        "form": form,
        "start": start,
        "end": end,
        "columns": journal.COLUMNS,
        "rows": preview,
        "count": journal.journal_count(start=start, end=end),
        "query": request.GET.urlencode(),
    }
    status = 422 if form.is_bound and not form.is_valid() else 200
    return render(request, "finance/journal.html", context, status=status)


@require_GET
@require_perm(*READ)
def journal_csv(request: HttpRequest) -> HttpResponse:
    _, (start, end) = _journal_period(request)
    return csv_response(
        journal.journal_rows(start=start, end=end), f"journal-{start:%Y%m%d}-{end:%Y%m%d}.csv", bom=True
    )


@require_GET
@require_perm(*READ)
def journal_xlsx(request: HttpRequest) -> HttpResponse:
    _, (start, end) = _journal_period(request)
    rows = journal.journal_rows(start=start, end=end)
    return xlsx_response(rows, f"journal-{start:%Y%m%d}-{end:%Y%m%d}.xlsx", sheet_title="Journal")


@require_GET
@require_perm(*READ, "finance.view_auditentry")
def audit(request: HttpRequest) -> HttpResponse:
    audit_filter = AuditFilter(request.GET, queryset=selectors.audit_list())
    table = AuditTable(audit_filter.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    context = {"filter": audit_filter, "table": table}
    return render(request, fragment(request, "finance/audit.html", "audit-table-region", "table"), context)
