from importlib import import_module

from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = "Finance"

    def ready(self) -> None:
        # Partners (a lower app) calls these inside its own transactions: the audit trail of fee agreements and
        # of ledger corrections, and money paid beyond a lowered fee given back to the partner's credit.
        listeners = import_module("finance.services.listeners")  # by name: the app registry must be ready first
        hooks = import_module("partners.services.hooks")

        hooks.register(hooks.AGREEMENT_SAVED, listeners.agreement_saved)
        hooks.register(hooks.LEDGER_CORRECTED, listeners.ledger_corrected)
