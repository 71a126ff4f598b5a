from importlib import import_module

from django.apps import AppConfig

from outbox import hooks as outbox_hooks


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and the ICP"

    def ready(self) -> None:
        # The outbox (below leads) reports what happened to an email; the lead's timeline and owner hear of it.
        # Loaded by name here: services import models, which only exist once the app registry is ready.
        messages = import_module("leads.services.messages")
        outbox_hooks.register(outbox_hooks.MESSAGE_CHANGED, messages.message_changed)
