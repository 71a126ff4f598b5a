import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect

from common.db import database_busy

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
