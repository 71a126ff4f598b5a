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
    """200 when the database and the broker answer, at least one Celery worker is fresh and beat is running;
    503 otherwise, with `status` "error" (database or broker down) or "degraded" (no fresh worker, or no beat) and
    the reasons in `problems`. `?scope=web` checks only what this web process needs (database and broker), for a
    load balancer's probe. Public on purpose: it shows up/down, ages and worker node names, nothing else."""
    report = {"status": "ok", "problems": []}
    report["database"] = health.check_database(connection)
    report["broker"] = health.check_broker()
    for part in ("database", "broker"):
        if not report[part]["ok"]:
            report["problems"].append(f"{part} down")
    if request.GET.get("scope") != "web":
        report.update(health.check_celery())
        if not any(worker["ok"] for worker in report["workers"]):
            report["problems"].append("no fresh worker")
        if not report["beat"]["ok"]:
            report["problems"].append("beat not running")
    if report["problems"]:
        down = not (report["database"]["ok"] and report["broker"]["ok"])
        report["status"] = "error" if down else "degraded"
    return JsonResponse(report, status=503 if report["problems"] else 200)
