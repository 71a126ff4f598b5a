"""A person decides about an email the outbox could not settle: resend it (a held or failed one, same
Message-ID) or mark it as sent (a held one). Posted from the lead's timeline and the referral's emails list;
the page comes back with a message."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from common.errors import ServiceError
from common.htmx import go
from common.roles import require_perm
from outbox.models import OutboundMessage
from outbox.services import message_mark_sent, message_resend

ACTIONS = {
    "resend": (message_resend, "The email to {to} is queued again (same Message-ID)."),
    "mark_sent": (message_mark_sent, "The email to {to} is marked as sent."),
}


def _back(request: HttpRequest, message: OutboundMessage) -> str:
    """The page the action was posted from (`next`, this site only), else the lead's or the referral's page."""
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    if message.lead_id:
        return message.lead.get_absolute_url()
    if message.referral_id:
        return reverse("partners:referral", args=[message.referral_id])
    return reverse("home")


@require_POST
@require_perm("leads.triage_lead")
def message_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    message = get_object_or_404(OutboundMessage.objects.select_related("lead"), pk=pk)
    service, done = ACTIONS[action]
    try:
        service(message=message, actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(to=message.to_email))
    return go(request, _back(request, message))
