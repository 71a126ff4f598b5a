from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health
from leads import selectors as lead_selectors


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {}
    if user.has_perm("leads.view_lead"):
        context["lead_summary"] = lead_selectors.lead_status_summary(now=timezone.now())
    return render(request, "config/home.html", context)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker must answer for a 200; the worker heartbeat is reported, not required.

    Public on purpose (load balancers call it); it reveals only up/down and timings."""
    report = {"database": health.check_database(connection), "broker": health.check_broker()}
    report["worker"] = health.worker_heartbeat()
    ok = report["database"]["ok"] and report["broker"]["ok"]
    report["status"] = "ok" if ok else "error"
    return JsonResponse(report, status=200 if ok else 503)
