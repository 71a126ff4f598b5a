import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render, resolve_url
from django.urls import Resolver404, resolve
from django_htmx.http import HttpResponseClientRedirect

from common.db import database_busy
from common.limits import problem_sentence, unstorable_json, unstorable_text

logger = logging.getLogger(__name__)

# What a write that could not get the database's write lock answers (SQLite: another process held it for longer
# than the busy timeout, e.g. a CSV import storing its rows): 503, try again after this many seconds.
BUSY_RETRY_AFTER_SECONDS = 5
BUSY_MESSAGE = (
    "Busy, try again in a moment: the database is taken by another write (a CSV import, probably). Nothing was saved."
)


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session ended gets a full-page redirect to login, not a login form
    swapped into a table cell."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response


def busy_json_response() -> JsonResponse:
    response = JsonResponse({"detail": BUSY_MESSAGE}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


class DatabaseBusyMiddleware:
    """A request whose write found the database locked answers 503 with Retry-After and says so (a page with the
    message; JSON under /api/, whose own handler in config.api does the same), never a 500. Nothing was written:
    every service is one transaction, and SQLite transactions begin IMMEDIATE, so the lock is wanted at the start."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_busy(exception):
            return None
        logger.warning("Database busy: %s %s answered 503 (%s)", request.method, request.path, exception)
        session = getattr(request, "session", None)
        if session is not None:
            session.modified = False  # saving it would wait for the same lock
        if request.path.startswith("/api/"):
            return busy_json_response()
        template = "config/busy.html#message" if getattr(request, "htmx", False) else "config/busy.html"
        response = render(request, template, {"busy_message": BUSY_MESSAGE}, status=503)
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        if getattr(request, "htmx", False):
            response["HX-Reswap"] = "none"  # keep the page as it is; the message goes out of band
        return response


# BadInputMiddleware: the bodies whose fields it reads (pages' forms; the API's JSON is the schemas' to check), and
# the type of its answers outside the API.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TEXT = "text/plain; charset=utf-8"
LIST_MAX_PER_PAGE = 100


class BadInputMiddleware:
    """Input that no view could use answers a 4xx here, before any view or query runs, and says what was wrong:

    - under /api/, a body longer than API_MAX_BODY_BYTES: 413 with the API's JSON error;
    - a NUL character, or a lone surrogate, in the path, a query parameter, a posted form field (or inside one
      written as JSON, as the admin's JSON fields are), or a header (cookies included): 422 naming it (the API's
      JSON error under /api/, plain text elsewhere). PostgreSQL can neither store nor compare such text, so
      wherever it reached a query (filters, admin search, a signed link, the login's lockout check, a session
      cookie, a JSON column) it would be a database error;
    - a list page's `per_page` that is not a whole number from 1 to 100: 422.

    JSON bodies are the API schemas' to check, field by field (leads.api_inputs.InputSchema)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path_info.startswith("/api/")
        if api and _content_length(request) > api_body_limit():
            detail = f"The request body is larger than the API accepts ({api_body_limit() // 1024} KB)."
            return JsonResponse({"detail": detail}, status=413)
        try:
            found = _unstorable_input(request) or _bad_list_param(request)
        except MultiPartParserError as exc:
            return HttpResponse(f"Bad input: the form could not be read ({exc}).\n", status=400, content_type=TEXT)
        if found is None:
            return self.get_response(request)
        name, what, problem = found
        if api:
            return JsonResponse(
                {"detail": "Validation failed", "errors": {name: [problem_sentence(problem)]}}, status=422
            )
        return HttpResponse(f"Bad input: {what} {problem}.\n", status=422, content_type=TEXT)


def api_body_limit() -> int:
    """The largest API request body, in bytes: API_MAX_BODY_BYTES, and never more than Django itself reads into
    memory (DATA_UPLOAD_MAX_MEMORY_SIZE), which it would refuse with a bare 400 first."""
    return min(settings.API_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or settings.API_MAX_BODY_BYTES)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _named(name: str, kind: str) -> tuple[str, str]:
    """(the key for the API's errors, the words for a sentence) for a named piece of input."""
    if unstorable_text(name):
        return kind, f"the name of a {kind}"
    return name[:100], f"the {kind} “{name[:100]}”"


def _unstorable_input(request: HttpRequest) -> tuple[str, str, str] | None:
    """(its name, what it is in words, why) for the first text in the request that cannot be stored, else None."""
    if problem := unstorable_text(request.path_info):
        try:
            kwargs = resolve(request.path_info).kwargs
        except Resolver404:
            kwargs = {}
        names = [name for name, value in kwargs.items() if isinstance(value, str) and unstorable_text(value)]
        return (*_named(names[0], "path parameter"), problem) if names else ("path", "the path", problem)
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and (problem := unstorable_text(value)):
            return (*_named(key.removeprefix("HTTP_").replace("_", "-").title(), "header"), problem)
    sources = [(request.GET, "query parameter")]
    if request.method == "POST" and request.content_type in FORM_TYPES and not request.path_info.startswith("/api/"):
        sources.append((request.POST, "field"))  # (uploaded files' names: Django keeps only printable characters)
    for data, kind in sources:
        for name, values in data.lists():
            if problem := next(filter(None, map(unstorable_text, [name, *values])), None):
                return (*_named(name, kind), problem)
            if kind == "field" and (problem := next(filter(None, map(_unstorable_in_json, values)), None)):
                return (*_named(name, kind), problem)
    return None


def _bad_list_param(request: HttpRequest) -> tuple[str, str, str] | None:
    """Every list page's rows per page (django-tables2's `per_page`): a whole number from 1 to LIST_MAX_PER_PAGE.
    Zero or less was a 500 on every list; a million rendered a million rows."""
    raw = request.GET.get("per_page")
    if raw is None or (raw.isascii() and raw.isdigit() and len(raw) < 10 and 1 <= int(raw) <= LIST_MAX_PER_PAGE):
        return None
    return (*_named("per_page", "query parameter"), f"must be a whole number from 1 to {LIST_MAX_PER_PAGE}")


def _unstorable_in_json(text: str) -> str | None:
    """Why a form value written as JSON (an admin's JSON field, a criterion's value) holds text that cannot be
    stored once decoded (`"\\u0000"`), else None; a value that is not JSON is plain text, checked as such."""
    if "\\u" not in text or text.lstrip()[:1] not in ('"', "[", "{"):
        return None
    try:
        found = unstorable_json(json.loads(text))
    except ValueError:
        return None
    return f"{found[1]} (written in its JSON as an escape)" if found else None
