"""What every page's views share with htmx: the fragment a request asks for, a region with the messages out of
band, the redirect after an action, a refusal rendered the same way everywhere, and the list page (FilterSet +
Table + the table fragment for htmx).

- `fragment(request, template, {target: partial})`: `template#partial` when htmx targets that region, else the
  page (a reload or a bookmarked URL always gets the whole page).
- `region(request, template, context, status=…)`: a region after an action, with `base.html#messages` appended
  (the messages region swaps itself out of band).
- `go(request, url)`: after an action, a whole-page redirect — `HttpResponseClientRedirect` for htmx, never a bare
  302 into a fragment.
- `refuse(request, exc, form=None)`: a service's `ServiceError` as a message above the page and its field errors
  on the form; the caller answers with `exc.status` (422).
- `table_context(request, filterset, table)` and `list_page(request, template, context, target=…)`: the list
  pages' filter and table, paginated from the URL, and the page or its table region.
"""

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseClientRedirect
from django_tables2 import RequestConfig, Table

from common.errors import ServiceError

MESSAGES = "base.html#messages"


def htmx_target(request: HttpRequest) -> str | None:
    """The id of the region an htmx request will swap (`HX-Target`), or None for a plain request."""
    return request.htmx.target if request.htmx else None


def fragment(request: HttpRequest, template: str, partials: Mapping[str, str]) -> str:
    """`template#partial` for the region htmx targets (`partials` maps a target id to its partial), else the page."""
    partial = partials.get(htmx_target(request) or "")
    return f"{template}#{partial}" if partial else template


def region(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """A region (a partial) after an action, with the messages out of band."""
    html = render_to_string(template, context, request) + render_to_string(MESSAGES, {}, request)
    return HttpResponse(html, status=status)


def go(request: HttpRequest, url: str) -> HttpResponse:
    """After an action: a whole-page redirect, also for htmx (never a bare 302 into a fragment)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def errors_text(form: forms.BaseForm) -> str:
    """A bound form's errors as one sentence, for a message above the page ("Partner: Choose a partner.")."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field is not None else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)


def form_refusal(form: forms.BaseForm) -> ServiceError:
    """An invalid form as the refusal a service would raise: its errors per field, in one sentence too."""
    return ServiceError(errors_text(form), {name: list(errors) for name, errors in form.errors.items()})


def add_service_errors(form: forms.BaseForm, exc: ServiceError) -> None:
    """A refusal's field errors onto the fields they name (anything else above the form); with none, its message
    above the form. The one helper every page uses for this."""
    for name, errors in exc.errors.items():
        for error in errors:
            if name in form.fields:
                if error not in form.errors.get(name, []):
                    form.add_error(name, error)
            elif error not in form.non_field_errors():
                form.add_error(None, error)
    if not exc.errors and str(exc) not in form.non_field_errors():
        form.add_error(None, str(exc))


def refuse(request: HttpRequest, exc: ServiceError, form: forms.BaseForm | None = None) -> int:
    """Say why above the page (a message) and, when there is a form, on its fields. Returns the status to answer
    with (`exc.status`: 422, or 409 when someone else acted first)."""
    messages.error(request, str(exc))
    if form is not None and form.is_bound:
        add_service_errors(form, exc)
    return exc.status


def table_context(
    request: HttpRequest, filterset: Any, table: Table, *, per_page: int = 25, paginator_class=None
) -> dict[str, Any]:
    """The list page's context: `filter` and `table`, sorted and paginated as the URL says."""
    paginate: dict[str, Any] = {"per_page": per_page}
    if paginator_class is not None:
        paginate["paginator_class"] = paginator_class
    RequestConfig(request, paginate=paginate).configure(table)
    return {"filter": filterset, "table": table}


def list_page(
    request: HttpRequest, template: str, context: dict, *, target: str, partial: str = "table", status: int = 200
) -> HttpResponse:
    """A list page, or only its table region when htmx targets it (sorting, paging, filtering swap the table)."""
    return render(request, fragment(request, template, {target: partial}), context, status=status)
