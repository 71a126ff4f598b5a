"""Payments: the list, recording one, and one payment's page where it is allocated (by hand or oldest due first)
or marked as bounced."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_tables2 import RequestConfig

from common.roles import require_perm
from finance import selectors, services
from finance.filters import PaymentFilter
from finance.forms import AllocationForm, BounceForm, PaymentForm
from finance.tables import PaymentTable
from finance.views.base import add_errors, fragment, go


@require_GET
@require_perm("finance.view_payment")
def payment_list(request: HttpRequest) -> HttpResponse:
    payment_filter = PaymentFilter(request.GET, queryset=selectors.payment_list())
    table = PaymentTable(payment_filter.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    context = {"filter": payment_filter, "table": table}
    return render(request, fragment(request, "finance/payments.html", "payment-table-region", "table"), context)


@require_http_methods(["GET", "POST"])
@require_perm("finance.view_payment", "finance.add_payment")
def payment_create(request: HttpRequest) -> HttpResponse:
    form = PaymentForm(request.POST or None, initial={"partner": request.GET.get("partner")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.payment_record(
                partner=data["partner"],
                amount=data["amount"],
                currency=data["currency"],
                received_on=data["received_on"],
                reference=data["reference"],
                note=data["note"],
                actor=request.user,
            )
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            late = " It is posted on the first open day: its month is closed." if payment.posted_late else ""
            messages.success(
                request, f"Recorded {payment.amount:,.2f} {payment.currency} from {payment.partner}.{late}"
            )
            return go(request, payment.get_absolute_url())
    status = 422 if request.method == "POST" else 200
    return render(request, "finance/payment_form.html", {"form": form}, status=status)


def _payment_page(request, payment, *, allocation=None, bounce=None, status=200) -> HttpResponse:
    items = selectors.open_items(partner=payment.partner, currency=payment.currency)
    context = {
        "payment": payment,
        "allocations": selectors.payment_allocations(payment=payment),
        "bounce_row": selectors.payment_bounce_row(payment=payment),
        "allocation": allocation or AllocationForm(payment=payment, items=items),
        "bounce": bounce or BounceForm(),
        "audit": selectors.audit_for(subject_type="payment", subject_id=payment.pk),
    }
    return render(request, "finance/payment.html", context, status=status)


@require_GET
@require_perm("finance.view_payment")
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _payment_page(request, get_object_or_404(selectors.payment_detail(), pk=pk))


@require_POST
@require_perm("finance.view_payment", "finance.add_allocation")
def payment_allocate(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(selectors.payment_detail(), pk=pk)
    items = selectors.open_items(partner=payment.partner, currency=payment.currency)
    form = AllocationForm(request.POST, payment=payment, items=items)
    if form.is_valid():
        try:
            rows = services.payment_allocate(payment=payment, allocations=form.allocations(), actor=request.user)
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            total = sum(row.amount for row in rows)
            messages.success(request, f"Allocated {total:,.2f} {payment.currency} to {len(rows)} fee(s).")
            return go(request, payment.get_absolute_url())
    return _payment_page(request, payment, allocation=form, status=422)


@require_POST
@require_perm("finance.view_payment", "finance.add_allocation")
def payment_allocate_auto(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(selectors.payment_detail(), pk=pk)
    try:
        rows = services.payment_allocate_auto(payment=payment, actor=request.user)
    except services.FinanceError as exc:
        messages.error(request, exc.message)
        return _payment_page(request, payment, status=422)
    if rows:
        total = sum(row.amount for row in rows)
        messages.success(request, f"Allocated {total:,.2f} {payment.currency} to {len(rows)} fee(s), oldest due first.")
    else:
        messages.info(request, "Nothing allocated: no open fees in this currency, or nothing left of the payment.")
    return go(request, payment.get_absolute_url())


@require_POST
@require_perm("finance.view_payment", "finance.bounce_payment")
def payment_bounce(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(selectors.payment_detail(), pk=pk)
    form = BounceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.payment_bounce(
                payment=payment, reason=data["reason"], bounced_on=data["bounced_on"], actor=request.user
            )
        except services.FinanceError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Recorded the bounce; what the payment paid is open again.")
            return go(request, payment.get_absolute_url())
    return _payment_page(request, payment, bounce=form, status=422)
