"""Where a partners service lets a higher app act in the same transaction (DESIGN.md: the higher app registers a
hook). Finance registers its listeners in `FinanceConfig.ready`: the audit trail of fee agreements, and giving back
what was paid beyond an item's amount when a correction lowers it (the money becomes the partner's credit).

A listener is called inside the service's transaction, so what it writes commits or rolls back with the change.
"""

from collections.abc import Callable

# listener(*, rows: list[FeeAccrual], actor, now) — correction rows (reversal, adjustment, write-off) just appended.
LEDGER_CORRECTED: list[Callable[..., None]] = []
# listener(*, agreement, action: "created" | "changed" | "ended", changes: {field: [old, new]}, actor, now)
AGREEMENT_SAVED: list[Callable[..., None]] = []


def register(hooks: list[Callable[..., None]], listener: Callable[..., None]) -> None:
    """Add a listener once (an app's `ready()` may run more than once in tests)."""
    if listener not in hooks:
        hooks.append(listener)


def notify(hooks: list[Callable[..., None]], **kwargs) -> None:
    for listener in hooks:
        listener(**kwargs)
