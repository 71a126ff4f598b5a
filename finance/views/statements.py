"""Partner statements: the list (with disputes to follow up), uploading one and checking how it reads, and the
partner's matching settings.

Uploading: the file is kept aside (under the media folder, named by a random token held in the uploader's session)
while its reading is checked. When the partner's remembered mapping fits the file and every row reads, it is imported
and reconciled at once; otherwise the page shows the mapping, the conventions, the first lines and every bad row,
and imports once asked (nothing is stored before: a statement goes in whole or not at all).
"""

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from common.roles import require_perm
from finance import statement_selectors as selectors
from finance.services import FinanceError
from finance.services.statements import (
    StatementRejected,
    check_conventions,
    duplicate_message,
    file_sha256,
    statement_import,
    statement_read,
    statement_settings,
    statement_settings_save,
)
from finance.statement_forms import MatchingSettingsForm, StatementCheckForm, StatementUploadForm
from finance.statement_tables import StatementTable
from finance.views.base import add_errors, fragment, go
from partners.models import Partner

READ = ("finance.view_partnerstatement", "finance.view_reconciliationitem")
ACT = (*READ, "finance.reconcile_statement")
STASH = "statement_uploads"
PREVIEW_LINES = 10
SHOWN_ERRORS = 200


@require_GET
@require_perm(*READ)
def statement_list(request: HttpRequest) -> HttpResponse:
    table = StatementTable(selectors.statement_list())
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    context = {"table": table, "disputes": selectors.disputes_open(), "today": timezone.localdate()}
    return render(request, fragment(request, "finance/statements.html", "statement-table-region", "table"), context)


# Uploading ------------------------------------------------------------------------------------------------


def _stash(request: HttpRequest, *, data: bytes, name: str, partner: Partner) -> str:
    token = secrets.token_urlsafe(16)
    path = default_storage.save(f"statements/pending/{token}", ContentFile(data))
    uploads = request.session.get(STASH, {})
    for old in list(uploads)[:-4]:  # keep the last five
        default_storage.delete(uploads.pop(old)["path"])
    uploads[token] = {"path": path, "name": name, "partner": partner.pk}
    request.session[STASH] = uploads
    return token


def _stashed(request: HttpRequest, token: str):
    entry = request.session.get(STASH, {}).get(token)
    if not entry or not default_storage.exists(entry["path"]):
        return None
    with default_storage.open(entry["path"], "rb") as f:
        data = f.read()
    return data, entry["name"], get_object_or_404(Partner, pk=entry["partner"])


def _unstash(request: HttpRequest, token: str) -> None:
    uploads = request.session.get(STASH, {})
    entry = uploads.pop(token, None)
    if entry:
        default_storage.delete(entry["path"])
        request.session[STASH] = uploads


def _check_form(reading, data=None, *, period=(None, None)) -> StatementCheckForm:
    initial = {f"map-{index}": reading.mapping.get(header, "") for index, header in enumerate(reading.headers)}
    initial |= {
        "decimal_separator": reading.conventions.decimal_separator,
        "date_order": reading.conventions.date_order,
        "default_currency": reading.conventions.default_currency,
        "sheet": reading.sheet.name,
        "period_start": period[0],
        "period_end": period[1],
    }
    sheets = [sheet.name for sheet in reading.workbook.sheets if sheet.rows]
    return StatementCheckForm(data, headers=reading.headers, sheets=sheets, initial=initial)


def _check_context(reading, form, *, token, partner, name, rejected=None) -> dict:
    errors = rejected.rows if rejected is not None else reading.parsed.errors
    columns = [
        (header, form.column_field(index), [cells[index] for _, cells in reading.data_rows[:3] if index < len(cells)])
        for index, header in enumerate(reading.headers)
        if f"map-{index}" in form.fields
    ]
    return {
        "token": token,
        "partner": partner,
        "name": name,
        "reading": reading,
        "check": form,
        "columns": columns,
        "preview": reading.parsed.lines[:PREVIEW_LINES],
        "errors": errors[:SHOWN_ERRORS],
        "error_count": len(errors),
        "error_rows": len({error.row for error in errors}),
    }


def _render_upload(request, context: dict, status: int = 200) -> HttpResponse:
    template = fragment(request, "finance/statement_upload.html", "statement-check", "check")
    return render(request, template, context, status=status)


def _import(request, *, token, partner, data, name, mapping=None, conventions=None, sheet=None, period=(None, None)):
    statement = statement_import(
        partner=partner, data=data, name=name, mapping=mapping, conventions=conventions, sheet=sheet,
        period_start=period[0], period_end=period[1], actor=request.user,
    )  # fmt: skip
    _unstash(request, token)
    messages.success(
        request, f"Imported {statement.line_count} lines from {name} and reconciled them: see what needs a decision."
    )
    return go(request, reverse("finance:statement", args=[statement.pk]))


@require_http_methods(["GET", "POST"])
@require_perm(*ACT)
def statement_upload(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token", "")
    if request.method == "POST" and token:
        return _statement_check(request, token)
    initial = {"partner": request.GET.get("partner")}
    posted = request.method == "POST"
    form = StatementUploadForm(request.POST if posted else None, request.FILES if posted else None, initial=initial)
    if not posted or not form.is_valid():
        return render(request, "finance/statement_upload.html", {"form": form}, status=422 if posted else 200)
    partner, upload = form.cleaned_data["partner"], form.cleaned_data["file"]
    data, name = upload.read(), upload.name
    period = (form.cleaned_data["period_start"], form.cleaned_data["period_end"])
    duplicate = selectors.statement_with_file(partner=partner, sha=file_sha256(data))
    if duplicate is not None:
        form.add_error("file", duplicate_message(duplicate))
        return render(request, "finance/statement_upload.html", {"form": form}, status=422)
    try:
        reading = statement_read(partner=partner, data=data, name=name)
    except FinanceError as exc:
        add_errors(form, exc)
        return render(request, "finance/statement_upload.html", {"form": form}, status=422)
    token = _stash(request, data=data, name=name, partner=partner)
    if reading.mapping_remembered and reading.ready:
        try:
            return _import(request, token=token, partner=partner, data=data, name=name, period=period)
        except FinanceError as exc:
            messages.error(request, exc.message)
    context = _check_context(reading, _check_form(reading, period=period), token=token, partner=partner, name=name)
    context["form"] = form
    return _render_upload(request, context, status=422 if reading.parsed.errors else 200)


def _statement_check(request: HttpRequest, token: str) -> HttpResponse:
    stashed = _stashed(request, token)
    if stashed is None:
        messages.error(request, "That upload is no longer here (imported, or the session ended): upload it again.")
        return go(request, reverse("finance:statement_upload"))
    data, name, partner = stashed
    first = statement_read(partner=partner, data=data, name=name, sheet=request.POST.get("sheet") or None)
    form = _check_form(first, request.POST)
    if not form.is_valid():
        return _render_upload(request, _check_context(first, form, token=token, partner=partner, name=name), 422)
    clean = form.cleaned_data
    period = (clean["period_start"], clean["period_end"])
    try:
        conventions = check_conventions(
            decimal_separator=clean["decimal_separator"], date_order=clean["date_order"],
            default_currency=clean["default_currency"],
        )  # fmt: skip
        reading = statement_read(
            partner=partner, data=data, name=name, mapping=form.mapping(), conventions=conventions,
            sheet=clean["sheet"] or None,
        )  # fmt: skip
    except FinanceError as exc:
        add_errors(form, exc)
        return _render_upload(request, _check_context(first, form, token=token, partner=partner, name=name), 422)
    if request.POST.get("action") != "import":
        form = _check_form(reading, request.POST)
        form.is_valid()
        return _render_upload(request, _check_context(reading, form, token=token, partner=partner, name=name))
    try:
        return _import(
            request, token=token, partner=partner, data=data, name=name, mapping=form.mapping(),
            conventions=conventions, sheet=clean["sheet"] or None, period=period,
        )  # fmt: skip
    except StatementRejected as exc:
        messages.error(request, exc.message)
        context = _check_context(reading, form, token=token, partner=partner, name=name, rejected=exc)
        return _render_upload(request, context, 422)
    except FinanceError as exc:
        add_errors(form, exc)
        return _render_upload(request, _check_context(reading, form, token=token, partner=partner, name=name), 422)


# Matching settings -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm(*READ, "finance.view_statementsettings")
def statement_settings_page(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    settings = statement_settings(partner)
    initial = {
        "match_window_days": settings.match_window_days,
        "tolerance_amount": settings.tolerance_amount,
        "tolerance_percent": settings.tolerance_percent,
    }
    form = MatchingSettingsForm(request.POST if request.method == "POST" else None, initial=initial, partner=partner)
    if request.method == "POST":
        if not request.user.has_perm("finance.change_statementsettings"):
            raise PermissionDenied
        if form.is_valid():
            try:
                statement_settings_save(partner=partner, actor=request.user, **form.cleaned_data)
            except FinanceError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Matching settings of {partner.name} saved; its next statement uses them.")
                return redirect("finance:statement_settings", pk=partner.pk)
    disputes = selectors.disputes_open(partner=partner)
    context = {"partner": partner, "settings": settings, "form": form, "disputes": disputes}
    return render(request, "finance/statement_settings.html", context, status=422 if form.is_bound else 200)
