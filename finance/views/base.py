"""What the finance views share."""

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect

from finance.services import FinanceError
from leads.filters import FILTER_DATES

# Every finance page reads the ledger and payments: Finance and Managers hold both, Sales Ops neither.
READ = ("partners.view_feeaccrual", "finance.view_payment")


def go(request: HttpRequest, url: str) -> HttpResponse:
    """After an action: a whole-page redirect, also for htmx (never a bare 302 into a fragment)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def fragment(request: HttpRequest, template: str, target: str, partial: str) -> str:
    """The page, or only its `partial` when htmx asks for the region `target` (a reload gets the whole page)."""
    return f"{template}#{partial}" if request.htmx and request.htmx.target == target else template


def add_errors(form, exc: FinanceError) -> None:
    """A service's refusal onto the form fields it names (anything else above the form)."""
    for name, errors in exc.errors.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
    if not exc.errors:
        form.add_error(None, exc.message)


def parse_date(text: str | None) -> date | None:
    """A day from a query string; None when it is not one, or outside the dates a filter takes."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and FILTER_DATES[0] <= day <= FILTER_DATES[1] else None
