"""Intake API keys: one or more per source, stored as SHA-256 only, revocable."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leads.models import ApiKey, LeadSource

PREFIX_LENGTH = 8


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, source: LeadSource, name: str) -> tuple[ApiKey, str]:
    """A new key; the plaintext (`pt_<prefix>_<secret>`) is returned once and never stored."""
    prefix = secrets.token_urlsafe(6)[:PREFIX_LENGTH].replace("_", "x").replace("-", "y")
    raw = f"pt_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(source=source, name=name, prefix=prefix, hashed_key=_digest(raw))
    return api_key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key for a presented secret, or None. Records use at most once a minute."""
    parts = (raw or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "pt" or len(parts[1]) != PREFIX_LENGTH:
        return None
    api_key = ApiKey.objects.select_related("source").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _digest(raw.strip())):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key
