from django.apps import AppConfig


class TriageConfig(AppConfig):
    """The workflow that joins the apps: the queue of leads that do not fit, the lead panel, and the redirect
    chosen there through each redirect's one service (partners, nurture, leads)."""

    name = "triage"
    verbose_name = "Triage"
