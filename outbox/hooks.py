"""How the outbox tells the apps above it what happened to an email (DESIGN.md: a lower app does not import a
higher one; the higher app registers a hook). Leads registers in `LeadsConfig.ready`: each event on the email's
lead's timeline, and a note to the lead's owner when an email failed or its outcome is unknown.

A listener is called inside the outbox's transaction, so what it writes commits or rolls back with the change.
"""

from collections.abc import Callable

# listener(*, message: OutboundMessage, verb: str, reason: str, actor) for an email about a lead (`message.lead`):
# verb is message_queued, message_failed, message_unknown, message_resent or message_marked_sent; `reason` is ""
# for message_queued; `actor` is the user who chose (resent, marked sent), else None.
MESSAGE_CHANGED: list[Callable[..., None]] = []


def register(hooks: list[Callable[..., None]], listener: Callable[..., None]) -> None:
    """Add a listener once (an app's `ready()` may run more than once in tests)."""
    if listener not in hooks:
        hooks.append(listener)


def notify(hooks: list[Callable[..., None]], **kwargs) -> None:
    for listener in hooks:
        listener(**kwargs)
