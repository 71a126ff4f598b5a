"""The unsubscribe page a lead reaches from any nurture email; no account, the signed token is enough."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from leads.models import Lead
from nurture import services


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners follow links; they must not unsubscribe anyone); POST does it."""
    lead_id = services.lead_id_from_unsubscribe_token(token)
    lead = Lead.objects.filter(pk=lead_id).first() if lead_id is not None else None
    if lead is None:
        response = render(request, "nurture/unsubscribe.html", {"invalid": True}, status=404)
    elif request.method == "POST":
        ended = services.lead_unsubscribe(lead=lead)
        response = render(request, "nurture/unsubscribe.html", {"done": True, "ended": ended, "lead": lead})
    else:
        response = render(request, "nurture/unsubscribe.html", {"lead": lead, "already": lead.do_not_contact})
    response["Cache-Control"] = "no-store"
    # `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with the form POST,
    # which Django's CSRF check refuses (403). `same-origin` still sends the token-bearing URL to no other site.
    response["Referrer-Policy"] = "same-origin"
    return response
