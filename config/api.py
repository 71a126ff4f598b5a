"""The HTTP API at /api/v1/: one NinjaAPI, routers from the apps, one error format.

Errors: 400 `{"detail"}` for a body that is not JSON, 401 `{"detail"}` for a missing or bad key, 413 `{"detail"}`
for a body over API_MAX_BODY_BYTES (config.middleware.BadInputMiddleware), 422 `{"detail", "errors": {field:
[messages]}}` for bad input (a NUL character anywhere, a date out of range, a number beyond its column…), 429
with Retry-After when a key exceeds API_RATE_LIMIT, 503 `{"detail"}` with Retry-After when a write finds the
database locked (SQLite while an import stores its rows; nothing was written)."""

from django.db import OperationalError
from ninja import NinjaAPI, Swagger
from ninja.errors import HttpError, ValidationError

from common.db import database_busy
from common.errors import ServiceError
from config.middleware import busy_json_response
from leads.api import router as leads_router
from nurture.api import router as nurture_router

api = NinjaAPI(
    title="Passthrough API",
    version="1",
    description="Send inbound leads to Passthrough. Authenticate with the `X-API-Key` header of your source.",
    urls_namespace="api",
    docs_url="/docs",
    # Swagger UI from django-ninja's own static files ("ninja" is an installed app), never a CDN; no badge from
    # validator.swagger.io either. Everything the page loads comes from this site, as the CSP requires.
    docs=Swagger(settings={"validatorUrl": None}),
    openapi_url="/openapi.json",
)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "path", "query")]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def validation_errors(request, exc: ValidationError):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        message = error.get("msg", "Invalid value.").removeprefix("Value error, ")
        errors.setdefault(_field_path(tuple(error.get("loc", ()))), []).append(message)
    return api.create_response(request, {"detail": "Validation failed", "errors": errors}, status=422)


@api.exception_handler(HttpError)
def http_errors(request, exc: HttpError):
    """ninja's own errors as `{"detail"}`; a body that does not parse says why (ninja alone says only that it did
    not: json.JSONDecodeError and UnicodeDecodeError are ValueErrors)."""
    detail = str(exc)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        detail = f"The request body is not valid JSON: {exc.__cause__}."
    return api.create_response(request, {"detail": detail}, status=exc.status_code)


@api.exception_handler(ServiceError)
def service_errors(request, exc: ServiceError):
    """A service's refusal, as the pages show it: 422 with the errors per field (bad input: "Validation failed"),
    or the refusal's sentence as `detail` when no field is at fault."""
    detail = "Validation failed" if exc.errors else str(exc)
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=exc.status)


@api.exception_handler(OperationalError)
def database_busy_errors(request, exc: OperationalError):
    """503 + Retry-After when a write found the database locked (SQLite during an import); nothing was written."""
    if not database_busy(exc):
        raise exc
    return busy_json_response()


api.add_router("/leads", leads_router)
api.add_router("/enrollments", nurture_router)
