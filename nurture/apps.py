from importlib import import_module

from django.apps import AppConfig

from leads import hooks as lead_hooks


class NurtureConfig(AppConfig):
    name = "nurture"
    verbose_name = "Nurture tracks"

    def ready(self) -> None:
        # Leads (below nurture) reports nurtured leads that an ICP check now qualifies; nurture ends their
        # enrollments and hands them to their owner. Loaded by name: services import models, which only exist
        # once the app registry is ready.
        enrollments = import_module("nurture.services.enrollments")
        lead_hooks.register(lead_hooks.NURTURED_NOW_QUALIFIED, enrollments.enrollments_handback)
