"""What the finance views share."""

from datetime import date

from django.http import HttpRequest

from common import htmx
from common.htmx import add_service_errors as add_errors  # a FinanceError is a ServiceError: the one helper
from common.htmx import go
from leads.filters import FILTER_DATES

# Every finance page reads the ledger and payments: Finance and Managers hold both, Sales Ops neither.
READ = ("partners.view_feeaccrual", "finance.view_payment")

__all__ = ["READ", "add_errors", "fragment", "go", "parse_date"]


def fragment(request: HttpRequest, template: str, target: str, partial: str) -> str:
    """The page, or only its `partial` when htmx asks for the region `target` (a reload gets the whole page)."""
    return htmx.fragment(request, template, {target: partial})


def parse_date(text: str | None) -> date | None:
    """A day from a query string; None when it is not one, or outside the dates a filter takes."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and FILTER_DATES[0] <= day <= FILTER_DATES[1] else None
