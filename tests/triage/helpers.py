"""What the triage view tests share: a waiting lead, an action's URL, htmx headers."""

from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from tests.factories import ConsentingLeadFactory

QUEUE = reverse("triage:queue")
ACTIONS = ["refer", "enroll", "reply", "close", "override", "assign"]


def waiting(**kwargs) -> Lead:
    """A disqualified lead who agreed to partner sharing and marketing emails."""
    kwargs.setdefault("marketing_consent_at", timezone.now())
    kwargs.setdefault("marketing_consent_version", "v1")
    return ConsentingLeadFactory(**kwargs)


def url(name: str, lead: Lead) -> str:
    return reverse(f"triage:{name}", args=[lead.pk])


def hx(target: str = "panel") -> dict:
    return {"HX-Request": "true", "HX-Target": target}
