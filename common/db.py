"""Database conditions that every layer recognises the same way."""

from django.db import OperationalError


def database_busy(exc: BaseException) -> bool:
    """True for SQLite's refusal when another connection kept the write lock for longer than the busy timeout
    (`database is locked`): the write did not happen and may be tried again in a moment."""
    text = str(exc)
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database table is locked" in text)
