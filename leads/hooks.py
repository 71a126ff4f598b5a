"""Where a leads service lets a higher app act in the same transaction (DESIGN.md: a lower app never imports a
higher one; the higher app registers a hook).

Nurture registers in `NurtureConfig.ready`: nurtured leads that an ICP check (one lead, many in SQL, a nurture
re-check step, an edit, the API, a new ICP version) now finds qualified leave their track and go back to their
owner. A listener is called inside the service's transaction, so what it writes commits or rolls back with it.
"""

from collections.abc import Callable

# listener(*, lead_ids: list[int], now: datetime): leads that were nurturing and are qualified now.
NURTURED_NOW_QUALIFIED: list[Callable[..., None]] = []


def register(hooks: list[Callable[..., None]], listener: Callable[..., None]) -> None:
    """Add a listener once (an app's `ready()` may run more than once in tests)."""
    if listener not in hooks:
        hooks.append(listener)


def notify(hooks: list[Callable[..., None]], **kwargs) -> None:
    for listener in hooks:
        listener(**kwargs)
