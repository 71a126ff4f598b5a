"""The reconciliation workspace of one statement (htmx): the categories as counts, the items of one category (open,
disputed, resolved or all), one item's panel with what can be done about it, and paying from the statement.

Regions: `counts` and `items` refresh on the `itemResolved` event; `item` is the panel (HX-Target "item-panel");
`referrals` the search when linking by hand (HX-Target "referral-results"). A reload or a bookmarked URL gets the
whole page. Finance acts; Managers read the same pages without the forms (actions refused server-side)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from common.roles import require_perm
from finance import selectors as finance_selectors
from finance import statement_selectors as selectors
from finance.models import MatchCategory, PartnerStatement, ReconciliationItem
from finance.services import FinanceError
from finance.services.resolutions import ALLOWED, ResolutionConflict, item_resolve, statement_pay
from finance.statement_forms import ResolveForm, StatementPayForm
from finance.views.base import add_errors, go
from finance.views.statements import READ
from partners.models import Referral

TEMPLATE = "finance/reconcile.html"
REGIONS = {"items-region": "items", "counts-region": "counts", "item-panel": "item", "referral-results": "referrals"}


def _category(request: HttpRequest, counts, default: str | None = None) -> str:
    wanted = request.GET.get("category") or default
    if wanted in MatchCategory.values:
        return wanted
    first_open = next((count.value for count in counts if count.open), None)
    return first_open or MatchCategory.MATCHED


def _state(request: HttpRequest, category: str) -> str:
    state = request.GET.get("state", "")
    if state in dict(selectors.STATES):
        return state
    return "all" if category == MatchCategory.MATCHED else "open"


def _workspace(request: HttpRequest, statement: PartnerStatement, *, item=None, category=None) -> dict:
    counts = selectors.statement_counts(statement=statement)
    category = _category(request, counts, category)
    state = _state(request, category)
    page = Paginator(
        selectors.statement_items(statement=statement, category=category, state=state), selectors.ITEMS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return {
        "statement": statement,
        "counts": counts,
        "category": category,
        "category_label": MatchCategory(category).label,
        "state": state,
        "states": selectors.STATES,
        "page": page,
        "item": item,
        "pay": StatementPayForm(partner=statement.partner, initial={"currency": _main_currency(statement)}),
        "disputes": selectors.disputes_open(partner=statement.partner, limit=10),
        "audit": finance_selectors.audit_for(subject_type="statement", subject_id=statement.pk),
        "today": timezone.localdate(),
    }


def _main_currency(statement: PartnerStatement) -> str:
    return statement.lines.values_list("currency", flat=True).first() or ""


def _template(request: HttpRequest) -> str:
    if request.htmx and request.htmx.target in REGIONS:
        return f"{TEMPLATE}#{REGIONS[request.htmx.target]}"
    return TEMPLATE


@require_GET
@require_perm(*READ)
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_object_or_404(selectors.statement_detail(), pk=pk)
    return render(request, _template(request), _workspace(request, statement))


def _item_context(request: HttpRequest, item: ReconciliationItem, *, form=None, conflict: str = "") -> dict:
    query = request.GET.get("q", "")
    return {
        "item": item,
        "line_items": selectors.line_items(item=item),
        "allowed": ALLOWED[item.category] if not item.resolved else (),
        "resolve": form or ResolveForm(),
        "conflict": conflict,
        "q": query,
        "referrals": selectors.referral_search(partner=item.statement.partner, query=query) if query else None,
    }


@require_GET
@require_perm(*READ)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One item's panel; as a whole page, the workspace on its category with the panel open."""
    item = get_object_or_404(selectors.item_detail(), pk=pk)
    context = _item_context(request, item)
    if not (request.htmx and request.htmx.target in ("item-panel", "referral-results")):
        context = _workspace(request, item.statement, item=item, category=item.category) | context
    return render(request, _template(request), context)


@require_POST
@require_perm(*READ, "finance.add_resolution", "partners.add_feeaccrual")
def item_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(selectors.item_detail(), pk=pk)
    form = ResolveForm(request.POST)
    status, conflict = 422, ""
    if form.is_valid():
        data = form.cleaned_data
        referral = None
        if data["referral"]:
            referral = Referral.objects.filter(pk=data["referral"]).first()
            if referral is None:
                form.add_error(None, "That referral does not exist (any more).")
        if not form.errors:
            try:
                outcome = item_resolve(
                    item=item, action=data["action"], note=data["note"], follow_up_on=data["follow_up_on"],
                    referral=referral, actor=request.user,
                )  # fmt: skip
            except ResolutionConflict as exc:
                status, conflict = 409, exc.message
            except FinanceError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _done(outcome))
                return _after_resolve(request, item, outcome)
    item = get_object_or_404(selectors.item_detail(), pk=pk)
    context = _item_context(request, item, form=form if status == 422 else None, conflict=conflict)
    if not request.htmx:
        context = _workspace(request, item.statement, item=item, category=item.category) | context
        return render(request, TEMPLATE, context, status=status)
    response = render(request, f"{TEMPLATE}#item", context, status=status)
    return trigger_client_event(response, "itemResolved") if status == 409 else response


def _done(outcome) -> str:
    resolution = outcome.resolution
    text = f"{resolution.get_action_display()}."
    if outcome.rows:
        text += " Ledger: " + ", ".join(f"{row.get_kind_display().lower()} {row.amount:+,.2f} {row.currency}"
                                       for row in outcome.rows) + "."  # fmt: skip
    if outcome.new_item is not None:
        text += f" The line is now {outcome.new_item.get_category_display().lower()} with {outcome.new_item.referral}."
    return text


def _after_resolve(request: HttpRequest, item: ReconciliationItem, outcome) -> HttpResponse:
    target = outcome.new_item if outcome.new_item is not None else item
    if not request.htmx:
        return go(request, reverse("finance:reconcile_item", args=[target.pk]))
    fresh = get_object_or_404(selectors.item_detail(), pk=target.pk)
    response = render(request, f"{TEMPLATE}#item", _item_context(request, fresh))
    return trigger_client_event(response, "itemResolved")


@require_POST
@require_perm(*READ, "finance.add_payment", "finance.add_allocation")
def statement_pay_view(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_object_or_404(selectors.statement_detail(), pk=pk)
    form = StatementPayForm(request.POST, partner=statement.partner)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment, allocations = statement_pay(
                statement=statement, amount=data["amount"], currency=data["currency"],
                received_on=data["received_on"], reference=data["reference"], actor=request.user,
            )  # fmt: skip
        except FinanceError as exc:
            add_errors(form, exc)
        else:
            allocated = sum((a.amount for a in allocations), 0)
            messages.success(
                request,
                f"Recorded {payment.amount:,.2f} {payment.currency}; {allocated:,.2f} allocated to {len(allocations)} "
                "fee(s) this statement settled, the rest is the partner's credit.",
            )
            return go(request, payment.get_absolute_url())
    context = _workspace(request, statement) | {"pay": form}
    return render(request, TEMPLATE, context, status=422)
